# The image ECS tasks run: `mrkit ecs image` builds it and pushes it to the stack's ECR
# repository. The task definition gives no command; the launcher passes one per task
# (e.g. `worker wc --master URL`), which the entrypoint turns into `mrkit worker ...`.
# BASE_IMAGE: python:3.11-slim, or a stand-in with `pip` and `python` on PATH (`mrkit ecs image --base-image`,
# e.g. the Debian one .ci/container-base makes where Docker Hub is out of reach).
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}

# Unbuffered: task output reaches CloudWatch (awslogs) as it happens, not when a buffer fills.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

# Only what `pip install` needs (.dockerignore keeps everything else out of the context).
COPY pyproject.toml README.md /tmp/mrkit-src/
COPY mrkit /tmp/mrkit-src/mrkit

# Only what workers need: mrkit's base set plus [aws] (tasks on ECS keep the job's files in S3,
# mrkit.storage.s3). The sweeps' and notebooks' extras (pandas, matplotlib, papermill...) stay out.
# The source goes once installed; a fixed uid lets ECS/Kubernetes checks see a non-root user.
RUN pip install --no-cache-dir "/tmp/mrkit-src[aws]" \
 && rm -rf /tmp/mrkit-src \
 && useradd --create-home --uid 10001 --user-group mrkit

USER 10001:10001
WORKDIR /home/mrkit
ENTRYPOINT ["mrkit"]
CMD ["--help"]

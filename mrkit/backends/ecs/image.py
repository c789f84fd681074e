"""Build the mrkit container image and push it to the stack's ECR repository: `mrkit ecs image`.

Use it after `mrkit ecs up` (which makes the repository) and whenever the
code changes. It runs the docker CLI, so it needs Docker with a running
engine; without one it stops with a one-line error saying what is missing,
and `--dry-run` prints the commands instead (e.g. to run them elsewhere).

The commands are plain argument lists built by `image_steps`, so they can be
checked without an engine. The ECR password goes to `docker login` on stdin
(`--password-stdin`), never on a command line where `ps` would show it.
The image is built for the task definition's CPU architecture
(`--platform linux/amd64` by default), so an image built on an ARM laptop
still starts on x86 Fargate.
"""

import os
import shlex
import shutil
import subprocess
from dataclasses import dataclass

from mrkit.backends.ecs import ImageError, StackNotReady

LOCAL_NAME = "mrkit"  # the local image name, before it is tagged for ECR


@dataclass(frozen=True)
class Step:
    """One docker command; `secret_stdin` marks the step that reads the ECR password on stdin."""

    argv: tuple
    secret_stdin: bool = False

    def display(self):
        """The command as a shell line (for --dry-run and errors); the password is never part of it."""
        line = shlex.join(self.argv)
        return f"{line}  # password on stdin" if self.secret_stdin else line


def registry_of(repository_uri):
    """'1234.dkr.ecr.us-east-1.amazonaws.com/mrkit-x' -> '1234.dkr.ecr.us-east-1.amazonaws.com'."""
    return repository_uri.split("/", 1)[0]


def image_steps(repository_uri, tag="latest", context=".", dockerfile=None, platform="linux/amd64"):
    """build, tag for ECR, log in to the registry, push: the four commands, in order."""
    local, remote = f"{LOCAL_NAME}:{tag}", f"{repository_uri}:{tag}"
    dockerfile = dockerfile or os.path.join(context, "Dockerfile")
    return [
        Step(("docker", "build", "--platform", platform, "--file", dockerfile, "--tag", local, context)),
        Step(("docker", "tag", local, remote)),
        # Logging in just before the push: ECR tokens last 12 hours, a slow build cannot outlive one.
        Step(("docker", "login", "--username", "AWS", "--password-stdin", registry_of(repository_uri)),
             secret_stdin=True),
        Step(("docker", "push", remote)),
    ]


def docker_problem(run=subprocess.run, which=shutil.which):
    """Why the docker CLI cannot build here (one line), or None when it can."""
    if which("docker") is None:
        return ("docker is not installed (no `docker` on PATH): install Docker, or run `mrkit ecs image --dry-run` "
                "and run its commands on a machine that has it")
    try:
        result = run(["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"docker does not answer ({exc})"
    if result.returncode != 0:
        reason = next((line for line in result.stderr.splitlines() if line.strip()), f"exit status {result.returncode}")
        return f"docker cannot reach its engine ({reason.strip()}): start Docker, or use --dry-run"
    return None


def run_steps(steps, password, run=subprocess.run):
    """Run the steps in order, the password on stdin of the login step only; ImageError at the first failure."""
    for step in steps:
        stdin = password if step.secret_stdin else None
        result = run(list(step.argv), input=stdin, text=True, check=False)
        if result.returncode != 0:
            raise ImageError(f"`{step.display()}` failed with exit status {result.returncode}")


def build_and_push(config, aws, tag="latest", context=".", dry_run=False, out=print,
                   run=subprocess.run, which=shutil.which):
    """Build the image from `context` and push it to the stack's ECR repository; returns the pushed reference.

    With `dry_run`, prints the commands (nothing runs, no token is fetched).
    """
    dockerfile = os.path.join(context, "Dockerfile")
    if not os.path.isfile(dockerfile):
        raise ImageError(f"no Dockerfile in {context}: run from the mrkit checkout or pass --context DIR")
    repo = aws.find_repository(config.repository)
    if repo is None:
        raise StackNotReady(f"ECR repository {config.repository} does not exist in {config.region}: "
                            "run `mrkit ecs up` first")
    steps = image_steps(repo["repositoryUri"], tag, context, dockerfile, config.platform)
    remote = steps[-1].argv[-1]
    if dry_run:
        for step in steps:
            out(step.display())
        return remote
    problem = docker_problem(run, which)
    if problem:
        raise ImageError(problem)
    _, password = aws.ecr_login()
    run_steps(steps, password, run)
    if (config.image or f"{repo['repositoryUri']}:latest") != remote:
        out(f"note: the task definition runs {config.image or repo['repositoryUri'] + ':latest'}, not {remote}; "
            f"set image: {remote} in params/ecs.yaml and run `mrkit ecs up`")
    return remote

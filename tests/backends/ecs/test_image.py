"""`mrkit ecs image`: the engine commands it builds, and that the ECR password never reaches argv.

A fake `run` records the commands instead of running them (the real build with
podman is in test_containers.py); the CLI's --dry-run is run for real.
"""

import base64
import subprocess

import pytest

from mrkit.backends.ecs import ImageError, StackNotReady
from mrkit.backends.ecs.config import make_config
from mrkit.backends.ecs.engine import ENGINES
from mrkit.backends.ecs.image import build_and_push, image_steps

REPO = "123456789012.dkr.ecr.us-east-1.amazonaws.com/mrkit-img"


class FakeDocker:
    """Stands in for subprocess.run: records (argv, stdin) and answers like a working docker (or `engines`)."""

    def __init__(self, fail_on=None, engines=("docker",)):
        self.commands, self.fail_on, self.engines = [], fail_on, engines

    def __call__(self, argv, input=None, **_):
        self.commands.append((argv, input))
        if argv[0] not in self.engines:
            return subprocess.CompletedProcess(argv, 125, "", f"Cannot connect to the {argv[0]} engine\n")
        failed = self.fail_on is not None and argv[1] == self.fail_on
        why = "Trying to pull docker.io/library/python:3.11-slim...\nError: pinging registry: no such host\n\n"
        return subprocess.CompletedProcess(argv, 1 if failed else 0, stdout="28.2.2\n", stderr=why if failed else "")


@pytest.fixture
def aws(aws_no_iam):
    """These tests make no IAM role: moto without AWS managed policies starts faster."""
    return aws_no_iam


@pytest.fixture
def context(tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM python:3.11-slim\n")
    return str(tmp_path)


@pytest.fixture
def repo_aws(aws):
    aws.create_repository("mrkit-img", {"mrkit:stack": "img"})
    aws.calls.clear()
    return aws


def test_the_four_commands():
    steps = image_steps(REPO, "v2", context="ctx", platform="linux/arm64")
    assert [list(s.argv) for s in steps] == [
        ["docker", "build", "--platform", "linux/arm64", "--file", "ctx/Dockerfile", "--tag", "mrkit:v2", "ctx"],
        ["docker", "tag", "mrkit:v2", f"{REPO}:v2"],
        ["docker", "login", "--username", "AWS", "--password-stdin", "123456789012.dkr.ecr.us-east-1.amazonaws.com"],
        ["docker", "push", f"{REPO}:v2"],
    ]
    assert [s.secret_stdin for s in steps] == [False, False, True, False]
    assert steps[2].display().endswith("--password-stdin 123456789012.dkr.ecr.us-east-1.amazonaws.com  # password on stdin")


def test_build_and_push_sends_the_password_on_stdin_only(repo_aws, context):
    docker = FakeDocker()
    config = make_config({"stack": "img"})
    pushed = build_and_push(config, repo_aws, context=context, run=docker, which=lambda _: "/usr/bin/docker")
    assert pushed == f"{REPO}:latest"
    argvs = [argv for argv, _ in docker.commands]
    assert [a[1] for a in argvs] == ["info", "build", "tag", "login", "push"]  # the engine is checked first
    # moto's token is base64("AWS:<password>"): the password must be on stdin of `docker login`, nowhere else.
    token = repo_aws.client("ecr").get_authorization_token()["authorizationData"][0]["authorizationToken"]
    password = base64.b64decode(token).decode().partition(":")[2]
    assert password
    assert all(password not in " ".join(argv) for argv in argvs)
    assert [stdin for _, stdin in docker.commands] == [None, None, None, password, None]


def test_dry_run_prints_and_fetches_no_token(repo_aws, context):
    lines = []
    build_and_push(
        make_config({"stack": "img", "cpu_architecture": "ARM64"}),
        repo_aws,
        tag="v3",
        context=context,
        dry_run=True,
        out=lines.append,
        run=pytest.fail,
    )
    assert len(lines) == 4 and "--platform linux/arm64" in lines[0] and lines[3] == f"docker push {REPO}:v3"
    assert "ecr:GetAuthorizationToken" not in repo_aws.calls
    assert repo_aws.mutating_calls == []


def test_a_failing_step_stops_with_its_command(repo_aws, context):
    docker = FakeDocker(fail_on="build")
    with pytest.raises(
        ImageError,
        match=r"`docker build --platform linux/amd64 .*` failed with exit status 1: Error: pinging registry: no such host$",
    ):
        build_and_push(make_config({"stack": "img"}), repo_aws, context=context, run=docker, which=lambda _: "docker")
    assert [argv[1] for argv, _ in docker.commands] == ["info", "build"]


def test_a_pushed_tag_the_task_definition_does_not_run_is_pointed_out(repo_aws, context):
    lines = []
    build_and_push(
        make_config({"stack": "img"}),
        repo_aws,
        tag="v2",
        context=context,
        out=lines.append,
        run=FakeDocker(),
        which=lambda _: "docker",
    )
    assert lines == [
        f"note: the task definition runs {REPO}:latest, not {REPO}:v2; "
        f"set image: {REPO}:v2 in params/ecs.yaml and run `mrkit ecs up`"
    ]


def test_without_docker_or_its_engine_the_error_says_what_is_missing(repo_aws, context):
    def no_engine(argv, **_):
        return subprocess.CompletedProcess(argv, 1, "", "Cannot connect to the Docker daemon at unix:///var/run/docker.sock.\n")

    with pytest.raises(ImageError) as nothing:
        build_and_push(make_config({"stack": "img"}), repo_aws, context=context, which=lambda _: None)
    assert str(nothing.value) == (
        "no container engine works here: docker is not installed (no `docker` on PATH); podman is not installed "
        "(no `podman` on PATH): install Docker and start its engine or install podman (Debian/Ubuntu: "
        "apt-get install podman runc)"
    )
    with pytest.raises(
        ImageError,
        match="^no container engine works here: docker cannot reach its engine "
        "\\(Cannot connect to the Docker daemon.*; podman cannot reach",
    ):
        build_and_push(make_config({"stack": "img"}), repo_aws, context=context, run=no_engine, which=lambda _: "x")
    with pytest.raises(
        ImageError,
        match="^no container engine works here: podman cannot reach its engine .*: "
        "install podman \\(Debian/Ubuntu: apt-get install podman runc\\)$",
    ):
        build_and_push(
            make_config({"stack": "img"}), repo_aws, context=context, run=no_engine, which=lambda _: "x", builder="podman"
        )
    assert "ecr:GetAuthorizationToken" not in repo_aws.calls  # no token fetched for nothing


def test_podman_builds_when_dockers_engine_does_not_answer(repo_aws, context):
    podman = FakeDocker(engines=("podman",))
    pushed = build_and_push(make_config({"stack": "img"}), repo_aws, context=context, run=podman, which=lambda _: "x")
    assert pushed == f"{REPO}:latest"
    argvs = [argv for argv, _ in podman.commands]
    assert [a[:2] for a in argvs] == [
        ["docker", "info"],
        ["podman", "info"],
        ["podman", "build"],
        ["podman", "tag"],
        ["podman", "login"],
        ["podman", "push"],
    ]
    assert argvs[4][2:] == ["--username", "AWS", "--password-stdin", "123456789012.dkr.ecr.us-east-1.amazonaws.com"]
    assert podman.commands[4][1]  # the password, on stdin


def test_a_named_builder_is_the_only_one_tried(repo_aws, context):
    both = FakeDocker(engines=("docker", "podman"))
    build_and_push(make_config({"stack": "img"}), repo_aws, context=context, run=both, which=lambda _: "x", builder="podman")
    assert {argv[0] for argv, _ in both.commands} == {"podman"}


def test_base_image_and_no_push_build_and_tag_only(repo_aws, context):
    podman = FakeDocker(engines=("podman",))
    lines = []
    tagged = build_and_push(
        make_config({"stack": "img"}),
        repo_aws,
        context=context,
        run=podman,
        which=lambda _: "x",
        builder="podman",
        base_image="localhost/base:1",
        push=False,
        out=lines.append,
    )
    assert tagged == f"{REPO}:latest" and lines == []
    [(_, build), (_, tag)] = [(None, argv) for argv, _ in podman.commands[1:]]
    assert build[:2] == ["podman", "build"] and build[-1] == context
    assert "--build-arg" in build and build[build.index("--build-arg") + 1] == "BASE_IMAGE=localhost/base:1"
    assert build[build.index("--network") + 1] == "host"  # pip in the build reaches the index as the host does
    assert tag == ["podman", "tag", "mrkit:latest", f"{REPO}:latest"]
    assert "ecr:GetAuthorizationToken" not in repo_aws.calls  # no push, no login, no token


def test_docker_builds_as_before():
    [build] = image_steps(REPO, push=False)[:1]
    assert build.argv == ("docker", "build", "--platform", "linux/amd64", "--file", "./Dockerfile", "--tag", "mrkit:latest", ".")
    assert ENGINES["docker"].build_options() == []


def test_the_cli_dry_run_prints_a_podman_build_with_the_base_image_and_no_push(repo_aws, tmp_path):
    from conftest import ROOT, mrkit

    settings = tmp_path / "ecs.yaml"
    settings.write_text("stack: img\nregion: us-east-1\n")
    result = mrkit(
        "ecs",
        "image",
        "--config",
        settings,
        "--context",
        ROOT,
        "--builder",
        "podman",
        "--base-image",
        "localhost/base:1",
        "--no-push",
        "--dry-run",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 2 and lines[0].startswith("podman build --platform linux/amd64 --network host")
    assert "--build-arg BASE_IMAGE=localhost/base:1" in lines[0]
    assert lines[1] == f"podman tag mrkit:latest {REPO}:latest"


def test_up_first_and_a_dockerfile_are_needed(aws, context, tmp_path):
    with pytest.raises(StackNotReady, match="ECR repository mrkit-img does not exist .*run `mrkit ecs up` first"):
        build_and_push(make_config({"stack": "img"}), aws, context=context, dry_run=True)
    with pytest.raises(ImageError, match="no Dockerfile in"):
        build_and_push(make_config({"stack": "img"}), aws, context=str(tmp_path / "nowhere"), dry_run=True)

"""`mrkit ecs image`: the docker commands it builds, and that the ECR password never reaches argv.

No Docker engine runs here: a fake `run` records the commands instead.
"""

import base64
import shutil
import subprocess

import pytest

from mrkit.backends.ecs import ImageError, StackNotReady
from mrkit.backends.ecs.config import make_config
from mrkit.backends.ecs.image import build_and_push, docker_problem, image_steps

REPO = "123456789012.dkr.ecr.us-east-1.amazonaws.com/mrkit-img"


class FakeDocker:
    """Stands in for subprocess.run: records (argv, stdin) and answers like a working docker."""

    def __init__(self, fail_on=None):
        self.commands, self.fail_on = [], fail_on

    def __call__(self, argv, input=None, **_):
        self.commands.append((argv, input))
        failed = self.fail_on is not None and argv[1] == self.fail_on
        return subprocess.CompletedProcess(argv, 1 if failed else 0, stdout="28.2.2\n", stderr="")



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
    build_and_push(make_config({"stack": "img", "cpu_architecture": "ARM64"}), repo_aws, tag="v3", context=context,
                   dry_run=True, out=lines.append, run=pytest.fail)
    assert len(lines) == 4 and "--platform linux/arm64" in lines[0] and lines[3] == f"docker push {REPO}:v3"
    assert "ecr:GetAuthorizationToken" not in repo_aws.calls
    assert repo_aws.mutating_calls == []


def test_a_failing_step_stops_with_its_command(repo_aws, context):
    docker = FakeDocker(fail_on="build")
    with pytest.raises(ImageError, match=r"`docker build --platform linux/amd64 .*` failed with exit status 1"):
        build_and_push(make_config({"stack": "img"}), repo_aws, context=context, run=docker, which=lambda _: "docker")
    assert [argv[1] for argv, _ in docker.commands] == ["info", "build"]


def test_a_pushed_tag_the_task_definition_does_not_run_is_pointed_out(repo_aws, context):
    lines = []
    build_and_push(make_config({"stack": "img"}), repo_aws, tag="v2", context=context, out=lines.append,
                   run=FakeDocker(), which=lambda _: "docker")
    assert lines == [f"note: the task definition runs {REPO}:latest, not {REPO}:v2; "
                     f"set image: {REPO}:v2 in params/ecs.yaml and run `mrkit ecs up`"]


def test_without_docker_or_its_engine_the_error_says_what_is_missing(repo_aws, context):
    def no_engine(argv, **_):
        return subprocess.CompletedProcess(argv, 1, "", "Cannot connect to the Docker daemon at unix:///var/run/docker.sock.\n")

    with pytest.raises(ImageError, match="^docker is not installed"):
        build_and_push(make_config({"stack": "img"}), repo_aws, context=context, which=lambda _: None)
    with pytest.raises(ImageError, match="^docker cannot reach its engine \\(Cannot connect to the Docker daemon"):
        build_and_push(make_config({"stack": "img"}), repo_aws, context=context, run=no_engine, which=lambda _: "docker")
    assert "ecr:GetAuthorizationToken" not in repo_aws.calls  # no token fetched for nothing


@pytest.mark.skipif(shutil.which("docker") is None, reason="no docker CLI on this machine")
def test_this_machine_has_a_docker_cli_but_no_engine():
    # The real check, against the real CLI: here there is no /var/run/docker.sock.
    problem = docker_problem()
    assert problem is None or problem.startswith("docker cannot reach its engine")


def test_up_first_and_a_dockerfile_are_needed(aws, context, tmp_path):
    with pytest.raises(StackNotReady, match="ECR repository mrkit-img does not exist .*run `mrkit ecs up` first"):
        build_and_push(make_config({"stack": "img"}), aws, context=context, dry_run=True)
    with pytest.raises(ImageError, match="no Dockerfile in"):
        build_and_push(make_config({"stack": "img"}), aws, context=str(tmp_path / "nowhere"), dry_run=True)

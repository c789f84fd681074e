"""Build the mrkit container image and push it to the stack's ECR repository: `mrkit ecs image`.

Use it after `mrkit ecs up` (which makes the repository) and whenever the
code changes. It runs docker when its engine answers, else podman, or the one
named with `--builder` (`mrkit.backends.ecs.engine`); when none works it stops
with a one-line error saying what to install, and `--dry-run` prints the
commands instead (e.g. to run them elsewhere; docker's unless one is named).
`--base-image` replaces the Dockerfile's base (python:3.11-slim) through its
BASE_IMAGE build argument; `--no-push` builds and tags the image for the
repository locally, no login and no push (e.g. for the stand-in's
`--containers`).

The commands are plain argument lists built by `image_steps`, so they can be
checked without an engine. The ECR password goes to `<engine> login` on stdin
(`--password-stdin`), never on a command line where `ps` would show it.
The image is built for the task definition's CPU architecture
(`--platform linux/amd64` by default), so an image built on an ARM laptop
still starts on x86 Fargate.
"""

import os
import pathlib
import shlex
import shutil
import subprocess
from dataclasses import dataclass

from mrkit.backends.ecs import ImageError, StackNotReady
from mrkit.backends.ecs.engine import ENGINES, choose_engine

LOCAL_NAME = "mrkit"  # the local image name, before it is tagged for ECR


@dataclass(frozen=True)
class Step:
    """One engine command; `secret_stdin` marks the step that reads the ECR password on stdin."""

    argv: tuple
    secret_stdin: bool = False

    def display(self):
        """The command as a shell line (for --dry-run and errors); the password is never part of it."""
        line = shlex.join(self.argv)
        return f"{line}  # password on stdin" if self.secret_stdin else line


def checkout_context():
    """The checkout mrkit runs from, as a build context, when it has the Dockerfile; None for an installed mrkit."""
    root = pathlib.Path(__file__).resolve().parents[3]
    return str(root) if (root / "Dockerfile").is_file() and (root / "mrkit").is_dir() else None


def registry_of(repository_uri):
    """'1234.dkr.ecr.us-east-1.amazonaws.com/mrkit-x' -> '1234.dkr.ecr.us-east-1.amazonaws.com'."""
    return repository_uri.split("/", 1)[0]


def image_steps(
    repository_uri,
    tag="latest",
    context=".",
    dockerfile=None,
    platform="linux/amd64",
    engine=ENGINES["docker"],
    base_image=None,
    push=True,
):
    """build, tag for ECR, then (with `push`) log in to the registry and push: the commands, in order."""
    local, remote = f"{LOCAL_NAME}:{tag}", f"{repository_uri}:{tag}"
    dockerfile = dockerfile or os.path.join(context, "Dockerfile")
    base = ("--build-arg", f"BASE_IMAGE={base_image}") if base_image else ()
    cli = engine.name
    steps = [
        Step(
            (cli, "build", "--platform", platform, *engine.build_options(), *base, "--file", dockerfile, "--tag", local, context)
        ),
        Step((cli, "tag", local, remote)),
    ]
    if push:
        steps += [
            # Logging in just before the push: ECR tokens last 12 hours, a slow build cannot outlive one.
            Step((cli, "login", "--username", "AWS", "--password-stdin", registry_of(repository_uri)), secret_stdin=True),
            Step((cli, "push", remote)),
        ]
    return steps


def run_steps(steps, password, run=subprocess.run):
    """Run the steps in order, the password on stdin of the login step only; ImageError at the first failure.

    `run` is subprocess.run's signature: the engine prints to the terminal, unless `run` captures its output.
    """
    for step in steps:
        stdin = password if step.secret_stdin else None
        result = run(list(step.argv), input=stdin, text=True, check=False)
        if result.returncode != 0:
            # A captured run's last line of stderr says why (a base image it could not pull); else the terminal has it.
            said = [line.strip() for line in (result.stderr or "").splitlines() if line.strip()]
            why = f": {said[-1]}" if said else ""
            raise ImageError(f"`{step.display()}` failed with exit status {result.returncode}{why}")


def build_and_push(
    config,
    aws,
    tag="latest",
    context=".",
    dry_run=False,
    out=print,
    builder=None,
    base_image=None,
    push=True,
    run=subprocess.run,
    which=shutil.which,
):
    """Build the image from `context`, tag it for the stack's ECR repository and (with `push`) push it there.

    Returns the image's ECR reference. `builder` names the engine (default:
    docker if its engine answers, else podman). With `dry_run`, prints the
    commands (nothing runs, no token is fetched; docker's unless `builder` is given).
    """
    dockerfile = os.path.join(context, "Dockerfile")
    if not os.path.isfile(dockerfile):
        raise ImageError(f"no Dockerfile in {context}: run from the mrkit checkout or pass --context DIR")
    repo = aws.find_repository(config.repository)
    if repo is None:
        raise StackNotReady(f"ECR repository {config.repository} does not exist in {config.region}: run `mrkit ecs up` first")
    engine = ENGINES[builder or "docker"] if dry_run else choose_engine(builder, run, which)
    steps = image_steps(repo["repositoryUri"], tag, context, dockerfile, config.platform, engine, base_image, push)
    remote = steps[1].argv[-1]
    if dry_run:
        for step in steps:
            out(step.display())
        return remote
    password = aws.ecr_login()[1] if push else None
    run_steps(steps, password, run)
    if (config.image or f"{repo['repositoryUri']}:latest") != remote:
        out(
            f"note: the task definition runs {config.image or repo['repositoryUri'] + ':latest'}, not {remote}; "
            f"set image: {remote} in params/ecs.yaml and run `mrkit ecs up`"
        )
    return remote

"""The container engines mrkit drives, docker and podman: which one works here, and where they differ.

`mrkit ecs image` builds with one, and the stand-in's `--containers` runs
tasks with one. Both CLIs take the same commands for what mrkit does (build,
tag, login, push, run, kill, ps, rm); the registry below holds the little that
differs. Without a choice, docker is used when its engine answers (`docker
info` succeeds), else podman (which needs no daemon); when neither works the
error names both reasons and what to install.
"""

import os
import shutil
import subprocess
from dataclasses import dataclass

from mrkit.backends.ecs import ImageError

# Where the host keeps the CA bundle its own pip and curl trust (Debian/Ubuntu). A podman build mounts it
# read-only for its RUN steps, so `pip install` in the build trusts what the host trusts (a proxy that
# re-signs TLS, as on this project's CI machines); it never becomes part of the image.
HOST_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"


@dataclass(frozen=True)
class Engine:
    name: str
    install: str  # what to install (or start) when it does not work

    def build_options(self):
        """Options every build gets. docker's: none (as before). podman's: the host's network (its default
        build network may not reach the package index where docker's would) and the host's CA bundle."""
        if self.name != "podman":
            return []
        options = ["--network", "host"]
        if os.path.isfile(HOST_CA_BUNDLE):
            options += ["--volume", f"{HOST_CA_BUNDLE}:{HOST_CA_BUNDLE}:ro"]
        return options


ENGINES = {
    "docker": Engine("docker", "install Docker and start its engine"),
    "podman": Engine("podman", "install podman (Debian/Ubuntu: apt-get install podman runc)"),
}


def engine_problem(name, run=subprocess.run, which=shutil.which):
    """Why engine `name` cannot build or run containers here (one line), or None when it can."""
    if which(name) is None:
        return f"{name} is not installed (no `{name}` on PATH)"
    try:
        result = run([name, "info"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{name} does not answer ({exc})"
    if result.returncode != 0:
        reason = next((line for line in result.stderr.splitlines() if line.strip()), f"exit status {result.returncode}")
        return f"{name} cannot reach its engine ({reason.strip()})"
    return None


def choose_engine(requested=None, run=subprocess.run, which=shutil.which):
    """The engine to use: `requested` if it works, else docker if its engine answers, else podman.

    ImageError (one line: each engine's problem and what to install) when none works.
    """
    names = [requested] if requested else list(ENGINES)
    problems = []
    for name in names:
        problem = engine_problem(name, run, which)
        if problem is None:
            return ENGINES[name]
        problems.append(problem)
    remedy = " or ".join(ENGINES[name].install for name in names)
    raise ImageError(f"no container engine works here: {'; '.join(problems)}: {remedy}")

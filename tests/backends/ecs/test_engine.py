"""Which container engine mrkit uses here: docker when its engine answers, else podman; real CLIs, no fakes."""

import shutil
import subprocess

import pytest

from mrkit.backends.ecs import ImageError
from mrkit.backends.ecs.engine import choose_engine, engine_problem


def _answers(name):
    if shutil.which(name) is None:
        return False
    return subprocess.run([name, "info"], capture_output=True, timeout=60).returncode == 0


def test_an_engine_that_is_not_installed_is_named_with_what_to_install():
    with pytest.raises(ImageError) as raised:
        choose_engine("podman", which=lambda _: None)
    assert str(raised.value) == (
        "no container engine works here: podman is not installed (no `podman` on PATH): "
        "install podman (Debian/Ubuntu: apt-get install podman runc)"
    )


@pytest.mark.skipif(shutil.which("docker") is None, reason="no docker CLI on this machine")
def test_a_docker_cli_without_its_engine_says_so():
    problem = engine_problem("docker")
    assert (problem is None) == _answers("docker")
    assert problem is None or problem.startswith("docker cannot reach its engine (")


@pytest.mark.skipif(not _answers("podman"), reason="podman is not installed or does not work here (.ci/run sets it up)")
def test_without_a_docker_engine_podman_is_chosen():
    assert choose_engine("podman").name == "podman"
    assert choose_engine().name == ("docker" if _answers("docker") else "podman")

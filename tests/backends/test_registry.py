"""mrkit.backends: the backend registry the sweep looks names up in, and the ECS modules' import order."""

import subprocess
import sys

import pytest

from mrkit import backends
from mrkit.errors import UsageError


def _fresh_modules(code):
    """The mrkit/boto modules a fresh interpreter has loaded after `code`."""
    probe = f"import sys; {code}; print(sorted(m for m in sys.modules if m.startswith(('mrkit.', 'boto'))))"
    return subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout


def test_built_in_backends_and_unknown_names():
    assert {"local", "ecs"} <= set(backends.BACKENDS)
    with pytest.raises(UsageError, match="unknown backend 'nowhere'; known: local, ecs"):
        backends.get_backend("nowhere")


def test_a_registered_backend_is_found_by_name(monkeypatch):
    monkeypatch.setattr(backends, "BACKENDS", dict(backends.BACKENDS))
    run = lambda app, inputs, **options: ({"app": app}, [])  # noqa: E731
    backends.register_backend("inline", run)
    assert backends.get_backend("inline") is run


def test_looking_up_backends_imports_none_of_them():
    loaded = _fresh_modules("import mrkit.experiments.sweeps.sweep")
    assert "boto3" not in loaded and "mrkit.backends.ecs" not in loaded


def test_a_built_in_backend_is_imported_when_it_is_looked_up_and_not_before():
    before = _fresh_modules("import mrkit.backends")
    after = _fresh_modules("import mrkit.backends; mrkit.backends.get_backend('local')")
    assert "mrkit.backends.local" not in before and "mrkit.backends.local" in after
    assert "mrkit.backends.ecs.run" not in after
    from mrkit.backends.local import run_job

    assert backends.get_backend("local") is run_job


def test_the_stand_in_builds_on_fargate_without_the_launcher():
    loaded = _fresh_modules("import mrkit.backends.ecs.standin")
    assert "mrkit.backends.ecs.fargate" in loaded and "mrkit.backends.ecs.launcher" not in loaded

"""Shared fixtures: the CLI as a real process, small inputs, and the lab's books.

Tests that need `../shared/corpus/gutenberg` skip when it is absent (a clean
machine without the shared folder); everything else runs on inputs the tests
make themselves.
"""

import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
BOOKS = ROOT.parent / "shared" / "corpus" / "gutenberg"
TEST_APPS = pathlib.Path(__file__).resolve().parent / "apps"
MRKIT = [sys.executable, "-m", "mrkit"]


def mrkit(*args, cwd, timeout=60, env=None, check=False):
    """Run the CLI as its own process; returns the CompletedProcess."""
    merged = {**os.environ, **(env or {})}
    result = subprocess.run([*MRKIT, *map(str, args)], cwd=cwd, capture_output=True, text=True,
                            timeout=timeout, env=merged)
    if check and result.returncode != 0:
        raise AssertionError(f"mrkit {args} exited {result.returncode}: {result.stderr}")
    return result


def mrkit_popen(*args, cwd, env=None, **kwargs):
    return subprocess.Popen([*MRKIT, *map(str, args)], cwd=cwd, env={**os.environ, **(env or {})},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


def sorted_outputs(directory):
    """`sort mr-out-*`: the lines of every output file, sorted."""
    lines = []
    for path in pathlib.Path(directory).glob("mr-out-*"):
        lines.extend(path.read_text(encoding="utf-8").splitlines())
    return sorted(lines)


def app_path(name):
    return str(TEST_APPS / f"{name}.py")


@pytest.fixture(scope="session")
def corpus(tmp_path_factory):
    """Eight generated files of ~64 KiB: the default test input."""
    from mrkit.corpus import synth

    out = tmp_path_factory.mktemp("corpus")
    return [str(p) for p in synth(out, 8, 64 * 1024, seed=1)]


@pytest.fixture(scope="session")
def books():
    if not BOOKS.is_dir():
        pytest.skip("../shared/corpus/gutenberg is absent on this machine; the book cases need it")
    return sorted(str(p) for p in BOOKS.glob("pg-*.txt"))

"""The Dockerfile, checked without a Docker engine: its instructions, and a build of exactly what it copies.

hadolint is not installed here; these checks cover what matters for ECS:
a slim Python base, the package installed without a pip cache, a non-root
user, `mrkit` as the entrypoint, and a .dockerignore that sends docker what
the COPY lines need and nothing else.
"""

import json
import pathlib
import re
import shutil
import subprocess
import sys
import tarfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]


def instructions():
    """[(INSTRUCTION, arguments)] of the Dockerfile, continuation lines joined, comments dropped."""
    text = (ROOT / "Dockerfile").read_text()
    logical = re.sub(r"\\\n", " ", "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")))
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1].strip() if " " in line.strip() else "")
        for line in logical.splitlines()
        if line.strip()
    ]


def ignore_patterns():
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def _regex(pattern):
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        else:
            out += {"*": "[^/]*", "?": "[^/]"}.get(pattern[i], re.escape(pattern[i]))
            i += 1
    return re.compile(out + "$")


def in_context(path):
    """Does docker send `path` (relative, '/'-separated) in the build context? Last matching pattern wins."""
    parts = path.split("/")
    prefixes = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    included = True
    for pattern in ignore_patterns():
        negate, pattern = pattern.startswith("!"), pattern.lstrip("!").rstrip("/")
        if any(_regex(pattern).match(p) for p in prefixes):  # a pattern matching a parent matches the file
            included = negate
    return included


def copied_sources():
    sources = []
    for name, args in instructions():
        if name in ("COPY", "ADD"):
            words = [w for w in args.split() if not w.startswith("--")]
            sources.extend(words[:-1])
    return sources


def test_a_slim_python_base_and_a_single_stage():
    # The base is a build argument (`mrkit ecs image --base-image`) whose default is python:3.11-slim.
    froms = [args for name, args in instructions() if name == "FROM"]
    assert froms == ["${BASE_IMAGE}"]
    assert ("ARG", "BASE_IMAGE=python:3.11-slim") == instructions()[0]


def test_runs_as_a_non_root_user_with_mrkit_as_entrypoint():
    names = [name for name, _ in instructions()]
    users = [args for name, args in instructions() if name == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert names.index("USER") < names.index("ENTRYPOINT")
    [entrypoint] = [args for name, args in instructions() if name == "ENTRYPOINT"]
    assert json.loads(entrypoint) == ["mrkit"]  # exec form: signals reach mrkit, not a shell


def test_installs_the_package_without_a_pip_cache_and_no_more():
    runs = " ".join(args for name, args in instructions() if name == "RUN")
    assert "pip install --no-cache-dir" in runs
    names = {name for name, _ in instructions()}
    assert "HEALTHCHECK" not in names and "ADD" not in names and "EXPOSE" not in names
    assert "AWS_" not in (ROOT / "Dockerfile").read_text()  # credentials come from the task role, never the image


def test_installs_only_what_workers_need():
    import tomllib

    runs = " ".join(args for name, args in instructions() if name == "RUN")
    assert re.findall(r'"/tmp/mrkit-src(\[[^]]*\])?"', runs) == ["[aws]"]
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    base = " ".join(project["dependencies"] + project["optional-dependencies"]["aws"])
    for heavy in ("pandas", "numpy", "matplotlib", "seaborn", "papermill", "jupyter", "tqdm"):
        assert heavy not in base, f"{heavy} would be in the worker image"


def test_copies_only_files_that_exist_and_reach_the_context():
    sources = copied_sources()
    assert set(sources) == {"pyproject.toml", "README.md", "mrkit"}
    for source in sources:
        assert (ROOT / source).exists(), source
        assert in_context(source), f"{source} is excluded by .dockerignore"
    # setuptools reads the readme named in pyproject.toml: it must be copied too.
    readme = re.search(r'^readme\s*=\s*"([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.M)
    assert readme is None or readme.group(1) in sources


def test_the_context_leaves_out_everything_else():
    assert in_context("mrkit/backends/ecs/aws.py")
    for path in (
        ".venv/bin/python",
        ".git/config",
        "tests/conftest.py",
        "results/runs.csv",
        "notebooks/sweep.ipynb",
        "mrkit/__pycache__/cli.cpython-311.pyc",
        "mrkit.egg-info/PKG-INFO",
        "params/ecs.yaml",
        "Dockerfile",
    ):
        assert not in_context(path), path


@pytest.mark.skipif(shutil.which("git") is None, reason="git lists the checkout's files")
def test_what_the_dockerfile_copies_is_enough_to_build_mrkit(tmp_path):
    # The image's `pip install` sees only the copied files. Build a source distribution from exactly
    # those, offline with this venv's setuptools (it has no `wheel` for a wheel build): a file the
    # build needs but the Dockerfile forgets, or a package it does not find, fails here, not in docker.
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    context = tmp_path / "context"
    for path in listed:
        if path.split("/")[0] in copied_sources() and in_context(path) and (ROOT / path).is_file():
            (context / path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / path, context / path)
    if _setuptools_major() < 77:
        # This venv's setuptools predates PEP 639 and rejects `license = "MIT"`; the image's pip
        # builds with a current setuptools. The license line matters to nothing checked here.
        pyproject = context / "pyproject.toml"
        pyproject.write_text(re.sub(r'^license\s*=\s*"[^"]*"\n', "", pyproject.read_text(), flags=re.M))
    build = "import sys; from setuptools import build_meta; print(build_meta.build_sdist(sys.argv[1]))"
    result = subprocess.run([sys.executable, "-c", build, str(tmp_path / "dist")], cwd=context, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    sdist = tmp_path / "dist" / result.stdout.split()[-1]
    with tarfile.open(sdist) as tar:
        names = {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}
        entry_points = (
            tar.extractfile(next(m for m in tar.getmembers() if m.name.endswith("egg-info/entry_points.txt"))).read().decode()
        )
    assert {"mrkit/cli/__init__.py", "mrkit/backends/ecs/aws.py", "mrkit/apps/wc.py"} <= names
    assert re.search(r"^mrkit = mrkit\.cli:main$", entry_points, re.M)


def _setuptools_major():
    from importlib.metadata import version

    return int(version("setuptools").split(".")[0])

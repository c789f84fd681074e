"""mrkit installed from a wheel (not editable, not the checkout) works from an unrelated directory.

The named sweeps, the report plan and the notebooks are package data read with
importlib.resources, so `mrkit sweep map_sweep --quick` and `mrkit report
--quick` must work where no params/ or notebooks/ directory is in sight.

Offline and quick: the wheel is built without build isolation by this
interpreter's setuptools (the dev extra pins one that knows PEP 639 and builds
wheels itself) from a copy of what git tracks, then installed with --no-deps
into a fresh venv that sees this environment's site-packages only as a plain
path (no .pth processing, so no editable mrkit leaks in). The checks then run
with no PYTHONPATH, in an empty directory.
"""

import os
import pathlib
import shutil
import subprocess
import sys
import sysconfig
import zipfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def _setuptools_builds_wheels():
    try:
        from importlib.metadata import version

        return int(version("setuptools").split(".")[0]) >= 77
    except Exception:  # no setuptools at all
        return False


def _tracked_files():
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    return [p for p in listed if p.split("/")[0] in ("pyproject.toml", "README.md", "mrkit")]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(venv's bin directory, its environment) with mrkit installed from a freshly built wheel."""
    if shutil.which("git") is None:
        pytest.skip("git lists the files a build may see")
    if not _setuptools_builds_wheels():
        pytest.skip("needs setuptools>=77 (the dev extra installs it): the wheel is built offline")
    tmp = tmp_path_factory.mktemp("install")
    source = tmp / "source"
    for path in _tracked_files():
        if (ROOT / path).is_file():
            (source / path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / path, source / path)  # follows links: the wheel gets real files
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    build = "import sys; from setuptools import build_meta; print(build_meta.build_wheel(sys.argv[1]))"
    built = subprocess.run([sys.executable, "-c", build, str(tmp / "dist")], cwd=source, env=env, capture_output=True, text=True)
    assert built.returncode == 0, built.stderr[-3000:]
    wheel = tmp / "dist" / built.stdout.split()[-1]

    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps", "--no-index", str(wheel)],
        env=env,
        check=True,
        capture_output=True,
    )
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], capture_output=True, text=True, check=True
    ).stdout.strip()
    # The dependencies come from this environment, as a plain path after the venv's own site-packages.
    pathlib.Path(site, "_test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    # ...and so do their data files (nbconvert's templates), which Jupyter looks for under sys.prefix.
    env["JUPYTER_PATH"] = os.pathsep.join(
        filter(None, [str(pathlib.Path(sys.prefix, "share", "jupyter")), env.get("JUPYTER_PATH")])
    )
    return wheel, venv / "bin", env


def test_the_wheel_carries_the_package_data(installed):
    wheel, _, _ = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {
        "mrkit/params/map_sweep.yaml",
        "mrkit/params/ecs.yaml",
        "mrkit/notebooks/sweep.ipynb",
        "mrkit/notebooks/interactive.ipynb",
        "mrkit/experiments/report/report_plan.yaml",
    } <= names


def test_the_installed_mrkit_is_the_wheels(installed, tmp_path):
    _, bin_dir, env = installed
    code = "import mrkit, importlib.metadata as m; print(mrkit.__file__); print(mrkit.__version__, m.version('mrkit'))"
    out = subprocess.run(
        [bin_dir / "python", "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, check=True
    ).stdout.split("\n")
    assert str(bin_dir.parent) in out[0] and str(ROOT) not in out[0]
    version, metadata_version = out[1].split()
    assert version == metadata_version  # one version number


def test_a_named_sweep_and_the_report_run_from_an_unrelated_directory(installed, tmp_path):
    _, bin_dir, env = installed
    sweep = subprocess.run(
        [bin_dir / "mrkit", "sweep", "map_sweep", "--quick", "--no-progress"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert sweep.returncode == 0, sweep.stderr[-3000:]
    assert list(tmp_path.glob("results/map_sweep/*/runs.csv"))
    report = subprocess.run(
        # One sweep and the checks: the plan, the notebook and the report's sections come from the package all the
        # same; the whole quick report is tests/experiments/report/test_report_html.py's (a minute more here).
        [bin_dir / "mrkit", "report", "--quick", "--sweep", "map_sweep", "--out", "out/report.html"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=400,  # a hang guard: minutes on a loaded machine
    )
    assert report.returncode == 0, report.stderr[-3000:]
    html = (tmp_path / "out" / "report.html").read_text()
    assert "Question 1: how does the number of map tasks M change the time?" in html and "Correctness" in html

"""The repository's habits that a test can hold: the notebook hook's path, the pinned figure stack, ruff's RUF100."""

import re
import tomllib
from importlib.metadata import version

import yaml
from conftest import ROOT


def test_the_notebook_hook_watches_the_notebooks_where_they_live_and_their_builder():
    hooks = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    (hook,) = [h for repo in hooks["repos"] for h in repo["hooks"] if h["id"] == "notebooks-built"]
    watched = re.compile(hook["files"])
    notebooks = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "mrkit" / "notebooks").glob("*.ipynb"))
    assert notebooks and all(watched.search(path) for path in [*notebooks, "notebooks/build.py"]), hook["files"]
    assert not watched.search("mrkit/experiments/report/widgets.py")


def test_the_figure_stack_is_pinned_at_the_installed_versions():
    # Figure tests assert legend text and labels: these libraries draw them.
    pins = dict(
        line.split("==")
        for line in (ROOT / "constraints" / "test.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    )
    for name in ("pandas", "numpy", "matplotlib", "seaborn"):
        assert pins.get(name) == version(name), f"{name}: pinned {pins.get(name)}, installed {version(name)}"


def test_ruff_reports_noqa_comments_that_silence_nothing():
    lint = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["ruff"]["lint"]
    assert "RUF100" in lint["select"]

"""mrkit.extras: the optional stacks named as pyproject declares them, and the one-line message when one is missing."""

import pathlib
import re
import sys
import tomllib

import pytest

from mrkit import extras
from mrkit.errors import UsageError

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _declared(extra, optional):
    """The distributions an extra installs itself, and the extras it pulls in (`mrkit[other]`)."""
    names, pulled = set(), set()
    for requirement in optional[extra]:
        name = re.match(r"[A-Za-z0-9_.-]+", requirement).group(0).lower()
        if name == "mrkit":
            pulled |= {other.strip() for other in re.search(r"\[(.*)\]", requirement).group(1).split(",")}
        else:
            names.add(name)
    return names, pulled


@pytest.mark.parametrize("extra", sorted(extras.EXTRAS))
def test_each_extra_checks_what_pyproject_says_it_installs(extra):
    optional = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    names, pulled = _declared(extra, optional)
    # jupyterlab is the user's editor: no command imports it.
    assert set(extras.EXTRAS[extra]) == names - {"jupyterlab"}
    assert pulled <= set(extras.EXTRAS)


def test_missing_names_the_extra_for_a_submodule_and_nothing_for_a_module_no_extra_installs():
    assert "pip install 'mrkit[experiments]'" in extras.missing("pandas.core.frame")
    assert "pip install 'mrkit[aws]'" in extras.missing("botocore")
    assert extras.missing("yaml") is None and extras.missing(None) is None


def test_require_raises_a_usage_error_for_the_first_module_missing(monkeypatch):
    monkeypatch.setitem(sys.modules, "papermill", None)  # what importing an absent module raises
    with pytest.raises(UsageError, match=r"this needs papermill, .*pip install 'mrkit\[notebooks\]'"):
        extras.require("experiments", "notebooks")
    extras.require("experiments")  # the installed ones pass

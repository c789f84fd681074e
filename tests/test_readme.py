"""The README's shell blocks, run as a newcomer pastes them: in order, in one shell, in a fresh copy of the checkout.

Every ```sh block runs; a block that cannot run here (a real AWS account, a server that runs until
stopped, commands that take many minutes) is a ```text block followed by a sentence saying why.
The first ```sh block is the set-up: its `make setup` is not run (the copy uses this checkout's
.venv, which `make test` has just set up; installing from the copy would repoint the editable
install at a directory about to be deleted), its `. .venv/bin/activate` is. The stand-in's fixed
port becomes a free one. Nothing else is rewritten.
"""

import os
import re
import shutil
import socket
import subprocess

import pytest
from conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.S | re.M)
SET_UP = "make setup"


def blocks(language):
    return [m.group(2) for m in FENCE.finditer(README) if m.group(1) == language]


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _fresh_copy(dest):
    """The files a clone has (tracked, plus new ones not ignored), links kept as links, and the checkout's .venv."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\0")
    for name in filter(None, listed):
        source, target = ROOT / name, dest / name
        if not source.is_symlink() and not source.is_file():
            continue  # deleted in the work tree, not yet committed
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            target.symlink_to(os.readlink(source))
        else:
            shutil.copy2(source, target)
    (dest / ".venv").symlink_to(ROOT / ".venv")


def test_the_two_commands_and_the_other_unrunnable_blocks_say_why_they_are_text():
    assert "make report" in blocks("text")[0] and "make test" in blocks("text")[0]
    for match in re.finditer(r"^```text\n.*?^```\n\n(.*)", README, re.S | re.M):
        assert match.group(1).startswith("(A `text` block: "), match.group(0)[:300]


def test_the_first_shell_block_is_the_set_up():
    first = blocks("sh")[0]
    assert first.splitlines()[0].startswith(SET_UP) and ". .venv/bin/activate" in first


@pytest.mark.notebook
@pytest.mark.timeout(420)
def test_every_shell_block_runs_pasted_in_order_in_a_fresh_copy(tmp_path):
    if not (ROOT / ".venv" / "bin" / "moto_server").exists():
        pytest.skip("needs the dev set-up's .venv (make test creates it)")
    clone = tmp_path / "mrkit"
    _fresh_copy(clone)
    script = []
    for number, block in enumerate(blocks("sh"), 1):
        if number == 1:
            block = "\n".join(line for line in block.splitlines() if not line.startswith(SET_UP))
        script += [f"echo '>>> README sh block {number}' >&2", block.replace("5000", str(_free_port()))]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "VIRTUAL_ENV", "MRKIT_"))}
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", "\n".join(script)], cwd=clone, env=env, capture_output=True, text=True, timeout=400
    )
    shown = result.stdout[-3000:] + "\n--- stderr ---\n" + result.stderr[-4000:]
    assert result.returncode == 0, shown
    assert f">>> README sh block {len(blocks('sh'))}" in result.stderr, shown
    # What each block promises, beyond not failing (an `a && b` whose `a` fails does not stop `bash -e`).
    assert "exact" in result.stdout and " yes" in result.stdout, "the demo's table, every run exact"
    assert "\nsame\n" in f"\n{result.stdout}", "the lab by hand: the workers' output equals the sequential one"
    assert list((clone / "results" / "longwords").glob("mr-out-*")), "your own app's outputs"
    assert "predicted_s" in result.stdout, "mrkit predict's table"
    assert (clone / "results" / "out.html").stat().st_size > 10_000, "the notebook's exported page"
    assert sorted(p.name for p in (clone / "results" / "dask-demo").glob("mr-out-*")) == ["mr-out-0", "mr-out-1"]
    assert re.search(r"unique keys.*missing 0, extra 0, different 0", result.stderr + result.stdout), shown


def test_the_readme_stays_a_guide_and_its_links_to_docs_resolve():
    assert len(README.splitlines()) <= 600, "long write-ups go to docs/<topic>.md, linked"
    linked = re.findall(r"\]\((docs/[^)#]+)", README)
    assert linked and all((ROOT / path).is_file() for path in linked), linked


def test_the_layout_section_names_every_module_and_only_what_exists():
    layout = README.split("\n## Layout\n", 1)[1].split("\n## ", 1)[0]
    package = ROOT / "mrkit"
    for path in sorted(package.rglob("*.py")):
        if path.name == "__init__.py" or "__pycache__" in path.parts:
            continue
        relative = path.relative_to(ROOT)
        if path.parent == package:
            assert f"{relative.as_posix()}" in layout, f"{relative} is not in the README's layout"
        else:
            assert re.search(rf"\b{path.stem}\b", layout), f"{relative} is not in the README's layout"
            assert f"{path.parent.name}/" in layout, f"{path.parent.relative_to(ROOT)}/ is not in the README's layout"
    for named in re.findall(r"\bmrkit/[\w/.]+", layout):
        assert (ROOT / named.rstrip(".")).exists(), f"the layout names {named}, which does not exist"

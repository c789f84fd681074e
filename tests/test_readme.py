"""The README's shell blocks that a user pastes, run as written (a free port and a scratch folder aside)."""

import re
import socket
import subprocess

import pytest
from conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def _block_after(heading):
    section = README.split(heading, 1)[1]
    return re.search(r"```sh\n(.*?)```", section, re.S).group(1)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.timeout(240)
def test_the_stand_in_block_runs_as_pasted(tmp_path):
    if not (ROOT / ".venv" / "bin" / "moto_server").exists():
        pytest.skip("needs the dev set-up's .venv (make test creates it)")
    block = _block_after("### Without an AWS account: the local stand-in")
    block = block.replace("5000", str(_free_port())).replace("/tmp/", f"{tmp_path}/")
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", block], cwd=ROOT, capture_output=True, text=True,
                            timeout=200)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert re.search(r"unique keys.*missing 0, extra 0, different 0", result.stderr + result.stdout), result.stderr


@pytest.mark.timeout(180)
def test_the_dask_block_runs_as_pasted(tmp_path):
    if not (ROOT / ".venv" / "bin" / "mrkit").exists():
        pytest.skip("needs the dev set-up's .venv (make test creates it)")
    pytest.importorskip("distributed", reason="the dask extra is not installed (make setup installs it)")
    block = _block_after("## Beyond one machine: Dask").replace("results/dask-demo", str(tmp_path))
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", block], cwd=ROOT, capture_output=True, text=True,
                            timeout=150)
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(p.name for p in tmp_path.glob("mr-out-*")) == ["mr-out-0", "mr-out-1"]

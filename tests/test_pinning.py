"""--cpus LIST: parsing, and a job whose master and workers really run on the pinned CPUs."""

import json
import os

import pytest
from conftest import mrkit

from mrkit import pinning
from mrkit.errors import UsageError

linux = pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="CPU affinity is Linux-only")
ALLOWED = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else [0]

# An app whose map emits how many CPUs its worker process may use.
AFFINITY_APP = """
import os

def map(filename, contents):
    return [(f"cpus{len(os.sched_getaffinity(0))}", "1")]

def reduce(key, values):
    return str(len(values))
"""


@linux
def test_lists_and_ranges_parse_to_sets_and_format_back():
    first = ALLOWED[0]
    assert pinning.parse_cpus(str(first)) == {first}
    assert pinning.parse_cpus(first) == {first}
    assert pinning.format_cpus({0, 1, 2, 5, 7, 8}) == "0-2,5,7-8"
    if len(ALLOWED) > 1:
        a, b = ALLOWED[:2]
        assert pinning.parse_cpus(f"{a},{b}") == {a, b}


@linux
@pytest.mark.parametrize(
    "text, message",
    [("a", "takes a list"), ("", "takes a list"), ("3-1", "runs backwards"), ("4096", "not one this process may use")],
)
def test_bad_lists_are_usage_errors(text, message):
    with pytest.raises(UsageError, match=message):
        pinning.parse_cpus(text)


@linux
def test_pinned_restores_the_affinity_it_found():
    before = os.sched_getaffinity(0)
    with pinning.pinned(str(ALLOWED[0])):
        assert os.sched_getaffinity(0) == {ALLOWED[0]}
    assert os.sched_getaffinity(0) == before


@linux
def test_run_with_cpus_pins_master_and_workers_and_records_cores(tmp_path):
    app = tmp_path / "affinity.py"
    app.write_text(AFFINITY_APP)
    for i in range(3):
        (tmp_path / f"in{i}.txt").write_text("some words\n")
    done = mrkit(
        "run",
        app,
        "in0.txt",
        "in1.txt",
        "in2.txt",
        "-w",
        "3",
        "-r",
        "1",
        "--cpus",
        ALLOWED[0],
        "--json",
        cwd=tmp_path,
        check=True,
    )
    assert json.loads(done.stdout)["cores"] == 1
    assert (tmp_path / "mr-out-0").read_text().split() == ["cpus1", "3"]  # every map ran on one CPU


@linux
def test_a_cpu_the_process_may_not_use_is_one_line_exit_2(tmp_path):
    done = mrkit("run", "wc", "x.txt", "--cpus", "4096", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "--cpus 4096" in done.stderr
    worker = mrkit("worker", "wc", "--cpus", "nope", cwd=tmp_path)
    assert worker.returncode == 2 and "--cpus takes" in worker.stderr

"""timing.py: the column contract (the README's Timings section) and the run summary derived from task records."""

import math
import os
import subprocess
import sys

import pytest

from mrkit import timing
from mrkit.errors import UsageError
from mrkit.timing import RUN_COLUMNS, STATUSES, TASK_COLUMNS, processes_cpu_s, split_record, summarize, task_record

# The README's "Timings" (the project's contract): these columns in this order; later ones are only ever appended.
DESIGN_TASK_COLUMNS = [
    "run_id",
    "phase",
    "task",
    "attempt",
    "worker",
    "pid",
    "host",
    "start",
    "end",
    "duration_s",
    "bytes_in",
    "bytes_out",
    "records_in",
    "records_out",
    "status",
]
DESIGN_RUN_COLUMNS = [
    "run_id",
    "app",
    "backend",
    "n_map",
    "n_reduce",
    "workers",
    "cpu_count",
    "input_bytes",
    "split_s",
    "map_serial_sum_s",
    "map_wall_s",
    "map_speedup",
    "reduce_serial_sum_s",
    "reduce_wall_s",
    "startup_s",
    "end_to_end_s",
    "est_serial_s",
    "est_parallel_s",
    "retries",
    "repeat",
]


def test_columns_start_with_the_documented_ones_in_order():
    assert TASK_COLUMNS[: len(DESIGN_TASK_COLUMNS)] == DESIGN_TASK_COLUMNS
    assert RUN_COLUMNS[: len(DESIGN_RUN_COLUMNS)] == DESIGN_RUN_COLUMNS
    assert len(set(TASK_COLUMNS)) == len(TASK_COLUMNS) and len(set(RUN_COLUMNS)) == len(RUN_COLUMNS)


def test_statuses_are_the_documented_ones():
    assert set(STATUSES) >= {"ok", "failed", "timed_out", "superseded"}


def test_task_record_has_every_column_and_its_duration():
    row = task_record("r1", "map", 3, 2, "w-1", 42, "host", 10.0, 12.5, bytes_in=100, records_out=7)
    assert list(row) == TASK_COLUMNS
    assert row["duration_s"] == 2.5
    assert (row["bytes_in"], row["bytes_out"], row["records_in"], row["records_out"]) == (100, 0, 0, 7)
    assert row["status"] == "ok"


def test_split_record_is_the_masters_row():
    row = split_record("r1", 1.0, 1.25, input_bytes=1000, n_tasks=8)
    assert (row["phase"], row["task"], row["attempt"], row["worker"]) == ("split", 0, 1, "master")
    assert (row["bytes_in"], row["records_out"], row["duration_s"]) == (1000, 8, 0.25)


def _records():
    def rec(phase, task, attempt, start, end, status="ok"):
        return task_record("r1", phase, task, attempt, "w", 1, "h", start, end, status)

    return [
        rec("split", 0, 1, 100.0, 100.5),
        rec("map", 0, 1, 101.0, 103.0),
        rec("map", 1, 1, 101.0, 102.0, "failed"),  # counts as a retry and starts the stage's wall time
        rec("map", 1, 2, 102.0, 105.0),
        rec("map", 0, 2, 103.0, 106.0, "superseded"),  # ends after the last ok attempt: not in the wall time
        rec("reduce", 0, 1, 105.0, 106.0),
        rec("reduce", 1, 1, 105.5, 107.0),
    ]


def test_summary_follows_the_documented_formulas():
    run = summarize(
        _records(),
        run_id="r1",
        app="wc",
        backend="local",
        n_map=2,
        n_reduce=2,
        workers=2,
        input_bytes=1000,
        launched_at=99.0,
        finished_at=108.0,
        repeat=3,
        cpu_count=4,
    )
    assert list(run) == RUN_COLUMNS
    assert run["split_s"] == 0.5
    assert run["map_serial_sum_s"] == 2.0 + 3.0  # ok attempts only
    assert run["map_wall_s"] == 105.0 - 101.0  # first start (any attempt) to last ok end
    assert run["map_speedup"] == pytest.approx(5.0 / 4.0)
    assert run["reduce_serial_sum_s"] == 1.0 + 1.5
    assert run["reduce_wall_s"] == 107.0 - 105.0
    assert run["startup_s"] == 101.0 - 99.0  # launch to the first map/reduce start
    assert run["end_to_end_s"] == 108.0 - 99.0
    assert run["est_serial_s"] == 0.5 + 5.0 + 2.5
    assert run["est_parallel_s"] == 0.5 + 4.0 + 2.0
    assert run["retries"] == 2  # the failed and the superseded attempt
    assert (run["repeat"], run["cpu_count"], run["workers"]) == (3, 4, 2)


def test_summary_of_a_run_without_tasks():
    run = summarize(
        [],
        run_id="r0",
        app="wc",
        backend="local",
        n_map=0,
        n_reduce=1,
        workers=1,
        input_bytes=0,
        launched_at=5.0,
        finished_at=6.0,
    )
    assert (run["map_serial_sum_s"], run["map_wall_s"], run["retries"]) == (0.0, 0.0, 0)
    assert math.isnan(run["map_speedup"])
    assert run["startup_s"] == run["end_to_end_s"] == 1.0
    assert run["cpu_count"] >= 1


def test_run_ids_sort_by_time_and_differ():
    import re

    from mrkit.timing import new_run_id

    ids = {new_run_id() for _ in range(50)}
    assert len(ids) == 50
    assert all(re.fullmatch(r"\d{8}-\d{6}-[0-9a-f]{6}", i) for i in ids)


BURN_THEN_WAIT = """
import sys, threading, time
def burn():
    t = time.thread_time()
    while time.thread_time() - t < 0.2:
        pass
worker = threading.Thread(target=burn)
worker.start()
worker.join()
print("burnt", flush=True)
sys.stdin.read()
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="processes' CPU clocks are read the Linux way")
def test_processes_cpu_s_adds_up_live_processes_cpu_all_threads_included():
    child = subprocess.Popen([sys.executable, "-c", BURN_THEN_WAIT], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert child.stdout.readline() == b"burnt\n"
        mine, theirs = processes_cpu_s([os.getpid()]), processes_cpu_s([child.pid])
        assert theirs >= 0.2 and mine > 0
        assert processes_cpu_s([os.getpid(), child.pid]) >= mine + theirs
    finally:
        child.communicate(b"")
    assert processes_cpu_s([child.pid]) is None, "an ended process is not counted"
    assert processes_cpu_s([]) == 0.0


def test_a_run_id_is_a_plain_name_and_new_ones_are():
    """It names attempt files and S3 prefixes: `--run-id ../evil` left hidden directories in the job's."""
    assert timing.check_run_id(timing.new_run_id())
    assert timing.check_run_id("lab-3.run_2") == "lab-3.run_2"
    for bad in ("../evil", "a/b", "x\ny", ".hidden", "", "-x", "a" * 65, None):
        with pytest.raises(UsageError, match="--run-id takes letters"):
            timing.check_run_id(bad)

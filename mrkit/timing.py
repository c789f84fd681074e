"""Timing records: one per task attempt, and the run summary derived from them.

Every number a report shows is a function of these records, so they carry
wall-clock epochs (start/end) as well as durations. The column lists are a
contract (the README's *Timings* section; tests/test_timing.py): add columns
at the end, never rename.
"""

import os
import re
import secrets
import socket
import sys
import time

from mrkit.errors import UsageError

TASK_COLUMNS = [
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
    "cpu_s",  # second round: the worker's user+system CPU seconds for the attempt
    "backup",
    "slowdown",  # second round: a backup attempt; the slowdown injected on its worker (1: none)
    # ECS only (blank elsewhere): the worker task's lifecycle from DescribeTasks, epoch seconds
    "ecs_created_at",
    "ecs_pull_started_at",
    "ecs_pull_stopped_at",
    "ecs_started_at",
    "ecs_stopped_at",
]
ECS_LIFECYCLE_COLUMNS = TASK_COLUMNS[-5:]

RUN_COLUMNS = [
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
    "cores",
    "master_cpu_s",  # second round: CPUs the job could use (affinity), the master's CPU seconds
    "backup_tasks",
    "slow_workers",
    "slowdown",  # second round: the backup policy, the straggler injection
    "workers_cpu_s",  # third round: CPU seconds the worker processes used until the job was done (local on Linux, dask)
]

STATUSES = ("ok", "failed", "timed_out", "superseded")


def task_record(run_id, phase, task, attempt, worker, pid, host, start, end, status="ok", backup=False, slowdown=1.0, **counters):
    """A task attempt's row, with every column present."""
    return {
        "run_id": run_id,
        "phase": phase,
        "task": task,
        "attempt": attempt,
        "worker": worker,
        "pid": pid,
        "host": host,
        "start": start,
        "end": end,
        "duration_s": end - start,
        "bytes_in": counters.get("bytes_in", 0),
        "bytes_out": counters.get("bytes_out", 0),
        "records_in": counters.get("records_in", 0),
        "records_out": counters.get("records_out", 0),
        "status": status,
        "cpu_s": counters.get("cpu_s"),  # None: not reported (the attempt died or was stopped)
        "backup": backup,
        "slowdown": slowdown,
        **dict.fromkeys(ECS_LIFECYCLE_COLUMNS),  # ECS tasks only; the launcher fills them in
    }


def split_record(run_id, start, end, input_bytes, n_tasks):
    """The master's own row for cutting the inputs into map tasks."""
    return task_record(
        run_id,
        "split",
        0,
        1,
        "master",
        os.getpid(),
        socket.gethostname(),
        start,
        end,
        bytes_in=input_bytes,
        records_out=n_tasks,
    )


def _stage(records, phase):
    """(serial sum of ok attempts, wall time from first start to last ok end)."""
    rows = [r for r in records if r["phase"] == phase]
    ok = [r for r in rows if r["status"] == "ok"]
    if not ok:
        return 0.0, 0.0
    serial = sum(r["duration_s"] for r in ok)
    wall = max(r["end"] for r in ok) - min(r["start"] for r in rows)
    return serial, wall


def cores():
    """The CPUs this process may run on (its affinity), not the machine's count."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def process_cpu_s():
    """This process's user+system CPU seconds so far, all its threads, to the nanosecond.

    Not os.times(): it counts in 10 ms clock ticks, and a small map task's
    15 ms of CPU read as 10 or 20.
    """
    return time.process_time()


def processes_cpu_s(pids):
    """CPU seconds the live processes `pids` have run so far (all their threads), together; None where
    they cannot be read (not Linux).

    Read from each process's CPU-time clock, in nanoseconds (the clock id
    glibc's clock_getcpuclockid makes: ~pid << 3 | CPUCLOCK_SCHED):
    /proc/PID/stat's clock ticks (10 ms) would lose up to 10 ms a process,
    a second over 100 workers, and /proc/PID/schedstat counts only the
    main thread. A process that has ended is not counted.
    """
    if not sys.platform.startswith("linux"):
        return None
    total, read = 0.0, False
    for pid in pids:
        try:
            total += time.clock_gettime((~int(pid) << 3) | 2)
            read = True
        except OSError:  # it has ended (EINVAL)
            continue
    return total if read or not pids else None


def summarize(
    records,
    *,
    run_id,
    app,
    backend,
    n_map,
    n_reduce,
    workers,
    input_bytes,
    launched_at,
    finished_at,
    repeat=0,
    cpu_count=None,
    master_cpu_s=None,
    backup_tasks=None,
    slow_workers=0,
    slowdown=1.0,
    workers_cpu_s=None,
    job_cores=None,
):
    """The run's row of runs.csv from its task records.

    startup_s is the time from launch until the first task started (process
    start-up and the split); retries counts attempts that did not end ok.
    `cores` is `job_cores` where the job ran elsewhere (a Dask cluster's
    threads), else the CPUs this process may use.
    """
    split_s, _ = _stage(records, "split")
    map_serial, map_wall = _stage(records, "map")
    reduce_serial, reduce_wall = _stage(records, "reduce")
    task_starts = [r["start"] for r in records if r["phase"] in ("map", "reduce")]
    startup = (min(task_starts) - launched_at) if task_starts else finished_at - launched_at
    return {
        "run_id": run_id,
        "app": app,
        "backend": backend,
        "n_map": n_map,
        "n_reduce": n_reduce,
        "workers": workers,
        "cpu_count": cpu_count or os.cpu_count(),
        "input_bytes": input_bytes,
        "split_s": split_s,
        "map_serial_sum_s": map_serial,
        "map_wall_s": map_wall,
        "map_speedup": map_serial / map_wall if map_wall > 0 else float("nan"),
        "reduce_serial_sum_s": reduce_serial,
        "reduce_wall_s": reduce_wall,
        "startup_s": startup,
        "end_to_end_s": finished_at - launched_at,
        "est_serial_s": split_s + map_serial + reduce_serial,
        "est_parallel_s": split_s + map_wall + reduce_wall,
        "retries": sum(1 for r in records if r["phase"] != "split" and r["status"] != "ok"),
        "repeat": repeat,
        "cores": job_cores or cores(),
        "master_cpu_s": process_cpu_s() if master_cpu_s is None else master_cpu_s,
        "backup_tasks": backup_tasks or "none",
        "slow_workers": slow_workers,
        "slowdown": slowdown,
        "workers_cpu_s": workers_cpu_s,
    }


RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")  # it names attempt files and S3 prefixes: no "/" or ".."


def check_run_id(text):
    """`text` when it can be a run id, else UsageError (`--run-id ../x` left hidden directories behind)."""
    if not isinstance(text, str) or not RUN_ID.fullmatch(text):
        raise UsageError(f"--run-id takes letters, digits, '.', '_' and '-' (at most 64, not starting with . _ -), got {text!r}")
    return text


def new_run_id():
    """A fresh run id: local start time (sortable, readable in a listing) and 6 random hex digits.

    The one format, for the master and the ECS launcher alike (the launcher names the
    run's S3 prefix with it before any master exists).
    """
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}"


def now():
    """Wall-clock epoch seconds: comparable across processes and hosts."""
    return time.time()

"""The messages master, workers and launchers exchange, written down once.

As the lab's rpc.go does, this module names every request and reply, and
checks a worker's report whole before the master changes any state for it.
All of them travel as JSON objects over `mrkit.runtime.rpc`:

    POST /task  TaskRequest -> Assignment    ask for work (long poll)
    POST /done  Report      -> Assignment    an attempt finished; its files await commit
    POST /fail  Report      -> Assignment    an attempt raised (the app's error in `error`)
    GET /status             -> Status        progress, also published as mr-status.json

An attempt writes its files under hidden attempt names (`attempt_name`);
only the master renames the winning attempt's files to their `mr-*` names,
so an attempt that lost, was revoked, or belongs to another job never
changes a job's files.
"""

import re
from dataclasses import dataclass

from mrkit.storage.base import temporary_name, unwrap_temporary

PHASES = ("map", "reduce")
ACTIONS = ("map", "reduce", "wait", "exit")  # Assignment["action"]

# TaskRequest: {"worker": label or absent, "pid": int, "host": str, "slowdown": F (a straggler study's injection)}
# Assignment:  {"worker": label, "run_id": str, "action": one of ACTIONS,
#               "attempt": int, "task": map or reduce payload, "storage": url (remote workers only),
#               "failed": message (action "exit" of a failed job), "fatal": bool (it failed on errors.FATAL_TO_JOB)}
#   map payload:    {"task": m, "n_reduce": R, "splits": [[path, location, start, end, version], ...]}
#   reduce payload: {"task": r, "maps": [m, ...], "bytes_in": int}
# Status:      {"run_id", "phase": map|reduce|done|failed, "map": counts, "reduce": counts,
#               "workers", "elapsed_s", "failure", "host", "pid"}; counts: {"total", "idle", "in_progress", "done"}
# Run record (mr-run.json): {"run": runs.csv row, "tasks": [tasks.csv rows]}

_COUNTERS = ("bytes_in", "bytes_out", "records_in", "records_out", "cpu_s")


@dataclass(frozen=True)
class Report:
    """A worker's /done or /fail body, checked against the job it claims to belong to."""

    worker: str
    phase: str
    task: int
    attempt: int
    start: float
    end: float
    counters: dict
    partitions: tuple = ()  # map: ((reduce task, bytes), ...) for every file the attempt wrote
    error: str = ""
    fatal: bool = False  # the attempt met what no retry can fix (errors.FATAL_TO_JOB): the job fails at once
    storage: bool = False  # /fail: the storage failed (an outage, maybe brief), not the app: its task backs off


def _number(body, key, kind=(int, float)):
    value = body.get(key)
    if isinstance(value, bool) or not isinstance(value, kind):
        raise ValueError(f"{key!r} must be a number, got {value!r}")
    return value


def parse_report(body, n_tasks, n_reduce, failed=False):
    """A Report from a request body, or ValueError naming what is wrong.

    `n_tasks` maps each phase to its number of tasks; `n_reduce` bounds the
    partitions a map may report.
    """
    phase = body.get("phase")
    if phase not in PHASES:
        raise ValueError(f"'phase' must be one of {PHASES}, got {phase!r}")
    task = _number(body, "task", int)
    if not 0 <= task < n_tasks[phase]:
        raise ValueError(f"{phase} task {task} does not exist (this job has {n_tasks[phase]})")
    attempt = _number(body, "attempt", int)
    if attempt < 1:
        raise ValueError(f"'attempt' must be 1 or more, got {attempt}")
    start, end = float(_number(body, "start")), float(_number(body, "end"))
    counters = body.get("counters") or {}
    if not isinstance(counters, dict):
        raise ValueError("'counters' must be an object")
    counters = {key: _number(counters, key) for key in _COUNTERS if key in counters}
    partitions = ()
    if phase == "map" and not failed:
        raw = body.get("partitions", [])
        if not isinstance(raw, list):
            raise ValueError("'partitions' must be a list of [reduce task, bytes]")
        seen = set()
        for entry in raw:
            if (not isinstance(entry, list) or len(entry) != 2
                    or not all(isinstance(x, int) and not isinstance(x, bool) for x in entry)):
                raise ValueError(f"partition entry {entry!r} is not [reduce task, bytes]")
            r, size = entry
            if not 0 <= r < n_reduce or size < 0 or r in seen:
                raise ValueError(f"partition entry {entry!r} names no reduce task of 0..{n_reduce - 1} once")
            seen.add(r)
        partitions = tuple(map(tuple, raw))
    error = body.get("error", "")
    if not isinstance(error, str):
        raise ValueError("'error' must be a string")
    worker = body.get("worker")
    if not isinstance(worker, str):
        raise ValueError("'worker' must be the label the master gave")
    fatal, storage = body.get("fatal", False), body.get("storage", False)
    if not isinstance(fatal, bool) or not isinstance(storage, bool):
        raise ValueError("'fatal' and 'storage' must be true or false")
    return Report(worker, phase, task, attempt, start, end, counters, partitions, error[:2000], fatal, storage)


# ---- file names of an attempt ---------------------------------------------

_ATTEMPT = re.compile(r"^\.(mr-[^/]+)\.([\w-]+)\.a(\d+)\.tmp$")


def attempt_name(name, run_id, attempt):
    """Where an attempt writes the file that becomes `name` if the attempt wins.

    Hidden (a leading dot, a .tmp end: storage.base.temporary_name) so `mr-out-*`
    globs and storage listings never show it; the run id keeps two jobs' attempts apart.
    """
    return temporary_name(name, f"{run_id}.a{attempt}")


def is_attempt_file(name, run_id=None):
    """Whether `name` is an attempt's file (of run `run_id`, when given), or one being written."""
    for candidate in (name, unwrap_temporary(name)):  # a writer killed mid-file leaves the latter
        match = _ATTEMPT.match(candidate.rpartition("/")[2])
        if match:
            return run_id is None or match.group(2) == run_id
    return False

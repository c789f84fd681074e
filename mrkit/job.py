"""A job's specification, and checking its inputs before anything runs.

A directory given as an input is expanded to the regular files directly in it
(sorted, hidden files skipped), so `mrkit run wc corpus/` works.
"""

import math
import numbers
import os
import stat
from dataclasses import dataclass

from mrkit.errors import InputError, UsageError


@dataclass(frozen=True)
class Input:
    """One input file: `path` exactly as the user gave it (what map receives)
    and `location`, the absolute path workers read, whatever their cwd."""

    path: str
    location: str
    size: int


def default_workers(n_map, n_reduce, cap=None):
    """The lab's number of workers, W = max(M, R) (at least 1), then at most `cap` when given.

    The one rule for the default W. Local runs cap it at the CPUs the job may use, its
    affinity (more cannot run at once: backends.local.default_workers), ECS at launcher.MAX_DEFAULT_WORKERS
    (every worker is a billed task), a sweep at its `max_workers` (none by default:
    the lab measures W = max(M, R) as it is).
    """
    workers = max(1, n_map, n_reduce)
    return min(workers, cap) if cap is not None else workers


# The lab's defaults, the one home every way of starting a job takes them from (JobSpec,
# the command line, the backends' run functions, the checks).
N_REDUCE = 10  # R: reduce tasks
TASK_TIMEOUT_S = 10.0  # seconds before an unfinished task is handed to another worker
# Attempts of one task that may raise, die or time out before the job fails. Ten keeps
# the lab's crash test (a third of attempts die) failing a run with odds of about
# 12 tasks x (1/3)^10 = 2e-4; README "Errors" has the reasoning.
MAX_ATTEMPTS = 10


# At most this many map or reduce tasks: each is one the master tracks, and a job makes M x R intermediate
# files (the lab goes to 100; an R of 10^20, a typo, had the master fill memory without a word).
MAX_TASKS = 100_000
# At most this many worker processes on one machine (`local`, the ECS stand-in's processes): tens of MB each.
MAX_LOCAL_WORKERS = 1_000


@dataclass(frozen=True)
class JobSpec:
    inputs: tuple
    n_reduce: int = N_REDUCE
    n_map: int | None = None  # None: one map task per input file, as in the lab
    task_timeout: float = TASK_TIMEOUT_S
    max_attempts: int = MAX_ATTEMPTS

    def __post_init__(self):
        check_at_least_one("--max-attempts", self.max_attempts)
        check_at_most("--n-reduce", check_at_least_one("--n-reduce", self.n_reduce), MAX_TASKS)
        if self.n_map is not None:
            check_at_most("--n-map", check_at_least_one("--n-map", self.n_map), MAX_TASKS)
        if not is_number(self.task_timeout) or not 0 < self.task_timeout < math.inf:
            raise UsageError(f"--task-timeout must be a positive number of seconds, got {self.task_timeout!r}")

    @property
    def map_count(self):
        return len(self.inputs) if self.n_map is None else self.n_map

    @property
    def input_bytes(self):
        return sum(i.size for i in self.inputs)


def check_at_least_one(option, value, error=UsageError):
    """`value` when it is a whole number >= 1, else `error` naming `option`: the one rule for counts.

    A bool is not a count (True is an int to Python, and to YAML a `yes`).
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise error(f"{option} must be a whole number of at least 1, got {value!r}")
    return value


def is_number(value):
    """A real number (numpy's too), not a bool or a string ("5" from a notebook cell is a mistake to name)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_at_most(option, value, limit, error=UsageError):
    """`value` when it is at most `limit`, else `error` naming `option`."""
    if value > limit:
        raise error(f"{option} must be at most {limit:,}, got {value:,}")
    return value


def _file_input(path):
    location = os.path.abspath(path)
    try:
        info = os.stat(location)
    except FileNotFoundError:
        raise InputError(f"input {path!r} does not exist") from None
    except OSError as exc:
        raise InputError(f"input {path!r} cannot be read: {exc.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        raise InputError(f"input {path!r} is not a regular file")
    try:
        with open(location, "rb"):
            pass
    except OSError as exc:
        raise InputError(f"input {path!r} cannot be read: {exc.strerror}") from None
    return Input(path=path, location=location, size=info.st_size)


def _expand(path):
    if not os.path.isdir(path):
        return [path]
    try:
        names = sorted(n for n in os.listdir(path) if not n.startswith("."))
    except OSError as exc:
        raise InputError(f"input directory {path!r} cannot be listed: {exc.strerror}") from None
    files = [os.path.join(path, n) for n in names if os.path.isfile(os.path.join(path, n))]
    if not files:
        raise InputError(f"input directory {path!r} has no files in it")
    return files


def resolve_inputs(paths):
    """Check every input now, so a bad one fails the job before any task runs."""
    if not paths:
        raise InputError("no inputs given: name at least one input file or directory")
    for path in paths:
        if not isinstance(path, (str, os.PathLike)):
            raise InputError(f"input {path!r} is not a path: give file or directory names (str or pathlib.Path)")
    return tuple(_file_input(p) for given in map(os.fspath, paths) for p in _expand(given))

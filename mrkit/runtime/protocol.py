"""The messages master, workers and launchers exchange, written down once, as types.

As the lab's rpc.go does, this module names every request and reply. Each
travels as a JSON object over `mrkit.runtime.rpc`; each type has `to_json`
and a parser that checks a body whole before anyone acts on it, raising
ProtocolError (the only error the RPC server answers with 400):

    POST /task  TaskRequest          -> Assignment   ask for work (long poll)
    POST /done  Report + TaskRequest -> Assignment   an attempt finished; its files await commit
    POST /fail  Report + TaskRequest -> Assignment   an attempt raised (the app's error in `error`)
    GET /status                      -> Status       progress, also published as mr-status.json

An attempt writes its files under hidden attempt names (`attempt_name`);
only the master renames the winning attempt's files to their `mr-*` names,
so an attempt that lost, was revoked, or belongs to another job never
changes a job's files. The run record (mr-run.json) is {"run": runs.csv row,
"tasks": [tasks.csv rows]}.
"""

import enum
import re
from dataclasses import asdict, dataclass, field

from mrkit import shuffle
from mrkit.errors import MrkitError
from mrkit.storage.base import temporary_name, unwrap_temporary

PHASES = ("map", "reduce")
_COUNTERS = ("bytes_in", "bytes_out", "records_in", "records_out", "cpu_s")


class ProtocolError(MrkitError):
    """A request or reply that is not what the protocol says: the sender's mistake (HTTP 400)."""


def _number(body, key, kind=(int, float)):
    value = body.get(key)
    if isinstance(value, bool) or not isinstance(value, kind):
        raise ProtocolError(f"{key!r} must be a number, got {value!r}")
    return value


def _object(body):
    if not isinstance(body, dict):
        raise ProtocolError(f"a message must be a JSON object, not {type(body).__name__}")
    return body


@dataclass(frozen=True)
class TaskRequest:
    """Who asks for work: the label the master gave (none on first contact), and where it runs."""

    pid: int
    host: str
    slowdown: float = 1.0  # the straggler injection it runs under (studies)
    worker: str | None = None

    def to_json(self):
        body = {"pid": self.pid, "host": self.host, "slowdown": self.slowdown}
        if self.worker is not None:
            body["worker"] = self.worker
        return body

    @classmethod
    def parse(cls, body):
        body = _object(body)
        pid, host, slowdown = body.get("pid", 0), body.get("host", "?"), body.get("slowdown", 1.0)
        worker = body.get("worker")
        if (
            isinstance(pid, bool)
            or not isinstance(pid, int)
            or not isinstance(host, str)
            or isinstance(slowdown, bool)
            or not isinstance(slowdown, (int, float))
        ):
            raise ProtocolError("'pid' and 'slowdown' must be numbers and 'host' a string")
        if worker is not None and not isinstance(worker, str):
            raise ProtocolError("'worker' must be the label the master gave")
        return cls(pid, host, float(slowdown), worker)


class Action(enum.Enum):
    """What an Assignment tells a worker to do."""

    MAP = "map"
    REDUCE = "reduce"
    WAIT = "wait"  # nothing to hand out now: ask again
    EXIT = "exit"  # the job is over (`failed` says why, when it failed)


@dataclass(frozen=True)
class Assignment:
    """The master's answer to a TaskRequest: an attempt to run, wait, or exit.

    `task` is the payload of a map ({"task": m, "n_reduce": R, "splits":
    [[path, location, start, end, version], ...]}) or a reduce ({"task": r,
    "maps": [m, ...], "bytes_in": int}); `storage` names the job's storage for
    workers that do not share the master's directory. An exit of a failed job
    says why (`failed`), and `fatal` when no retry could have helped
    (errors.FATAL_TO_JOB: the user must act).
    """

    action: Action
    worker: str = ""
    run_id: str = ""
    attempt: int = 0
    task: dict = field(default_factory=dict)
    storage: str | None = None
    failed: str | None = None
    fatal: bool = False

    @property
    def phase(self):
        return self.action.value

    def to_json(self):
        body = {"action": self.action.value, "worker": self.worker, "run_id": self.run_id}
        if self.action in (Action.MAP, Action.REDUCE):
            body.update(attempt=self.attempt, task=self.task)
            if self.storage:
                body["storage"] = self.storage
        if self.action is Action.EXIT:
            body.update(failed=self.failed, fatal=self.fatal)
        return body

    @classmethod
    def parse(cls, body):
        body = _object(body)
        try:
            action = Action(body.get("action"))
        except ValueError:
            raise ProtocolError(f"'action' must be one of {[a.value for a in Action]}, got {body.get('action')!r}") from None
        worker, run_id, failed = body.get("worker", ""), body.get("run_id", ""), body.get("failed")
        if not isinstance(worker, str) or not isinstance(run_id, str) or not isinstance(failed, (str, type(None))):
            raise ProtocolError("'worker' and 'run_id' must be strings, 'failed' a message or null")
        if not isinstance(body.get("fatal", False), bool):
            raise ProtocolError("'fatal' must be true or false")
        if action not in (Action.MAP, Action.REDUCE):
            return cls(action, worker, run_id, failed=failed, fatal=body.get("fatal", False))
        task, storage = body.get("task"), body.get("storage")
        if not isinstance(task, dict) or not isinstance(task.get("task"), int):
            raise ProtocolError(f"a {action.value} assignment needs its task's payload, got {task!r}")
        if storage is not None and not isinstance(storage, str):
            raise ProtocolError("'storage' must be a storage URL")
        return cls(action, worker, run_id, _number(body, "attempt", int), task, storage)


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

    def to_json(self):
        body = asdict(self)
        body["partitions"] = [list(entry) for entry in self.partitions]
        return body


def parse_report(body, n_tasks, n_reduce, failed=False):
    """A Report from a request body, or ProtocolError naming what is wrong.

    `n_tasks` maps each phase to its number of tasks; `n_reduce` bounds the
    partitions a map may report.
    """
    body = _object(body)
    phase = body.get("phase")
    if phase not in PHASES:
        raise ProtocolError(f"'phase' must be one of {PHASES}, got {phase!r}")
    task = _number(body, "task", int)
    if not 0 <= task < n_tasks[phase]:
        raise ProtocolError(f"{phase} task {task} does not exist (this job has {n_tasks[phase]})")
    attempt = _number(body, "attempt", int)
    if attempt < 1:
        raise ProtocolError(f"'attempt' must be 1 or more, got {attempt}")
    start, end = float(_number(body, "start")), float(_number(body, "end"))
    counters = body.get("counters") or {}
    if not isinstance(counters, dict):
        raise ProtocolError("'counters' must be an object")
    counters = {key: _number(counters, key) for key in _COUNTERS if key in counters}
    partitions = ()
    if phase == "map" and not failed:
        raw = body.get("partitions", [])
        if not isinstance(raw, list):
            raise ProtocolError("'partitions' must be a list of [reduce task, bytes]")
        seen = set()
        for entry in raw:
            if (
                not isinstance(entry, list)
                or len(entry) != 2
                or not all(isinstance(x, int) and not isinstance(x, bool) for x in entry)
            ):
                raise ProtocolError(f"partition entry {entry!r} is not [reduce task, bytes]")
            r, size = entry
            if not 0 <= r < n_reduce or size < 0 or r in seen:
                raise ProtocolError(f"partition entry {entry!r} names no reduce task of 0..{n_reduce - 1} once")
            seen.add(r)
        partitions = tuple(map(tuple, raw))
    error = body.get("error", "")
    if not isinstance(error, str):
        raise ProtocolError("'error' must be a string")
    worker = body.get("worker")
    if not isinstance(worker, str):
        raise ProtocolError("'worker' must be the label the master gave")
    fatal, storage = body.get("fatal", False), body.get("storage", False)
    if not isinstance(fatal, bool) or not isinstance(storage, bool):
        raise ProtocolError("'fatal' and 'storage' must be true or false")
    return Report(worker, phase, task, attempt, start, end, counters, partitions, error[:2000], fatal, storage)


FINAL_PHASES = ("done", "failed")


@dataclass(frozen=True)
class Status:
    """A job's progress: /status, and mr-status.json for launchers that cannot connect.

    `map` and `reduce` count tasks: {"total", "idle", "in_progress", "done", "failed"}.
    """

    run_id: str
    phase: str  # map, reduce, done or failed
    map: dict
    reduce: dict
    workers: int
    elapsed_s: float = 0.0
    failure: str | None = None
    host: str = ""
    pid: int = 0

    @property
    def over(self):
        return self.phase in FINAL_PHASES

    def to_json(self):
        return asdict(self)

    @classmethod
    def parse(cls, body):
        body = _object(body)
        phase = body.get("phase")
        if phase not in (*PHASES, *FINAL_PHASES):
            raise ProtocolError(f"status 'phase' must be one of {(*PHASES, *FINAL_PHASES)}, got {phase!r}")
        for key in PHASES:
            counts = body.get(key)
            if not isinstance(counts, dict) or not all(isinstance(counts.get(k), int) for k in ("total", "done")):
                raise ProtocolError(f"status {key!r} must count its tasks (total, done), got {counts!r}")
        run_id, failure, host = body.get("run_id"), body.get("failure"), body.get("host", "")
        if not isinstance(run_id, str) or not isinstance(failure, (str, type(None))) or not isinstance(host, str):
            raise ProtocolError("status 'run_id' and 'host' must be strings, 'failure' a message or null")
        elapsed_s, pid = body.get("elapsed_s", 0.0), body.get("pid", 0)
        if isinstance(elapsed_s, bool) or not isinstance(elapsed_s, (int, float)) or not isinstance(pid, int):
            raise ProtocolError("status 'elapsed_s' and 'pid' must be numbers")
        return cls(
            run_id, phase, body["map"], body["reduce"], _number(body, "workers", int), float(elapsed_s), failure, host, pid
        )


# ---- file names of an attempt ---------------------------------------------

_ATTEMPT = re.compile(r"^\.(mr-[^/]+)\.([\w-]+)\.a(\d+)\.tmp$")


def attempt_name(name, run_id, attempt):
    """Where an attempt writes the file that becomes `name` if the attempt wins.

    Hidden (a leading dot, a .tmp end: storage.base.temporary_name) so `mr-out-*`
    globs and storage listings never show it; the run id keeps two jobs' attempts apart.
    """
    return temporary_name(name, f"{run_id}.a{attempt}")


def attempt_files(report, run_id):
    """(attempt's name, final name) of every file the attempt of `report` wrote."""
    if report.phase == "map":
        names = [shuffle.intermediate_name(report.task, r) for r, _ in report.partitions]
    else:
        names = [shuffle.output_name(report.task)]
    return [(attempt_name(name, run_id, report.attempt), name) for name in names]


def is_attempt_file(name, run_id=None):
    """Whether `name` is an attempt's file (of run `run_id`, when given), or one being written."""
    for candidate in (name, unwrap_temporary(name)):  # a writer killed mid-file leaves the latter
        match = _ATTEMPT.match(candidate.rpartition("/")[2])
        if match:
            return run_id is None or match.group(2) == run_id
    return False

"""The master's task table: task states and their transitions, attempts and how they end.

Data and rules only, no locking or I/O: `Master` (master.py) owns the table
and routes every change of a task's state through `TRANSITIONS`, and of an
attempt's outcome through `OUTCOMES` (`Attempt.move`). A task's attempts
are its story, and `failure_line` tells it when the task makes the job fail.
"""

import enum
import math
import random
import time
from collections import Counter
from dataclasses import dataclass, field


class State(enum.Enum):
    IDLE = "idle"
    IN_PROGRESS = "in_progress"
    COMMITTING = "committing"  # an attempt won; its files are being renamed
    DONE = "done"
    FAILED = "failed"


# (state, event) -> next state. Anything else is a bug, raised at once.
TRANSITIONS = {
    (State.IDLE, "assign"): State.IN_PROGRESS,
    (State.IN_PROGRESS, "back_up"): State.IN_PROGRESS,  # one more attempt against a straggler
    (State.IN_PROGRESS, "revoke"): State.IDLE,  # its attempts failed, died or timed out
    (State.IDLE, "win"): State.COMMITTING,  # a revoked attempt finished first
    (State.IN_PROGRESS, "win"): State.COMMITTING,
    (State.COMMITTING, "committed"): State.DONE,
    (State.COMMITTING, "commit_failed"): State.IDLE,
    (State.IDLE, "give_up"): State.FAILED,
    (State.IN_PROGRESS, "give_up"): State.FAILED,
}


class Outcome(enum.Enum):
    """How an attempt stands; `record` is its tasks.csv status."""

    RUNNING = ("running", "timed_out")
    LATE = ("late", "timed_out")  # past its deadline, still running: it may yet win
    COMMITTING = ("committing", "ok")
    OK = ("ok", "ok")
    FAILED = ("failed", "failed")  # the app raised or exited
    DIED = ("died", "failed")  # the worker process died
    SUPERSEDED = ("superseded", "superseded")  # finished after another attempt had won

    @property
    def record(self):
        return self.value[1]


LIVE = (Outcome.RUNNING, Outcome.LATE)

# (outcome, event) -> next outcome. Anything else is a bug, raised at once.
OUTCOMES = {
    (Outcome.RUNNING, "time_out"): Outcome.LATE,
    **{(live, "win"): Outcome.COMMITTING for live in LIVE},  # the first attempt to finish
    (Outcome.COMMITTING, "committed"): Outcome.OK,
    (Outcome.COMMITTING, "commit_failed"): Outcome.FAILED,
    **{(live, "fail"): Outcome.FAILED for live in LIVE},  # the app raised, or the job ended under it
    **{(live, "die"): Outcome.DIED for live in LIVE},
    **{(live, "lose"): Outcome.SUPERSEDED for live in LIVE},  # finished (or stopped) after another won
}
STORAGE_BACKOFF_S = (0.5, 4.0)  # a task's first and longest wait after a storage error, doubling


def storage_backoff(failures):
    """Seconds before a task whose attempts met `failures` storage errors runs again: a storage outage
    of a few seconds must not spend all its attempts at once. Jittered, so the retried tasks spread out."""
    first, longest = STORAGE_BACKOFF_S
    return min(longest, first * 2 ** (failures - 1)) * random.uniform(0.5, 1.0)


@dataclass
class Attempt:
    number: int
    worker: str
    started: float  # epoch
    deadline: float  # monotonic
    outcome: Outcome = Outcome.RUNNING
    reason: str = ""  # why it ended badly, for the job's failure message
    backup: bool = False  # started by a backup policy while another attempt ran

    def move(self, event, reason=None):
        """The one place an attempt's outcome changes."""
        try:
            self.outcome = OUTCOMES[(self.outcome, event)]
        except KeyError:
            raise AssertionError(f"attempt {self.number}: no outcome {event!r} from {self.outcome.name.lower()}") from None
        if reason is not None:
            self.reason = reason


@dataclass
class Task:
    phase: str
    index: int
    payload: dict
    state: State = State.IDLE
    attempts: dict = field(default_factory=dict)  # number -> Attempt
    timeouts: int = 0  # deadlines passed with no attempt finished, ticks while none runs in time
    tick: float = math.inf  # monotonic time of the next timeout while only late attempts run
    storage_failures: int = 0  # attempts that failed on the storage (not the app): they back off
    not_before: float = 0.0  # monotonic time before which it is not handed out again (storage backoff)

    @property
    def label(self):
        return f"{self.phase} task {self.index}"

    def move(self, event):
        """The one place a task's state changes."""
        try:
            self.state = TRANSITIONS[(self.state, event)]
        except KeyError:
            raise AssertionError(f"{self.label}: no transition {event!r} from {self.state.value}") from None

    def live(self, *outcomes):
        return [a for a in self.attempts.values() if a.outcome in (outcomes or LIVE)]

    def back_off(self):
        """The storage failed this task: it waits (longer each time) before it is handed out again."""
        self.storage_failures += 1
        self.not_before = time.monotonic() + storage_backoff(self.storage_failures)

    def bad_attempts(self):
        return sum(a.outcome in (Outcome.FAILED, Outcome.DIED) for a in self.attempts.values()) + self.timeouts


@dataclass
class Worker:
    pid: int
    host: str
    slowdown: float = 1.0  # the straggler injection it runs under (studies)
    attempt: tuple | None = None  # (task, attempt number) it runs now
    lost_at: float | None = None  # monotonic time its connection closed


# What to do about a job nobody works for, where workers are started by hand (`mrkit master`); a runner that
# starts them itself says what is in its way instead (Master's no_workers_advice).
NO_WORKERS_ADVICE = "start workers (`mrkit worker APP` where the master runs), or give them longer with --no-workers-timeout"


class Roster:
    """The workers a master knows, by label: where each runs, the attempt it runs, whose connection is open.

    A worker's connection stays open while it runs a task, so a closed one is
    a worker that died (`lost`, unless it comes back soon), and none open for
    long (`alone_for`) is a job nobody works for.
    """

    def __init__(self):
        self.workers = {}  # label -> Worker
        self.connected = 0  # workers' connections now open
        self.alone_since = time.monotonic()  # when the last one closed (or the roster began)

    def register(self, request, session):
        """The label of the worker asking (a new one on first contact); it is back if it was lost."""
        label = request.worker
        if label not in self.workers:
            label = f"w{len(self.workers)}"
            self.workers[label] = Worker(request.pid, request.host, request.slowdown)
        self.workers[label].lost_at = None
        if "worker" not in session:  # the first request on this connection
            self.connected += 1
        session["worker"] = label
        return label

    def disconnect(self, session, job_over):
        """A connection closed: the worker on it, if it ran an attempt in a job still on, is lost."""
        if "worker" not in session:
            return  # not a worker's (a launcher reading /status)
        now = time.monotonic()
        self.connected -= 1
        if not self.connected:
            self.alone_since = now
        worker = self.workers[session["worker"]]
        if worker.attempt is not None and not job_over:
            worker.lost_at = now

    def forget(self, label):
        """Worker `label` is gone: (task, attempt) it ran, or None; it is no longer lost either."""
        worker = self.workers[label]
        held, worker.attempt, worker.lost_at = worker.attempt, None, None
        return None if held is None else (held[0], held[0].attempts[held[1]])

    def lost(self, now, grace_s):
        """Labels of the workers whose connection closed `grace_s` ago or more and did not come back."""
        return [label for label, w in self.workers.items() if w.lost_at is not None and now - w.lost_at >= grace_s]

    def alone_for(self, now):
        """Seconds with no worker's connection open (0 while one is)."""
        return 0.0 if self.connected else now - self.alone_since

    def abandoned(self, now, limit_s, advice=NO_WORKERS_ADVICE):
        """Why a job nobody has worked for `limit_s` seconds fails, ending in `advice`; None while that is not so."""
        if self.alone_for(now) < limit_s:
            return None
        since = "since the last one left" if self.workers else "since the master started"
        return f"no worker has been connected for {limit_s:g} s ({since}): {advice}"

    def release(self, label, task, number):
        """Worker `label` no longer runs attempt `number` of `task` (if that is what it ran)."""
        worker = self.workers.get(label)
        if worker is not None and worker.attempt == (task, number):
            worker.attempt = None

    def running(self, pid):
        """The label of the worker process `pid` if it runs an attempt, else None."""
        return next((label for label, w in self.workers.items() if w.pid == pid and w.attempt is not None), None)


def describe_input(task, whole_files):
    if task.phase == "reduce":
        return f"intermediate files mr-*-{task.index}"
    splits = task.payload["splits"]
    pieces = [path if whole_files else f"{path} bytes {start}-{end}" for path, _, start, end, *_ in splits]
    return ", ".join(pieces) or "no input"


def failure_line(task, spec, max_timeouts):
    """The job's one-line failure: the task, its input and how its attempts ended."""
    ends = Counter(a.reason for a in task.attempts.values() if a.outcome in (Outcome.FAILED, Outcome.DIED, Outcome.LATE))
    ticks = task.timeouts - sum(a.outcome is Outcome.LATE for a in task.attempts.values())
    parts = [f"{n} {reason}" for reason, n in ends.most_common()]
    if ticks:
        parts.append(f"{ticks} more task timeout{'s' if ticks > 1 else ''} of {spec.task_timeout:g} s with no attempt finished")
    line = (
        f"{task.label} (input {describe_input(task, spec.n_map is None)}): "
        f"{len(task.attempts)} attempt{'s' if len(task.attempts) != 1 else ''}: {', '.join(parts)}"
    )
    if task.timeouts >= max_timeouts:
        line += (
            f"; it ran {task.timeouts} x the {spec.task_timeout:g} s task timeout without finishing: "
            "if tasks this long are expected, raise --task-timeout"
        )
    return line


def state_counts(tasks):
    """{"total", "idle", "in_progress", "done", "failed"} for a phase's status (committing counts as in progress)."""
    states = Counter(State.IN_PROGRESS if t.state is State.COMMITTING else t.state for t in tasks)
    return {"total": len(tasks), **{s.value: states[s] for s in State if s is not State.COMMITTING}}

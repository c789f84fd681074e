"""The master's task table: task states and their transitions, attempts and how they end.

Data and rules only, no locking or I/O: `Master` (master.py) owns the table
and routes every state change through `TRANSITIONS`. A task's attempts are
its story, and `failure_line` tells it when the task makes the job fail.
"""

import enum
import math
import random
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

    def live(self, *outcomes):
        return [a for a in self.attempts.values() if a.outcome in (outcomes or LIVE)]

    def bad_attempts(self):
        return sum(a.outcome in (Outcome.FAILED, Outcome.DIED) for a in self.attempts.values()) + self.timeouts


@dataclass
class Worker:
    pid: int
    host: str
    slowdown: float = 1.0  # the straggler injection it runs under (studies)
    attempt: tuple | None = None  # (task, attempt number) it runs now
    lost_at: float | None = None  # monotonic time its connection closed


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
        parts.append(f"{ticks} more task timeout{'s' if ticks > 1 else ''} of {spec.task_timeout:g} s "
                     f"with no attempt finished")
    line = (f"{task.label} (input {describe_input(task, spec.n_map is None)}): "
            f"{len(task.attempts)} attempt{'s' if len(task.attempts) != 1 else ''}: {', '.join(parts)}")
    if task.timeouts >= max_timeouts:
        line += (f"; it ran {task.timeouts} x the {spec.task_timeout:g} s task timeout without finishing: "
                 "if tasks this long are expected, raise --task-timeout")
    return line


def state_counts(tasks):
    """{"total", "idle", "in_progress", "done", "failed"} for a phase's status (committing counts as in progress)."""
    states = Counter(State.IN_PROGRESS if t.state is State.COMMITTING else t.state for t in tasks)
    return {"total": len(tasks), **{s.value: states[s] for s in State if s is not State.COMMITTING}}

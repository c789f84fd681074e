"""Backup tasks against stragglers: which running task, if any, an idle worker should duplicate.

A backup is one more attempt of a task that is still running; whichever
attempt finishes first wins (the master's rule), the other is superseded.
The master asks a policy only when a worker is idle and no task of the phase
waits to be handed out. Each policy is a small function of a `Phase` view,
registered by name (`--backup-tasks NAME`):

- `paper` (MapReduce, OSDI'04 §3.6): once every task of the phase has been
  handed out, back up every task still in progress, the longest running first.
- `spark` (Spark's speculation defaults): once 75% of the phase's tasks are
  done, back up a task that has run longer than 1.5 x the median duration of
  the finished ones (and at least 0.1 s).
- `late` (Zaharia et al., OSDI'08): back up the task with the longest
  estimated time left, only if a backup on this worker would finish sooner,
  never on a worker that is itself slow, and with at most 10% of the workers
  running backups. Without progress reports, a task's total time is
  estimated from its worker's speed on its earlier tasks.

No policy backs up a task twice or gives a worker a second attempt of a task.
"""

import math
from dataclasses import dataclass

from mrkit import timing
from mrkit.runtime.tasktable import Outcome, State


@dataclass(frozen=True)
class Running:
    """A task with exactly one live attempt: a backup candidate."""

    task: object  # the master's Task
    elapsed: float  # seconds its attempt has run
    worker: str  # who runs it


@dataclass(frozen=True)
class Phase:
    """What a policy may look at, taken under the master's lock."""

    total: int  # tasks in the phase
    done: int
    finished: tuple  # durations of the phase's attempts that won, in seconds
    by_worker: dict  # worker -> durations of its winning attempts in this phase
    running: tuple  # Running candidates, not yet backed up, not the asking worker's
    workers: int  # workers registered
    backups_running: int  # backup attempts of this phase still running
    asker: str  # the idle worker that would run the backup


def candidates(tasks, asker, now):
    """(Running candidates, backups still running) among one phase's tasks with live attempts.

    A candidate is in progress with exactly one attempt, running in time, on a worker other than `asker`.
    """
    running, backups_running = [], 0
    for task in tasks:
        if task.state is not State.IN_PROGRESS:
            continue
        live = task.live()
        backups_running += sum(a.backup and a.outcome is Outcome.RUNNING for a in live)
        if len(live) == 1 and live[0].outcome is Outcome.RUNNING and live[0].worker != asker:
            running.append(Running(task, now - live[0].started, live[0].worker))
    return tuple(running), backups_running


def straggler(policy, tasks, asker, *, total, done, won, workers):
    """The running task of a phase `policy` would back up on idle worker `asker`, or None.

    `tasks` are the phase's tasks with running attempts, `won` its (winning
    durations, by worker), `workers` how many the master knows.
    """
    running, backups_running = candidates(tasks, asker, timing.now())
    if not running:
        return None
    finished, by_worker = won
    chosen = policy(
        Phase(
            total=total,
            done=done,
            finished=tuple(finished),
            by_worker=by_worker,
            running=running,
            workers=workers,
            backups_running=backups_running,
            asker=asker,
        )
    )
    return chosen[0].task if chosen else None


def _median(values):
    """The median of a non-empty sequence (statistics' import would cost every run, with or without backups)."""
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def _longest_first(running):
    return sorted(running, key=lambda r: -r.elapsed)


def paper(phase):
    return _longest_first(phase.running)[:1]


SPARK_QUANTILE, SPARK_MULTIPLIER, SPARK_MIN_RUNTIME_S = 0.75, 1.5, 0.1


def spark(phase):
    if not phase.finished or phase.done < SPARK_QUANTILE * phase.total:
        return []
    threshold = max(SPARK_MULTIPLIER * _median(phase.finished), SPARK_MIN_RUNTIME_S)
    return [r for r in _longest_first(phase.running) if r.elapsed > threshold][:1]


LATE_CAP, LATE_SLOW_WORKER = 0.10, 1.5  # share of workers running backups; slowness of a "slow node"


def slowness(phase, worker):
    """How many times a typical task's duration `worker` takes (1 when it has finished none)."""
    mine = phase.by_worker.get(worker)
    if not mine or not phase.finished:
        return 1.0
    return _median(mine) / max(_median(phase.finished), 1e-9)


def late(phase):
    if not phase.finished or phase.backups_running >= max(1, math.ceil(LATE_CAP * phase.workers)):
        return []
    if slowness(phase, phase.asker) > LATE_SLOW_WORKER:
        return []
    typical = _median(phase.finished)

    def time_left(r):
        # A worker with no history that has already run past a typical task is taken to be half done.
        known = phase.by_worker.get(r.worker)
        total = typical * slowness(phase, r.worker) if known else max(typical, 2 * r.elapsed)
        return total - r.elapsed

    backup_takes = typical * slowness(phase, phase.asker)
    best = max(phase.running, key=time_left, default=None)
    if best is None or best.elapsed <= typical or time_left(best) <= backup_takes:
        return []
    return [best]


POLICIES = {"paper": paper, "spark": spark, "late": late}


def get_policy(name):
    """The policy registered as `name`; None for None. A ValueError names the known ones."""
    if name is None:
        return None
    try:
        return POLICIES[name]
    except KeyError:
        raise ValueError(f"unknown backup policy {name!r}: use one of {', '.join(POLICIES)}") from None

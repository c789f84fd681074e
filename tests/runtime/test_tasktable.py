"""runtime/tasktable.py: the task states and attempt outcomes change only as their tables say; the roster of
workers; the storage back-off's bounds."""

import itertools
import time

import pytest

from mrkit.runtime.protocol import TaskRequest
from mrkit.runtime.tasktable import (
    LIVE,
    OUTCOMES,
    STORAGE_BACKOFF_S,
    TRANSITIONS,
    Attempt,
    Outcome,
    Roster,
    State,
    Task,
    storage_backoff,
)

TASK_EVENTS = sorted({event for _, event in TRANSITIONS})
ATTEMPT_EVENTS = sorted({event for _, event in OUTCOMES})


def _task(state=State.IDLE):
    task = Task("map", 3, {"task": 3})
    task.state = state
    return task


def _attempt(outcome=Outcome.RUNNING):
    attempt = Attempt(1, "w0", started=0.0, deadline=0.0)
    attempt.outcome = outcome
    return attempt


def test_a_task_runs_from_idle_to_done_through_its_table():
    task = _task()
    for event, state in [
        ("assign", State.IN_PROGRESS),
        ("back_up", State.IN_PROGRESS),
        ("revoke", State.IDLE),
        ("assign", State.IN_PROGRESS),
        ("win", State.COMMITTING),
        ("commit_failed", State.IDLE),
        ("win", State.COMMITTING),
        ("committed", State.DONE),
    ]:
        task.move(event)
        assert task.state is state, event


@pytest.mark.parametrize("state, event", [(s, e) for s, e in itertools.product(State, TASK_EVENTS) if (s, e) not in TRANSITIONS])
def test_every_task_transition_outside_the_table_is_refused(state, event):
    task = _task(state)
    with pytest.raises(AssertionError, match=rf"^map task 3: no transition '{event}' from {state.value}$"):
        task.move(event)
    assert task.state is state, "a refused transition changes nothing"


def test_done_and_failed_tasks_are_final():
    for state in (State.DONE, State.FAILED):
        assert not [event for (s, event) in TRANSITIONS if s is state]


@pytest.mark.parametrize(
    "events, outcome, record",
    [
        (["win", "committed"], Outcome.OK, "ok"),
        (["time_out", "win", "committed"], Outcome.OK, "ok"),  # late, yet the first to finish
        (["win", "commit_failed"], Outcome.FAILED, "failed"),
        (["fail"], Outcome.FAILED, "failed"),
        (["time_out", "die"], Outcome.DIED, "failed"),
        (["lose"], Outcome.SUPERSEDED, "superseded"),
        (["time_out"], Outcome.LATE, "timed_out"),
    ],
)
def test_attempt_outcomes_change_through_their_table(events, outcome, record):
    attempt = _attempt()
    for event in events:
        attempt.move(event, reason=f"after {event}")
    assert attempt.outcome is outcome and attempt.outcome.record == record
    assert attempt.reason == f"after {events[-1]}"


@pytest.mark.parametrize(
    "outcome, event", [(o, e) for o, e in itertools.product(Outcome, ATTEMPT_EVENTS) if (o, e) not in OUTCOMES]
)
def test_every_attempt_outcome_outside_the_table_is_refused(outcome, event):
    attempt = _attempt(outcome)
    with pytest.raises(AssertionError, match=rf"^attempt 1: no outcome '{event}' from {outcome.name.lower()}$"):
        attempt.move(event, "x")
    assert attempt.outcome is outcome and attempt.reason == ""


def test_only_live_attempts_can_win_and_ended_ones_are_final():
    assert {o for (o, e) in OUTCOMES if e == "win"} == set(LIVE)
    for ended in (Outcome.OK, Outcome.FAILED, Outcome.DIED, Outcome.SUPERSEDED):
        assert not [event for (o, event) in OUTCOMES if o is ended]


def test_the_storage_back_off_doubles_up_to_its_cap_with_jitter():
    first, longest = STORAGE_BACKOFF_S
    for failures in range(1, 12):
        ceiling = min(longest, first * 2 ** (failures - 1))
        waits = [storage_backoff(failures) for _ in range(50)]
        assert all(ceiling / 2 <= w <= ceiling for w in waits), (failures, waits)
        assert len(set(waits)) > 1, "jittered, so retried tasks spread out"
    # ten failures at the shortest waits still span a few seconds' outage
    assert sum(min(longest, first * 2 ** (n - 1)) / 2 for n in range(1, 10)) > 4


def test_a_backed_off_task_waits_before_it_runs_again():
    task = _task()
    before = time.monotonic()
    task.back_off()
    task.back_off()
    assert task.storage_failures == 2
    assert before + STORAGE_BACKOFF_S[0] * 2 / 2 <= task.not_before <= time.monotonic() + STORAGE_BACKOFF_S[0] * 2


def test_the_roster_labels_workers_counts_connections_and_finds_the_lost():
    roster = Roster()
    first, again, second = {}, {}, {}
    label = roster.register(TaskRequest(11, "h"), first)
    assert label == "w0" and roster.register(TaskRequest(11, "h", worker="w0"), first) == "w0"
    assert roster.connected == 1 and roster.alone_for(time.monotonic()) == 0.0
    assert roster.register(TaskRequest(12, "h"), second) == "w1" and roster.connected == 2
    task, attempt = _task(State.IN_PROGRESS), _attempt()
    task.attempts[1] = attempt
    roster.workers["w0"].attempt = (task, 1)
    assert roster.running(11) == "w0" and roster.running(12) is None
    roster.disconnect(first, job_over=False)
    roster.disconnect(second, job_over=False)
    now = time.monotonic()
    assert roster.connected == 0 and roster.alone_for(now + 5) >= 5
    assert roster.lost(now + 1, grace_s=1.0) == ["w0"], "only a worker that ran an attempt is lost"
    assert roster.register(TaskRequest(11, "h", worker="w0"), again) == "w0"
    assert roster.lost(now + 1, grace_s=1.0) == [], "it came back"
    assert roster.forget("w0") == (task, attempt) and roster.forget("w0") is None
    roster.disconnect({}, job_over=False)  # a launcher's /status connection: not a worker's
    assert roster.connected == 1

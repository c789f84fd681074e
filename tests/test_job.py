"""job.py: the one rule for the default number of workers, for a count, and the lab's defaults."""

import inspect

import pytest

from mrkit.errors import UsageError
from mrkit.job import (
    MAX_ATTEMPTS,
    MAX_TASKS,
    N_REDUCE,
    TASK_TIMEOUT_S,
    JobSpec,
    check_at_least_one,
    default_workers,
    resolve_inputs,
)


def test_default_workers_is_max_m_r_capped_when_asked():
    assert default_workers(5, 20) == 20 and default_workers(50, 5) == 50  # the lab's W, uncapped
    assert default_workers(50, 5, cap=8) == 8 and default_workers(2, 1, cap=8) == 2
    assert default_workers(0, 0) == 1  # never zero workers


def test_a_count_is_a_whole_number_of_at_least_one_and_never_a_bool():
    assert check_at_least_one("--workers", 3) == 3
    for bad in (0, -1, 2.0, "2", None, True, False):
        with pytest.raises(UsageError, match=rf"^--workers must be a whole number of at least 1, got {bad!r}$"):
            check_at_least_one("--workers", bad)
    with pytest.raises(ValueError, match="size must be"):  # a caller names its own error type
        check_at_least_one("size", True, ValueError)


def test_true_is_not_a_number_of_reduce_tasks(tmp_path):
    (tmp_path / "a.txt").write_text("a b\n")
    with pytest.raises(UsageError, match="--n-reduce must be a whole number of at least 1, got True"):
        JobSpec(resolve_inputs([tmp_path / "a.txt"]), n_reduce=True)


def test_task_counts_have_a_ceiling_named_in_one_line(tmp_path):
    """An R of 10^20 (a typo) had the master fill memory at 100% CPU without a word."""
    (tmp_path / "a.txt").write_text("a b\n")
    inputs = resolve_inputs([tmp_path / "a.txt"])
    assert JobSpec(inputs, n_reduce=MAX_TASKS, n_map=MAX_TASKS).n_reduce == MAX_TASKS == 100_000
    with pytest.raises(UsageError, match=r"^--n-reduce must be at most 100,000, got 100,000,000,000,000,000,000$"):
        JobSpec(inputs, n_reduce=10**20)
    with pytest.raises(UsageError, match=r"^--n-map must be at most 100,000, got 100,001$"):
        JobSpec(inputs, n_map=MAX_TASKS + 1)


def test_every_way_to_start_a_job_takes_the_lab_s_defaults_from_job():
    from mrkit.backends.ecs.launcher import Launcher
    from mrkit.backends.ecs.run import run_job as ecs_run_job
    from mrkit.backends.local import run_job as local_run_job
    from mrkit.cli import build_parser

    lab = {"n_reduce": N_REDUCE, "task_timeout": TASK_TIMEOUT_S, "max_attempts": MAX_ATTEMPTS}
    assert (N_REDUCE, TASK_TIMEOUT_S, MAX_ATTEMPTS) == (10, 10.0, 10), "the lab's R, timeout and attempts"
    spec = JobSpec(())
    assert {name: getattr(spec, name) for name in lab} == lab
    for run in (local_run_job, ecs_run_job, Launcher.run):
        parameters = inspect.signature(run).parameters
        assert {name: parameters[name].default for name in lab if name in parameters} == {
            name: value for name, value in lab.items() if name in parameters
        }, run.__qualname__
    for command in ("run", "master"):
        args = build_parser().parse_args([command, "a.txt"] if command == "master" else [command, "wc", "a.txt"])
        assert {name: getattr(args, name) for name in lab} == lab, command

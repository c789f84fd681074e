"""Backup tasks (issue 12): the policies on hand-made views, then real jobs with a straggler."""

import json

import pytest
from conftest import app_path, mrkit, sorted_outputs

from mrkit.runtime import backups
from mrkit.runtime.backups import Phase, Running


def _phase(total=8, done=6, finished=(1.0,) * 6, running=(), by_worker=None, workers=4, backups_running=0, asker="w0"):
    running = tuple(Running(f"task{i}", elapsed, worker) for i, (elapsed, worker) in enumerate(running))
    return Phase(
        total, done, tuple(finished), by_worker or {"w0": [1.0] * 3, "w1": [1.0] * 3}, running, workers, backups_running, asker
    )


def _chosen(policy, phase):
    return [r.task for r in policy(phase)]


def test_paper_backs_up_the_longest_running_task_once_all_are_handed_out():
    assert _chosen(backups.paper, _phase(running=[(0.5, "w1"), (3.0, "w2")])) == ["task1"]
    assert _chosen(backups.paper, _phase(running=[])) == []


def test_spark_waits_for_75_percent_and_1_5_times_the_median():
    slow = [(1.6, "w1"), (1.2, "w2")]
    assert _chosen(backups.spark, _phase(done=6, running=slow)) == ["task0"]
    assert _chosen(backups.spark, _phase(done=5, running=slow)) == [], "5 of 8 is under 75%"
    assert _chosen(backups.spark, _phase(running=[(1.4, "w1")])) == [], "1.4 s is under 1.5 x the 1 s median"


def test_late_picks_the_longest_time_left_caps_backups_and_never_runs_on_a_slow_worker():
    history = {"w0": [1.0] * 3, "w1": [1.0] * 3, "slow": [10.0]}
    phase = _phase(running=[(2.0, "slow"), (1.5, "w1")], by_worker=history)
    assert _chosen(backups.late, phase) == ["task0"], "the slow worker's task has ~8 s left, w1's ~0"
    assert _chosen(backups.late, _phase(running=[(2.0, "slow")], by_worker=history, backups_running=1)) == [], (
        "at most 10% of 4 workers (1) run backups"
    )
    assert _chosen(backups.late, _phase(running=[(2.0, "w1")], by_worker=history, asker="slow")) == [], (
        "a slow worker runs no backups"
    )
    assert _chosen(backups.late, _phase(running=[(0.5, "slow")], by_worker=history)) == [], (
        "not before it has run longer than a typical task"
    )


def test_an_unknown_policy_is_one_line(tmp_path):
    (tmp_path / "a.txt").write_text("a b")
    result = mrkit("run", "wc", "--backup-tasks", "fastest", "a.txt", cwd=tmp_path)
    assert result.returncode == 2 and "unknown backup policy 'fastest': use one of paper, spark, late" in result.stderr


def _straggler_job(tmp_path, name, *policy):
    """Eight 0.5 s maps on 4 workers, one of them 10x slower: its map takes 5 s."""
    inputs = []
    for i in range(8):
        path = tmp_path / f"in{i}.txt"
        path.write_text(f"word{i} " * 200 + "common\n")
        inputs.append(path.name)
    job = tmp_path / name
    result = mrkit(
        "run",
        app_path("slowwc"),
        *inputs,
        "-w",
        "4",
        "-r",
        "2",
        "--slow-workers",
        "1",
        "--slowdown",
        "10",
        *policy,
        "--workdir",
        job,
        "--json",
        cwd=tmp_path,
        timeout=120,
        check=True,
    )
    return json.loads(result.stdout), job


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_each_policy_cuts_the_straggler_s_tail(tmp_path):
    ref = tmp_path / "ref"
    ref.mkdir()
    base, base_dir = _straggler_job(tmp_path, "none")
    mrkit("sequential", "wc", *sorted(str(p) for p in tmp_path.glob("in*.txt")), cwd=ref, check=True)
    expected = sorted_outputs(ref)
    assert sorted_outputs(base_dir) == expected
    assert base["end_to_end_s"] >= 5.0, "without backups the job waits for the straggler's 5 s map"
    for policy in backups.POLICIES:
        summary, job = _straggler_job(tmp_path, policy, "--backup-tasks", policy)
        assert sorted_outputs(job) == expected, policy
        assert summary["end_to_end_s"] <= 0.6 * base["end_to_end_s"], (policy, summary, base["end_to_end_s"])
        assert summary["retries"] >= 1, f"{policy}: the straggler's attempt lost to its backup"


@pytest.mark.timeout(120)
def test_records_mark_the_backup_that_won_and_the_slowed_worker(tmp_path):
    import mrkit as api

    inputs = []
    for i in range(4):
        path = tmp_path / f"in{i}.txt"
        path.write_text("some words\n")
        inputs.append(str(path))
    _, tasks = api.run(
        app_path("slowwc"),
        inputs,
        n_reduce=1,
        workers=2,
        slow_workers=1,
        slowdown=10,
        backup_tasks="paper",
        workdir=tmp_path / "job",
    )
    maps = tasks[tasks.phase == "map"]
    slowed = maps[maps.slowdown == 10]
    assert len(slowed) >= 1 and (slowed.status != "ok").all(), "the slowed worker's attempts all lost"
    won = maps[(maps.status == "ok") & maps.task.isin(slowed.task)]
    assert won.backup.all() and len(won) == slowed.task.nunique(), "a backup won each of them"
    assert set(maps[maps.status == "ok"].task) == {0, 1, 2, 3}

"""The scheduling simulator against schedules worked out by hand."""

import dataclasses

import pytest

from mrkit.experiments.model.simulate import SimJob, simulate


def by_task(result, phase):
    return {(a.task, a.attempt): a for a in result.attempts if a.phase == phase}


def test_four_equal_tasks_on_two_workers_sharing_one_core():
    # Two workers share the core: each map runs at half speed, 2 s per 1 s task; two rounds, then the reduce alone.
    r = simulate(SimJob(map_cpu=(1.0,) * 4, reduce_cpu=(0.5,), workers=2, cores=1))
    maps = by_task(r, "map")
    assert [(maps[(t, 1)].start, maps[(t, 1)].end) for t in range(4)] == [(0, 2), (0, 2), (2, 4), (2, 4)]
    assert r.map_wall_s == pytest.approx(4.0) and r.reduce_wall_s == pytest.approx(0.5)
    assert r.end_s == pytest.approx(4.5) and r.timeouts == 0


@pytest.mark.parametrize("workers, cores, expected", [(1, 2, 4.0), (4, 2, 2.0), (2, 2, 2.0), (8, 2, 2.0), (4, 1, 4.0)])
def test_processor_sharing_gives_work_over_min_of_workers_and_cores(workers, cores, expected):
    r = simulate(SimJob(map_cpu=(1.0,) * 4, reduce_cpu=(1e-9,), workers=workers, cores=cores))
    assert r.map_wall_s == pytest.approx(expected)


def test_forks_delay_the_first_task_and_a_fraction_of_a_core_runs_slower():
    r = simulate(SimJob(map_cpu=(1.0,), reduce_cpu=(1e-9,), workers=2, cores=0.5, fork_cpu=0.1))
    assert r.serve_s == pytest.approx(0.4) and r.first_task_s == pytest.approx(0.4)  # a fork's CPU on half a core
    assert r.map_wall_s == pytest.approx(2.0)  # other programs leave half a core


@pytest.mark.parametrize("cores, serve", [(1, 0.06), (2, 0.035)])
def test_the_launcher_shares_the_cores_with_the_workers_it_has_forked(cores, serve):
    # By hand, forks of 0.01 CPU-s, each worker's start 0.02. On 1 core: fork 1 alone by 0.01; fork 2 beside
    # worker 0 at half speed, by 0.03 (worker 0 has 0.01 left); fork 3 beside workers 0 and 1 at a third, by
    # 0.06, when worker 0 is up too. On 2 cores: 0.01; then two processes on two cores, 0.02; then three at
    # two thirds, 0.035.
    job = SimJob(map_cpu=(1e-9,), reduce_cpu=(1e-9,), workers=3, cores=cores, fork_cpu=0.01, worker_cpu=0.02)
    assert simulate(job).serve_s == pytest.approx(serve)


def test_master_serves_one_request_at_a_time_and_the_barrier_holds_reduces():
    # Maps end at 1.0; the master commits them one after the other (0.5 s each, alone on the cores),
    # so the reduce is queued at 2.0, runs to 3.0, and its commit ends the job at 3.5.
    r = simulate(SimJob(map_cpu=(1.0, 1.0), reduce_cpu=(1.0,), workers=2, cores=2, master_map_cpu=0.5, master_reduce_cpu=0.5))
    reduce = by_task(r, "reduce")[(0, 1)]
    assert (reduce.start, reduce.end) == (pytest.approx(2.0), pytest.approx(3.0))
    assert r.end_s == pytest.approx(3.5)


def test_a_timed_out_attempt_keeps_running_and_wins_while_its_backup_is_superseded():
    # 12 s of CPU, 10 s timeout, 1 core: the task is handed to the idle worker at 10 s; both share the core,
    # so the first attempt's last 2 s take 4 s (wins at 14); the reduce then shares with the loser: 1 s -> 2 s.
    r = simulate(SimJob(map_cpu=(12.0,), reduce_cpu=(1.0,), workers=2, cores=1, task_timeout=10.0))
    maps = by_task(r, "map")
    assert maps[(0, 1)].status == "ok" and maps[(0, 1)].end == pytest.approx(14.0)
    assert maps[(0, 2)].start == pytest.approx(10.0) and maps[(0, 2)].status != "ok"
    assert r.timeouts == 1 and r.end_s == pytest.approx(16.0)


def test_first_task_cost_goes_to_each_workers_first_attempt_only():
    r = simulate(SimJob(map_cpu=(1.0,) * 4, reduce_cpu=(1e-9,), workers=2, cores=2, first_map_cpu=0.5))
    maps = by_task(r, "map")
    assert maps[(0, 1)].end == pytest.approx(1.5) and maps[(2, 1)].end == pytest.approx(2.5)


def test_a_worker_whose_first_attempt_is_a_reduce_pays_the_reduce_phases_first_cost():
    # W = 3 > M = 1: two workers wait through the map stage and start fresh on a reduce
    r = simulate(SimJob(map_cpu=(1.0,), reduce_cpu=(1.0, 1.0), workers=3, cores=3, first_map_cpu=0.5, first_reduce_cpu=0.25))
    reduces = by_task(r, "reduce")
    assert by_task(r, "map")[(0, 1)].end == pytest.approx(1.5)
    assert [reduces[(k, 1)].end - reduces[(k, 1)].start for k in (0, 1)] == pytest.approx([1.25, 1.25])
    assert r.end_s == pytest.approx(2.75)


def test_dedicated_cpus_do_not_share_and_start_latency_delays_workers():
    r = simulate(SimJob(map_cpu=(1.0,) * 8, reduce_cpu=(1e-9,), workers=8, cores=1, dedicated=True, start_latency_s=30.0))
    assert r.first_task_s == pytest.approx(30.0) and r.map_wall_s == pytest.approx(1.0)


def test_contention_slows_attempts_that_run_together_and_not_one_alone():
    # Two 1 s maps together on 2 cores need 1 + 0.5 * log2(2) = 1.5x their CPU: both end at 1.5.
    # Then the 2 s map runs alone (no inflation) to 3.5, and the reduce alone to 4.5.
    r = simulate(SimJob(map_cpu=(1.0, 1.0, 2.0), reduce_cpu=(1.0,), workers=2, cores=2, contention=0.5))
    maps = by_task(r, "map")
    assert maps[(0, 1)].end == pytest.approx(1.5) and maps[(1, 1)].end == pytest.approx(1.5)
    # the 2 s map starts at 1.5 with the other worker idle: alone, it takes its own 2 s
    assert (maps[(2, 1)].start, maps[(2, 1)].end) == (pytest.approx(1.5), pytest.approx(3.5))
    assert r.end_s == pytest.approx(4.5)
    # on one core the same pair shares it and contends: 2 x 1 s x 1.5 = 3 s for both
    one = simulate(SimJob(map_cpu=(1.0, 1.0), reduce_cpu=(1e-9,), workers=2, cores=1, contention=0.5))
    assert one.map_wall_s == pytest.approx(3.0)
    # four together: 1 + 0.5 * log2(4) = 2x, so four 1 s maps on 4 cores take 2 s
    four = simulate(SimJob(map_cpu=(1.0,) * 4, reduce_cpu=(1e-9,), workers=4, cores=4, contention=0.5))
    assert four.map_wall_s == pytest.approx(2.0)
    assert simulate(SimJob(map_cpu=(1.0, 1.0), reduce_cpu=(1e-9,), workers=2, cores=1)).map_wall_s == pytest.approx(2.0)


def test_contention_past_its_cap_adds_no_more():
    # Eight 1 s maps on 8 cores with contention 0.5: log2(8) = 3 gives 2.5x; held at 2 attempts, 1 + 0.5 = 1.5x.
    job = SimJob(map_cpu=(1.0,) * 8, reduce_cpu=(1e-9,), workers=8, cores=8, contention=0.5)
    assert simulate(job).map_wall_s == pytest.approx(2.5)
    assert simulate(dataclasses.replace(job, contention_cap=2.0)).map_wall_s == pytest.approx(1.5)
    assert simulate(dataclasses.replace(job, contention_cap=16.0)).map_wall_s == pytest.approx(2.5), "a cap not reached"


def test_the_reduce_phase_contends_by_its_own_contention():
    # Two 1 s reduces together on 2 cores: 1 + 0.25 * log2(2) = 1.25x; the maps' 0.5 does not apply to them.
    job = SimJob(map_cpu=(1e-9,), reduce_cpu=(1.0, 1.0), workers=2, cores=2, contention=0.5, reduce_contention=0.25)
    assert simulate(job).reduce_wall_s == pytest.approx(1.25)
    same = SimJob(map_cpu=(1e-9,), reduce_cpu=(1.0, 1.0), workers=2, cores=2, contention=0.5)
    assert simulate(same).reduce_wall_s == pytest.approx(1.5), "no reduce contention given: the map phase's"


@pytest.mark.parametrize("m, r, w, cores", [(1, 1, 1, 1), (4, 2, 2, 1), (10, 5, 10, 2), (100, 50, 100, 2), (20, 20, 4, 100)])
def test_the_timeline_adds_up_to_the_simulated_end(m, r, w, cores):
    job = SimJob(
        map_cpu=(0.3,) * m,
        reduce_cpu=(0.1,) * r,
        workers=w,
        cores=cores,
        master_map_cpu=0.002,
        master_reduce_cpu=0.001,
        master_register_cpu=0.003,
        fork_cpu=0.004,
        contention=0.2,
        task_timeout=1e6,
    )  # no attempt handed out again: timeouts have their own tests
    result = simulate(job)
    parts = result.timeline()
    assert sum(parts.values()) == pytest.approx(result.end_s, rel=1e-12)
    assert all(v >= 0 for v in parts.values())
    assert parts["start-up"] == pytest.approx(0.004 * w + 0.003)  # every fork, then the first registration
    # as many workers as map tasks: all maps start in the first round, the rest is waiting at the barrier
    if w >= m:
        assert parts["map hand-out"] < parts["barrier wait"]
    reduce_starts = [a.start for a in result.attempts if a.phase == "reduce"]
    assert parts["reduce stage"] == pytest.approx(result.end_s - min(reduce_starts))  # reduces queued at the barrier


def test_a_workers_own_cpu_competes_for_the_cores_before_it_asks_for_a_task():
    # 4 workers on 1 core boot together (0.1 CPU-s each: 0.4 s), then the one map task runs alone
    r = simulate(SimJob(map_cpu=(1.0,), reduce_cpu=(1e-9,), workers=4, cores=1, worker_cpu=0.1))
    assert r.first_task_s == pytest.approx(0.4) and r.end_s == pytest.approx(1.4)
    # one worker: its start-up, then the map and the reduce, each with the worker's overhead per attempt
    r = simulate(SimJob(map_cpu=(1.0,), reduce_cpu=(1e-9,), workers=1, cores=1, worker_cpu=0.1, attempt_overhead_cpu=0.2))
    assert r.end_s == pytest.approx(0.1 + 1.2 + 0.2)

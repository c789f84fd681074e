"""model.calibration: the costs fitted from synthetic records with known costs, load, speed and contention."""

import dataclasses
import math

import numpy as np
import pytest
from model_records import (
    CONFIGS,
    FORK,
    HEAPS_BETA,
    HEAPS_K,
    INPUT,
    LAUNCH,
    MASTER_FILE,
    MASTER_TASK,
    MASTER_WORKER,
    PROBE,
    TRUE,
    slowed,
    synthetic,
)

from mrkit.experiments.model import calibration, prediction


def test_calibration_recovers_the_costs_it_was_made_with():
    cal = calibration.calibrate(*synthetic(CONFIGS), background=0)
    costs = cal.costs("wc")
    for name, value in TRUE.items():
        assert getattr(costs, name) == pytest.approx(value, rel=0.02, abs=1e-6), name
    assert costs.heaps_k == pytest.approx(HEAPS_K, rel=1e-6) and costs.heaps_beta == pytest.approx(HEAPS_BETA)
    assert costs.job_keys(INPUT) == pytest.approx(HEAPS_K * INPUT**HEAPS_BETA), "the keys the reduce tasks wrote"
    assert costs.contention == costs.reduce_contention == 0.0, "tasks side by side that do not slow each other"
    fresh = (costs.map_fresh_s, costs.reduce_fresh_s)
    assert fresh == pytest.approx((0.0, 0.0), abs=1e-9), "a worker's first attempts that cost no more than its others"
    assert cal.launch_s == pytest.approx(LAUNCH) and cal.fork_cpu_s == pytest.approx(FORK)
    assert cal.master_task_s == pytest.approx(MASTER_TASK, rel=0.02)
    assert cal.master_file_s == pytest.approx(MASTER_FILE, rel=0.02)
    assert cal.master_worker_s == pytest.approx(MASTER_WORKER, rel=0.02)
    assert (cal.worker_cpu_s, cal.worker_attempt_cpu_s) == pytest.approx((0.0, 0.0), abs=1e-9), "workers doing nothing else"


def test_calibration_recovers_the_workers_own_cpu_outside_their_attempts():
    runs, tasks = synthetic(CONFIGS, worker_cpu=0.012, attempt_overhead=0.002)
    cal = calibration.calibrate(runs, tasks, background=0)
    assert cal.worker_cpu_s == pytest.approx(0.012, rel=0.01) and cal.worker_attempt_cpu_s == pytest.approx(0.002, rel=0.01)
    for name, value in TRUE.items():  # the attempts' own costs are not touched
        assert getattr(cal.costs("wc"), name) == pytest.approx(value, rel=0.02, abs=1e-6), name
    # the simulator gets it: at M = 4, R = 2 on 1 core, 96 more workers add their CPU (1.15 s), less what of it
    # runs while the launcher is still forking (the core is otherwise idle then)
    job = prediction.sim_job(cal, prediction.Point("wc", INPUT, 4, 2, 100, 1))
    assert (job.worker_cpu, job.attempt_overhead_cpu) == (cal.worker_cpu_s, cal.worker_attempt_cpu_s)
    plain = dataclasses.replace(cal, worker_cpu_s=0.0, worker_attempt_cpu_s=0.0)
    extra = {
        w: prediction.predict(cal, prediction.Point("wc", INPUT, 4, 2, w, 1)).end_to_end_s
        - prediction.predict(plain, prediction.Point("wc", INPUT, 4, 2, w, 1)).end_to_end_s
        for w in (4, 100)
    }
    assert 0.5 * 96 * 0.012 < extra[100] - extra[4] <= 96 * 0.012 + 1e-9
    # runs that did not record it (an older mrkit, another OS) leave it out
    older = calibration.calibrate(runs.drop(columns="workers_cpu_s"), tasks, background=0)
    assert (older.worker_cpu_s, older.worker_attempt_cpu_s) == (0.0, 0.0)


def test_the_launcher_s_cpu_per_fork_is_recovered_from_start_ups_its_sharing_of_the_cores_stretched():
    # Start-ups made by the simulator's rule (forks of 5 ms of CPU while the workers forked before start with
    # 12 ms of their own): a fork takes more wall time than its CPU, the more the fewer the cores.
    runs, tasks = synthetic(CONFIGS, worker_cpu=0.012)
    fork = 0.005
    made = [LAUNCH + calibration.first_task_s(fork, 0.012, int(w), float(k)) for w, k in zip(runs["workers"], runs["cores"])]
    assert max(made) - LAUNCH > 1.2 * fork * runs["workers"].max(), "the sharing stretched the forks"
    cal = calibration.calibrate(runs.assign(startup_s=made), tasks, background=0)
    assert cal.fork_cpu_s == pytest.approx(fork, rel=0.03) and cal.launch_s == pytest.approx(LAUNCH, rel=0.03)


@pytest.mark.parametrize("per_piece", [True, False])
def test_a_map_task_s_keys_are_counted_per_input_piece_where_the_app_keeps_its_documents_apart(per_piece):
    # The input in 8 files: a task spanning several emits each piece's keys (indexer's (word, document) pairs)
    # or the task's (wc's counts, combined over the task); records_in counts its pieces.
    runs, tasks = synthetic(CONFIGS)
    for run_id, n_map in zip(runs["run_id"], runs["n_map"]):
        task_of, sizes = calibration.split_pieces(INPUT, n_map, 8)
        rows = (tasks["run_id"] == run_id) & (tasks["phase"] == "map")
        pieces = [sizes[task_of == k] for k in tasks.loc[rows, "task"]]
        made = [HEAPS_K * (p**HEAPS_BETA).sum() if per_piece else HEAPS_K * p.sum() ** HEAPS_BETA for p in pieces]
        tasks.loc[rows, "records_in"] = [len(p) for p in pieces]
        tasks.loc[rows, "records_out"] = made
    cal = calibration.calibrate(runs, tasks, background=0)
    costs = cal.costs("wc")
    assert cal.input_files == 8 and costs.keys_per_piece == per_piece
    assert (costs.heaps_k, costs.heaps_beta) == pytest.approx((HEAPS_K, HEAPS_BETA), rel=0.01)
    # one task over the 8 files: 8 pieces' keys, or the task's
    one_task = 8 * HEAPS_K * (INPUT / 8) ** HEAPS_BETA if per_piece else HEAPS_K * INPUT**HEAPS_BETA
    assert costs.map_records(INPUT, 1, 8) == pytest.approx(one_task, rel=0.01)


def test_a_map_task_s_cost_per_key_of_its_pieces_and_of_the_pieces_it_joins_is_recovered():
    # The input in 8 files: a task that crosses a file's end maps each piece, then joins the later pieces' keys
    # to its first's and combines again the keys they share, a cost its bytes do not tell (tasks.run_map).
    runs, tasks = synthetic(CONFIGS, files=8, per_piece_key=5e-7, per_joined_key=8e-7)
    cal = calibration.calibrate(runs, tasks, background=0)
    costs = cal.costs("wc")
    assert cal.input_files == 8
    assert costs.map_per_piece_key_s == pytest.approx(5e-7, rel=0.02)
    assert costs.map_per_joined_key_s == pytest.approx(8e-7, rel=0.02)
    assert costs.map_per_byte_s == pytest.approx(TRUE["map_per_byte_s"], rel=0.02) and costs.map_size_slope_s == 0.0
    # Predicted per task: at M = 5 over 8 files, tasks of equal bytes and two or three pieces
    job = prediction.sim_job(cal, prediction.Point("wc", INPUT, 5, 1, 1, 1, input_files=8))
    alone = prediction.sim_job(cal, prediction.Point("wc", INPUT, 5, 1, 1, 1, input_files=1)).map_cpu[0]
    task_of, sizes = calibration.split_pieces(INPUT, 5, 8)
    assert [int((task_of == k).sum()) for k in range(5)] == [2, 3, 2, 3, 2]
    for k, cpu in enumerate(job.map_cpu):
        keys = HEAPS_K * sizes[task_of == k] ** HEAPS_BETA
        one_piece = HEAPS_K * (INPUT / 5) ** HEAPS_BETA
        assert cpu - alone == pytest.approx(5e-7 * (keys.sum() - one_piece) + 8e-7 * keys[1:].sum(), rel=0.03), k
    assert job.map_cpu[1] > job.map_cpu[0], "a task of three pieces costs more than one of two"
    # with one file (every task one piece) the model needs no such cost, and finds none
    flat = calibration.calibrate(*synthetic(CONFIGS), background=0).costs("wc")
    assert flat.map_per_joined_key_s == 0.0 and flat.map_per_piece_key_s == pytest.approx(0.0, abs=1e-12)


def test_calibration_recovers_the_contention_of_tasks_running_side_by_side():
    cal = calibration.calibrate(*synthetic(CONFIGS, contention=0.3, reduce_contention=0.1), background=0)
    costs = cal.costs("wc")
    assert costs.contention == pytest.approx(0.3, abs=0.02) and costs.reduce_contention == pytest.approx(0.1, abs=0.02)
    for name, value in TRUE.items():  # the costs of a task running alone
        assert getattr(costs, name) == pytest.approx(value, rel=0.05, abs=1e-5), name
    # the simulator gets it: the same point is slower with it than without
    p = prediction.Point("wc", INPUT, 8, 2, 8, 2)
    job = prediction.sim_job(cal, p)
    assert (job.contention, job.reduce_contention) == (costs.contention, costs.reduce_contention)
    plain = dataclasses.replace(cal, apps={"wc": dataclasses.replace(costs, contention=0.0, reduce_contention=0.0)})
    assert prediction.predict(cal, p).end_to_end_s > 1.2 * prediction.predict(plain, p).end_to_end_s


def test_contention_is_not_extrapolated_past_the_attempts_the_calibration_saw_at_once():
    runs, tasks = synthetic(CONFIGS, contention=0.3)
    cal = calibration.calibrate(runs, tasks, background=0)
    seen = cal.concurrency_per_core
    assert 1.0 < seen <= max(w for _, _, w in CONFIGS), "at most W attempts ran at once, more than one"
    # on twice the cores twice as many run at once before the cap; far past it, more workers add no contention
    assert prediction.sim_job(cal, prediction.Point("wc", INPUT, 8, 2, 8, 2)).contention_cap == pytest.approx(2 * seen)
    assert prediction.sim_job(cal, prediction.Point("wc", INPUT, 8, 2, 8, 4)).contention_cap == pytest.approx(4 * seen)
    # on fewer cores than it ran on, as many at once as it saw there: 2 CPUs -> 1 CPU at W = 24 is not capped at 12
    assert prediction.sim_job(cal, prediction.Point("wc", INPUT, 8, 2, 8, 1)).contention_cap == pytest.approx(2 * seen)
    unbounded = dataclasses.replace(cal, concurrency_per_core=math.inf)
    far = prediction.Point("wc", 50 * INPUT, 100, 2, 100, 2)  # 100 maps of 4 MB started at once on 2 cores
    assert prediction.predict(cal, far).end_to_end_s < prediction.predict(unbounded, far).end_to_end_s
    # a calibration that names no cores it ran on: per core, on the cores predicted
    assert dataclasses.replace(cal, cores_seen=()).contention_cap(1) == pytest.approx(seen)


def test_calibration_recovers_what_a_freshly_started_workers_first_attempt_costs_more():
    cal = calibration.calibrate(*synthetic(CONFIGS, map_fresh=0.05, reduce_fresh=0.01), background=0)
    costs = cal.costs("wc")
    assert costs.map_fresh_s == pytest.approx(0.05, rel=0.05) and costs.reduce_fresh_s == pytest.approx(0.01, rel=0.05)
    for name, value in TRUE.items():
        assert getattr(costs, name) == pytest.approx(value, rel=0.05, abs=1e-5), name
    # the simulator gets it, and more workers pay it more often: W = M = 16 has 16 first attempts, W = 2 two
    job = prediction.sim_job(cal, prediction.Point("wc", INPUT, 16, 2, 16, 2))
    assert (job.first_map_cpu, job.first_reduce_cpu) == (costs.map_fresh_s, costs.reduce_fresh_s)
    plain = dataclasses.replace(cal, apps={"wc": dataclasses.replace(costs, map_fresh_s=0.0, reduce_fresh_s=0.0)})
    extra = {
        w: prediction.predict(cal, prediction.Point("wc", INPUT, 16, 2, w, 2)).end_to_end_s
        - prediction.predict(plain, prediction.Point("wc", INPUT, 16, 2, w, 2)).end_to_end_s
        for w in (2, 16)
    }
    assert 0 < extra[2] < extra[16]


def test_cores_other_programs_took_slow_the_job_down_as_fewer_cores():
    runs, tasks = synthetic(CONFIGS)
    runs["end_to_end_s"] = 2.0
    runs["others_cpu_s"] = 1.0  # half a core of 2, on average
    cal = calibration.calibrate(runs, tasks)
    assert cal.background == pytest.approx(0.5)
    p = prediction.Point("wc", INPUT, 8, 4, 8, 2)
    assert prediction.sim_job(cal, p).cores == pytest.approx(1.5)
    quiet = dataclasses.replace(cal, background=0.0)
    assert prediction.predict(quiet, dataclasses.replace(p, cores=1.5)).end_to_end_s == pytest.approx(
        prediction.predict(cal, p).end_to_end_s
    )


@pytest.mark.slow
def test_runs_on_a_slow_machine_are_calibrated_at_the_machine_usual_speed():
    runs, tasks = synthetic(CONFIGS)
    slow = {"run2": 2.5, "run5": 2.0, "run9": 3.0}  # a VM that ran three of 14 runs 2-3x slower
    cal = calibration.calibrate(*slowed(runs, tasks, slow), background=0)
    assert cal.probe_ref_s == pytest.approx(PROBE)
    for name, value in TRUE.items():
        assert getattr(cal.costs("wc"), name) == pytest.approx(value, rel=0.02, abs=1e-6), name
    assert cal.launch_s == pytest.approx(LAUNCH) and cal.fork_cpu_s == pytest.approx(FORK)
    assert cal.master_task_s == pytest.approx(MASTER_TASK, rel=0.02)
    # without the probe the same records mislead the fit
    blind = slowed(runs, tasks, slow)[0].drop(columns="probe_cpu_s"), slowed(runs, tasks, slow)[1]
    off = calibration.calibrate(*blind, background=0).costs("wc")
    assert max(abs(getattr(off, n) / v - 1) for n, v in TRUE.items()) > 0.1


def test_unknown_app_and_bad_directory_are_model_errors(tmp_path):
    cal = calibration.calibrate(*synthetic(CONFIGS), background=0)
    with pytest.raises(calibration.ModelError, match="no calibration runs of app 'indexer'"):
        prediction.predict(cal, prediction.Point("indexer", INPUT, 4, 2, 2, 2))
    with pytest.raises(calibration.ModelError, match="not a results directory"):
        calibration.load_calibration([tmp_path])


def _per_byte_rising(b):  # 80 ns/B for the smallest task of CONFIGS, +12 ns/B per e-fold of size
    return 8e-8 + 1.2e-8 * math.log(b / (INPUT / 48))


def _per_record_falling(m):  # 2 us per record merging one map task's outputs, cheaper per record from more
    return 2e-6 * (1.0 - 0.1 * math.log(m))


@pytest.mark.slow
def test_a_cost_per_byte_that_grows_with_task_size_is_recovered():
    cal = calibration.calibrate(*synthetic(CONFIGS, map_per_byte=_per_byte_rising), background=0)
    costs = cal.costs("wc")
    assert costs.map_size_slope_s > 0
    for m in (48, 16, 4, 1):  # the task sizes calibrated, smallest to largest (16x the file's 8 MB / 48)
        assert costs.map_per_byte(INPUT / m) == pytest.approx(_per_byte_rising(INPUT / m), rel=0.02), m
    assert costs.reduce_size_slope_s == 0.0, "the reduce side's cost per record did not move: flat"
    # the prediction uses the size's own cost: M=1's one task costs 1.2e-8 * ln(48) more per byte than flat
    one = prediction.Point("wc", INPUT, 1, 1, 1, 1)
    flat = calibration.calibrate(*synthetic(CONFIGS), background=0)
    extra = prediction.sim_job(cal, one).map_cpu[0] - prediction.sim_job(flat, one).map_cpu[0]
    assert extra == pytest.approx(1.2e-8 * math.log(48) * INPUT, rel=0.03)


def test_a_cost_per_record_that_falls_with_the_map_tasks_merged_is_recovered():
    cal = calibration.calibrate(*synthetic(CONFIGS, reduce_per_record=_per_record_falling), background=0)
    costs = cal.costs("wc")
    lo, hi = costs.reduce_size_range
    assert costs.reduce_size_slope_s < 0 and (lo, hi) == (1, 48), "M from 1 to 48 calibrated"
    assert costs.reduce_per_key_s == pytest.approx(TRUE["reduce_per_key_s"], rel=0.03)
    for n in np.geomspace(lo, hi, 5):
        assert costs.reduce_per_record(n) == pytest.approx(_per_record_falling(n), rel=0.03), n
    assert costs.map_size_slope_s == 0.0
    assert costs.reduce_per_record(hi * 10) == costs.reduce_per_record(hi), "held, not extrapolated, past the range"


def test_costs_are_the_mean_of_repeats_that_spread_around_it_not_the_fast_ones():
    # Each configuration's five repeats ran 0.6x to 1.4x its CPU (mean 1). Relative errors weighted by the
    # measured CPU count a slow repeat less than a fast one by as much: every cost came out 17% low.
    runs, tasks = synthetic(CONFIGS, repeats=5)
    spread = {f"run{i}": (0.6, 0.8, 1.0, 1.2, 1.4)[i % 5] for i in range(len(runs))}
    tasks = tasks.assign(cpu_s=tasks["cpu_s"] * tasks["run_id"].map(spread))
    costs = calibration.calibrate(runs, tasks, background=0).costs("wc")
    for name, value in TRUE.items():
        assert getattr(costs, name) == pytest.approx(value, rel=0.01), name


def test_a_flat_cost_stays_flat_under_measurement_noise():
    runs, tasks = synthetic(CONFIGS, repeats=3)
    noise = np.random.default_rng(7).normal(1.0, 0.03, len(tasks))  # 3% noise on every attempt's CPU
    tasks = tasks.assign(cpu_s=tasks["cpu_s"] * noise)
    costs = calibration.calibrate(runs, tasks, background=0).costs("wc")
    assert costs.map_size_slope_s == 0.0 and costs.reduce_size_slope_s == 0.0
    assert costs.map_per_byte(INPUT) == costs.map_per_byte(INPUT / 48)
    assert costs.map_per_byte_s == pytest.approx(TRUE["map_per_byte_s"], rel=0.05)


def test_a_size_effect_is_still_found_under_the_same_noise():
    runs, tasks = synthetic(CONFIGS, repeats=3, map_per_byte=_per_byte_rising)
    noise = np.random.default_rng(7).normal(1.0, 0.03, len(tasks))
    cal = calibration.calibrate(runs, tasks.assign(cpu_s=tasks["cpu_s"] * noise), background=0)
    costs = cal.costs("wc")
    assert costs.map_size_slope_s > 0 and costs.reduce_size_slope_s == 0.0
    # Under noise, a cost per byte rising with size and one per key (whose number per byte falls with size)
    # share the work between them; a task's CPU, what a prediction runs on, is recovered whatever the shares.
    for m in (48, 4, 1):
        b = INPUT / m
        made = TRUE["map_fixed_s"] + _per_byte_rising(b) * b + TRUE["map_per_file_s"] * (1 - math.exp(-HEAPS_K * b**HEAPS_BETA))
        predicted = prediction.sim_job(cal, prediction.Point("wc", INPUT, m, 1, 1, 1)).map_cpu[0]
        assert predicted == pytest.approx(made, rel=0.05), m


@pytest.mark.parametrize("followed", [0.0, 0.3, 1.0])
def test_calibration_fits_how_much_of_the_probe_the_runs_cpu_follows(followed):
    runs, tasks = synthetic(CONFIGS)
    probe = {f"run{i}": (1.25 if i % 2 else 0.8) for i in range(len(runs))}  # repeats a probe 1.25 / 0.8 apart
    runs, tasks = slowed(runs, tasks, {run: factor**followed for run, factor in probe.items()})
    runs["probe_cpu_s"] = PROBE * runs["run_id"].map(probe)
    cal = calibration.calibrate(runs, tasks, background=0)
    assert cal.speed_elasticity == pytest.approx(followed, abs=0.02)
    for name, value in TRUE.items():  # the costs at the calibration's median probe, the probe's noise taken out
        assert getattr(cal.costs("wc"), name) == pytest.approx(value, rel=0.03, abs=1e-5), name
    speed = calibration.speeds(runs, cal.probe_ref_s, cal.speed_elasticity)
    assert speed.max() / speed.min() == pytest.approx(1.5625**followed, rel=0.02)


def test_a_probe_that_never_moves_between_repeats_is_taken_at_its_word():
    runs, tasks = synthetic(CONFIGS)
    assert calibration.calibrate(runs, tasks, background=0).speed_elasticity == 1.0

"""The cost model: calibration on synthetic records with known costs, prediction, comparison, what-if."""

import dataclasses
import json
import math

import numpy as np
import pandas as pd
import pytest

from mrkit.experiments.model import calibration, prediction, whatif
from mrkit.experiments.model.simulate import inflation
from mrkit.experiments.sweeps.results import RUN_FILE_COLUMNS, TASK_FILE_COLUMNS
from mrkit.experiments.sweeps.sweep_config import load_sweep

TRUE = dict(map_fixed_s=0.01, map_per_byte_s=8e-8, map_per_file_s=0.002, reduce_fixed_s=0.004,
            reduce_per_record_s=1e-6, reduce_per_file_s=0.0005)
HEAPS_K, HEAPS_BETA = 30.0, 0.5
LAUNCH, FORK = 0.05, 0.004
MASTER_TASK, MASTER_FILE, MASTER_WORKER = 0.002, 0.0001, 0.003
INPUT = 8 * 2**20


def synthetic(configs, cores=2, repeats=2, app="wc", contention=0.0, reduce_contention=None):
    """runs and tasks DataFrames whose every number follows the model with the TRUE costs, exactly.

    Tasks run in rounds of W (one per worker), a round's tasks side by side; with `contention`, each
    map task of a round of n needs inflation(contention, n) times its CPU (reduce tasks: by
    `reduce_contention`, default the same).
    """
    reduce_contention = contention if reduce_contention is None else reduce_contention
    runs, tasks = [], []
    for i, (m, r, w) in enumerate(c for c in configs for _ in range(repeats)):
        run_id = f"run{i}"
        b = INPUT / m
        keys = HEAPS_K * b ** HEAPS_BETA
        share = 1 - math.exp(-keys / r)
        t = 0.0
        for phase, n in (("map", m), ("reduce", r)):
            for k in range(n):
                worker = f"w{k % w}"
                if k % w == 0:  # a new round starts once the previous one has ended
                    t = max([t] + [x["end"] for x in tasks if x["run_id"] == run_id]) + 0.001
                side_by_side = min(w, n - k // w * w)
                if phase == "map":
                    cpu = TRUE["map_fixed_s"] + TRUE["map_per_byte_s"] * b + TRUE["map_per_file_s"] * r * share
                    counts = dict(bytes_in=b, records_in=1, records_out=keys)
                else:
                    records = m * keys / r
                    cpu = (TRUE["reduce_fixed_s"] + TRUE["reduce_per_record_s"] * records
                           + TRUE["reduce_per_file_s"] * m * share)
                    counts = dict(bytes_in=0, records_in=records, records_out=records)
                cpu *= inflation(contention if phase == "map" else reduce_contention, side_by_side)
                tasks.append(dict(run_id=run_id, phase=phase, task=k, attempt=1, worker=worker, pid=1, host="h",
                                  start=t, end=t + cpu, duration_s=cpu, bytes_out=0, status="ok", cpu_s=cpu, **counts))
        runs.append(dict(run_id=run_id, app=app, backend="local", n_map=m, n_reduce=r, workers=w, cpu_count=cores,
                         input_bytes=INPUT, startup_s=LAUNCH + FORK * w, end_to_end_s=1.0, cores=cores,
                         master_cpu_s=0.01 + (FORK + MASTER_WORKER) * w + MASTER_TASK * (m + r)
                         + MASTER_FILE * (m * r + r), repeat=0))
    return pd.DataFrame(runs), pd.DataFrame(tasks)


CONFIGS = [(1, 1, 1), (4, 2, 2), (16, 16, 2), (48, 4, 24), (8, 40, 24), (16, 4, 4), (32, 8, 8)]


def test_calibration_recovers_the_costs_it_was_made_with():
    cal = calibration.calibrate(*synthetic(CONFIGS), background=0)
    costs = cal.costs("wc")
    for name, value in TRUE.items():
        assert getattr(costs, name) == pytest.approx(value, rel=0.02, abs=1e-6), name
    assert costs.heaps_k == pytest.approx(HEAPS_K, rel=1e-6) and costs.heaps_beta == pytest.approx(HEAPS_BETA)
    assert costs.contention == costs.reduce_contention == 0.0, "tasks side by side that do not slow each other"
    assert cal.launch_s == pytest.approx(LAUNCH) and cal.fork_s == pytest.approx(FORK)
    assert cal.master_task_s == pytest.approx(MASTER_TASK, rel=0.02)
    assert cal.master_file_s == pytest.approx(MASTER_FILE, rel=0.02)
    assert cal.master_worker_s == pytest.approx(MASTER_WORKER, rel=0.02)


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
        prediction.predict(cal, p).end_to_end_s)


PROBE = 0.006  # probe_cpu_s of the machine at its usual speed


def slowed(runs, tasks, slow):
    """The records with the runs named in `slow` (run_id -> factor) made that many times slower, probe included."""
    runs, tasks = runs.copy(), tasks.copy()
    factor = runs["run_id"].map(slow).fillna(1.0)
    runs["probe_cpu_s"] = PROBE * factor
    for col in ("startup_s", "master_cpu_s"):
        runs[col] *= factor
    per_task = tasks["run_id"].map(slow).fillna(1.0)
    for col in ("start", "end", "duration_s", "cpu_s"):
        tasks[col] *= per_task
    return runs, tasks


def test_runs_on_a_slow_machine_are_calibrated_at_the_machine_usual_speed():
    runs, tasks = synthetic(CONFIGS)
    slow = {"run2": 2.5, "run5": 2.0, "run9": 3.0}  # a VM that ran three of 14 runs 2-3x slower
    cal = calibration.calibrate(*slowed(runs, tasks, slow), background=0)
    assert cal.probe_ref_s == pytest.approx(PROBE)
    for name, value in TRUE.items():
        assert getattr(cal.costs("wc"), name) == pytest.approx(value, rel=0.02, abs=1e-6), name
    assert cal.launch_s == pytest.approx(LAUNCH) and cal.fork_s == pytest.approx(FORK)
    assert cal.master_task_s == pytest.approx(MASTER_TASK, rel=0.02)
    # without the probe the same records mislead the fit
    blind = slowed(runs, tasks, slow)[0].drop(columns="probe_cpu_s"), slowed(runs, tasks, slow)[1]
    off = calibration.calibrate(*blind, background=0).costs("wc")
    assert max(abs(getattr(off, n) / v - 1) for n, v in TRUE.items()) > 0.1


def test_a_measured_point_is_predicted_at_the_speed_its_runs_recorded(tmp_path):
    runs, tasks = synthetic(CONFIGS)
    cal = calibration.calibrate(*slowed(runs, tasks, {}), background=0)
    p = prediction.Point("wc", INPUT, 16, 4, 4, 2)
    usual = prediction.predict(cal, p).end_to_end_s
    twice = prediction.predict(cal, dataclasses.replace(p, speed=2.0)).end_to_end_s
    assert twice == pytest.approx(2 * usual, rel=1e-6), "every cost is CPU work: twice as slow, twice as long"
    measured, _ = slowed(runs, tasks, {f"run{i}": 2.0 for i in range(len(runs))})
    measured["end_to_end_s"] = 1.0
    write_results(tmp_path / "slow", measured, tasks)
    point = next(q for q in prediction.compare(cal, tmp_path / "slow")["points"]
                 if (q["n_map"], q["n_reduce"], q["workers"]) == (16, 4, 4))
    assert point["predicted_end_to_end_s"] == pytest.approx(twice, rel=1e-3)
    as_usual = next(q for q in prediction.compare(cal, tmp_path / "slow", loaded=False)["points"]
                    if (q["n_map"], q["n_reduce"], q["workers"]) == (16, 4, 4))
    assert as_usual["predicted_end_to_end_s"] == pytest.approx(usual, rel=1e-3)


def test_prediction_is_the_simulated_schedule_of_the_calibrated_demands():
    cal = calibration.calibrate(*synthetic(CONFIGS), background=0)
    # One worker, one core: no sharing, so end to end = launch + fork + every demand in turn.
    p = prediction.Point("wc", INPUT, 4, 2, 1, 1)
    job = prediction.sim_job(cal, p)
    serial = (cal.launch_s + cal.fork_s + sum(job.map_cpu) + sum(job.reduce_cpu)
              + job.master_register_cpu + 4 * job.master_map_cpu + 2 * job.master_reduce_cpu)
    assert prediction.predict(cal, p).end_to_end_s == pytest.approx(serial, rel=1e-6)
    # As many cores as workers: the map stage is one task's time plus the master answering 100 workers in turn.
    wide = prediction.Point("wc", INPUT, 100, 10, 100, 100)
    job = prediction.sim_job(cal, wide)
    bound = job.map_cpu[0] + 100 * (job.master_register_cpu + job.master_map_cpu)
    assert job.map_cpu[0] < prediction.predict(cal, wide).map_wall_s <= bound + 1e-9


def test_decompose_names_the_biggest_term_in_a_sentence():
    cal = calibration.calibrate(*synthetic(CONFIGS), background=0)
    d = prediction.decompose(cal, prediction.Point("wc", INPUT, 100, 100, 100, 100))
    assert set(d["terms_s"]) == set(prediction.TERMS)
    top = max(d["terms_s"], key=d["terms_s"].get)
    assert d["sentence"].startswith("at M=100, R=100, W=100 on 100 cores, " + top)
    assert all(0 <= v <= d["end_to_end_s"] for v in d["terms_s"].values())


def write_results(directory, runs, tasks):
    directory.mkdir(parents=True)
    runs.reindex(columns=RUN_FILE_COLUMNS).to_csv(directory / "runs.csv", index=False)
    tasks.reindex(columns=TASK_FILE_COLUMNS).to_csv(directory / "tasks.csv", index=False)


def test_compare_gives_the_json_contract_with_medians_over_repeats(tmp_path):
    runs, tasks = synthetic(CONFIGS)
    cal = calibration.calibrate(runs, tasks, background=0)
    measured = runs.copy()
    for i, r in enumerate(measured.itertuples()):  # repeats at 0.9x and 1.1x the prediction: median = prediction
        predicted = prediction.predict(cal, prediction.Point("wc", INPUT, r.n_map, r.n_reduce, r.workers, 2)).end_to_end_s
        measured.loc[i, "end_to_end_s"] = predicted * (0.9 if i % 2 else 1.1)
    write_results(tmp_path / "m", measured, tasks)
    result = prediction.compare(cal, tmp_path / "m")
    assert set(result) == {"points", "median_abs_error_pct", "max_abs_error_pct"}
    assert len(result["points"]) == len(CONFIGS)
    assert set(result["points"][0]) == {"app", "n_map", "n_reduce", "workers", "cores", "predicted_end_to_end_s",
                                        "measured_end_to_end_s", "error_pct"}
    assert result["max_abs_error_pct"] < 0.1
    json.dumps(result)
    other = prediction.compare(cal, tmp_path / "m", cores=[8])  # other cores: predicted, not measured
    assert all(p["measured_end_to_end_s"] is None and p["cores"] == 8 for p in other["points"])
    assert other["median_abs_error_pct"] is None


def test_predict_sweep_covers_every_configuration_and_core_count():
    cal = calibration.calibrate(*synthetic(CONFIGS), background=0)
    frame = prediction.predict_sweep(cal, load_sweep("pairs_wc"), [2, 100])
    assert len(frame) == 2 * len(load_sweep("pairs_wc").configurations())
    big = frame[(frame.n_map == 100) & (frame.n_reduce == 50)].set_index("cores")["predicted_end_to_end_s"]
    assert big[100] < big[2]  # a hundred cores run a hundred workers faster than two do


def test_ecs_what_if_bills_at_least_a_minute_per_task_and_waits_for_task_starts():
    cal = calibration.calibrate(*synthetic(CONFIGS), background=0)
    frame = prediction.predict_sweep(cal, load_sweep("mappers_ecs", what_if=True), [2])
    assert list(frame.n_map) == [1, 2, 4, 8, 16, 32, 64, 100]
    assert (frame.predicted_end_to_end_s > whatif.FARGATE_START_LATENCY_S).all()
    assert (np.diff(frame.usd) > 0).all()
    one = frame.iloc[0]
    assert one.task_s >= 2 * 60 and one.usd == pytest.approx(one.task_s * (0.04048 + 2 * 0.004445) / 3600)


def test_unknown_app_and_bad_directory_are_model_errors(tmp_path):
    cal = calibration.calibrate(*synthetic(CONFIGS), background=0)
    with pytest.raises(calibration.ModelError, match="no calibration runs of app 'indexer'"):
        prediction.predict(cal, prediction.Point("indexer", INPUT, 4, 2, 2, 2))
    with pytest.raises(calibration.ModelError, match="not a results directory"):
        calibration.load_calibration([tmp_path])


def test_fastest_on_many_cores_comes_with_its_terms():
    cal = calibration.calibrate(*synthetic(CONFIGS), background=0)
    best = prediction.fastest(cal, load_sweep("pairs_wc"), 100)
    frame = prediction.predict_sweep(cal, load_sweep("pairs_wc"), [100])
    assert best["row"]["predicted_end_to_end_s"] == frame["predicted_end_to_end_s"].min()
    assert best["decomposition"]["end_to_end_s"] == pytest.approx(best["row"]["predicted_end_to_end_s"])

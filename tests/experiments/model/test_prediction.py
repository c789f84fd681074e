"""model.prediction: the simulated schedule of calibrated demands, comparison with results, the what-if."""

import dataclasses
import json
import math
import statistics

import numpy as np
import pandas as pd
import pytest
from model_records import (
    CONFIGS,
    INPUT,
    POINT_KEYS,
    PREDICT_KEYS,
    PROBE,
    TRUE,
    slowed,
    synthetic,
)

from mrkit.experiments import analysis
from mrkit.experiments.model import calibration, prediction, whatif
from mrkit.experiments.sweeps.results import RUN_FILE_COLUMNS, TASK_FILE_COLUMNS
from mrkit.experiments.sweeps.sweep_config import load_sweep


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
    point = next(
        q for q in prediction.compare(cal, tmp_path / "slow")["points"] if (q["n_map"], q["n_reduce"], q["workers"]) == (16, 4, 4)
    )
    assert point["predicted_end_to_end_s"] == pytest.approx(twice, rel=1e-3)
    as_usual = next(
        q
        for q in prediction.compare(cal, tmp_path / "slow", loaded=False)["points"]
        if (q["n_map"], q["n_reduce"], q["workers"]) == (16, 4, 4)
    )
    assert as_usual["predicted_end_to_end_s"] == pytest.approx(usual, rel=1e-3)


def test_the_level_of_the_measured_runs_probe_counts_in_full_and_a_point_departure_as_far_as_cpu_followed(tmp_path):
    runs, tasks = synthetic(CONFIGS)
    noise = {f"run{i}": (1.25 if i % 2 else 0.8) for i in range(len(runs))}  # repeats' probes 1.25 / 0.8 apart
    cal = calibration.calibrate(runs.assign(probe_cpu_s=PROBE * runs["run_id"].map(noise)), tasks, background=0)
    assert cal.speed_elasticity == pytest.approx(0.0, abs=0.01), "the runs' CPU did not follow the probe's noise"
    measured, _ = slowed(runs, tasks, {run: 1.3 for run in noise})  # a sweep on a machine 30% slower throughout
    measured["probe_cpu_s"] *= measured["run_id"].map(noise)  # its probe as noisy as the calibration's
    measured["end_to_end_s"] = 1.0
    write_results(tmp_path / "slower", measured, tasks)
    for q in prediction.compare(cal, tmp_path / "slower")["points"]:
        p = prediction.Point("wc", INPUT, q["n_map"], q["n_reduce"], q["workers"], 2, speed=1.3)
        assert q["predicted_end_to_end_s"] == pytest.approx(prediction.predict(cal, p).end_to_end_s, rel=1e-3)


def test_prediction_is_the_simulated_schedule_of_the_calibrated_demands():
    cal = calibration.calibrate(*synthetic(CONFIGS), background=0)
    # One worker, one core: no sharing, so end to end = launch + fork + every demand in turn.
    p = prediction.Point("wc", INPUT, 4, 2, 1, 1)
    job = prediction.sim_job(cal, p)
    serial = (
        cal.launch_s
        + cal.fork_cpu_s
        + sum(job.map_cpu)
        + sum(job.reduce_cpu)
        + job.master_register_cpu
        + 4 * job.master_map_cpu
        + 2 * job.master_reduce_cpu
    )
    assert prediction.predict(cal, p).end_to_end_s == pytest.approx(serial, rel=1e-6)
    # As many cores as workers: the map stage is one task's time plus the master answering 100 workers in turn.
    wide = prediction.Point("wc", INPUT, 100, 10, 100, 100)
    job = prediction.sim_job(cal, wide)
    bound = job.map_cpu[0] + 100 * (job.master_register_cpu + job.master_map_cpu)
    assert job.map_cpu[0] < prediction.predict(cal, wide).map_wall_s <= bound + 1e-9


def test_a_reduce_task_demands_its_records_the_files_it_reads_and_the_keys_it_writes():
    cal = calibration.calibrate(*synthetic(CONFIGS), background=0)
    _, tasks = synthetic([(16, 4, 4)], repeats=1)  # the truth's reduce task of that configuration
    truth = tasks.loc[tasks["phase"] == "reduce", "cpu_s"].iloc[0]
    assert prediction.sim_job(cal, prediction.Point("wc", INPUT, 16, 4, 4, 2)).reduce_cpu[0] == pytest.approx(truth, rel=0.01)
    # twice the reduce tasks: each writes half the keys, and with them half the keys' cost
    costs = cal.costs("wc")
    one, two = (prediction.sim_job(cal, prediction.Point("wc", INPUT, 16, r, 4, 2)).reduce_cpu[0] for r in (4, 8))
    unkeyed = dataclasses.replace(cal, apps={"wc": dataclasses.replace(costs, reduce_per_key_s=0.0)})
    one_, two_ = (prediction.sim_job(unkeyed, prediction.Point("wc", INPUT, 16, r, 4, 2)).reduce_cpu[0] for r in (4, 8))
    assert one - one_ == pytest.approx(2 * (two - two_)) and one - one_ == pytest.approx(
        TRUE["reduce_per_key_s"] * costs.job_keys(INPUT) / 4, rel=0.03
    )


def test_decompose_names_the_biggest_term_in_a_sentence():
    cal = calibration.calibrate(*synthetic(CONFIGS), background=0)
    d = prediction.decompose(cal, prediction.Point("wc", INPUT, 100, 100, 100, 100))
    assert set(d["terms_s"]) == set(prediction.TERMS)
    top = max(d["terms_s"], key=d["terms_s"].get)
    assert d["sentence"].startswith("at M=100, R=100, W=100 on 100 cores, " + top)
    assert sum(d["terms_s"].values()) == pytest.approx(d["end_to_end_s"], rel=1e-9, abs=1e-9)


@pytest.mark.parametrize(
    "m, r, w, cores", [(1, 1, 1, 1), (5, 5, 5, 2), (100, 5, 100, 2), (20, 50, 50, 1), (8, 4, 2, 100), (100, 100, 100, 100)]
)
def test_the_terms_add_up_to_the_prediction(m, r, w, cores):
    runs, tasks = synthetic(CONFIGS, contention=0.3, reduce_contention=0.1)
    runs["end_to_end_s"], runs["others_cpu_s"] = 2.0, 0.4  # a fifth of a core taken by others
    cal = calibration.calibrate(runs, tasks)
    p = prediction.Point("wc", INPUT, m, r, w, cores)
    d = prediction.decompose(cal, p)
    assert d["end_to_end_s"] == prediction.predict(cal, p).end_to_end_s
    assert sum(d["terms_s"].values()) == pytest.approx(d["end_to_end_s"], rel=1e-9, abs=1e-9)
    assert d["terms_s"]["launch and split"] == pytest.approx(cal.launch_s), "a term that adds its own time alone"
    timeline = prediction.predict(cal, p).timeline()
    assert sum(timeline.values()) == pytest.approx(d["end_to_end_s"], rel=1e-12)
    assert timeline["launch and split"] == pytest.approx(cal.launch_s)


def write_results(directory, runs, tasks, extra=()):
    """runs.csv and tasks.csv as a sweep writes them; `extra`: run columns a later mrkit appends."""
    directory.mkdir(parents=True)
    runs.reindex(columns=[*RUN_FILE_COLUMNS, *extra]).to_csv(directory / "runs.csv", index=False)
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
    assert set(result) == PREDICT_KEYS
    assert len(result["points"]) == len(CONFIGS)
    assert set(result["points"][0]) == POINT_KEYS
    assert result["max_abs_error_pct"] < 0.1
    json.dumps(result)
    other = prediction.compare(cal, tmp_path / "m", cores=[8])  # other cores: predicted, not measured
    assert all(p["measured_end_to_end_s"] is None and p["cores"] == 8 for p in other["points"])
    assert other["median_abs_error_pct"] is None
    assert other["spearman"] is None and other["within_noise_share"] is None and other["spearman_ceiling"] is None
    assert all(p["measured_interval"] is None and p["within_noise"] is None for p in other["points"])


# Measured repeats per configuration of CONFIGS: its prediction times c, times (0.95, 1, 1.05).
SCALES = [1.0, 1.02, 0.9, 1.3, 1.0, 0.97, 1.5]


def test_each_measured_point_has_its_95_interval_and_is_within_noise_or_not(tmp_path):
    runs, tasks = synthetic(CONFIGS, repeats=1)
    cal = calibration.calibrate(*synthetic(CONFIGS), background=0)
    predicted = [prediction.predict(cal, prediction.Point("wc", INPUT, m, r, w, 2)).end_to_end_s for m, r, w in CONFIGS]
    rows = []
    for i, (c, p) in enumerate(zip(SCALES, predicted)):
        for j, e in enumerate((0.95, 1.0, 1.05)):
            rows.append(runs.iloc[i].to_dict() | {"run_id": f"m{i}-{j}", "end_to_end_s": p * c * e, "repeat": j})
    write_results(tmp_path / "m", pd.DataFrame(rows), tasks)
    result = prediction.compare(cal, tmp_path / "m")
    inside = []
    for point, c, p in zip(result["points"], SCALES, predicted):
        times = [p * c * e for e in (0.95, 1.0, 1.05)]
        half = 4.303 * statistics.stdev(times) / math.sqrt(3)  # Student's t, 2 degrees of freedom
        low, high = statistics.mean(times) - half, statistics.mean(times) + half
        assert point["measured_interval"] == [pytest.approx(low, abs=1e-4), pytest.approx(high, abs=1e-4)]
        assert point["measured_end_to_end_s"] == pytest.approx(p * c, abs=1e-4)
        inside.append(low <= p <= high)
        assert point["within_noise"] is inside[-1]
    assert inside == [True, True, True, False, True, True, False]  # 0.9: 11% off, inside a +-12.4% interval
    assert result["within_noise_share"] == pytest.approx(5 / 7, abs=1e-4)
    # Spearman's rho by its textbook formula (no ties here): 1 - 6 sum d^2 / (n (n^2 - 1))
    measured = [p * c for p, c in zip(predicted, SCALES)]
    rank = lambda xs: {x: k for k, x in enumerate(sorted(xs))}  # noqa: E731
    rp, rm = rank(predicted), rank(measured)
    d2 = sum((rp[p] - rm[m]) ** 2 for p, m in zip(predicted, measured))
    assert result["spearman"] == pytest.approx(1 - 6 * d2 / (7 * (49 - 1)), abs=1e-4)
    assert result["spearman"] < 1.0, "the scales reorder some points"
    # what a model exact to the true times would rank: the bootstrap over each point's three times
    repeats = [[p * c * e for e in (0.95, 1.0, 1.05)] for p, c in zip(predicted, SCALES)]
    assert result["spearman_ceiling"] == pytest.approx(analysis.spearman_ceiling(repeats), abs=1e-4)
    assert 0.9 < result["spearman_ceiling"] < 1.0, "two pairs of points (1.01 and 1.03 s, 1.92 and 1.98 s) within 5%"
    json.dumps(result)


def test_agreement_takes_a_section_runs_as_a_frame(tmp_path):
    runs, tasks = synthetic(CONFIGS)
    cal = calibration.calibrate(runs, tasks, background=0)
    write_results(tmp_path / "m", runs, tasks)
    section = runs[runs["n_map"] >= 8]  # what one report section selects of interleaved runs
    frame = prediction.agreement(cal, section)
    assert len(frame["points"]) == sum(m >= 8 for m, _, _ in CONFIGS)
    whole = prediction.agreement(cal, tmp_path / "m")
    assert {(p["n_map"], p["n_reduce"]) for p in frame["points"]} < {(p["n_map"], p["n_reduce"]) for p in whole["points"]}


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


def test_fastest_on_many_cores_comes_with_its_terms():
    cal = calibration.calibrate(*synthetic(CONFIGS), background=0)
    best = prediction.fastest(cal, load_sweep("pairs_wc"), 100)
    frame = prediction.predict_sweep(cal, load_sweep("pairs_wc"), [100])
    assert best["row"]["predicted_end_to_end_s"] == frame["predicted_end_to_end_s"].min()
    assert best["decomposition"]["end_to_end_s"] == pytest.approx(best["row"]["predicted_end_to_end_s"])


def _drifting_report(truth):
    """One results directory's runs in the order a report ran them: calibration runs interleaved with a lab
    sweep's (tagged `sweep`, numbered by `position`), the machine slowing steadily by 45% from first run to
    last, the probe with it. The lab's runs take exactly the truth's prediction at the speed they ran."""
    cal_runs, cal_tasks = synthetic(CONFIGS)
    lab = [(16, 4, 4), (5, 5, 5), (100, 5, 100)]
    n = 2 * len(cal_runs)  # calibration run, lab run, calibration run, ...
    drift = [1.0 + 0.45 * k / (n - 1) for k in range(n)]
    runs, tasks = slowed(cal_runs, cal_tasks, {f"run{i}": drift[2 * i] for i in range(len(cal_runs))})
    runs = runs.assign(sweep="calibrate", position=[2 * i for i in range(len(runs))])
    rows = []
    for i in range(len(cal_runs)):
        k = 2 * i + 1
        m, r, w = lab[i % len(lab)]
        end = prediction.predict(truth, prediction.Point("wc", INPUT, m, r, w, 2, speed=drift[k])).end_to_end_s
        rows.append(
            runs.iloc[0].to_dict()
            | dict(
                run_id=f"lab{k}",
                sweep="map_sweep",
                n_map=m,
                n_reduce=r,
                workers=w,
                end_to_end_s=end,
                probe_cpu_s=PROBE * drift[k],
                position=k,
            )
        )
    return pd.concat([runs, pd.DataFrame(rows)], ignore_index=True), tasks


def test_calibrated_among_drifting_runs_the_same_point_early_and_late_predicts_alike(tmp_path):
    truth = calibration.calibrate(*synthetic(CONFIGS), background=0)
    runs, tasks = _drifting_report(truth)
    write_results(tmp_path / "report", runs, tasks, extra=("sweep", "position"))
    recorded, recorded_tasks = calibration.load_calibration([tmp_path / "report"])
    assert "sweep" in recorded, "the results keep the sweep tag"
    cal = calibration.calibrate(recorded, recorded_tasks, background=0)  # fitted on the calibration's runs only
    assert cal == calibration.calibrate(recorded[recorded["sweep"] == "calibrate"], recorded_tasks, background=0)
    assert cal.probe_ref_s > PROBE  # its costs are stated at the calibration runs' median speed
    for name, value in TRUE.items():  # which is the truth's at the usual speed, times the ratio
        assert getattr(cal.costs("wc"), name) * PROBE / cal.probe_ref_s == pytest.approx(value, rel=0.02, abs=1e-6)
    lab = recorded[recorded["sweep"] == "map_sweep"]
    early, late = (prediction.agreement(cal, half) for half in (lab[lab["position"] < 12], lab[lab["position"] > 14]))
    assert len(early["points"]) == len(late["points"]) == 3
    for a, b in zip(*(sorted(r["points"], key=lambda p: p["n_map"]) for r in (early, late))):
        assert (a["n_map"], a["n_reduce"]) == (b["n_map"], b["n_reduce"])
        assert b["measured_end_to_end_s"] > 1.1 * a["measured_end_to_end_s"], "the machine did slow down"
        assert abs(a["error_pct"]) < 2 and abs(b["error_pct"]) < 2 and abs(a["error_pct"] - b["error_pct"]) < 1
    # without the probe, the late runs are predicted as fast as the early ones: the drift shows as error
    blind = lab.drop(columns="probe_cpu_s")
    blind_early, blind_late = (
        prediction.agreement(cal, half) for half in (blind[blind["position"] < 12], blind[blind["position"] > 14])
    )
    for a, b in zip(*(sorted(r["points"], key=lambda p: p["n_map"]) for r in (blind_early, blind_late))):
        assert a["error_pct"] - b["error_pct"] > 15


def test_per_sweep_agreement_says_where_the_model_holds():
    truth = calibration.calibrate(*synthetic(CONFIGS), background=0)
    runs, _ = _drifting_report(truth)
    runs = pd.concat([runs, runs[runs["sweep"] == "map_sweep"].assign(sweep="reduce_sweep", end_to_end_s=1.0)])
    cal = calibration.calibrate(runs, _drifting_report(truth)[1], background=0)
    sections = prediction.agreement_by_sweep(cal, runs)
    assert set(sections) == {"calibrate", "map_sweep", "reduce_sweep"}
    good, flat = sections["map_sweep"], sections["reduce_sweep"]
    assert good["spearman"] == 1.0 and good["within_noise_share"] == 1.0 and good["holds"]
    # every point measured at 1.0 s every time: no rank to get right, and a zero-width interval holds no prediction
    assert flat["spearman"] is None and flat["within_noise_share"] == 0.0 and not flat["holds"]
    assert good == prediction.agreement(cal, runs[runs["sweep"] == "map_sweep"]) | {"holds": True}


def test_targets_are_at_least_for_correlation_and_share_and_at_most_for_errors():
    ok = {"spearman": 0.9, "within_noise_share": 0.8, "median_abs_error_pct": 10.0, "max_abs_error_pct": 25.0}
    assert prediction.meets_targets(ok)
    for key, worse in (
        ("spearman", 0.89),
        ("within_noise_share", 0.79),
        ("median_abs_error_pct", 10.1),
        ("max_abs_error_pct", 25.1),
        ("spearman", None),
    ):
        assert not prediction.meets_targets(ok | {key: worse}), key
    assert prediction.meets_targets(ok | {"max_abs_error_pct": 60.0}, prediction.HOLDS)

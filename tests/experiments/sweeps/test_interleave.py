"""Several sweeps in one seeded, interleaved order: real quick runs on a tiny corpus, each sweep's own results."""

import csv
import json
import os
import subprocess
import sys

import pytest

from mrkit.backends import BACKENDS, get_backend
from mrkit.experiments.sweeps import interleave, results, sweep_config

pytestmark = pytest.mark.timeout(120)


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def lab(tmp_path, name, **overrides):
    """A quick lab sweep on 2 files of 16 KiB: map_sweep M in {5, 10} at R = 5, reduce_sweep R in {5, 10} at M = 10."""
    values = {"repeats": 2, "warmup": False, "results_dir": str(tmp_path / "results"), **overrides}
    return sweep_config.load_sweep(name, quick=True, **values)


@pytest.fixture
def calls(monkeypatch):
    """Route the local backend through a recorder: (M, R, W, repeat) per real run."""
    seen = []
    real = get_backend("local")

    def recording(app, inputs, **kw):
        seen.append((kw["n_map"], kw["n_reduce"], kw["workers"], kw["repeat"]))
        return real(app, inputs, **kw)

    monkeypatch.setitem(BACKENDS, "local", recording)
    return seen


def test_the_planned_order_is_seeded_interleaved_and_spreads_repeats_over_the_report(tmp_path):
    configs = [lab(tmp_path, "map_sweep", repeats=3), lab(tmp_path, "reduce_sweep", repeats=3)]
    configs.append(sweep_config.load_sweep("calibrate", quick=True, results_dir=str(tmp_path / "results")))
    units = interleave.measurements(configs)
    # (M, R) = (10, 5) is in both lab sweeps: one measurement; calibrate's 8 (2 apps x 2 pairs x 2 W) share nothing
    assert len(units) == 3 + 8
    (both,) = [u for u in units if len(u.members) == 2]
    assert [(configs[i].name, rc.config_id) for i, rc in both.members] == [
        ("map_sweep", "m10-r5-w10"),
        ("reduce_sweep", "m10-r5-w10"),
    ]
    order = interleave.planned_order(units, seed=7)
    assert order == interleave.planned_order(units, seed=7), "the same seed plans the same order"
    assert order != interleave.planned_order(units, seed=8)
    assert sorted(order) == sorted((u, k) for u, unit in enumerate(units) for k in range(unit.repeats))
    # a configuration's k-th of 3 repeats lies in the k-th third of the order
    for u, unit in enumerate(units):
        places = [order.index((u, k)) / len(order) for k in range(unit.repeats)]
        assert all(k / unit.repeats - 0.1 <= p < (k + 1) / unit.repeats + 0.1 for k, p in enumerate(places)), places
    # the calibration's one-run measurements fall anywhere in the order, not first: over many seeds, in the middle
    calibration = [u for u, unit in enumerate(units) if configs[unit.members[0][0]].name == "calibrate"]
    centres = []
    for seed in range(40):
        planned = interleave.planned_order(units, seed)
        centres.append(sum(planned.index((u, 0)) for u in calibration) / len(calibration) / len(planned))
    assert 0.4 < sum(centres) / len(centres) < 0.6


@pytest.mark.slow
def test_interleaved_sweeps_measure_a_shared_configuration_once_and_each_write_their_own_results(tmp_path, calls):
    configs = [lab(tmp_path, "map_sweep"), lab(tmp_path, "reduce_sweep")]
    outs = interleave.run_interleaved(configs, seed=3, progress=False)

    assert [o.parent.name for o in outs] == ["map_sweep", "reduce_sweep"]
    assert len(calls) == 3 * 2, "(10, 5) measured once for both sweeps, 2 repeats of 3 configurations"
    units = interleave.measurements(configs)
    planned = [(units[u].members[0][1].n_map, units[u].members[0][1].n_reduce, k) for u, k in interleave.planned_order(units, 3)]
    assert [(m, r, k) for m, r, _, k in calls] == planned, "the runs were made in the planned order"
    maps, reduces = (read_csv(o / "runs.csv") for o in outs)
    assert sorted((r["config_id"], r["repeat"]) for r in maps) == [
        ("m10-r5-w10", "0"),
        ("m10-r5-w10", "1"),
        ("m5-r5-w5", "0"),
        ("m5-r5-w5", "1"),
    ]
    assert sorted(r["config_id"] for r in reduces) == ["m10-r10-w10"] * 2 + ["m10-r5-w10"] * 2
    assert {r["sweep"] for r in maps} == {"map_sweep"} and {r["sweep"] for r in reduces} == {"reduce_sweep"}
    shared = lambda rows: {r["run_id"]: r for r in rows if r["config_id"] == "m10-r5-w10"}  # noqa: E731
    assert set(shared(maps)) == set(shared(reduces)), "the same runs, recorded in both sweeps"
    positions = {r["run_id"]: int(r["position"]) for r in maps + reduces}
    assert sorted(positions.values()) == list(range(6)), "each run's place in the report's order"
    for out, rows in zip(outs, (maps, reduces)):
        tasks = read_csv(out / "tasks.csv")
        assert {t["run_id"] for t in tasks} == {r["run_id"] for r in rows}
        meta = json.loads((out / "meta.json").read_text())
        assert meta["status"] == "complete" and meta["order"]["seed"] == 3
        assert meta["order"]["interleaved"] == ["map_sweep", "reduce_sweep"]
        loaded_runs, _, _ = results.load_results(out)
        assert len(loaded_runs) == 4
    assert json.loads((outs[0] / "meta.json").read_text())["shared"] == {"m10-r5-w10": ["reduce_sweep"]}
    assert json.loads((outs[1] / "meta.json").read_text())["shared"] == {"m10-r5-w10": ["map_sweep"]}


def test_a_resumed_experiment_keeps_the_seed_its_runs_were_measured_in_and_refuses_another(tmp_path):
    measured = tmp_path / "map_sweep"
    measured.mkdir()
    (measured / "meta.json").write_text(json.dumps({"order": {"seed": 5}}))
    assert interleave.order_seed([measured, None]) == 5
    assert interleave.order_seed([None, measured], 5) == 5
    with pytest.raises(sweep_config.SweepError, match=r"map_sweep was measured in the order of seed 5, not 6"):
        interleave.order_seed([measured], 6)
    assert json.loads((measured / "meta.json").read_text())["order"]["seed"] == 5
    # new directories: the seed asked for, else a new one each time
    assert interleave.order_seed([None, None], 6) == 6
    assert len({interleave.order_seed([None]) for _ in range(5)}) > 1


@pytest.mark.slow
def test_a_killed_interleaved_report_resumes_measuring_only_what_is_missing(tmp_path, monkeypatch):
    configs = [lab(tmp_path, "map_sweep"), lab(tmp_path, "reduce_sweep")]
    seen, real = [], get_backend("local")

    def killed_after_four(app, inputs, **kw):
        if len(seen) == 4:
            raise KeyboardInterrupt  # Ctrl-C during the fifth run
        seen.append((kw["n_map"], kw["n_reduce"], kw["repeat"]))
        return real(app, inputs, **kw)

    monkeypatch.setitem(BACKENDS, "local", killed_after_four)
    dirs = [results.new_results_dir(cfg.results_dir, cfg.name) for cfg in configs]
    with pytest.raises(KeyboardInterrupt):
        interleave.run_interleaved(configs, dirs, seed=5, progress=False)
    assert [json.loads((d / "meta.json").read_text())["status"] for d in dirs] == ["interrupted"] * 2
    # A kill between the two writes of a shared run: it is in map_sweep's results and not in reduce_sweep's.
    shared = next(r for r in read_csv(dirs[1] / "runs.csv") if r["config_id"] == "m10-r5-w10")
    rows = read_csv(dirs[1] / "runs.csv")
    with open(dirs[1] / "runs.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(r for r in rows if r is not shared and r["run_id"] != shared["run_id"])

    monkeypatch.setitem(
        BACKENDS,
        "local",
        lambda app, inputs, **kw: seen.append((kw["n_map"], kw["n_reduce"], kw["repeat"])) or real(app, inputs, **kw),
    )
    interleave.run_interleaved(configs, dirs, progress=False)  # the seed recorded in the directories

    assert len(seen) == 6 and len(set(seen)) == 6, "the two unmeasured runs only; the shared one was copied"
    units = interleave.measurements(configs)
    planned = [(units[u].members[0][1].n_map, units[u].members[0][1].n_reduce, k) for u, k in interleave.planned_order(units, 5)]
    assert seen == planned, "the resumed report kept the recorded order"
    maps, reduces = (read_csv(d / "runs.csv") for d in dirs)
    assert len(maps) == len(reduces) == 4
    assert {r["run_id"] for r in maps if r["config_id"] == "m10-r5-w10"} == {
        r["run_id"] for r in reduces if r["config_id"] == "m10-r5-w10"
    }
    copied = next(r for r in reduces if r["run_id"] == shared["run_id"])
    assert copied["sweep"] == "reduce_sweep" and copied["position"] == shared["position"]
    tasks = read_csv(dirs[1] / "tasks.csv")
    assert {t["run_id"] for t in tasks} == {r["run_id"] for r in reduces}
    assert sorted(int(r["position"]) for r in {r["run_id"]: r for r in maps + reduces}.values()) == list(range(6))
    assert [json.loads((d / "meta.json").read_text())["status"] for d in dirs] == ["complete"] * 2


@pytest.mark.slow
def test_a_noisy_shared_point_gets_extra_repeats_in_the_interleaved_order_and_both_sweeps_keep_them(tmp_path, monkeypatch):
    seen, real = [], get_backend("local")

    def steered(app, inputs, **kw):  # (10, 5) alternates 1 s and 3 s: its interval stays wide
        summary, records = real(app, inputs, **kw)
        seen.append((kw["n_map"], kw["n_reduce"], kw["repeat"]))
        wide = (kw["n_map"], kw["n_reduce"]) == (10, 5) and kw["repeat"] % 2
        return {**summary, "end_to_end_s": 3.0 if wide else 1.0}, records

    monkeypatch.setitem(BACKENDS, "local", steered)
    configs = [lab(tmp_path, "map_sweep", max_repeats=4, ci_target=0.1), lab(tmp_path, "reduce_sweep")]
    outs = interleave.run_interleaved(configs, seed=1, progress=False)
    assert sorted(seen) == sorted([(5, 5, 0), (5, 5, 1), (10, 10, 0), (10, 10, 1), *((10, 5, k) for k in range(4))])
    assert seen[-2:] == [(10, 5, 2), (10, 5, 3)], "extra repeats come after the planned order"
    for out in outs:
        assert sorted(int(r["repeat"]) for r in read_csv(out / "runs.csv") if r["config_id"] == "m10-r5-w10") == [0, 1, 2, 3]


def test_a_loaded_shared_run_is_run_again_and_every_sweep_it_belongs_to_says_so(tmp_path):
    first = sorted(os.sched_getaffinity(0))[0]
    burner = subprocess.Popen([sys.executable, "-c", f"import os; os.sched_setaffinity(0, {{{first}}})\nwhile True: pass"])
    try:
        # (5, 5) in map_sweep and pairs_wc; the burner on the pinned CPU takes far more than 5% of it
        settings = dict(repeats=1, cpus=first, max_others_share=0.05, loaded_reruns=1)
        configs = [lab(tmp_path, "map_sweep", n_map=[5], **settings), lab(tmp_path, "pairs_wc", pairs=[[5, 5]], **settings)]
        outs = interleave.run_interleaved(configs, seed=0, progress=False)
    finally:
        burner.kill()
        burner.wait()
    rows = [read_csv(out / "runs.csv") for out in outs]
    assert [len(r) for r in rows] == [1, 1] and rows[0][0]["run_id"] == rows[1][0]["run_id"]
    for out in outs:
        (rerun,) = json.loads((out / "meta.json").read_text())["loaded_reruns"]
        assert rerun["config_id"] == "m5-r5-w5" and rerun["position"] == 0 and rerun["others_share"] > 0.05


def test_in_the_planned_order_on_a_drifting_machine_the_same_configuration_early_and_late_predicts_alike(tmp_path):
    """Issue 24 item 1: recorded runs of a report made in the planned interleaved order while the machine slowed by
    45% from its first run to its last (the probe with it). The calibration's runs follow the model with known costs;
    the lab's take exactly the truth's prediction at the speed they ran. Each sweep is written to its own results
    directory by the sweeps' own writer and the report's calibration is made as the report makes it."""
    from model_records import CONFIGS, INPUT, PROBE, slowed, synthetic

    from mrkit.experiments.model import calibration, prediction
    from mrkit.experiments.report import notebook_report as nr
    from mrkit.experiments.report import special_sections

    lab = [(5, 5, 5), (16, 4, 16), (100, 5, 100)]  # three configurations of Q1, three repeats each
    units = [interleave.Measurement((), 2)] * len(CONFIGS) + [interleave.Measurement((), 3)] * len(lab)
    order = interleave.planned_order(units, seed=4)
    position = {item: p for p, item in enumerate(order)}
    drift = lambda p: 1 + 0.45 * p / (len(order) - 1)  # noqa: E731
    truth = calibration.calibrate(*synthetic(CONFIGS), background=0)

    cal_runs, cal_tasks = synthetic(CONFIGS)  # run i is configuration i // 2, repeat i % 2
    at = {f"run{i}": position[(i // 2, i % 2)] for i in range(len(cal_runs))}
    cal_runs, cal_tasks = slowed(cal_runs, cal_tasks, {run: drift(p) for run, p in at.items()})
    cal_runs = cal_runs.assign(position=cal_runs["run_id"].map(at), repeat=[i % 2 for i in range(len(cal_runs))])
    dirs = {name: tmp_path / name for name in ("calibrate", "map_sweep")}
    for run in cal_runs.to_dict("records"):
        config_id = f"wc-m{run['n_map']}-r{run['n_reduce']}-w{run['workers']}"
        tasks = cal_tasks[cal_tasks["run_id"] == run["run_id"]].to_dict("records")
        dirs["calibrate"].mkdir(exist_ok=True)
        results.record_run(dirs["calibrate"], "calibrate", config_id, run["repeat"], run, tasks)
    for u, (m, r, w) in enumerate(lab, start=len(CONFIGS)):
        for k in range(3):
            p = position[(u, k)]
            end = prediction.predict(truth, prediction.Point("wc", INPUT, m, r, w, 2, speed=drift(p))).end_to_end_s
            run = cal_runs.iloc[0].to_dict() | dict(run_id=f"lab{p}", n_map=m, n_reduce=r, workers=w, end_to_end_s=end)
            run |= dict(probe_cpu_s=PROBE * drift(p), position=p, repeat=k)
            dirs["map_sweep"].mkdir(exist_ok=True)
            results.record_run(dirs["map_sweep"], "map_sweep", f"m{m}-r{r}-w{w}", k, run, [])
    configs = [sweep_config.load_sweep("calibrate"), sweep_config.load_sweep("map_sweep")]
    report = nr.run_sweeps(configs, reload=[dirs["calibrate"], dirs["map_sweep"]])

    cal = special_sections.calibration_for(report)
    assert cal.probe_ref_s > PROBE, "calibrated at the interleaved runs' median speed, not the first runs'"
    q1 = report[1].runs
    early, late = (prediction.agreement(cal, q1[q1["repeat"] == k]) for k in (0, 2))
    for a, b in zip(*(sorted(r["points"], key=lambda p: p["n_map"]) for r in (early, late))):
        assert b["measured_end_to_end_s"] > 1.1 * a["measured_end_to_end_s"], "the machine did slow down"
        assert abs(a["error_pct"]) < 2 and abs(b["error_pct"]) < 2 and abs(a["error_pct"] - b["error_pct"]) < 1
    # without the speed correction the same records show the drift as error: late runs predicted as fast as early
    blind = q1.drop(columns="probe_cpu_s")
    blind_early, blind_late = (prediction.agreement(cal, blind[blind["repeat"] == k]) for k in (0, 2))
    for a, b in zip(*(sorted(r["points"], key=lambda p: p["n_map"]) for r in (blind_early, blind_late))):
        assert a["error_pct"] - b["error_pct"] > 10


@pytest.mark.slow
def test_a_report_killed_outright_resumes_in_the_order_it_recorded(tmp_path, calls):
    results_dir = tmp_path / "results"
    script = f"""
import os, signal
from mrkit.backends import BACKENDS, get_backend
from mrkit.experiments.sweeps import interleave, sweep_config
real, seen = get_backend("local"), []
def killed_in_the_third_run(app, inputs, **kw):
    seen.append(1)
    if len(seen) == 3:
        os.kill(os.getpid(), signal.SIGKILL)  # no handler, no finally: as the OOM killer or a power cut
    return real(app, inputs, **kw)
BACKENDS["local"] = killed_in_the_third_run
configs = [sweep_config.load_sweep(n, quick=True, repeats=2, warmup=False, results_dir={str(results_dir)!r})
           for n in ("map_sweep", "reduce_sweep")]
interleave.run_interleaved(configs, progress=False)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=110)
    assert done.returncode == -9, done.stderr[-2000:]
    configs = [lab(tmp_path, "map_sweep"), lab(tmp_path, "reduce_sweep")]
    dirs = [results.latest(results_dir, cfg.name) for cfg in configs]
    seed = json.loads((dirs[0] / "meta.json").read_text())["order"]["seed"]
    assert json.loads((dirs[0] / "meta.json").read_text())["status"] == "running", "it never got to say it stopped"

    interleave.run_interleaved(configs, dirs, progress=False)
    units = interleave.measurements(configs)
    planned = [
        (units[u].members[0][1].n_map, units[u].members[0][1].n_reduce, k) for u, k in interleave.planned_order(units, seed)
    ]
    assert [(m, r, k) for m, r, _, k in calls] == planned[2:], "the two runs made before the kill are kept; the rest in order"
    assert [json.loads((d / "meta.json").read_text())["order"]["seed"] for d in dirs] == [seed, seed]

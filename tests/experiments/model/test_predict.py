"""`mrkit predict` as a process: calibrate on a real (tiny) calibration sweep, predict, compare, fail in one line."""

import json
import math
import pathlib
import shutil

import numpy as np
import pandas as pd
import pytest
from conftest import mrkit
from model_records import CONFIGS, INPUT, POINT_KEYS, PREDICT_KEYS, TRUE, synthetic

from mrkit.errors import UsageError
from mrkit.experiments import analysis
from mrkit.experiments.model import calibration as model_calibration
from mrkit.experiments.model import predict
from mrkit.experiments.sweeps import sweep, sweep_config

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]  # a real calibration sweep, then `mrkit predict` processes


@pytest.fixture(scope="module")
def calibration(tmp_path_factory):
    """A real calibration sweep on a tiny corpus: both apps, a few M, R and W."""
    root = tmp_path_factory.mktemp("cal")
    cfg = sweep_config.load_sweep(
        "calibrate", quick=True, results_dir=str(root / "results"), warmup=False, pairs=[[1, 1], [4, 2], [8, 4]], workers=[1, 4]
    )
    return sweep.run_sweep(cfg, progress=False)


def test_against_prints_the_json_contract(calibration, tmp_path):
    done = mrkit("predict", calibration, "--against", calibration, "--json", cwd=tmp_path, check=True)
    result = json.loads(done.stdout)
    assert set(result) == PREDICT_KEYS
    assert len(result["points"]) == 12  # 2 apps x 3 pairs x 2 worker counts
    for p in result["points"]:
        assert set(p) == POINT_KEYS
        assert p["predicted_end_to_end_s"] > 0 and p["measured_end_to_end_s"] > 0
        assert p["measured_interval"] is None and p["within_noise"] is None  # one run each: no interval
    assert result["median_abs_error_pct"] <= result["max_abs_error_pct"]
    assert -1 <= result["spearman"] <= 1 and result["within_noise_share"] is None


def test_against_repeats_shows_each_point_interval_and_the_rank_correlation(calibration, tmp_path):
    """The calibration's own recorded runs, each measured three times (at 0.9, 1 and 1.1 its recorded time)."""
    runs = pd.read_csv(pathlib.Path(calibration) / "runs.csv")
    rows = [
        r | {"run_id": f"{r['run_id']}-{k}", "end_to_end_s": r["end_to_end_s"] * f}
        for r in runs.to_dict("records")
        for k, f in enumerate((0.9, 1.0, 1.1))
    ]
    against = tmp_path / "repeated"
    against.mkdir()
    pd.DataFrame(rows).to_csv(against / "runs.csv", index=False)
    shutil.copy(pathlib.Path(calibration) / "tasks.csv", against / "tasks.csv")
    result = json.loads(mrkit("predict", calibration, "--against", against, "--json", cwd=tmp_path, check=True).stdout)
    recorded = runs.set_index(["app", "n_map", "n_reduce", "workers"])["end_to_end_s"]
    inside = []
    for p in result["points"]:
        t = recorded[(p["app"], p["n_map"], p["n_reduce"], p["workers"])]
        half = 4.303 * 0.1 * t / math.sqrt(3)  # t(2 dof) * sd of (0.9t, t, 1.1t) / sqrt(3)
        assert p["measured_interval"] == [pytest.approx(t - half, abs=2e-4), pytest.approx(t + half, abs=2e-4)]
        # judged on the interval as printed (4 decimals), as the contract defines it: a prediction within
        # 1e-4 s of an edge could fall either side of the unrounded one
        lo, hi = p["measured_interval"]
        inside.append(bool(lo <= p["predicted_end_to_end_s"] <= hi))
        assert p["within_noise"] is inside[-1]
    assert result["within_noise_share"] == pytest.approx(sum(inside) / len(inside), abs=1e-4)
    ranks = pd.DataFrame([(p["predicted_end_to_end_s"], p["measured_end_to_end_s"]) for p in result["points"]]).rank()
    assert result["spearman"] == pytest.approx(np.corrcoef(ranks[0], ranks[1])[0, 1], abs=1e-4)
    table = mrkit("predict", calibration, "--against", against, cwd=tmp_path, check=True).stdout
    assert "measured_95%" in table and "in_noise" in table
    # a model exact to the true times, ranked against these repeats' noise: from the same three times per point
    repeats = [
        recorded[(p["app"], p["n_map"], p["n_reduce"], p["workers"])] * np.array([0.9, 1.0, 1.1]) for p in result["points"]
    ]
    assert result["spearman_ceiling"] == pytest.approx(analysis.spearman_ceiling(repeats), abs=1e-4)
    exact = f"a model exact to the true times: about {result['spearman_ceiling']:.2f}"
    assert f"Spearman) {result['spearman']:.2f}; {exact}" in table
    assert f"within noise (inside the measured 95% interval): {sum(inside)} of {len(inside)} points" in table


def test_sweep_predicts_without_measurements_at_each_core_count(calibration, tmp_path):
    done = mrkit("predict", calibration, "--sweep", "pairs_wc", "--cores", "2,100", "--json", cwd=tmp_path, check=True)
    result = json.loads(done.stdout)
    assert len(result["points"]) == 22 and {p["cores"] for p in result["points"]} == {2, 100}
    assert all(p["measured_end_to_end_s"] is None and p["error_pct"] is None for p in result["points"])
    assert result["median_abs_error_pct"] is None
    table = mrkit("predict", calibration, "--sweep", "map_sweep", cwd=tmp_path, check=True).stdout
    assert "predicted_s" in table and "calibration:" in table and "costs at its median speed probe" in table


def test_ecs_what_if_shows_dollars(calibration, tmp_path):
    table = mrkit("predict", calibration, "--sweep", "mappers_ecs", cwd=tmp_path, check=True).stdout
    assert "fargate_usd" in table and "task start latency 56 s" in table
    assert table.splitlines()[8].split()[1] == "100"  # the what-if goes to 100 mappers


@pytest.mark.parametrize(
    "args, message",
    [
        (["{empty}"], "not a results directory"),
        (["{cal}", "--sweep", "nope"], "no sweep named 'nope'"),
        (["{cal}", "--cores", "0"], "--cores takes"),
        (["{cal}", "--against", "{empty}"], "not a results directory"),
    ],
)
def test_mistakes_are_one_line_exit_2(calibration, tmp_path, args, message):
    args = [a.format(empty=tmp_path, cal=calibration) for a in args]
    done = mrkit("predict", *args, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and done.stderr.strip().count("\n") == 0


@pytest.mark.parametrize("text", ["2,,8", "2,", "", "0", "-1", "nan", "inf", "two"])
def test_cores_that_are_not_all_counts_are_refused(text):
    with pytest.raises(UsageError, match="--cores takes core counts"):
        predict.parse_cores(text)


def test_cores_are_read_as_counts():
    assert predict.parse_cores(" 1, 2,8 ,0.5") == [1, 2, 8, 0.5] and predict.parse_cores(None) is None


def test_the_size_effect_is_stated_per_app_in_one_line():
    def per_byte(b):  # 80 ns/B for the smallest task of CONFIGS, +12 ns/B per e-fold of size
        return 8e-8 + 1.2e-8 * math.log(b / (INPUT / 48))

    rising = model_calibration.calibrate(*synthetic(CONFIGS, map_per_byte=per_byte), background=0).costs("wc")
    line = predict.size_effect("wc", rising)
    lo, hi = INPUT / 48, INPUT
    assert line.startswith(
        f"wc: map {per_byte(lo) * 1e9:.3g} -> {per_byte(hi) * 1e9:.3g} ns per byte "
        f"({lo / 1e6:.3g} -> {hi / 1e6:.3g} MB tasks); reduce "
    )
    assert line.endswith(f"{TRUE['reduce_per_record_s'] * 1e6:.3g} us per record, flat")
    joining = model_calibration.calibrate(*synthetic(CONFIGS, files=8, per_joined_key=8e-7), background=0).costs("wc")
    assert predict.size_effect("wc", joining).startswith(
        f"wc: map {TRUE['map_per_byte_s'] * 1e9:.3g} ns per byte, flat, 0.8 us per key a task joins from its later pieces; "
    )

"""bench/validate_model.py: its quick variant measures calibration and lab sweeps as one interleaved experiment.

Quick sweeps' figures mean nothing; what is checked is the order the runs were
made in (the calibration's among the lab sweeps', not before them) and the
table the script prints.
"""

import json
import pathlib
import subprocess
import sys

import pandas as pd
import pytest

from mrkit.pinning import available

ROOT = pathlib.Path(__file__).resolve().parents[1]
SWEEPS = ["calibrate", "map_sweep", "reduce_sweep", "pairs_wc", "pairs_indexer", "mappers"]


@pytest.mark.slow  # the quick sweeps on one CPU: about 10 s
@pytest.mark.timeout(600)
def test_the_calibration_runs_are_interleaved_with_the_runs_they_predict(tmp_path):
    out = tmp_path / "validate"
    cpu = str(min(available() or {0}))
    script = str(ROOT / "bench" / "validate_model.py")
    done = subprocess.run(
        [sys.executable, script, "--quick", "--cpus-sets", cpu, "--seed", "7", "--out", str(out)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
    positions = {}
    for name in SWEEPS:
        meta = json.loads((out / f"cpus-{cpu}" / name / "meta.json").read_text())
        assert meta["order"]["seed"] == 7 and meta["order"]["interleaved"] == SWEEPS
        positions[name] = set(pd.read_csv(out / f"cpus-{cpu}" / name / "runs.csv")["position"])
    calibration = positions.pop("calibrate")
    lab = set().union(*positions.values())
    assert max(calibration) - min(calibration) + 1 > len(calibration), "calibration runs among the lab's, not in a block"
    assert min(lab) < max(calibration) and min(calibration) < max(lab)
    assert "| 1 CPU -> 1 CPU | map_sweep |" in done.stdout and "Targets met on" in done.stdout

    # Resumed with another seed: its runs were measured in seed 7's order, and stay recorded so, untouched.
    before = {name: (out / f"cpus-{cpu}" / name / "runs.csv").read_bytes() for name in SWEEPS}
    again = subprocess.run(
        [sys.executable, script, "--quick", "--cpus-sets", cpu, "--seed", "8", "--out", str(out)], capture_output=True, text=True
    )
    assert again.returncode == 2 and "Traceback" not in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1 and "seed 7, not 8" in again.stderr
    for name in SWEEPS:
        assert json.loads((out / f"cpus-{cpu}" / name / "meta.json").read_text())["order"]["seed"] == 7
        assert (out / f"cpus-{cpu}" / name / "runs.csv").read_bytes() == before[name]


def test_the_full_plan_shares_no_run_between_the_calibration_and_the_lab_sweeps():
    """Out of sample: interleaving measures a configuration two sweeps share once, and none of the lab's is the calibration's."""
    from mrkit.experiments.sweeps import interleave
    from mrkit.experiments.sweeps.sweep_config import load_sweep

    units = interleave.measurements([load_sweep(name, cpus="0") for name in SWEEPS])
    assert not [u for u in units if len(u.members) > 1 and any(i == 0 for i, _ in u.members)]


def test_the_table_shows_what_a_model_exact_to_the_true_times_would_rank_and_counts_the_misses_it_explains():
    import importlib.util

    spec = importlib.util.spec_from_file_location("validate_model", ROOT / "bench" / "validate_model.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    figures = {"within_noise_share": 1.0, "median_abs_error_pct": 3.0, "max_abs_error_pct": 9.0}
    rows = [
        {"direction": "2 CPUs -> 1 CPU", "sweep": name, "points": 8, **figures, "spearman": rho, "spearman_ceiling": ceiling}
        | {"targets_met": rho >= 0.9}
        for name, rho, ceiling in (("mappers", 0.6, 0.73), ("reduce_sweep", 0.83, 0.95), ("pairs_wc", 0.97, 0.99))
    ]
    text = script.table(rows)
    assert "| Spearman (>= 0.9) | an exact model's |" in text
    assert "| 2 CPUs -> 1 CPU | mappers | 8 | 0.60 | 0.73 | 100% | 3.0% | 9.0% | no |" in text
    assert "Targets met on 1 of 3 rows." in text
    assert "Spearman under 0.9 on 2 rows; on 1 of them a model exact to the true times would be under it too" in text

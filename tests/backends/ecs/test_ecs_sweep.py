"""A mapper sweep with backend "ecs" through the local stand-in: the same runs.csv, the same notebook."""

import json
import subprocess
import sys

import nbformat
import pandas as pd
import pytest

from mrkit.backends.ecs.bootstrap import up
from mrkit.backends.ecs.config import make_config
from mrkit.experiments.report.display import verification_table
from mrkit.experiments.sweeps import sweep, sweep_config

SETTINGS = {"stack": "sweep", "region": "us-east-1", "cpu": 256, "memory": 512}

pytestmark = [pytest.mark.notebook, pytest.mark.timeout(240)]  # a sweep on the stand-in, then papermill


@pytest.fixture(scope="module")
def settings(new_aws, tmp_path_factory):
    up(make_config(SETTINGS, source="test"), new_aws())
    path = tmp_path_factory.mktemp("settings") / "ecs.yaml"
    path.write_text("".join(f"{k}: {v}\n" for k, v in SETTINGS.items()))
    return path


def test_an_ecs_mapper_sweep_writes_the_runs_csv_a_local_one_does(settings, tmp_path):
    options = {"settings": str(settings), "stand_in": True, "poll_s": 0.2, "verify": True}
    cfg = sweep_config.load_sweep("mappers_ecs", quick=True, backend_options=options, results_dir=str(tmp_path / "ecs"))
    out = sweep.run_sweep(cfg, progress=False, scratch=str(tmp_path))
    local = sweep.run_sweep(sweep_config.load_sweep("mappers", quick=True, results_dir=str(tmp_path / "local")), progress=False)
    ecs_runs, local_runs = pd.read_csv(out / "runs.csv"), pd.read_csv(local / "runs.csv")
    assert list(ecs_runs.columns) == list(local_runs.columns)
    assert list(ecs_runs["backend"]) == ["ecs", "ecs"]
    assert list(ecs_runs["n_map"]) == [1, 2] and list(ecs_runs["workers"]) == [1, 2]
    assert (ecs_runs["map_serial_sum_s"] > 0).all() and (ecs_runs["retries"] == 0).all()
    tasks = pd.read_csv(out / "tasks.csv")
    assert sorted(tasks.query("phase == 'map'").groupby("config_id").size()) == [1, 2]
    meta = json.loads((out / "meta.json").read_text())
    assert meta["status"] == "complete" and meta["parameters"]["backend"] == "ecs"
    # each run's S3 output was checked against a sequential run of the same input, and was equal
    expected = len(read_outputs_of_sequential(cfg))
    assert list(ecs_runs["verify_expected"]) == [expected] * 2 and list(ecs_runs["verify_found"]) == [expected] * 2
    assert (ecs_runs[["verify_missing", "verify_extra", "verify_different", "verify_duplicate"]] == 0).all().all()
    assert local_runs["verify_expected"].isna().all(), "local sweeps are not verified run by run"
    table = verification_table(ecs_runs)
    assert list(table["M = W"]) == [1, 2] and list(table["runs equal to sequential"]) == [1, 1]
    assert list(table["unique words found"]) == list(table["unique words expected"]) == [f"{expected:,}"] * 2
    broken = ecs_runs.assign(verify_missing=[0, 3], verify_found=[expected, expected - 3])
    assert list(verification_table(broken)["runs equal to sequential"]) == [1, 0]
    assert verification_table(local_runs) is None


def read_outputs_of_sequential(cfg):
    from mrkit.app import load_app
    from mrkit.job import resolve_inputs
    from mrkit.verify import reference

    return reference(load_app("wc"), resolve_inputs(cfg.input_paths()))


def test_the_sweep_notebook_runs_an_ecs_sweep(settings, tmp_path):
    out, results = tmp_path / "out.ipynb", tmp_path / "results"
    options = json.dumps({"settings": str(settings), "stand_in": True, "poll_s": 0.2})
    command = [
        sys.executable,
        "-m",
        "papermill",
        "notebooks/sweep.ipynb",
        str(out),
        "-p",
        "sweep",
        "mappers_ecs",
        "-p",
        "quick",
        "True",
        "-p",
        "results_dir",
        str(results),
        "-p",
        "checks",
        "False",
        "-y",
        f"backend_options: {options}",
        "--no-progress-bar",
    ]
    done = subprocess.run(command, cwd=sweep_config.REPO_ROOT, capture_output=True, text=True, timeout=200)
    assert done.returncode == 0, done.stderr[-3000:]
    nb = nbformat.read(out, as_version=4)
    images = [
        o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", []) if "image/png" in o.get("data", {})
    ]
    assert len(images) >= 2, "the speedup and Amdahl figures are drawn from the ECS runs"
    runs = pd.read_csv(next((results / "mappers_ecs").glob("*/runs.csv")))
    assert set(runs["backend"]) == {"ecs"} and len(runs) == 2

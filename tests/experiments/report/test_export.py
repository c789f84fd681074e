"""The report's sweeps before rendering: one bar of runs done / total, and --resume reusing finished runs."""

import csv
import json
import os

import pytest

from mrkit.experiments.report import export
from mrkit.experiments.sweeps import sweep_config

pytestmark = pytest.mark.timeout(120)


def quick_configs(tmp_path):
    """Two quick sweeps (2 configurations x 1 repeat each) in one results directory."""
    results = str(tmp_path / "results")
    return [
        sweep_config.load_sweep("map_sweep", quick=True, results_dir=results, warmup=False),
        sweep_config.load_sweep("reduce_sweep", quick=True, results_dir=results, warmup=False),
    ]


def rows(path):
    with open(path / "runs.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_the_report_sweeps_share_one_bar_of_runs_done_over_total(tmp_path, capsys):
    configs = quick_configs(tmp_path)
    total = 3  # (M, R) = (5, 5), (10, 10) and (10, 5), which both sweeps have and which is measured once
    dirs = export.run_report_sweeps(configs, progress=True, log=None)
    bar = capsys.readouterr().err
    assert f"{total}/{total} runs" in bar, bar[-500:]
    assert "map_sweep: M=" in bar and "reduce_sweep: M=" in bar, "the bar names the configuration running"
    assert "map_sweep, reduce_sweep: M=10 R=5" in bar, "and the sweeps a shared one is measured for"
    assert "left]" in bar
    assert [len(rows(d)) for d in dirs] == [len(c.configurations()) * c.repeats for c in configs]


def test_the_plan_s_lab_sweeps_run_interleaved_and_the_rest_after_them_on_their_own(tmp_path):
    results = str(tmp_path / "results")
    configs = [
        sweep_config.load_sweep("map_sweep", quick=True, results_dir=results, warmup=False),
        sweep_config.load_sweep("stragglers", quick=True, results_dir=results, warmup=False, workers=[2]),
        sweep_config.load_sweep("pairs_wc", quick=True, results_dir=results, warmup=False),
    ]
    assert {"map_sweep", "pairs_wc", "calibrate"} <= export.INTERLEAVED_SWEEPS and "stragglers" not in export.INTERLEAVED_SWEEPS
    dirs = export.run_report_sweeps(configs, progress=False, log=None, seed=11)
    assert [d.parent.name for d in dirs] == ["map_sweep", "stragglers", "pairs_wc"]
    metas = [json.loads((d / "meta.json").read_text()) for d in dirs]
    assert metas[0]["order"]["seed"] == metas[2]["order"]["seed"] == 11
    assert metas[0]["order"]["interleaved"] == ["map_sweep", "pairs_wc"] and "order" not in metas[1]
    assert metas[0]["shared"] == {"m5-r5-w5": ["pairs_wc"]}
    lab = {r["run_id"]: int(r["position"]) for d in (dirs[0], dirs[2]) for r in rows(d)}
    assert sorted(lab.values()) == list(range(3)), "(1, 1), (10, 5) and the shared (5, 5)"
    assert all(r["position"] == "" for r in rows(dirs[1]))
    assert metas[1]["start"] >= metas[0]["sessions"][-1]["end"], "the straggler study ran after the interleaved runs"


@pytest.mark.slow
def test_resume_reuses_finished_runs_and_runs_only_what_is_missing(tmp_path):
    configs = quick_configs(tmp_path)
    first = export.run_report_sweeps(configs, progress=False, log=None)
    before = [rows(d) for d in first]

    said = []
    again = export.run_report_sweeps(configs, resume=True, progress=False, log=said.append)
    assert again == first, "resume continues the same directories"
    assert [rows(d) for d in again] == before, "no run is measured twice"
    total = sum(len(r) for r in before) - 1  # the one run of (10, 5), recorded in both sweeps, is one run
    assert said == [f"resuming: {total} of {total} runs already measured (2 of 2 sweeps have earlier results)"]

    # drop the second sweep's run of its own (10, 10) (as an interrupted report would leave it): only it runs again
    (dropped,) = [r for r in before[1] if r["config_id"] == "m10-r10-w10"]
    kept = [r for r in before[1] if r is not dropped]
    with open(first[1] / "runs.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(kept[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(kept)
    said.clear()
    export.run_report_sweeps(configs, resume=True, progress=False, log=said.append)
    assert said == [f"resuming: {total - 1} of {total} runs already measured (2 of 2 sweeps have earlier results)"]
    after = rows(first[1])
    assert after[:-1] == kept and after[-1]["config_id"] == dropped["config_id"]
    assert after[-1]["run_id"] != dropped["run_id"]

    fresh = export.run_report_sweeps(configs, resume=False, progress=False, log=None)
    assert all(f != d for f, d in zip(fresh, first)), "without resume every sweep starts a new directory"


@pytest.mark.notebook
def test_the_report_s_kernel_is_reached_over_local_sockets_and_says_nothing_on_the_terminal(tmp_path, capfd):
    """Over TCP its kernel printed a warning that all traffic was unencrypted and open to eavesdropping."""
    nbformat = pytest.importorskip("nbformat")
    source = tmp_path / "transport.ipynb"
    cell = "from ipykernel.connect import get_connection_info\nprint(get_connection_info(unpack=True)['transport'])"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(cell)]), source)
    export.execute_notebook(source, tmp_path / "ran.ipynb", {}, cwd=tmp_path)
    ran = nbformat.read(tmp_path / "ran.ipynb", as_version=4)
    assert ran.cells[0].outputs[0]["text"].strip() == ("ipc" if os.name == "posix" else "tcp")
    assert "without encryption" not in capfd.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ran.ipynb", "transport.ipynb"], "no socket file left behind"

"""The report's sweeps before rendering: one bar of runs done / total, and --resume reusing finished runs."""

import csv

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
    total = sum(len(c.configurations()) * c.repeats for c in configs)
    dirs = export.run_report_sweeps(configs, progress=True, log=None)
    bar = capsys.readouterr().err
    assert f"{total}/{total} runs" in bar, bar[-500:]
    assert "map_sweep: M=" in bar and "reduce_sweep: M=" in bar, "the bar names the configuration running"
    assert "left]" in bar
    assert [len(rows(d)) for d in dirs] == [len(c.configurations()) * c.repeats for c in configs]


def test_resume_reuses_finished_runs_and_runs_only_what_is_missing(tmp_path):
    configs = quick_configs(tmp_path)
    first = export.run_report_sweeps(configs, progress=False, log=None)
    before = [rows(d) for d in first]

    said = []
    again = export.run_report_sweeps(configs, resume=True, progress=False, log=said.append)
    assert again == first, "resume continues the same directories"
    assert [rows(d) for d in again] == before, "no run is measured twice"
    total = sum(len(r) for r in before)
    assert said == [f"resuming: {total} of {total} runs already measured (2 of 2 sweeps have earlier results)"]

    # drop the last run of the second sweep (as an interrupted report would leave it): only that one runs again
    kept = before[1][:-1]
    with open(first[1] / "runs.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(kept[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(kept)
    said.clear()
    export.run_report_sweeps(configs, resume=True, progress=False, log=said.append)
    assert said == [f"resuming: {total - 1} of {total} runs already measured (2 of 2 sweeps have earlier results)"]
    after = rows(first[1])
    assert after[:-1] == kept and after[-1]["config_id"] == before[1][-1]["config_id"]
    assert after[-1]["run_id"] != before[1][-1]["run_id"]

    fresh = export.run_report_sweeps(configs, resume=False, progress=False, log=None)
    assert all(f != d for f, d in zip(fresh, first)), "without resume every sweep starts a new directory"

"""notebooks/sweep.ipynb through papermill, as the README's contract runs it, and its parameters' meaning.

The papermill runs use the quick sweeps (a 2 x 16 KiB corpus, two
configurations, one repeat) with results in tmp_path: seconds each, mostly
papermill's kernel start.
"""

import importlib.util
import re
import subprocess
import sys
import time

import nbformat
import pandas as pd
import pytest
import yaml

from mrkit.experiments.report import export
from mrkit.experiments.report import notebook_report as nr
from mrkit.experiments.sweeps import sweep_config

ROOT = sweep_config.REPO_ROOT
NOTEBOOK = ROOT / "notebooks" / "sweep.ipynb"
REQUIRED = ["app", "sweep", "repeats", "inputs", "workers", "backend", "results_dir", "quick"]


def outputs(nb):
    return [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]


def markdown_outputs(nb):
    return "\n".join(o["data"]["text/markdown"] for o in outputs(nb) if "text/markdown" in o.get("data", {}))


def test_the_committed_notebooks_are_what_build_py_writes(tmp_path):
    spec = importlib.util.spec_from_file_location("notebooks_build", ROOT / "notebooks" / "build.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    build.build(tmp_path)
    for name in build.NOTEBOOKS:
        assert (tmp_path / name).read_text() == (ROOT / "notebooks" / name).read_text(), (
            f"notebooks/{name} differs from what notebooks/build.py writes: run python notebooks/build.py"
        )


def test_first_code_cell_is_tagged_parameters_and_names_them_all():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    first = next(c for c in nb.cells if c.cell_type == "code")
    assert "parameters" in first.metadata.get("tags", [])
    assigned = set(re.findall(r"^(\w+) = ", first.source, flags=re.M))
    assert set(REQUIRED) <= assigned
    assert nb.metadata.kernelspec.name == "python3"
    assert not outputs(nb), "the notebook is stored without outputs"


@pytest.mark.notebook
@pytest.mark.timeout(150)
@pytest.mark.parametrize("app, sweep, checks", [("wc", "map_sweep", True), ("indexer", "pairs_indexer", False)])
def test_papermill_runs_the_sweep_notebook_from_the_repo_root(app, sweep, checks, tmp_path):
    # The README's command, with the quick sweep and results in tmp_path.
    out, results = tmp_path / "out.ipynb", tmp_path / "results"
    command = [
        sys.executable,
        "-m",
        "papermill",
        "notebooks/sweep.ipynb",
        str(out),
        "-p",
        "app",
        app,
        "-p",
        "quick",
        "True",
        "-p",
        "results_dir",
        str(results),
        "-p",
        "checks",
        str(checks),
        "--no-progress-bar",
    ]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=140)
    assert done.returncode == 0, done.stderr[-3000:]

    nb = nbformat.read(out, as_version=4)
    assert nb.metadata.papermill.parameters["app"] == app
    images = [o for o in outputs(nb) if "image/png" in o.get("data", {})]
    assert len(images) >= 2
    text = markdown_outputs(nb)
    # The trend is told in measured seconds, whatever its shape (rises, falls, stays flat).
    assert re.search(r"End-to-end time [^.\n]*\d\.\d+ (?:s|and)|\(\d+, \d+\) at \d\.\d+ s", text), text
    assert re.search(r"Fastest measured:\*\* M=\d+, R=\d+, W=\d+ at [0-9.]+ s", text)
    assert ("## Correctness" in text) == checks and ("## Fault tolerance" in text) == checks
    if checks:
        assert "The output is exact: the same " in text and "The output is still exact" in text
    # `jupyter nbconvert --no-input` of papermill's output: the notebook-only cells (usage notes, the raw frames) stay out
    from nbconvert import HTMLExporter

    html, _ = HTMLExporter(exclude_input=True).from_notebook_node(nb)
    assert "Run it from the repo root" not in html and "for your own analysis" not in html
    assert 'class="dataframe"' not in html  # the cut-off DataFrame of every run

    runs_csv = list((results / sweep).glob("*/runs.csv"))
    assert len(runs_csv) == 1
    runs = pd.read_csv(runs_csv[0])
    assert set(runs["app"]) == {app} and len(runs) == 2 and (runs["end_to_end_s"] > 0).all()
    assert (runs_csv[0].parent / "tasks.csv").exists()


# ---- what the parameters mean (no kernel needed)


def test_an_app_alone_runs_its_usual_sweep_and_a_sweep_alone_keeps_its_app():
    assert [(c.name, c.app) for c in nr.sweep_plan(app="indexer")] == [("pairs_indexer", "indexer")]
    assert [(c.name, c.app) for c in nr.sweep_plan()] == [("map_sweep", "wc")]
    assert [(c.name, c.app) for c in nr.sweep_plan(sweep="pairs_indexer")] == [("pairs_indexer", "indexer")]
    assert [(c.name, c.app) for c in nr.sweep_plan("indexer", ["map_sweep", "reduce_sweep"])] == [
        ("map_sweep", "indexer"),
        ("reduce_sweep", "indexer"),
    ]


def test_none_keeps_the_yaml_value_and_overrides_apply_to_every_sweep(tmp_path):
    (tmp_path / "a.txt").write_text("one two")
    (cfg,) = nr.sweep_plan(
        sweep="map_sweep", quick=True, repeats=None, workers=2, inputs=str(tmp_path), results_dir=str(tmp_path)
    )
    assert cfg.repeats == 1 and cfg.n_map == (5, 10) and cfg.workers == (2,)
    assert cfg.inputs == (str(tmp_path / "a.txt"),) and cfg.results_dir == str(tmp_path)


def test_a_sweep_file_given_with_f_runs_as_written_under_its_own_name():
    # `papermill ... -f params/mappers.yaml` injects the file's keys, its quick block included.
    values = yaml.safe_load((ROOT / "params" / "mappers.yaml").read_text())
    (cfg,) = nr.sweep_plan(**values)
    assert cfg.name == "mappers" and cfg.n_map == tuple(range(1, 9)) and cfg.n_reduce == (1,)
    assert cfg.repeats == values["repeats"]


def test_a_plan_gives_each_sweep_its_own_app_and_settings():
    from mrkit.experiments.sweeps.sweep_config import load_sweep

    plan = export.report_plan(quick=False)
    configs = nr.sweep_plan(plan=plan, results_dir="elsewhere")
    local = [(app, name) for app, name, _ in export.REPORT_PLAN if name not in export.STAND_IN_SWEEPS]
    assert [c.name for c in configs] == [name for _, name in local]
    assert all(c.app == app for c, (app, _) in zip(configs, local) if app)
    # on the stand-in (what `make report` runs) the ECS study joins, with the plan's own overrides
    stand_in = nr.sweep_plan(plan=export.report_plan(quick=False, stand_in=True), results_dir="elsewhere")
    assert [c.name for c in stand_in] == [name for _, name, _ in export.REPORT_PLAN]
    ecs = stand_in[-1]
    assert (ecs.name, ecs.backend, ecs.repeats, ecs.backend_options.get("verify")) == ("mappers_ecs", "ecs", 1, True)
    assert all(not c.warmup and c.results_dir == "elsewhere" for c in configs)
    by = {c.name: c for c in configs}
    # The lab's four questions on their exact grids, at the sweep files' own corpus and repeats.
    assert by["map_sweep"].n_map == (5, 10, 15, 20, 50, 100) and by["reduce_sweep"].n_reduce == (5, 10, 15, 20, 50, 100)
    for name in ("map_sweep", "reduce_sweep", "pairs_wc", "pairs_indexer", "mappers"):
        own = load_sweep(name)
        assert by[name].configurations() == own.configurations() and by[name].corpus == own.corpus, name
        assert by[name].repeats == own.repeats == 3, name
    assert len(by["pairs_wc"].configurations()) == len(by["pairs_indexer"].configurations()) == 11
    assert {"calibrate", "stragglers"} <= set(by)
    quick = nr.sweep_plan(plan=export.report_plan(quick=True), quick=True)
    assert all(c.repeats == 1 for c in quick)


def test_a_sweep_outside_the_report_plan_keeps_its_own_settings():
    ecs, calibrate = nr.sweep_plan(plan=export.report_plan(sweeps=["mappers_ecs"]))
    assert (ecs.backend, ecs.corpus.size, ecs.warmup) == ("ecs", 64 * 2**20, False)
    assert (calibrate.name, calibrate.backend) == ("calibrate", "local")  # the ECS what-if needs the cost model
    (lab,) = nr.sweep_plan(plan=export.report_plan(sweeps=["map_sweep"]))
    assert lab.repeats == 3 and lab.n_map == (5, 10, 15, 20, 50, 100) and not lab.warmup


@pytest.mark.notebook
def test_reload_shows_stored_results_without_running(tmp_path, corpus):
    from mrkit.experiments.sweeps import sweep

    (cfg,) = nr.sweep_plan(sweep="map_sweep", quick=True, inputs=corpus[:2], results_dir=str(tmp_path))
    began = time.monotonic()
    path = sweep.run_sweep(cfg, progress=False)
    took = time.monotonic() - began
    (again,) = nr.run_sweeps([cfg], reload="latest")
    # Reloaded, the sweep's time is the one its meta.json recorded (whole seconds), not the reload's.
    assert again.path == path and len(again.runs) == 2 and 0 <= again.seconds <= took + 1
    with pytest.raises(sweep_config.SweepError):
        nr.run_sweeps([cfg, cfg], reload=[str(path)])


@pytest.mark.notebook
@pytest.mark.timeout(150)
def test_under_papermill_the_sweeps_progress_reaches_the_terminal_and_not_the_notebook(tmp_path):
    # papermill run from a terminal (its stderr a pseudo-terminal, as in a shell): the bar of runs is drawn
    # there, while the sweep runs; the notebook's outputs do not hold it.
    import os
    import pty

    out, results = tmp_path / "out.ipynb", tmp_path / "results"
    command = [
        sys.executable,
        "-m",
        "papermill",
        "notebooks/sweep.ipynb",
        str(out),
        "-p",
        "sweep",
        "map_sweep",
        "-p",
        "quick",
        "True",
        "-p",
        "results_dir",
        str(results),
        "-p",
        "checks",
        "False",
        "--no-progress-bar",
    ]
    terminal, attached = pty.openpty()
    # As from a shell: without pytest's variable, which turns off ipykernel's capture of descriptors.
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    with subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=attached) as done:
        os.close(attached)
        seen = b""
        while True:
            try:
                chunk = os.read(terminal, 65536)
            except OSError:  # EIO: every process holding the terminal has closed it
                break
            if not chunk:
                break
            seen += chunk
        os.close(terminal)
        assert done.wait(timeout=30) == 0, seen.decode(errors="replace")[-3000:]
    shown = seen.decode(errors="replace")
    assert re.search(r"2/2 runs \|.*\| map_sweep: M=\d+", shown), shown[-3000:]
    assert "map_sweep: M=" in shown, "the bar names the configuration running"
    stored = "\n".join(str(o) for o in outputs(nbformat.read(out, as_version=4)))
    assert "runs |" not in stored, "the bar stays out of the notebook"

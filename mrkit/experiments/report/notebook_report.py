"""The sweep notebook's helpers: what `notebooks/sweep.ipynb` calls, so the notebook stays a few lines.

`sweep_plan` turns the notebook's parameters into SweepConfigs, `run_sweeps`
runs (or reloads) them, `show_header` / `show_sweep` (display.py) show each
sweep's report text, table and figures, and `show_checks` (checks.py) the
correctness and fault-tolerance checks. `build_report` (export.py) runs the
notebook with papermill into one HTML file. Each name has one home: the
notebook imports display and checks itself.

Every number shown comes from the runs/tasks frames (via `report`, `analysis`
and `plots`); nothing here computes statistics of its own.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from importlib import resources

import pandas as pd
import yaml

from mrkit.experiments.sweeps import results, sweep, sweep_config
from mrkit.experiments.sweeps.sweep_config import REPO_ROOT, SweepConfig
from mrkit.job import resolve_inputs

# Package data, read with importlib.resources (the repo's notebooks/ links to the notebook).
SWEEP_NOTEBOOK = pathlib.Path(str(resources.files("mrkit") / "notebooks" / "sweep.ipynb"))
DEFAULT_SWEEP = {"indexer": "pairs_indexer"}  # any other app: map_sweep


def work_from_repo_root():
    """chdir to the repo root when a kernel started in notebooks/ (JupyterLab does that).

    The notebooks' relative paths (results/, params/) mean the repo root, which
    is where papermill runs them from. Outside a checkout (mrkit installed) the
    working directory stays as it is.
    """
    if REPO_ROOT is None:
        return
    here = pathlib.Path.cwd().resolve()
    if here in (REPO_ROOT / "notebooks", SWEEP_NOTEBOOK.parent.resolve()):  # the links, or the package's copy
        os.chdir(REPO_ROOT)


def _expand_inputs(inputs):
    """A path or list of paths (directories expanded to their files) -> list of paths, or None."""
    if inputs is None:
        return None
    given = [inputs] if isinstance(inputs, (str, os.PathLike)) else list(inputs)
    return [item.path for item in resolve_inputs(given)]


def _named_like(description):
    """The params/ sweep whose description this is (a `-f params/X.yaml` run keeps X's name), else "custom"."""
    for path in sorted(sweep_config.PARAMS_DIR.glob("*.yaml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        if isinstance(doc, dict) and description and doc.get("description") == description:
            return path.stem
    return "custom"


def sweep_plan(app=None, sweep=None, *, plan=None, quick=False, **overrides) -> list[SweepConfig]:
    """The notebook's parameters as SweepConfigs, one per sweep to run.

    `sweep` is a name in params/ or a YAML path, or a list of them; None means
    the app's usual sweep (DEFAULT_SWEEP, else map_sweep), unless `overrides`
    define a grid themselves (n_map, n_reduce or pairs: what `papermill -f
    params/X.yaml` injects), which then runs as given. `app` None keeps each
    YAML's app. `plan` (a list of {"sweep": ..., "app": ..., other keys}) lists
    the sweeps explicitly, each with its own overrides, for several apps in one
    report. `overrides` (repeats, inputs, workers, backend, results_dir, any
    SweepConfig key) apply to every sweep; None values are ignored, so a
    parameter left at None keeps the YAML's value. `quick` is a sweep's quick
    variant when True; a dict (a sweep file's `quick:` block, injected by -f) is ignored.
    """
    quick = quick is True
    common = {k: v for k, v in overrides.items() if v is not None}
    if "inputs" in common:
        common["inputs"] = _expand_inputs(common["inputs"])
    if plan is None and sweep is None and {"n_map", "n_reduce", "pairs"} & set(common):
        values = {**common, **({"app": app} if app is not None else {})}
        return [SweepConfig.from_dict({"name": _named_like(common.get("description")), **values})]
    if plan is None:
        names = sweep if sweep is not None else DEFAULT_SWEEP.get(app, "map_sweep")
        names = [names] if isinstance(names, (str, os.PathLike)) else list(names)
        plan = [{"sweep": str(name), **({"app": app} if app is not None else {})} for name in names]
    configs = []
    for item in plan:
        item = dict(item)
        name = item.pop("sweep")
        configs.append(sweep_config.load_sweep(name, quick=quick, **{**common, **item}))
    return configs


@dataclass
class SweepResult:
    """One sweep's frames, where they are stored, and how long running it took (None: reloaded)."""

    config: SweepConfig
    path: pathlib.Path
    runs: pd.DataFrame
    tasks: pd.DataFrame
    meta: dict
    seconds: float | None = None  # None: not known (a sweep stored by an older mrkit, or still running)


@contextlib.contextmanager
def terminal_bar(configs):
    """One bar of the sweeps' runs on the terminal the notebook's runner was started from, or None.

    Inside a kernel, `sys.stderr.fileno()` is ipykernel's copy of the kernel's original stderr
    (papermill's, when papermill runs the notebook): what is written there reaches that terminal and
    stays out of the notebook's outputs. Where ipykernel does not capture the descriptors (it does not
    under pytest) that stderr is `sys.__stderr__`. No bar when it is not a terminal (a log file, CI).
    """
    try:
        try:
            descriptor = sys.stderr.fileno()
        except (OSError, ValueError, AttributeError):  # an OutStream that captures no descriptor
            descriptor = sys.__stderr__.fileno()
        stream = os.fdopen(os.dup(descriptor), "w")
    except (OSError, ValueError, AttributeError):  # no descriptor behind stderr at all
        yield None
        return
    with stream:
        if not stream.isatty():
            yield None
            return
        bar = sweep.runs_bar(sum(len(cfg.configurations()) * cfg.repeats for cfg in configs), desc="sweeps", file=stream)
        try:
            yield bar
        finally:
            bar.close()


def run_sweeps(configs, reload=None, progress=False) -> list[SweepResult]:
    """Run each sweep (or reload stored results) and load its frames.

    `reload`: None runs every sweep into a new results directory; "latest"
    reloads each sweep's newest results under its results_dir; a path (or a
    list of paths, one per sweep) reloads those directories. `progress`: True
    draws a bar where the sweep runs (a widget in a notebook), "terminal" one bar
    on the terminal papermill runs in (`terminal_bar`), False none.
    """
    if reload is not None and not isinstance(reload, str) and len(reload) != len(configs):
        raise sweep_config.SweepError(f"reload lists {len(reload)} directories for {len(configs)} sweeps")
    out = []
    shown = terminal_bar(configs) if progress == "terminal" and reload is None else contextlib.nullcontext(progress)
    with shown as bar:
        for i, cfg in enumerate(configs):
            began, seconds = time.perf_counter(), None
            if reload is None:
                path = sweep.run_sweep(cfg, progress=False if bar is None else bar)
                seconds = time.perf_counter() - began
            elif reload == "latest":
                path = results.latest(cfg.results_dir, cfg.name)
            else:
                path = pathlib.Path(reload if isinstance(reload, str) else reload[i])
            runs, tasks, meta = results.load_results(path)
            if runs.empty:
                raise sweep_config.SweepError(f"{path} holds no runs")
            out.append(SweepResult(cfg, path, runs, tasks, meta, recorded_seconds(meta) if seconds is None else seconds))
    return out


def recorded_seconds(meta) -> float | None:
    """How long a stored sweep ran: its sessions' (start, end) spans summed, so a resumed sweep
    counts the time of each session and not the pause between them; None if a session never ended."""
    spans = [(s.get("start"), s.get("end")) for s in meta.get("sessions", [])]
    if not spans or any(end is None for _, end in spans):
        return None
    return sum((datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds() for start, end in spans)


def frames(results):
    """(runs, tasks) of every sweep in one pair of DataFrames, for your own analysis."""
    return (pd.concat([r.runs for r in results], ignore_index=True), pd.concat([r.tasks for r in results], ignore_index=True))

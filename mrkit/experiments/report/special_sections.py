"""The sections of sweeps that answer no report question: calibration, stragglers and engines.

`show_sweep` (display.py) shows a sweep's section from `SPECIAL_SECTIONS` when
its meaning (meaning.Sweep.section) is not "question". The calibration
sweep's model (`calibration_for`) is also what the question sections'
answers and the ECS discussion predict with.
"""

from __future__ import annotations

import pandas as pd

from mrkit.experiments import formatting, meaning
from mrkit.experiments.model import calibration, prediction
from mrkit.experiments.report import engines, plots, show, stragglers, summary


def calibration_for(results):
    """The cost model calibrated on the report's calibration sweep (else on every local sweep), or None."""
    chosen = [r for r in results if r.config.name == meaning.CALIBRATION_SWEEP] or [
        r for r in results if r.config.backend == "local"
    ]
    if not chosen:
        return None
    try:
        # a run two sweeps share (sweeps/interleave.py) is recorded in both: fitted once
        runs = pd.concat([r.runs for r in chosen], ignore_index=True).drop_duplicates("run_id")
        tasks = pd.concat([r.tasks for r in chosen], ignore_index=True)
        return calibration.calibrate(runs, tasks.drop_duplicates(["run_id", "phase", "task", "attempt"]))
    except calibration.ModelError:
        return None


def show_calibration(result):
    """What the calibration sweep is for, and the model's error on its own runs."""
    cal = calibration_for([result])
    err = prediction.compare(cal, result.path) if cal is not None else None
    text = (
        f"## {summary.CALIBRATION_HEADING}\n\nThese runs are not a lab question: small jobs chosen to separate the "
        "model's terms (per-task overhead, per intermediate file, per byte and record, per key of a map task's "
        "input pieces and of those it joins where it crosses a file's end, worker start-up, contention between "
        "tasks running side by side). The model "
        "fitted to them predicts every other section's times and what they would be on 8 to 100 cores. "
    )
    if err and err["median_abs_error_pct"] is not None:
        text += (
            f"On these {formatting.plural(len(result.runs), 'run')} its median error is "
            f"{formatting.num(err['median_abs_error_pct'])}% (at most {formatting.num(err['max_abs_error_pct'])}%)."
        )
    show.show_markdown(text)


def show_stragglers(result, dpi=100):
    """The straggler study: table, the paper-terms text, and the worst case's timeline without and with backups."""
    table = stragglers.study_table(result.runs, result.tasks)
    show.show_markdown(f"## {summary.STRAGGLERS_HEADING}\n\n" + stragglers.study_text(table))
    shown = table[
        [
            "workers",
            "slowdown",
            "backup_tasks",
            "repeats",
            "end_to_end_s",
            "saved_pct",
            "backups",
            "lost_attempts",
            "lost_cpu_s",
            "extra_cpu_pct",
        ]
    ]
    shown.columns = [
        "W",
        "slowdown F",
        "policy",
        "runs",
        "end-to-end (s)",
        "saved (%)",
        "backup attempts",
        "attempts lost",
        "CPU s lost",
        "extra CPU (%)",
    ]
    counts = {
        "slowdown F": "{:g}",
        "backup attempts": "{:g}",
        "attempts lost": "{:g}",
        "saved (%)": "{:.1f}",
        "extra CPU (%)": "{:.1f}",
    }
    show.show(show.styled(shown, counts))
    runs = result.runs.assign(backup_tasks=result.runs["backup_tasks"].fillna("none").astype(str))
    worst = runs[runs["slowdown"] == runs["slowdown"].max()]
    w = int(worst["workers"].min())
    worst = worst[worst["workers"] == w]
    f = float(worst["slowdown"].iloc[0])
    rows = table[(table["workers"] == w) & (table["slowdown"] == f) & (table["backup_tasks"] != "none")]
    policy = rows.loc[rows["end_to_end_s"].idxmin(), "backup_tasks"] if len(rows) else None
    for name in ("none", policy):
        pick = worst[worst["backup_tasks"] == name]
        if name is None or pick.empty:
            continue
        title = f"W={w}, one worker {f:g}x slower, " + ("no backups" if name == "none" else f"backups: {name}")
        show.show(plots.figure_image(plots.timeline_plot(result.tasks, pick["run_id"].iloc[0], title=title), dpi))


def show_engines(result, dpi=100):
    """The engine comparison: the text, per-engine and per-configuration tables, the crash runs and one figure."""
    runs, tasks = result.runs, result.tasks
    show.show_markdown(f"## {engines.HEADING}\n\n" + engines.engines_text(runs, tasks))
    table = engines.engine_table(runs, tasks)
    table = table.assign(gap_ms=table["gap_s"] * 1000)[["backend", "runs", "startup_s", "gap_ms", "gaps"]]
    table.columns = ["backend", "runs", "start-up (s)", "median task gap (ms)", "gaps"]
    show.show(show.styled(table, {"gaps": "{:g}"}))
    e2e = engines.end_to_end_table(runs).rename(columns={"n_map": "M", "n_reduce": "R", "workers": "W"})
    show.show(show.styled(e2e))
    crash = engines.crash_table(runs, tasks)
    if len(crash):
        crash.columns = ["backend", "crash app end-to-end (s)", "attempts", "attempts lost", "tasks re-run"]
        show.show(show.styled(crash))
    show.show(plots.figure_image(engines.figure(runs, tasks), dpi))


# The sections of sweeps that answer no report question (meaning.Sweep.section), by kind.
SPECIAL_SECTIONS = {
    "calibration": lambda result, dpi: show_calibration(result),
    "stragglers": show_stragglers,
    "engines": show_engines,
}

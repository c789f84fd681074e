"""The engine comparison's numbers and sentences: local, dask and dask-tasks on the same jobs.

A pure function of an engine sweep's runs and tasks frames (`params/
engines.yaml`: each configuration on each backend, plus one crash-app run per
backend). Per engine: worker start-up (the run's `startup_s`, launch to the
first task's start), per-task overhead (`task_gaps`: on each worker, the gap
between one attempt's end and its next attempt's start in the same phase, so
the wait at the map barrier is not counted), end-to-end time per (M, R, W)
and the crash run's time, attempts lost and tasks re-run. The tables, the
text and the figure come from the same frames, so they cannot disagree.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from mrkit.experiments.formatting import num, plural

HEADING = "Engines: local, dask and dask-tasks on the same jobs"
WORK_PHASES = ("map", "reduce")
CRASH_APP = "crash"


def task_gaps(tasks: pd.DataFrame) -> pd.DataFrame:
    """Every gap between an attempt ending and the next attempt starting on the same worker, in the same phase.

    Columns run_id, worker, phase, gap_s. Attempts are ordered by start; a
    worker's first attempt of a phase has no gap.
    """
    work = tasks[tasks["phase"].isin(WORK_PHASES)].sort_values(["run_id", "worker", "phase", "start"])
    previous_end = work.groupby(["run_id", "worker", "phase"])["end"].shift()
    gaps = work.assign(gap_s=work["start"] - previous_end).dropna(subset=["gap_s"])
    return gaps[["run_id", "worker", "phase", "gap_s"]].reset_index(drop=True)


def _order(backends) -> list:
    known = ("local", "dask", "dask-tasks")
    return sorted(backends, key=lambda b: (known.index(b) if b in known else len(known), b))


def engine_table(runs: pd.DataFrame, tasks: pd.DataFrame) -> pd.DataFrame:
    """One row per backend (the crash runs left out): median start-up, median task gap and its count, runs."""
    runs = runs[runs["app"] != CRASH_APP]
    gaps = task_gaps(tasks[tasks["run_id"].isin(runs["run_id"])]).merge(runs[["run_id", "backend"]], on="run_id")
    table = runs.groupby("backend").agg(runs=("run_id", "size"), startup_s=("startup_s", "median"))
    table = table.join(gaps.groupby("backend")["gap_s"].agg(gap_s="median", gaps="size"))
    table = table.fillna({"gaps": 0}).reset_index()
    return table.set_index("backend").loc[_order(table["backend"])].reset_index()


def end_to_end_table(runs: pd.DataFrame) -> pd.DataFrame:
    """End-to-end seconds (median over repeats), one row per (M, R, W), one column per backend."""
    runs = runs[runs["app"] != CRASH_APP]
    table = runs.pivot_table(index=["n_map", "n_reduce", "workers"], columns="backend", values="end_to_end_s", aggfunc="median")
    return table[_order(table.columns)].reset_index().rename_axis(columns=None)


def crash_table(runs: pd.DataFrame, tasks: pd.DataFrame) -> pd.DataFrame:
    """One row per backend's crash run: end-to-end seconds, attempts lost (not ok) and tasks that ran again."""
    crash = runs[runs["app"] == CRASH_APP]
    work = tasks[tasks["run_id"].isin(crash["run_id"]) & tasks["phase"].isin(WORK_PHASES)]
    lost = work[work["status"] != "ok"].groupby("run_id").size().rename("lost_attempts")
    rerun = (work.groupby(["run_id", "phase", "task"])["attempt"].max() > 1).groupby("run_id").sum().rename("rerun_tasks")
    attempts = work.groupby("run_id").size().rename("attempts")
    table = crash.set_index("run_id")[["backend", "end_to_end_s"]].join([attempts, lost, rerun])
    table = table.fillna({"attempts": 0, "lost_attempts": 0, "rerun_tasks": 0}).astype(
        {"attempts": int, "lost_attempts": int, "rerun_tasks": int}
    )
    return table.set_index("backend").loc[_order(table["backend"])].reset_index()


def engines_text(runs: pd.DataFrame, tasks: pd.DataFrame) -> str:
    """The section's sentences, from the three tables."""
    engines, e2e, crash = engine_table(runs, tasks), end_to_end_table(runs), crash_table(runs, tasks)
    if engines.empty:
        return "The engine sweep has no runs of its app to compare."
    lines = [
        f"- **{row['backend']}**: workers start in {num(row['startup_s'])} s ({plural(int(row['runs']), 'run')}); "
        f"per-task overhead {_gap(row)}."
        for _, row in engines.iterrows()
    ]
    fastest = e2e.set_index(["n_map", "n_reduce", "workers"]).idxmin(axis=1)
    wins = (
        [f"{fastest.iloc[0]} in every configuration"]
        if fastest.nunique() == 1 and len(fastest) > 1
        else [f"M={m} R={r} W={w}: {backend}" for (m, r, w), backend in fastest.items()]
    )
    text = (
        "The same app, inputs and storage on each engine. Start-up: launch to first task; per-task overhead: "
        "the median gap between a worker's attempts in one phase.\n\n"
        + "\n".join(lines)
        + "\n\nFastest end to end: "
        + "; ".join(wins)
        + "."
    )
    if len(crash):
        text += (
            "\n\nRecovery from the crash app (one run per engine): "
            + "; ".join(
                f"{row['backend']} took {num(row['end_to_end_s'])} s, lost {plural(row['lost_attempts'], 'attempt')} "
                f"of {row['attempts']} and ran {plural(row['rerun_tasks'], 'task')} again"
                for _, row in crash.iterrows()
            )
            + "."
        )
    return text


def _gap(row) -> str:
    return (
        f"{num(row['gap_s'] * 1000)} ms (median of {plural(int(row['gaps']), 'gap')})"
        if row["gaps"]
        else "– (no worker ran two tasks of a phase)"
    )


def figure(runs: pd.DataFrame, tasks: pd.DataFrame) -> Figure:
    """The engine comparison's figure, from the tables above: start-up, median per-task gap and end-to-end per (M, R, W)."""
    table, e2e = engine_table(runs, tasks), end_to_end_table(runs)
    fig = Figure(figsize=(12.8, 3.8), layout="constrained")
    with sns.axes_style("whitegrid"):
        start_ax, gap_ax, e2e_ax = fig.subplots(1, 3)
    colors = sns.color_palette("colorblind", len(table))
    start_ax.bar(table["backend"], table["startup_s"], color=colors)
    start_ax.set(ylabel="launch to first task (s, median)", title="worker start-up")
    gap_ax.bar(table["backend"], table["gap_s"].fillna(0) * 1000, color=colors)
    gap_ax.set(ylabel="task end to next start on a worker (ms, median)", title="per-task overhead")
    configs = [f"M={m} R={r} W={w}" for m, r, w in zip(e2e["n_map"], e2e["n_reduce"], e2e["workers"])]
    width = 0.8 / max(1, len(table))
    for i, (backend, color) in enumerate(zip(table["backend"], colors)):
        e2e_ax.bar(np.arange(len(configs)) + i * width, e2e[backend], width, label=backend, color=color)
    e2e_ax.set_xticks(np.arange(len(configs)) + width * (len(table) - 1) / 2, configs, fontsize=8)
    e2e_ax.set(ylabel="end-to-end (s)", title="end-to-end time per configuration")
    e2e_ax.legend(fontsize=8)
    fig.suptitle("Engines: worker start-up, per-task overhead and end-to-end time on each backend", fontsize=11)
    return fig

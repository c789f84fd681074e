"""The why of a lab question's answer, from the task records: one figure of four measured panels.

Each panel reads tasks.csv (with runs.csv for the configuration) and answers one
"why" the answers and the summary give: CPU per MiB against map task size (does
a smaller task cost more per byte?), start-up per worker (what each worker adds
before any work), the wait at the map barrier (last map end minus first map end:
the reducers wait for the slowest mapper), and the files per reduce (a reduce
task reads one intermediate file from each of the M map tasks: its time against
M, or against R where M is fixed).
"""

from __future__ import annotations

import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from mrkit.experiments import analysis
from mrkit.experiments.report.plots import (
    CONFIG_BY,
    SERIES_COLORS,
    configuration_title,
    hue_styles,
    interval,
    legend_outside,
    time_axis,
)


def _cpu_per_mib(ax, work):
    sized = work[work["bytes_in"] > 0].assign(mib=lambda f: f["bytes_in"] / 2**20)
    per = sized.groupby("n_map").agg(mib=("mib", "median"), cpu=("cpu_s", "sum"), size=("mib", "sum"))
    ax.plot(per["mib"], per["cpu"] / per["size"], marker="o", color=SERIES_COLORS["measured"])
    for m, row in per.iterrows():
        ax.annotate(f"M={int(m)}", (row["mib"], row["cpu"] / row["size"]), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.set_xscale("log")
    ax.set(xlabel="map task input (MiB, median)", ylabel="CPU s per MiB", title="CPU per MiB vs map task size")


def _start_up(ax, runs):
    per_run = runs.assign(per_worker=runs["startup_s"] / runs["workers"])
    start = analysis.center_interval(per_run, by="workers", metric="per_worker")
    ax.errorbar(start["workers"], start["center"], yerr=interval(start), marker="o", capsize=3, color=SERIES_COLORS["measured"])
    ax.set(xlabel="workers W", ylabel="start-up per worker (s)", title="start-up per worker vs W")


def _barrier(ax, runs, work):
    ends = work.groupby("run_id")["end"].agg(["min", "max"])
    barrier = runs.join((ends["max"] - ends["min"]).rename("barrier_wait_s"), on="run_id").dropna(subset=["barrier_wait_s"])
    x = "n_map" if barrier["n_map"].nunique() > 1 else "workers"
    wait = analysis.center_interval(barrier, by=x, metric="barrier_wait_s")
    ax.errorbar(wait[x], wait["center"], yerr=interval(wait), marker="o", capsize=3, color=SERIES_COLORS["measured"])
    label = {"n_map": "map tasks M", "workers": "workers W"}[x]
    ax.set(xlabel=label, ylabel="last map end − first map end (s)", title=f"wait at the map barrier vs {label[-1]}")


def _files_per_reduce(ax, per):
    """Median reduce task time against the M files it reads, one line per R (against R where M is fixed)."""
    x, hue = ("n_map", "n_reduce") if per["n_map"].nunique() > 1 else ("n_reduce", "n_map")
    groups = list(per.groupby(hue))
    for style, (value, rows) in zip(hue_styles(len(groups)), groups):
        rows = rows.groupby(x, as_index=False)["reduce_s"].median()
        ax.plot(rows[x], rows["reduce_s"], label=f"{'R' if hue == 'n_reduce' else 'M'}={int(value)}", **style)
    time_axis(ax, [per["reduce_s"]])
    if x == "n_map":
        ax.set(xlabel="files each reduce task reads (M)", title="reduce task time vs files it reads (M)")
    else:
        m = int(per["n_map"].iloc[0])
        ax.set(xlabel="reduce tasks R", title=f"reduce task time vs R (each reads M={m} files)")
    ax.set_ylabel("reduce task time (s, median)")
    if len(groups) > 1:
        legend_outside(ax)


def evidence_plot(runs: pd.DataFrame, tasks: pd.DataFrame) -> Figure | None:
    """The why, from the task records: CPU per MiB against map task size, start-up per worker, the wait at
    the map barrier and the reduce task's time against the files it reads. None without map task records."""
    work = tasks[(tasks["phase"] == "map") & (tasks["status"] == "ok")] if len(tasks) else tasks
    if not len(work) or not {"cpu_s", "bytes_in"} <= set(work) or work["cpu_s"].isna().all():
        return None
    work = work.merge(runs[["run_id", *CONFIG_BY]], on="run_id")
    per_reduce = analysis.reduce_task_times(runs, tasks)
    fig = Figure(figsize=(12.8, 7.2), layout="constrained")
    with sns.axes_style("whitegrid"):
        (cpu_ax, start_ax), (wait_ax, reduce_ax) = fig.subplots(2, 2)
    _cpu_per_mib(cpu_ax, work)
    _start_up(start_ax, runs)
    _barrier(wait_ax, runs, work)
    if len(per_reduce):
        _files_per_reduce(reduce_ax, per_reduce)
    else:
        reduce_ax.set_axis_off()
    fig.suptitle(configuration_title(runs, "the why, from the task records"), fontsize=11)
    return fig

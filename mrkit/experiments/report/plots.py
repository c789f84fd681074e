"""Figures of a sweep: each a pure function of the runs/tasks DataFrames returning a Figure.

Figures are built with `matplotlib.figure.Figure` rather than pyplot, so no
global figure state is touched (nothing to close, nothing shown by surprise)
and PNGs are rendered by the Agg canvas whatever backend a notebook uses; a
Figure returned as a cell's last value displays inline in Jupyter. seaborn
provides the style, palette and the heatmap. Error bars are 95% confidence
intervals over repeats (`analysis.summarize`), so a figure and the report
quote the same numbers. Figures assume one app and backend per frame: filter
first when a frame mixes them.
"""

from __future__ import annotations

import io
import pathlib
import textwrap

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from mrkit.experiments import analysis, laws
from mrkit.experiments.report import markdown

LABELS = {
    "n_map": "map tasks M",
    "n_reduce": "reduce tasks R",
    "workers": "workers W",
    "end_to_end_s": "end-to-end time (s)",
    "est_parallel_s": "estimated parallel time (s)",
    "est_serial_s": "estimated serial time (s)",
    "map_wall_s": "map wall time (s)",
}
PHASE_COLORS = dict(zip(("split", "map", "reduce"), sns.color_palette("colorblind", 3)))
STAGE_COLORS = dict(zip(analysis.STAGES, sns.color_palette("colorblind", 4)))
# Attempts that did not end ok are hatched: the time they took was spent for nothing.
STATUS_HATCH = {"ok": None, "failed": "xx", "timed_out": "//", "superseded": ".."}
CONFIG_BY = analysis.CONFIG_BY
# One colour per series across the whole report: measured data, the model here, the model's what-ifs, ceilings.
_PALETTE = sns.color_palette("colorblind", 10)
SERIES_COLORS = {
    "measured": _PALETTE[0],
    "model": _PALETTE[1],
    "model_8": _PALETTE[2],
    "model_16": _PALETTE[4],
    "model_64": _PALETTE[6],
    "model_100": _PALETTE[5],
    "ideal": "grey",
    "cpu": _PALETTE[3],
}
_HUE_MARKERS = "osD^vP*X"


# Lines of one figure that differ by a second parameter (R in the pairs figure): colours far apart in the
# colour-blind palette (shades of one blue could not be told apart), each with its own marker.
_HUE_COLORS = [_PALETTE[i] for i in (0, 1, 2, 4, 6, 8, 9, 5)]


def hue_styles(n):
    """Colour and marker of n measured lines (one per value of a second parameter, e.g. R in the pairs figure)."""
    if n <= 1:
        return [{"color": SERIES_COLORS["measured"], "marker": _HUE_MARKERS[0]}]
    return [{"color": _HUE_COLORS[i % len(_HUE_COLORS)], "marker": _HUE_MARKERS[i % len(_HUE_MARKERS)]} for i in range(n)]


LOG_SPAN = 10  # times spanning more than this factor get a log axis: a linear one squashes the short ones


def time_axis(ax, series):
    """A time axis that shows every series: log when the positive values span more than LOG_SPAN, else from 0."""
    values = np.concatenate([np.asarray(v, dtype=float).ravel() for v in series]) if series else np.array([])
    values = values[np.isfinite(values) & (values > 0)]
    if len(values) and values.max() / values.min() > LOG_SPAN:
        ax.set_yscale("log")
    else:  # from zero, with room above the highest point so none sits on the frame
        ax.set_ylim(0, 1.08 * values.max() if len(values) else None)


def legend_outside(ax, **kwargs):
    """The legend to the right of the axes, where it can never hide a point."""
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1), borderaxespad=0, **kwargs)


def interval(summary: pd.DataFrame):
    """yerr [below, above] for errorbar from center_interval's center/lo/hi (0 where one run gives none)."""
    below = (summary["center"] - summary["lo"]).clip(lower=0).fillna(0)
    above = (summary["hi"] - summary["center"]).clip(lower=0).fillna(0)
    return np.vstack([below.to_numpy(), above.to_numpy()])


def _label(col):
    return LABELS.get(col, col)


def new_figure(width=6.4, height=4.2, integer_x=True):
    """An empty figure in the report's style: white grid, constrained layout, whole numbers on x where asked."""
    with sns.axes_style("whitegrid"):
        fig = Figure(figsize=(width, height), layout="constrained")
        ax = fig.subplots()
    if integer_x:  # M, R and W are counts: no 2.5 workers on the axis
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    return fig, ax


def _varies(runs, col):
    return col in runs and runs[col].nunique() > 1


def _cores(runs, cores=None):
    return int(cores) if cores is not None else analysis.cores_of(runs)


def _errorbar(ax, runs, x, metric, label, **style):
    """Centre of `metric` per x with its 95% interval (center_interval: median or mean, never below 0)."""
    s = analysis.center_interval(runs, by=x, metric=metric)
    ax.errorbar(s[x], s["center"], yerr=interval(s), capsize=3, label=label, **{"marker": "o", **style})
    return s


def _swept_ticks(ax, values, axis="x"):
    """Plain tick labels at the swept values (5, 10, 100), not 6x10^0; log scale when they span 10x."""
    values = sorted({float(v) for v in values})
    if len(values) >= 2 and values[-1] / max(values[0], 1e-9) >= 10:
        (ax.set_xscale if axis == "x" else ax.set_yscale)("log")
    (ax.set_xticks if axis == "x" else ax.set_yticks)(values, [f"{v:g}" for v in values])
    ax.minorticks_off()


def configuration_title(runs: pd.DataFrame, what: str) -> str:
    """'wc, R=5: <what>': the app and the parameters the runs held fixed, so a figure says its configuration."""
    apps = ", ".join(sorted(map(str, runs["app"].unique()))) if "app" in runs else ""
    fixed = [f"{k}={int(runs[c].iloc[0])}" for k, c in zip("MRW", CONFIG_BY) if c in runs and runs[c].nunique() == 1]
    return f"{apps}{', ' if apps and fixed else ''}{' '.join(fixed)}: {what}" if apps or fixed else what


def time_vs(runs: pd.DataFrame, x: str = "n_map", metric: str = "end_to_end_s", hue: str | None = None) -> Figure:
    """Centre `metric` vs `x` (M or R) with 95% intervals; one line per `hue` value.

    hue defaults to the other of n_map / n_reduce when it varies (e.g. pairs):
    points are connected only along x within one hue value, never across them.
    """
    if hue is None:
        other = {"n_map": "n_reduce", "n_reduce": "n_map"}.get(x)
        hue = other if other and _varies(runs, other) else None
    fig, ax = new_figure(integer_x=False)
    groups = list(runs.groupby(hue, sort=True)) if hue else [(None, runs)]
    for (value, group), style in zip(groups, hue_styles(len(groups))):
        label = f"{_label(hue).split()[-1]}={value}" if hue else "measured"
        _errorbar(ax, group, x, metric, label, **style, linestyle="-" if group[x].nunique() > 1 else "none")
    _swept_ticks(ax, runs[x])
    time_axis(ax, [analysis.center_interval(runs, by=x, metric=metric)[["lo", "hi"]].to_numpy(), runs[metric]])
    ax.set(
        xlabel=_label(x),
        ylabel=_label(metric),
        title=configuration_title(runs, f"{_label(metric).split(' (')[0]} vs {_label(x)}"),
    )
    legend_outside(ax, title=_label(hue) if hue else None)
    return fig


def speedup_plot(runs: pd.DataFrame, x: str = "workers", metric: str = "end_to_end_s", cores: int | None = None) -> Figure:
    """Speedup T(smallest x) / T(x), its base case, the ideal, the CPU ceiling and the Amdahl fit (x <= cores only)."""
    sp = analysis.speedup(runs, x=x, metric=metric)
    s = analysis.center_interval(runs, by=x, metric=metric)
    base = float(sp["baseline_x"].iloc[0])
    base_t = float(s.loc[s[x] == base, "center"].iloc[0])
    speed = base_t / s["center"]
    # The interval of the time carries over to the speedup: T_base / hi .. T_base / lo.
    lo = (base_t / s["hi"]).where(s["hi"] > 0)
    hi = (base_t / s["lo"]).where(s["lo"] > 0)
    yerr = np.vstack([(speed - lo).clip(lower=0).fillna(0), (hi - speed).clip(lower=0).fillna(0)])
    fig, ax = new_figure(integer_x=False)
    base_txt = f"{_label(x).split()[-1]}={base:g}"
    ax.errorbar(
        s[x],
        speed,
        yerr=yerr,
        marker="o",
        capsize=3,
        linestyle="none",
        color=SERIES_COLORS["measured"],
        label=f"measured (base case {base_txt}: {base_t:.3g} s)",
    )
    grid = np.unique(np.concatenate([s[x].to_numpy(float), np.linspace(s[x].min(), s[x].max(), 100)]))
    ax.plot(grid, grid / base, linestyle="--", color=SERIES_COLORS["ideal"], label="ideal (linear in W)")
    cores = _cores(runs, cores)
    notes = []
    # Over a base case that already has every core busy (W >= cores) the ceiling depends on how busy the
    # base kept them, which these runs do not say: no line is better than a line at 1 under the points.
    if cores and base < cores:
        ceiling = np.minimum(grid, cores) / base
        ax.plot(grid, ceiling, color=SERIES_COLORS["cpu"], linestyle=":", linewidth=2, label=f"CPU ceiling ({cores} cores)")
    elif cores:
        notes.append(f"no CPU ceiling drawn: the base case already has W ≥ {cores} cores")
    within, why_not = markdown.amdahl_scope(runs, x)
    if within is not None:
        fit = laws.fit_amdahl(within[x], within[metric])
        f_lo, f_hi = fit.ci95
        ci = markdown.fraction_ci(f_lo, f_hi)
        ci = f", CI {ci}" if ci else ""
        inner = grid[grid <= (cores or grid.max())]
        ax.plot(
            inner,
            fit.predict(base).time_s / fit.predict(inner).time_s,
            color=SERIES_COLORS["model"],
            label=f"Amdahl fit on W ≤ {cores} (f = {fit.serial_fraction:.2f}{ci})",
        )
    else:
        distinct = runs.loc[runs[x] <= (cores or runs[x].max()), x].nunique()
        notes.append(
            f"no Amdahl fit: {distinct} distinct W within the cores, not more than its {markdown.AMDAHL_PARAMETERS} parameters"
        )
    for note in notes:  # in the legend, beside the axes: a note on the axes would cover points
        ax.plot([], [], " ", label=textwrap.fill(note, 34))
    _swept_ticks(ax, s[x])
    # The ideal line may climb far above anything reachable: the axis follows the data and the CPU ceiling.
    top_x = min(float(grid.max()), float(cores or grid.max()))
    reach = max(float(np.nanmax(speed + yerr[1])), top_x / min(base, float(cores or base)))
    ax.set_ylim(0, 1.3 * reach)
    ax.set(
        xlabel=_label(x),
        ylabel=f"speedup (time at {base_txt} / time)",
        title=configuration_title(runs, f"speedup vs {_label(x)}"),
    )
    legend_outside(ax)
    return fig


def map_speedup_plot(runs: pd.DataFrame, x: str = "n_map", cores: int | None = None) -> Figure:
    """Map-stage speedup (map_serial_sum_s / map_wall_s) vs mappers, with the ideal and CPU ceiling."""
    s = analysis.map_stage_speedup(runs, by=x)
    fig, ax = new_figure()
    err = np.vstack([s["ci95"].fillna(0).clip(upper=s["mean"]), s["ci95"].fillna(0)])  # never below 0
    ax.errorbar(s[x], s["mean"], yerr=err, marker="o", capsize=3, color=SERIES_COLORS["measured"], label="measured")
    ax.plot(s[x], s[x], linestyle="--", color=SERIES_COLORS["ideal"], label="ideal (= mappers)")
    cores = _cores(runs, cores)
    if cores:
        ax.plot(
            s[x],
            np.minimum(s[x], cores),
            color=SERIES_COLORS["cpu"],
            linestyle=":",
            linewidth=2,
            label=f"CPU ceiling ({cores} cores)",
        )
    _swept_ticks(ax, s[x])
    ax.set_ylim(bottom=0)
    ax.set(
        xlabel=_label(x),
        ylabel="map-stage speedup (serial sum / wall, x)",
        title=configuration_title(runs, f"map-stage speedup vs {_label(x)}"),
    )
    legend_outside(ax)
    return fig


def estimated_time_plot(runs: pd.DataFrame, x: str = "n_map") -> Figure:
    """Measured end-to-end time against est_parallel_s and est_serial_s, vs mappers."""
    fig, ax = new_figure()
    for metric, label in (
        ("end_to_end_s", "measured end-to-end"),
        ("est_parallel_s", "estimated parallel (split + map wall\n+ reduce wall)"),
        # past the cores tasks share them and take longer: their sum overstates a serial run
        ("est_serial_s", "estimated serial (split + map sum\n+ reduce sum; overstated past the cores)"),
    ):
        _errorbar(ax, runs, x, metric, label)
    _swept_ticks(ax, runs[x])
    time_axis(ax, [runs[["end_to_end_s", "est_parallel_s", "est_serial_s"]].to_numpy()])
    ax.set(xlabel=_label(x), ylabel="time (s)", title=configuration_title(runs, "estimated vs measured time"))
    legend_outside(ax)
    return fig


def heatmap(runs: pd.DataFrame, metric: str = "end_to_end_s") -> Figure:
    """Mean `metric` over (M, R), annotated; untried pairs stay blank."""
    s = analysis.summarize(runs, by=["n_map", "n_reduce"], metric=metric)
    grid = s.pivot(index="n_map", columns="n_reduce", values="mean")
    fig, ax = new_figure(6.4, 5.0, integer_x=False)
    sns.heatmap(grid, ax=ax, annot=True, fmt=".3g", cmap="viridis_r", cbar_kws={"label": f"mean {_label(metric)}"})
    ax.invert_yaxis()  # small M at the bottom, like a plot's y axis
    ax.grid(False)
    ax.set(
        xlabel=_label("n_reduce"), ylabel=_label("n_map"), title=configuration_title(runs, f"mean {_label(metric)} over (M, R)")
    )
    return fig


def config_label(row) -> str:
    """'M=5 R=10 W=10' for a row holding n_map, n_reduce, workers."""
    return " ".join(f"{k}={int(row[c])}" for k, c in zip("MRW", CONFIG_BY) if c in row)


def stage_plot(runs: pd.DataFrame, by=CONFIG_BY) -> Figure:
    """Stacked mean split / map / reduce / overhead seconds per configuration."""
    long = analysis.stage_breakdown(runs, by=list(by))
    wide = long.pivot_table(index=list(by), columns="stage", values="seconds", observed=False).reset_index()
    labels = [config_label(row).replace(" ", "\n") for _, row in wide.iterrows()]
    fig, ax = new_figure(max(6.4, 0.7 * len(wide) + 2), 4.6, integer_x=False)
    bottom = np.zeros(len(wide))
    for stage in analysis.STAGES:
        ax.bar(labels, wide[stage], bottom=bottom, label=stage, color=STAGE_COLORS[stage])
        bottom += wide[stage].to_numpy()
    ax.set(
        xlabel="configuration", ylabel="mean time (s)", title=configuration_title(runs, "where the time goes, per configuration")
    )
    ax.tick_params(axis="x", labelsize=9)
    legend_outside(ax, title="stage")
    return fig


def _worker_order(workers):
    # "master" (the split) on top, then workers in natural order (w2 before w10).
    def key(w):
        digits = "".join(ch for ch in str(w) if ch.isdigit())
        return (str(w) != "master", int(digits) if digits else -1, str(w))

    return sorted(set(workers), key=key)


def timeline_plot(tasks: pd.DataFrame, run_id, title: str | None = None) -> Figure:
    """Gantt chart of one run: a row per worker, a bar per attempt coloured by phase.

    Attempts that failed, timed out or were superseded are hatched; backup
    attempts have a thick outline; a task that ran more than one attempt has
    its winner marked with a star. Workers slowed by a straggler study say
    so in their row label.
    """
    tl = analysis.task_timeline(tasks, run_id)
    rows = _worker_order(tl["worker"])
    y = {w: i for i, w in enumerate(rows)}
    fig, ax = new_figure(8, max(3.0, 0.3 * len(rows) + 1.5), integer_x=False)
    span = float(tl["end_s"].max()) or 1.0
    for _, a in tl.iterrows():
        # a minimum width keeps sub-millisecond attempts (the split) visible
        ax.barh(
            y[a["worker"]],
            max(a["duration_s"], span / 200),
            left=a["start_s"],
            height=0.7,
            color=PHASE_COLORS.get(a["phase"], "grey"),
            hatch=STATUS_HATCH.get(a["status"], "++"),
            edgecolor="black" if a["status"] != "ok" else "none",
            linewidth=0.5,
        )
    backups = tl[tl["backup"].astype(bool)] if "backup" in tl else tl.iloc[0:0]
    for _, a in backups.iterrows():
        ax.barh(
            y[a["worker"]],
            max(a["duration_s"], span / 200),
            left=a["start_s"],
            height=0.7,
            fill=False,
            edgecolor="black",
            linewidth=1.8,
        )
    tried = tl[tl["phase"] != "split"].groupby(["phase", "task"])["attempt"].transform("count") > 1
    winners = tl[tried & (tl["status"] == "ok")]
    ax.plot(
        winners["end_s"],
        [y[w] for w in winners["worker"]],
        linestyle="none",
        marker="*",
        markersize=9,
        color="gold",
        markeredgecolor="black",
        label="won (of several attempts)",
    )
    slowed = dict(zip(tl["worker"], tl["slowdown"])) if "slowdown" in tl else {}
    labels = [f"{w} (x{slowed[w]:g} slow)" if slowed.get(w, 1) > 1 else str(w) for w in rows]
    ax.set_yticks(range(len(rows)), labels, fontsize=9)
    ax.invert_yaxis()
    handles = [Patch(color=c, label=p) for p, c in PHASE_COLORS.items() if p in set(tl["phase"])]
    handles += [
        Patch(facecolor="white", edgecolor="black", hatch=h, label=s)
        for s, h in STATUS_HATCH.items()
        if h and s in set(tl["status"])
    ]
    if len(backups):
        handles.append(Patch(fill=False, edgecolor="black", linewidth=1.8, label="backup attempt"))
    if len(winners):
        handles += ax.get_legend_handles_labels()[0]
    ax.legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))  # never over a bar
    ax.set(xlabel="time since the run's first task started (s)", ylabel="worker", title=title or _run_title(tasks, run_id))
    return fig


def _run_title(tasks, run_id):
    """The configuration a timeline shows, in the study's terms (M, R, W), not its run id."""
    rows = tasks[tasks["run_id"].astype(str) == str(run_id)]
    work = rows[rows["phase"] != "split"]
    m, r = work.loc[work["phase"] == "map", "task"].nunique(), work.loc[work["phase"] == "reduce", "task"].nunique()
    return f"Task timeline: M={m}, R={r}, W={work['worker'].nunique()}"


def typical_run(runs: pd.DataFrame):
    """run_id of the median-time run of the best configuration (what a timeline should show)."""
    best = analysis.best_configuration(runs, by=[c for c in CONFIG_BY if c in runs]).config
    mask = np.logical_and.reduce([runs[c] == v for c, v in best.items()])
    chosen = runs[mask]
    median = chosen["end_to_end_s"].median()
    return chosen.loc[(chosen["end_to_end_s"] - median).abs().idxmin(), "run_id"]


# name -> (does it apply to these runs?, make it). save_all draws those that apply.
FIGURES = {
    "time_vs_map": (lambda r: _varies(r, "n_map"), lambda r, t, run_id: time_vs(r, "n_map")),
    "time_vs_reduce": (lambda r: _varies(r, "n_reduce"), lambda r, t, run_id: time_vs(r, "n_reduce")),
    "speedup": (lambda r: _varies(r, "workers"), lambda r, t, run_id: speedup_plot(r)),
    "map_speedup": (lambda r: _varies(r, "n_map"), lambda r, t, run_id: map_speedup_plot(r)),
    "estimated_time": (lambda r: _varies(r, "n_map"), lambda r, t, run_id: estimated_time_plot(r)),
    "heatmap": (lambda r: _varies(r, "n_map") and _varies(r, "n_reduce"), lambda r, t, run_id: heatmap(r)),
    "stages": (lambda r: len(r) > 0, lambda r, t, run_id: stage_plot(r)),
    "timeline": (lambda r: len(r) > 0, lambda r, t, run_id: timeline_plot(t, run_id)),
}


def save_all(runs: pd.DataFrame, tasks: pd.DataFrame, out_dir, run_id=None, dpi=110) -> dict:
    """Write every figure that applies to these runs as <out_dir>/<name>.png; returns {name: path}.

    The timeline shows `run_id`, by default the typical run (see `typical_run`).
    """
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if run_id is None and len(runs):
        run_id = typical_run(runs)
    written = {}
    for name, (applies, make) in FIGURES.items():
        if applies(runs):
            path = out / f"{name}.png"
            make(runs, tasks, run_id).savefig(path, dpi=dpi)
            written[name] = path
    return written


def figure_image(fig, dpi=100):
    """A matplotlib Figure as an IPython PNG image (embedded whatever the notebook's backend)."""
    from IPython.display import Image  # only where a notebook shows figures

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    width_in = fig.get_size_inches()[0]
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    # A wide figure (the timeline) carries its width, which the report's CSS gives a whole row;
    # the title becomes the image's alt text in the report.
    return Image(
        data=buffer.getvalue(),
        format="png",
        width=round(width_in * dpi) if width_in > 7 else None,
        metadata={"alt": titles[0]} if titles else None,
    )

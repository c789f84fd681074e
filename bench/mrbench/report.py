"""From run rows to what a person reads: summary, chart, Markdown tables and targets.

Every function here is a pure function of the run rows (plus the skip notes),
so the report can be rebuilt or tested without running anything.
"""

import math
from dataclasses import dataclass

import pandas as pd

from mrbench.impls import BASELINE

RUN_COLUMNS = ["case", "impl", "repeat", "wall_s", "peak_rss_tree_mb", "peak_rss_max_proc_mb", "ok",
               "match", "cpu_s", "returncode", "max_fds", "max_procs", "distinct_words", "input_mb", "n_inputs",
               "settings", "busy_before", "load1", "mrkit_src", "note"]
SUMMARY_COLUMNS = ["case", "impl", "settings", "runs", "runs_ok", "median_wall_s", "min_wall_s", "max_wall_s",
                   "wall_ratio", "median_cpu_s", "median_peak_rss_tree_mb", "rss_ratio", "max_peak_rss_max_proc_mb",
                   "max_fds", "match", "ok", "input_mb", "max_busy_before", "median_load1", "note"]
NOISY = 0.5  # cores kept busy by other processes before a run, above which its wall time is suspect


def runs_frame(rows):
    return pd.DataFrame(rows, columns=RUN_COLUMNS)


def _match(values):
    values = set(values)
    return values.pop() if len(values) == 1 else "mixed"


def summarize(runs, skipped=()):
    """One row per (case, impl): medians, and ratios against the baseline's medians of the same case.

    wall_ratio = median wall / median wall of python_sequential in the same
    case (NaN when the baseline did not run there); rss_ratio likewise for
    the tree's peak RSS. Only runs that exited 0 enter the medians.
    """
    rows = []
    for (case, impl), group in runs.groupby(["case", "impl"], sort=False):
        done = group[group["returncode"] == 0]
        rows.append({
            "case": case, "impl": impl, "settings": group["settings"].iloc[0], "runs": len(group),
            "runs_ok": int(group["ok"].sum()), "median_wall_s": done["wall_s"].median(),
            "min_wall_s": done["wall_s"].min(), "max_wall_s": done["wall_s"].max(),
            "median_peak_rss_tree_mb": done["peak_rss_tree_mb"].median(),
            "max_peak_rss_max_proc_mb": done["peak_rss_max_proc_mb"].max(), "max_fds": group["max_fds"].max(),
            "match": _match(group["match"]), "ok": bool(group["ok"].all()), "input_mb": group["input_mb"].iloc[0],
            "median_load1": group["load1"].median(), "median_cpu_s": done["cpu_s"].median(),
            "max_busy_before": group["busy_before"].max(),
            "note": "; ".join(sorted({n for n in group["note"] if isinstance(n, str) and n})),
        })
    summary = pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
    for _case, group in summary.groupby("case", sort=False):
        base = group[group["impl"] == BASELINE]
        if len(base):
            summary.loc[group.index, "wall_ratio"] = group["median_wall_s"] / base["median_wall_s"].iloc[0]
            summary.loc[group.index, "rss_ratio"] = group["median_peak_rss_tree_mb"] / base["median_peak_rss_tree_mb"].iloc[0]
    skips = pd.DataFrame([{"case": s["case"], "impl": s["impl"], "runs": 0, "runs_ok": 0, "ok": False,
                           "match": "n/a", "note": s["note"]} for s in skipped], columns=SUMMARY_COLUMNS)
    return pd.concat([summary, skips], ignore_index=True) if len(skips) else summary


def _fmt(value, spec):
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else format(value, spec)


def source_warning(runs):
    """A warning when mrkit's source changed during the run (it is installed editable), else ''."""
    versions = runs["mrkit_src"].dropna().unique() if "mrkit_src" in runs else []
    if len(versions) <= 1:
        return ""
    return (f"WARNING: mrkit's source changed during this benchmark ({len(versions)} versions: "
            f"{', '.join(versions)}; see the mrkit_src column): its rows mix code versions")


def markdown(summary):
    """A Markdown table per case, ready to paste into the README."""
    out = []
    for case, group in summary.groupby("case", sort=False):
        mb, busy = group["input_mb"].dropna(), group["max_busy_before"].dropna()
        out.append(f"\n**{case}**" + (f" ({_mb(mb.iloc[0])})" if len(mb) else "")
                   + (f"; other processes kept up to {busy.max():.1f} cores busy just before a run"
                      + (" — numbers disturbed, rerun with --quiet-wait 60" if busy.max() > NOISY else "")
                      if len(busy) else "") + "\n")
        out.append("| implementation | settings | median wall s | × sequential | median CPU s | peak RSS tree MB | "
                   "max proc RSS MB | runs ok | counts |")
        out.append("|---|---|---:|---:|---:|---:|---:|---:|---|")
        for r in group.itertuples():
            if r.runs == 0:
                out.append(f"| {r.impl} | | | | | | | | {r.note} |")
                continue
            counts = {"yes": "equal", "no": "**DIFFER**", "n/a": "n/a"}.get(r.match, r.match)
            if r.note:
                counts += f" ({r.note})"
            out.append(f"| {r.impl} | {r.settings if isinstance(r.settings, str) else ''} | {_fmt(r.median_wall_s, '.2f')} | "
                       f"{_fmt(r.wall_ratio, '.2f')} | {_fmt(r.median_cpu_s, '.2f')} | "
                       f"{_fmt(r.median_peak_rss_tree_mb, '.0f')} | "
                       f"{_fmt(r.max_peak_rss_max_proc_mb, '.0f')} | {r.runs_ok}/{r.runs} | {counts} |")
    return "\n".join(out)


def _mb(value):
    return "empty inputs" if value == 0 else f"{value:,.0f} MB" if value >= 10 else f"{value:.1f} MB"


def chart(summary, path):
    """Bars of median wall time and peak tree RSS per implementation, one row per case, ratio labels."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = summary[summary["runs"] > 0]
    cases = list(dict.fromkeys(data["case"]))
    fig, axes = plt.subplots(len(cases) or 1, 2, figsize=(12, 2.6 + 0.45 * data.groupby("case").size().max() * len(cases)),
                             squeeze=False)
    for row, case in zip(axes, cases):
        group = data[data["case"] == case]
        labels = list(group["impl"])
        for ax, column, ratio, title in ((row[0], "median_wall_s", "wall_ratio", "median wall time (s)"),
                                         (row[1], "median_peak_rss_tree_mb", "rss_ratio", "peak RSS, process tree (MB)")):
            values = group[column].fillna(0).to_numpy()
            colors = ["#c44" if not ok else ("#888" if impl == BASELINE else "#4878d0")
                      for impl, ok in zip(group["impl"], group["ok"])]
            ax.barh(labels, values, color=colors)
            if column == "median_peak_rss_tree_mb":  # the largest single process, as a tick on the tree's bar
                ax.plot(group["max_peak_rss_max_proc_mb"].to_numpy(), range(len(labels)), "k|", markersize=14,
                        label="largest single process")
                ax.legend(fontsize=7, loc="best")
            positive = values[values > 0]
            if column == "median_peak_rss_tree_mb" and len(positive) and positive.max() / positive.min() > 30:
                ax.set_xscale("log")  # mrkit_sequential's GBs would flatten every other bar
            ax.invert_yaxis()
            size = group["input_mb"].dropna()
            ax.set_title(f"{case}" + (f" ({_mb(size.iloc[0])})" if len(size) else "") + f": {title}", fontsize=10)
            for y, (v, rt) in enumerate(zip(values, group[ratio])):
                text = f" {v:.2f}" if column == "median_wall_s" else f" {v:.0f}"
                if not (isinstance(rt, float) and math.isnan(rt)):
                    text += f"  ({rt:.2f}×)"
                ax.text(v, y, text, va="center", fontsize=8)
            ax.margins(x=0.3)
    fig.suptitle("word count as whole processes (ratios vs python_sequential, same run; red: output differs or failed)",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ---- targets ---------------------------------------------------------------

@dataclass
class Target:
    name: str
    measured: str
    goal: str
    status: str  # PASS | FAIL | N/A


def _row(summary, case, impl):
    rows = summary[(summary["case"] == case) & (summary["impl"] == impl) & (summary["runs"] > 0)]
    return None if rows.empty else rows.iloc[0]


def _status(ok):
    return "PASS" if ok else "FAIL"


def _best_of(summary, row):
    """The ratio of best-of-N walls (min / baseline min): less sensitive to load from elsewhere than medians."""
    base = _row(summary, row.case, BASELINE)
    text = "" if base is None else f", best-of-{row.runs} {row.min_wall_s / base.min_wall_s:.2f}×"
    busy = summary[summary["case"] == row.case]["max_busy_before"].max()
    return text + (f"; disturbed: others used up to {busy:.1f} cores" if busy > NOISY else "")


def _ratio_target(summary, case, limit):
    """mrkit run's wall time against the sequential count in `case`, at most `limit`×."""
    name, bound = f"mrkit run wall vs sequential count, {case}", f"<= {limit}×"
    r = _row(summary, case, "mrkit_run")
    if r is None or math.isnan(r.wall_ratio):
        return Target(name, "not run", bound, "N/A")
    return Target(name, f"{r.wall_ratio:.2f}× ({r.median_wall_s:.2f} s{_best_of(summary, r)})",
                  bound, _status(r.ok and r.wall_ratio <= limit))


def targets(summary, *, corpus="corpus", books="books", overhead="overhead", big="memory_2gb",
            overhead_tasks=None):
    """The issue's targets, each PASS / FAIL / N/A (case not run) with the measured ratio."""
    out = []
    out.append(_ratio_target(summary, corpus, 0.55))
    out.append(_ratio_target(summary, books, 1.0))
    r = _row(summary, overhead, "mrkit_run")
    if r is not None:
        rate = f", {overhead_tasks / r.median_wall_s:.0f} tasks/s" if overhead_tasks else ""
        out.append(Target(f"scheduling overhead ({overhead_tasks or '?'} tasks, {r.settings})",
                          f"{r.median_wall_s:.2f} s{rate}", "< 3 s", _status(r.ok and r.median_wall_s < 3.0)))
    else:
        out.append(Target("scheduling overhead (1000 empty maps, 10 reduces)", "not run", "< 3 s", "N/A"))
    r = _row(summary, corpus, "mrkit_run")
    if r is not None:
        out.append(Target(f"peak RSS of any one mrkit process, {corpus}", f"{r.max_peak_rss_max_proc_mb:.0f} MB",
                          "< 200 MB", _status(r.max_peak_rss_max_proc_mb < 200)))
    else:
        out.append(Target(f"peak RSS of any one mrkit process, {corpus}", "not run", "< 200 MB", "N/A"))
    r2 = _row(summary, big, "mrkit_run")
    if r is not None and r2 is not None:
        growth = r2.max_peak_rss_max_proc_mb / r.max_peak_rss_max_proc_mb
        out.append(Target("peak RSS of one process, 2 GB vs 200 MB (M scaled)",
                          f"{growth:.2f}× ({r2.max_peak_rss_max_proc_mb:.0f} MB, {r2.settings})",
                          "<= 1.20× and < 200 MB",
                          _status(r2.ok and growth <= 1.2 and r2.max_peak_rss_max_proc_mb < 200)))
    else:
        out.append(Target("peak RSS of one process, 2 GB vs 200 MB (M scaled)", "not run (--memory-2gb)",
                          "<= 1.20×", "N/A"))
    s = _row(summary, corpus, "mrkit_run_study")
    if s is not None and r is not None:
        out.append(Target(f"study config ({s.settings}) completes, {corpus}",
                          f"{s.runs_ok}/{s.runs} ok, {s.median_wall_s / r.median_wall_s:.2f}× the best config's wall, "
                          f"peak tree {s.median_peak_rss_tree_mb:.0f} MB, max {int(s.max_fds)} fds in one process",
                          "completes, outputs equal", _status(s.ok)))
    else:
        out.append(Target(f"study config (100, 50) completes, {corpus}", "not run", "completes", "N/A"))
    return out


def targets_text(items):
    width = max(len(t.name) for t in items)
    lines = [f"{t.status:<4}  {t.name:<{width}}  {t.measured}   (target {t.goal})" for t in items]
    return "\n".join(lines)

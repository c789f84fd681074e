"""From run rows to what a person reads: summary, chart, Markdown tables and targets.

Every function here is a pure function of the run rows (plus the skip notes),
so the report can be rebuilt or tested without running anything.
"""

import math
from dataclasses import dataclass

import pandas as pd

from mrbench.impls import BASELINE, SAME_FUNCTION

RUN_COLUMNS = [
    "case",
    "impl",
    "runtime",
    "function",
    "repeat",
    "wall_s",
    "peak_rss_tree_mb",
    "peak_rss_max_proc_mb",
    "ok",
    "match",
    "cpu_s",
    "returncode",
    "max_fds",
    "max_procs",
    "distinct_words",
    "input_mb",
    "n_inputs",
    "settings",
    "busy_before",
    "load1",
    "mrkit_src",
    "note",
]
SUMMARY_COLUMNS = [
    "case",
    "impl",
    "settings",
    "runs",
    "runs_ok",
    "median_wall_s",
    "min_wall_s",
    "max_wall_s",
    "wall_ratio",
    "median_cpu_s",
    "median_peak_rss_tree_mb",
    "rss_ratio",
    "max_peak_rss_max_proc_mb",
    "max_fds",
    "match",
    "ok",
    "input_mb",
    "max_busy_before",
    "median_load1",
    "note",
]
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
        rows.append(
            {
                "case": case,
                "impl": impl,
                "settings": group["settings"].iloc[0],
                "runs": len(group),
                "runs_ok": int(group["ok"].sum()),
                "median_wall_s": done["wall_s"].median(),
                "min_wall_s": done["wall_s"].min(),
                "max_wall_s": done["wall_s"].max(),
                "median_peak_rss_tree_mb": done["peak_rss_tree_mb"].median(),
                "max_peak_rss_max_proc_mb": done["peak_rss_max_proc_mb"].max(),
                "max_fds": group["max_fds"].max(),
                "match": _match(group["match"]),
                "ok": bool(group["ok"].all()),
                "input_mb": group["input_mb"].iloc[0],
                "median_load1": group["load1"].median(),
                "median_cpu_s": done["cpu_s"].median(),
                "max_busy_before": group["busy_before"].max(),
                "note": "; ".join(sorted({n for n in group["note"] if isinstance(n, str) and n})),
            }
        )
    summary = pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
    for _case, group in summary.groupby("case", sort=False):
        base = group[group["impl"] == BASELINE]
        if len(base):
            summary.loc[group.index, "wall_ratio"] = group["median_wall_s"] / base["median_wall_s"].iloc[0]
            summary.loc[group.index, "rss_ratio"] = group["median_peak_rss_tree_mb"] / base["median_peak_rss_tree_mb"].iloc[0]
    skips = pd.DataFrame(
        [
            {"case": s["case"], "impl": s["impl"], "runs": 0, "runs_ok": 0, "ok": False, "match": "n/a", "note": s["note"]}
            for s in skipped
        ],
        columns=SUMMARY_COLUMNS,
    )
    return pd.concat([summary, skips], ignore_index=True) if len(skips) else summary


def _fmt(value, spec):
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else format(value, spec)


def source_warning(runs):
    """A warning when mrkit's source changed during the run (it is installed editable), else ''."""
    versions = runs["mrkit_src"].dropna().unique() if "mrkit_src" in runs else []
    if len(versions) <= 1:
        return ""
    return (
        f"WARNING: mrkit's source changed during this benchmark ({len(versions)} versions: "
        f"{', '.join(versions)}; see the mrkit_src column): its rows mix code versions"
    )


def markdown(summary):
    """A Markdown table per case, ready to paste into the README."""
    out = []
    for case, group in summary.groupby("case", sort=False):
        mb, busy = group["input_mb"].dropna(), group["max_busy_before"].dropna()
        out.append(
            f"\n**{case}**"
            + (f" ({_mb(mb.iloc[0])})" if len(mb) else "")
            + (
                f"; other processes kept up to {busy.max():.1f} cores busy just before a run"
                + (" — numbers disturbed, rerun with --quiet-wait 60" if busy.max() > NOISY else "")
                if len(busy)
                else ""
            )
            + "\n"
        )
        out.append(
            "| implementation | settings | median wall s | × sequential | median CPU s | peak RSS tree MB | "
            "max proc RSS MB | runs ok | counts |"
        )
        out.append("|---|---|---:|---:|---:|---:|---:|---:|---|")
        for r in group.itertuples():
            if r.runs == 0:
                out.append(f"| {r.impl} | | | | | | | | {r.note} |")
                continue
            counts = {"yes": "equal", "no": "**DIFFER**", "n/a": "n/a"}.get(r.match, r.match)
            if r.note:
                counts += f" ({r.note})"
            out.append(
                f"| {r.impl} | {r.settings if isinstance(r.settings, str) else ''} | {_fmt(r.median_wall_s, '.2f')} | "
                f"{_fmt(r.wall_ratio, '.2f')} | {_fmt(r.median_cpu_s, '.2f')} | "
                f"{_fmt(r.median_peak_rss_tree_mb, '.0f')} | "
                f"{_fmt(r.max_peak_rss_max_proc_mb, '.0f')} | {r.runs_ok}/{r.runs} | {counts} |"
            )
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
    fig, axes = plt.subplots(
        len(cases) or 1, 2, figsize=(12, 2.6 + 0.45 * data.groupby("case").size().max() * len(cases)), squeeze=False
    )
    for row, case in zip(axes, cases):
        group = data[data["case"] == case]
        labels = list(group["impl"])
        for ax, column, ratio, title in (
            (row[0], "median_wall_s", "wall_ratio", "median wall time (s)"),
            (row[1], "median_peak_rss_tree_mb", "rss_ratio", "peak RSS, process tree (MB)"),
        ):
            values = group[column].fillna(0).to_numpy()
            colors = [
                "#c44" if not ok else ("#888" if impl == BASELINE else "#4878d0") for impl, ok in zip(group["impl"], group["ok"])
            ]
            ax.barh(labels, values, color=colors)
            if column == "median_peak_rss_tree_mb":  # the largest single process, as a tick on the tree's bar
                ax.plot(
                    group["max_peak_rss_max_proc_mb"].to_numpy(),
                    range(len(labels)),
                    "k|",
                    markersize=14,
                    label="largest single process",
                )
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
    fig.suptitle(
        "word count as whole processes (ratios vs python_sequential, same run; red: output differs or failed)", fontsize=10
    )
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


def _ratio_target(summary, case, limit, note=""):
    """mrkit run's wall time against the sequential count in `case`, at most `limit`×."""
    name, bound = f"mrkit run wall vs sequential count, {case}{note}", f"<= {limit}×"
    r = _row(summary, case, "mrkit_run")
    if r is None or math.isnan(r.wall_ratio):
        return Target(name, "not run", bound, "N/A")
    return Target(
        name,
        f"{r.wall_ratio:.2f}× ({r.median_wall_s:.2f} s{_best_of(summary, r)})",
        bound,
        _status(r.ok and r.wall_ratio <= limit),
    )


# ---- paired ratios and the analysis tables ----------------------------------


@dataclass
class Ratio:
    """wall(a) / wall(b) per repeat (a and b ran in the same alternating round): median and range."""

    median: float
    low: float
    high: float
    pairs: int

    def __str__(self):
        return f"{self.median:.2f}× (range {self.low:.2f}–{self.high:.2f}, {self.pairs} pairs)"


def _done(runs, case):
    sub = runs[(runs["case"] == case) & (runs["returncode"] == 0)]
    return sub[sub["ok"].astype(bool)]


def paired(runs, case, a, b, column="wall_s"):
    """The Ratio of a's wall time (or `column`) to b's, repeat by repeat, in `case`; None when no repeat has both."""
    sub = _done(runs, case)
    wall_a = sub[sub["impl"] == a].groupby("repeat")[column].median()
    wall_b = sub[sub["impl"] == b].groupby("repeat")[column].median()
    ratios = (wall_a / wall_b).dropna()
    if ratios.empty:
        return None
    return Ratio(float(ratios.median()), float(ratios.min()), float(ratios.max()), len(ratios))


def _r(ratio):
    return "" if ratio is None else str(ratio)


def _load(runs, case):
    sub = runs[runs["case"] == case]
    load, busy = sub["load1"].dropna(), sub["busy_before"].dropna()
    return (f"load1 {load.min():.1f}–{load.max():.1f}" if len(load) else "") + (
        f", others kept up to {busy.max():.1f} cores busy before a run" if len(busy) else ""
    )


def _wall(runs, case, impl):
    walls = _done(runs, case)
    walls = walls[walls["impl"] == impl]["wall_s"]
    return f"{walls.median():.2f} ({walls.min():.2f}–{walls.max():.2f})" if len(walls) else ""


SAME_FUNCTION_POOL, SAME_FUNCTION_SEQUENTIAL = "mp_pool_cw", "sequential_cw"


def same_function_table(runs, case):
    """Runtime overhead: every runtime running count_words, against an ideal Pool and a sequential run of it."""
    sub = runs[(runs["case"] == case) & (runs["function"] == SAME_FUNCTION)]
    names = list(dict.fromkeys(sub["impl"]))
    if SAME_FUNCTION_POOL not in names and SAME_FUNCTION_SEQUENTIAL not in names:
        return ""
    out = [
        f"\n**Runtime overhead, same map function** (`mrkit.text.{SAME_FUNCTION}` in every row), {case}; "
        f"{_load(runs, case)}. Ratios are per alternating round, median and range; "
        f"the ideal parallel run on W cores is 1/W × sequential. CPU is the process tree's user+system "
        f"(reaped descendants; a JVM pyspark does not reap is missing), far less sensitive to load from "
        f"elsewhere than wall time.\n",
        "| implementation | settings | wall s, median (range) | × Pool, same function | × sequential, same function "
        "| × mrkit run (local) | CPU s | CPU × Pool |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for impl in names:
        settings = sub[sub["impl"] == impl]["settings"].iloc[0]
        out.append(
            f"| {impl} | {settings if isinstance(settings, str) else ''} | {_wall(runs, case, impl)} | "
            f"{_r(paired(runs, case, impl, SAME_FUNCTION_POOL))} | "
            f"{_r(paired(runs, case, impl, SAME_FUNCTION_SEQUENTIAL))} | "
            f"{_r(paired(runs, case, impl, 'mrkit_run')) if impl != 'mrkit_run' else ''} | "
            f"{_done(runs, case).query('impl == @impl')['cpu_s'].median():.2f} | "
            f"{_r(paired(runs, case, impl, SAME_FUNCTION_POOL, 'cpu_s'))} |"
        )
    return "\n".join(out)


def tokenizer_table(runs, case="corpus"):
    """Tokenizer speed: each runtime with its own map function, then with count_words, on the same inputs."""
    sub = runs[runs["case"] == case]
    rows = []
    for runtime, group in sub.groupby("runtime", sort=False):
        own = [i for i in dict.fromkeys(group[group["function"] == "plain"]["impl"])]
        same = [i for i in dict.fromkeys(group[group["function"] == SAME_FUNCTION]["impl"])]
        if own and same and runtime != "mrkit":
            rows.append(
                f"| {runtime} | {own[0]}: {_wall(runs, case, own[0])} | {same[0]}: {_wall(runs, case, same[0])} | "
                f"{_r(paired(runs, case, same[0], own[0]))} | {_r(paired(runs, case, same[0], own[0], 'cpu_s'))} |"
            )
    if not rows:
        return ""
    return "\n".join(
        [
            f"\n**Tokenizer speed**, {case}: the same runtime with its own map function "
            f"(re.findall + Counter) and with `{SAME_FUNCTION}`; {_load(runs, case)}\n",
            "| runtime | own function: wall s | count_words: wall s | count_words / own, wall | count_words / own, CPU |",
            "|---|---|---|---:|---:|",
            *rows,
        ]
    )


def scale_points(runs, case="scale"):
    """[(tasks, map tasks, median wall, median master CPU, median tree CPU, runs)] per size, by size."""
    sub = _done(runs, case)
    points = []
    for impl, group in sub.groupby("impl"):
        n_map = group["mr_n_map"].median() if "mr_n_map" in group else float("nan")
        if math.isnan(n_map):
            n_map = int(impl.rsplit("_m", 1)[-1])
        n_reduce = group["mr_n_reduce"].median() if "mr_n_reduce" in group else 10
        points.append(
            (
                int(n_map + (10 if math.isnan(n_reduce) else n_reduce)),
                int(n_map),
                impl,
                float(group["wall_s"].median()),
                float(group["master_cpu_s"].median()),
                float(group["cpu_s"].median()),
                group,
            )
        )
    return sorted(points)


def scale_table(runs, case="scale"):
    points = scale_points(runs, case)
    if not points:
        return ""
    out = [
        f"\n**Scale**: `mrkit run wc -m N -r 10 -w 2` on one tiny file (N map tasks that read nearly nothing); "
        f"{_load(runs, case)}\n",
        "| map tasks | tasks | wall s, median (range) | tasks/s | master CPU s | master CPU per task µs | "
        "marginal master CPU per task µs | workers' CPU per task µs | runs |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    previous = None
    for tasks, n_map, impl, wall, master, tree, group in points:
        marginal = "" if previous is None else f"{(master - previous[1]) / (tasks - previous[0]) * 1e6:.0f}"
        out.append(
            f"| {n_map:,} | {tasks:,} | {_wall(runs, case, impl)} | {tasks / wall:,.0f} | {master:.2f} | "
            f"{master / tasks * 1e6:.0f} | {marginal} | {(tree - master) / tasks * 1e6:.0f} | {len(group)} |"
        )
        previous = (tasks, master)
    return "\n".join(out)


def fixed_table(runs, case="fixed"):
    sub = _done(runs, case)
    if sub.empty:
        return ""
    out = [
        f"\n**Fixed cost**: whole processes on one empty input; {_load(runs, case)}\n",
        "| command | wall s, median (range) | CPU s (tree) | inside mrkit's run: end-to-end s | of which worker start s |",
        "|---|---:|---:|---:|---:|",
    ]
    for impl, group in sub.groupby("impl", sort=False):
        settings = group["settings"].iloc[0]
        inside = group["mr_end_to_end_s"].median() if "mr_end_to_end_s" in group else float("nan")
        start = group["mr_startup_s"].median() if "mr_startup_s" in group else float("nan")
        out.append(
            f"| {impl} `{settings}` | {_wall(runs, case, impl)} | {group['cpu_s'].median():.2f} | "
            f"{_fmt(inside, '.3f')} | {_fmt(start, '.3f')} |"
        )
    return "\n".join(out)


def analysis(runs):
    """The same-function, tokenizer, scale and fixed-cost tables (Markdown); '' for what did not run."""
    parts = [
        same_function_table(runs, "same_function"),
        same_function_table(runs, "corpus"),
        tokenizer_table(runs),
        scale_table(runs),
        fixed_table(runs),
    ]
    return "\n".join(p for p in parts if p)


# ---- targets ------------------------------------------------------------------


def _paired_target(runs, case, a, b, limit, name, inside=False):
    """Target a/b on the whole processes' wall times; `inside` adds the ratio of the jobs' own end-to-end times
    (mrkit's --json), which leaves out the process's start, imports and exit."""
    ratio = paired(runs, case, a, b)
    if ratio is None:
        return Target(name, "not run", f"<= {limit}×", "N/A")
    busy = runs[runs["case"] == case]["busy_before"].max()
    noise = f"; disturbed: others used up to {busy:.1f} cores" if busy > NOISY else ""
    jobs = paired(runs, case, a, b, column="mr_end_to_end_s") if inside and "mr_end_to_end_s" in runs else None
    jobs = f"; the jobs' own end to end {jobs}" if jobs is not None else ""
    return Target(name, f"{ratio}{jobs}{noise}", f"<= {limit}× (median)", _status(ratio.median <= limit))


def _same_function_case(runs):
    cases = set(runs["case"])
    return "same_function" if "same_function" in cases else "corpus"


def scale_targets(runs, case="scale"):
    points = {p[1]: p for p in scale_points(runs, case)}
    out = []
    ten = points.get(10000)
    out.append(
        Target(
            "scale: 10,000 empty map tasks + 10 reduces, 2 workers",
            "not run" if ten is None else f"{ten[3]:.2f} s, {ten[0] / ten[3]:,.0f} tasks/s",
            "<= 8 s",
            "N/A" if ten is None else _status(ten[3] <= 8.0),
        )
    )
    hundred = points.get(100000)
    if ten is None or hundred is None:
        out.append(Target("scale: 100,000 tasks vs 10,000", "not run", "<= 10×", "N/A"))
    else:
        growth = hundred[3] / ten[3]
        out.append(
            Target("scale: 100,000 tasks vs 10,000", f"{growth:.2f}× ({hundred[3]:.2f} s)", "<= 10×", _status(growth <= 10.0))
        )
    ordered = [points[k] for k in sorted(points)]
    if len(ordered) >= 3:  # marginal cost per task, so the fixed cost (imports, start-up) does not flatter big N
        first = (ordered[1][4] - ordered[0][4]) / (ordered[1][0] - ordered[0][0])
        last = (ordered[-1][4] - ordered[-2][4]) / (ordered[-1][0] - ordered[-2][0])
        per_task = ", ".join(f"{p[1]:,}: {p[4] / p[0] * 1e6:.0f}" for p in ordered)
        out.append(
            Target(
                "scale: master CPU per task flat (marginal, last step vs first)",
                f"{last / first:.2f}× ({first * 1e6:.0f} → {last * 1e6:.0f} µs/task; per task {per_task} µs)",
                "<= 1.25×",
                _status(last <= 1.25 * first),
            )
        )
    elif len(ordered) == 2:
        a, b = ordered
        growth = (b[4] / b[0]) / (a[4] / a[0])
        out.append(
            Target(
                f"scale: master CPU per task flat ({b[1]:,} vs {a[1]:,} map tasks)",
                f"{growth:.2f}× ({a[4] / a[0] * 1e6:.0f} → {b[4] / b[0] * 1e6:.0f} µs/task)",
                "<= 1.25×",
                _status(growth <= 1.25),
            )
        )
    else:
        out.append(Target("scale: master CPU per task flat", "not run", "<= 1.25×", "N/A"))
    return out


def fixed_target(runs, case="fixed"):
    sub = _done(runs, case)
    walls = sub[sub["impl"] == "mrkit_run"]["wall_s"]
    if walls.empty:
        return Target("fixed cost: mrkit run wc on one empty file, whole process", "not run", "<= 0.2 s", "N/A")
    return Target(
        "fixed cost: mrkit run wc on one empty file, whole process",
        f"{walls.median():.3f} s (range {walls.min():.3f}–{walls.max():.3f}, {len(walls)} runs)",
        "<= 0.2 s (median)",
        _status(walls.median() <= 0.2),
    )


def targets(summary, runs=None, *, corpus="corpus", books="books", overhead="overhead", big="memory_2gb", overhead_tasks=None):
    """The issue's targets, each PASS / FAIL / N/A (case not run) with the measured ratio."""
    out = []
    if runs is not None and len(runs):
        case = _same_function_case(runs)
        out.append(
            _paired_target(
                runs,
                case,
                "mrkit_run",
                SAME_FUNCTION_POOL,
                1.03,
                f"same function: mrkit run vs Pool(W) running count_words, {case}",
            )
        )
        out.append(
            _paired_target(
                runs,
                case,
                "mrkit_run",
                SAME_FUNCTION_SEQUENTIAL,
                0.52,
                f"same function: mrkit run vs count_words run sequentially, {case}",
            )
        )
        out.append(
            _paired_target(
                runs,
                case,
                "mrkit_run_dask",
                "mrkit_run",
                1.10,
                f"same function: mrkit run --backend dask vs local, whole process, {case}",
                inside=True,
            )
        )
    out.append(_ratio_target(summary, books, 1.0, " (different map functions)"))
    if runs is not None and len(runs):
        out.extend(scale_targets(runs))
        out.append(fixed_target(runs))
    r = _row(summary, overhead, "mrkit_run")
    if r is not None:
        rate = f", {overhead_tasks / r.median_wall_s:.0f} tasks/s" if overhead_tasks else ""
        out.append(
            Target(
                f"scheduling overhead ({overhead_tasks or '?'} tasks, one empty file each, {r.settings})",
                f"{r.median_wall_s:.2f} s{rate}",
                "< 3 s",
                _status(r.ok and r.median_wall_s < 3.0),
            )
        )
    r = _row(summary, corpus, "mrkit_run")
    if r is not None:
        out.append(
            Target(
                f"peak RSS of any one mrkit process, {corpus}",
                f"{r.max_peak_rss_max_proc_mb:.0f} MB",
                "< 200 MB",
                _status(r.max_peak_rss_max_proc_mb < 200),
            )
        )
    else:
        out.append(Target(f"peak RSS of any one mrkit process, {corpus}", "not run", "< 200 MB", "N/A"))
    r2 = _row(summary, big, "mrkit_run")
    if r is not None and r2 is not None:
        growth = r2.max_peak_rss_max_proc_mb / r.max_peak_rss_max_proc_mb
        out.append(
            Target(
                "peak RSS of one process, 2 GB vs 200 MB (M scaled)",
                f"{growth:.2f}× ({r2.max_peak_rss_max_proc_mb:.0f} MB, {r2.settings})",
                "<= 1.20× and < 200 MB",
                _status(r2.ok and growth <= 1.2 and r2.max_peak_rss_max_proc_mb < 200),
            )
        )
    else:
        out.append(Target("peak RSS of one process, 2 GB vs 200 MB (M scaled)", "not run (--memory-2gb)", "<= 1.20×", "N/A"))
    s = _row(summary, corpus, "mrkit_run_study")
    if s is not None and r is not None:
        out.append(
            Target(
                f"study config ({s.settings}) completes, {corpus}",
                f"{s.runs_ok}/{s.runs} ok, {s.median_wall_s / r.median_wall_s:.2f}× the best config's wall, "
                f"peak tree {s.median_peak_rss_tree_mb:.0f} MB, max {int(s.max_fds)} fds in one process",
                "completes, outputs equal",
                _status(s.ok),
            )
        )
    else:
        out.append(Target(f"study config (100, 50) completes, {corpus}", "not run", "completes", "N/A"))
    return out


def targets_text(items):
    width = max(len(t.name) for t in items)
    lines = [f"{t.status:<4}  {t.name:<{width}}  {t.measured}   (target {t.goal})" for t in items]
    return "\n".join(lines)

"""Each lab question's answer: one computation (`compute`) that the answer's text and figure both read.

For one sweep's runs and tasks and a calibrated cost model (model.py):
the fastest measured configuration (median over repeats), the model's
error on these very runs, how the model's terms change from the smallest
to the largest configuration (the "why" of the trend), the model's
predictions at 8, 16, 64 and 100 cores with the configuration it says is
fastest on 100 cores and the term that dominates it, and what the runs hit
(attempts that timed out, were re-executed or superseded, with counts).
`answer_text` and `answer_figure` only format that dict, so the numbers in
the prose and the figure cannot disagree (tests/experiments/report/test_answers.py).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mrkit.experiments import analysis
from mrkit.experiments.formatting import num, plural
from mrkit.experiments.model import prediction
from mrkit.experiments.report import check_sections, markdown, plots

WHAT_IF_CORES = (8, 16, 64, 100)
BY = analysis.CONFIG_BY


def _label(m, r, w=None):
    return f"M={int(m)}, R={int(r)}" + (f", W={int(w)}" if w is not None else "")


def _swept(runs):
    """The parameter the sweep varies alone ("n_map" or "n_reduce"), or None for (M, R) pairs."""
    varies = [c for c in ("n_map", "n_reduce") if runs[c].nunique() > 1]
    return varies[0] if len(varies) == 1 else None


def _events(tasks):
    """Attempts that did not count, by kind, and the configurations they hit (most first)."""
    work = tasks[tasks["phase"].isin(["map", "reduce"])] if len(tasks) else tasks
    out = {"not_counted": 0, "endings": "", "where": [], "overload": False}
    if work is None or not len(work):
        return out
    out["not_counted"] = int((work["status"] != "ok").sum())
    out["endings"] = check_sections.endings_text(work)
    # attempts that only lost a race with the timeout (none died or raised): the machine's overload, not faults
    out["overload"] = set(check_sections.attempt_endings(work)) <= {"superseded", "timed_out"}
    bad = work[work["status"] != "ok"]
    if len(bad):
        per = (
            bad.groupby(["n_map", "n_reduce", "workers"]).size().sort_values(ascending=False)
            if {"n_map", "n_reduce", "workers"} <= set(bad)
            else pd.Series(dtype=int)
        )
        out["where"] = [(_label(*k), int(v)) for k, v in per.head(3).items()]
    return out


def _point(app, input_bytes, m, r, w, cores, timeout):
    return prediction.Point(str(app), float(input_bytes), int(m), int(r), int(w), float(cores), float(timeout))


def compute(runs: pd.DataFrame, tasks: pd.DataFrame, cfg, cal, error=None) -> dict:
    """The answer's numbers. `cal`: a calibration.Calibration (None: measured parts only);
    `error`: prediction.agreement's dict for these runs (median and max |error|, spearman, within_noise_share)."""
    s = analysis.center_interval(runs, by=BY)
    best = s.loc[s["center"].idxmin()]
    cores = analysis.cores_of(runs)
    app = str(runs["app"].iloc[0])
    input_bytes = float(runs["input_bytes"].median())
    timeout = float(getattr(cfg, "task_timeout", 10.0) or 10.0)
    tasks = tasks.merge(runs[["run_id", *BY]], on="run_id", how="left") if len(tasks) else tasks
    ans = {
        "app": app,
        "cores": cores,
        "swept": _swept(runs),
        "summary": s,
        "fastest": {
            "config": _label(best["n_map"], best["n_reduce"], best["workers"]),
            "center_s": float(best["center"]),
            "lo": float(best["lo"]),
            "hi": float(best["hi"]),
            "n": int(best["n"]),
            "method": best["method"],
        },
        "slowest": {"config": _label(*s.loc[s["center"].idxmax(), BY]), "center_s": float(s["center"].max())},
        "events": _events(tasks),
        "model": None,
        "margin": markdown.margin(runs),
        "agreement": error or {},
        # the model explains an answer only where it holds: it ranks these points right and predicts
        # them within their measured noise (prediction.HOLDS against prediction.TARGETS)
        "model_within_noise": bool(error) and prediction.meets_targets(error, prediction.HOLDS),
    }
    if cal is None:
        return ans
    order = s.sort_values(["n_map", "n_reduce"]) if ans["swept"] is None else s.sort_values(ans["swept"])
    first, last = order.iloc[0], order.iloc[-1]
    here = {
        k: prediction.decompose(cal, _point(app, input_bytes, *row[BY], cores, timeout))
        for k, row in (("first", first), ("last", last), ("fastest", best))
    }
    here["first"]["config"] = _label(*first[BY])
    here["last"]["config"] = _label(*last[BY])
    what_if = prediction.predict_sweep(cal, cfg, list(WHAT_IF_CORES))
    what_if = what_if[what_if["app"] == app]
    at_100 = what_if[what_if["cores"] == 100]
    top = at_100.loc[at_100["predicted_end_to_end_s"].idxmin()]
    top_terms = prediction.decompose(cal, _point(app, input_bytes, top["n_map"], top["n_reduce"], top["workers"], 100, timeout))
    measured_cores = prediction.predict_sweep(cal, cfg, [cores])
    ans["model"] = {
        "median_error_pct": None if not error else error.get("median_abs_error_pct"),
        "max_error_pct": None if not error else error.get("max_abs_error_pct"),
        "here": here,
        "curve": measured_cores[measured_cores["app"] == app],
        "what_if": what_if,
        "fastest_at": {int(k): _label(*g.loc[g["predicted_end_to_end_s"].idxmin(), BY]) for k, g in what_if.groupby("cores")},
        "at_100": {
            "config": _label(top["n_map"], top["n_reduce"], top["workers"]),
            "predicted_s": float(top["predicted_end_to_end_s"]),
            "terms": top_terms["terms_s"],
        },
    }
    return ans


def _top_terms(terms, n=2):
    ranked = sorted(terms.items(), key=lambda kv: -kv[1])[:n]
    return " and ".join(f"{name} {num(v)} s" for name, v in ranked if v > 0) or "no single term"


_WHY = {
    "per-task overhead": "each task costs a fixed start, hand-out and commit however little data it has",
    "per-file (intermediate files)": "every map task writes one file per reduce partition, so M×R files are "
    "written, renamed and read back, and each reducer merges M of them",
    "data work (bytes and records)": "the data itself has to be read, tokenised and merged",
    "worker start-up": "each worker is a process started on the same cores as the tasks",
    "contention between running tasks": "tasks running side by side slow each other down (shared caches, memory "
    "bandwidth, context switches) beyond sharing the cores",
    "launch and split": "the launch and the split happen once, before any task",
}


def _growth(ans):
    here = ans["model"]["here"]
    a, b = here["first"], here["last"]
    deltas = {k: b["terms_s"][k] - a["terms_s"][k] for k in b["terms_s"]}
    grown = max(deltas, key=deltas.get)
    before, after = num(a["terms_s"][grown]), num(b["terms_s"][grown])
    if deltas[grown] <= 0 or before == after:  # "grows from 0.2 s to 0.2 s" says nothing
        return f"from {a['config']} to {b['config']}, none of the model's terms changes noticeably."
    return f"from {a['config']} to {b['config']}, {grown} grows most, from {before} s to {after} s: {_WHY[grown]}."


def _by_configuration(fastest_at):
    """'8 cores: M=10, R=5, W=10; 16, 64 and 100 cores: M=15, R=5, W=15': core counts with one pick together."""
    groups = {}
    for k, config in fastest_at.items():
        groups.setdefault(config, []).append(str(k))
    return "; ".join(
        f"{', '.join(ks[:-1]) + ' and ' + ks[-1] if len(ks) > 1 else ks[0]} cores: {config}" for config, ks in groups.items()
    )


def _events_text(ev):
    if not ev["not_counted"]:
        return "no attempt failed or ran again."
    where = ", ".join(f"{n} at {c}" for c, n in ev["where"])
    return f"{plural(ev['not_counted'], 'attempt')} did not count: {ev['endings']}; {where}." + (
        " Overload, not faults: with far more workers than cores a task can wait past the task timeout for a CPU,"
        " and a copy on another worker wins."
        if ev["overload"]
        else ""
    )


def _model_misses(ans):
    """Why the model's decomposition is not shown: it does not hold on these runs, or that is unknown."""
    a = ans["agreement"]
    if a.get("median_abs_error_pct") is None:
        return "its error on these runs could not be measured: its terms are not shown."
    share, rho = a.get("within_noise_share"), a.get("spearman")
    held = [f"{num(a['median_abs_error_pct'])}% median error"]
    if share is None:
        held.append("no 95% interval to be within (one run per point)")
    else:
        held.append(f"{share:.0%} within noise, needs {prediction.TARGETS['within_noise_share']:.0%}")
    if rho is None:
        held.append("no ranking to follow (under three points, or all measured alike)")
    else:
        ceiling = a.get("spearman_ceiling")
        exact = (
            f" (a model exact to the true times: about {ceiling:.2f}, these runs' noise)"
            if ceiling is not None and rho < prediction.TARGETS["spearman"]
            else ""
        )
        held.append(f"rank correlation {rho:.2f}, needs {prediction.TARGETS['spearman']:g}{exact}")
    # what could be judged holds: only what could not be leaves the model unshown
    judged = [key for key in prediction.HOLDS if a.get(key) is not None]
    verdict = "cannot be judged here" if prediction.meets_targets(a, judged) else "misses here"
    return f"{verdict} ({'; '.join(held)}): its terms are not shown."


def answer_text(ans: dict) -> str:
    """The section's closing answer, in Markdown, from `compute`'s dict only."""
    f = ans["fastest"]
    lines = [
        f"### Answer ({ans['app']})",
        "",
        # its interval: the summary's line and the section's table
        f"- **Fastest measured:** {f['config']} at {num(f['center_s'])} s"
        f"{'' if np.isfinite(f['hi']) else ' (no interval from one run)'}{ans['margin']}.",
    ]
    m = ans["model"] if ans["model_within_noise"] else None
    if ans["model"] is not None and m is None:
        lines.append(f"- **The cost model:** {_model_misses(ans)}")
    if m is not None:
        err = (
            f"its median error on these runs is {num(m['median_error_pct'])}% (at most {num(m['max_error_pct'])}%)"
            if m["median_error_pct"] is not None
            else "its error on these runs could not be measured"
        )
        fh = m["here"]["fastest"]
        lines.append(
            f"- **Why, in the model's terms:** at {f['config']} on {ans['cores']} cores the model predicts "
            f"{num(fh['end_to_end_s'])} s, of which {_top_terms(fh['terms_s'])}; {err}."
        )
        what = {"n_map": "M grows", "n_reduce": "R grows", None: "the pairs grow"}[ans["swept"]]
        lines.append(f"- **As {what}:** {_growth(ans)}")
        lines.append(
            f"- **With more cores (model output, not measured):** fastest at {_by_configuration(m['fastest_at'])}. "
            f"On 100 cores the model picks {m['at_100']['config']} at {num(m['at_100']['predicted_s'])} s, "
            f"of which {_top_terms(m['at_100']['terms'])}."
        )
    lines.append(f"- **What the runs hit:** {_events_text(ans['events'])}")
    return "\n".join(lines) + "\n"


def answer_figure(ans: dict):
    """Measured medians (with their intervals) and the model's curves at this machine's and more cores."""

    s = ans["summary"]
    x = ans["swept"]
    fig, ax = plots.new_figure(6.4, 4.2, integer_x=x is not None)
    if x is None:  # pairs: one tick per pair, in grid order
        order = s.sort_values(["n_map", "n_reduce"]).reset_index(drop=True)
        keys = list(zip(order["n_map"], order["n_reduce"]))
        pos = {k: i for i, k in enumerate(keys)}
        xs = np.arange(len(keys))
        ax.set_xticks(xs, [f"({m},{r})" for m, r in keys], rotation=45, fontsize=8)
        ax.set_xlabel("(M, R)")
        place = lambda frame: [pos.get((m, r), np.nan) for m, r in zip(frame["n_map"], frame["n_reduce"])]  # noqa: E731
        style = {"linestyle": "none"}  # pairs are not a swept parameter: points, not lines
    else:
        order = s.sort_values(x)
        xs = order[x].to_numpy()
        ax.set_xscale("log")
        ax.set_xticks(xs, [str(int(v)) for v in xs])
        ax.minorticks_off()
        ax.set_xlabel({"n_map": "map tasks M", "n_reduce": "reduce tasks R"}[x])
        place = lambda frame: frame[x].to_numpy()  # noqa: E731
        style = {}
    ci = plots.interval(order)
    ax.errorbar(
        place(order),
        order["center"],
        yerr=ci,
        marker="o",
        capsize=3,
        color=plots.SERIES_COLORS["measured"],
        label=f"measured ({ans.get('where') or plural(ans['cores'], 'core')})",
        **style,
    )
    m = ans["model"] if ans.get("model_within_noise") else None
    if m is not None:
        curve = m["curve"].sort_values(["n_map", "n_reduce"])
        ax.plot(
            place(curve),
            curve["predicted_end_to_end_s"],
            marker="x",
            linestyle="--" if x else "none",
            color=plots.SERIES_COLORS["model"],
            label=f"model, {ans['cores']} cores (median error {num(m['median_error_pct'] or float('nan'))}%)",
        )
        for k, g in m["what_if"].groupby("cores"):
            g = g.sort_values(["n_map", "n_reduce"])
            ax.plot(
                place(g),
                g["predicted_end_to_end_s"],
                marker=".",
                linestyle=":" if x else "none",
                color=plots.SERIES_COLORS[f"model_{int(k)}"],
                label=f"model output, {int(k)} cores",
            )
    plots.time_axis(ax, [order["center"], *([] if m is None else [line.get_ydata() for line in ax.get_lines()])])
    ax.set_ylabel("end-to-end time (s)")
    drawn = "measured and model output" if m is not None else "measured"
    ax.set_title(
        f"{ans['app']}: end-to-end time, {drawn}, by configuration" + (f" ({ans['where']})" if ans.get("where") else ""),
        fontsize=10,
    )
    plots.legend_outside(ax)
    return fig

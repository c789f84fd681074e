"""The report's text: Markdown sentences computed from the runs/tasks DataFrames.

Nothing here is canned: every sentence is built from numbers in the frames
(via `analysis`), and a sentence whose numbers do not exist (a single run, a
variable that did not vary) is left out or says why. Each section is a pure
function of DataFrames, so it is tested on synthetic data without running a
job. `markdown_report` assembles one section per question (map sweep, reduce
sweep, (M, R) pairs, mappers), plus any extra sections such as the checks'
(check_sections.py).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mrkit.experiments import analysis, laws
from mrkit.experiments.formatting import LETTER, config_text, num, pct, plural
from mrkit.experiments.meaning import QUESTIONS, infer_question, question_of

CONFIG_BY = analysis.CONFIG_BY
NOISY_CV = 0.10
FLAT = 0.05  # a spread under 5% of the minimum is reported as flat


def _at(x, value):
    return f"{LETTER.get(x, x)}={value:g}"


# ------------------------------------------------------------ sentences


def trend(runs: pd.DataFrame, x: str, metric: str = "end_to_end_s") -> str:
    """How mean `metric` moves with `x`: falls, rises, falls then rises, or stays flat."""
    s = analysis.summarize(runs, by=x, metric=metric).sort_values(x).reset_index(drop=True)
    xs, ts = s[x].tolist(), s["mean"].to_numpy()
    if len(xs) < 2:
        return f"Only {_at(x, xs[0])} was measured: {num(ts[0])} s." if xs else ""
    lo, hi = int(np.argmin(ts)), int(np.argmax(ts))
    point = lambda i: f"{num(ts[i])} s at {_at(x, xs[i])}"  # noqa: E731
    name = "End-to-end time" if metric == "end_to_end_s" else metric
    if (ts[hi] - ts[lo]) / ts[lo] < FLAT:
        return (
            f"{name} stays flat: between {num(ts[lo])} and {num(ts[hi])} s for {_at(x, xs[0])}..{xs[-1]:g} (within {FLAT:.0%})."
        )
    if 0 < lo < len(xs) - 1:
        return (
            f"{name} falls from {point(0)} to {point(lo)} ({pct(ts[lo] / ts[0] - 1)}), "
            f"then rises to {point(len(xs) - 1)} ({pct(ts[-1] / ts[lo] - 1)} over the minimum)."
        )
    if lo == len(xs) - 1:
        steady = "steadily " if np.all(np.diff(ts) <= 0) else ""
        return f"{name} falls {steady}from {point(0)} to {point(lo)} ({pct(ts[lo] / ts[0] - 1)})."
    if 0 < hi < len(xs) - 1:
        return (
            f"{name} rises from {point(0)} to a peak of {point(hi)}, "
            f"then falls back to {point(len(xs) - 1)}; the lowest is at {_at(x, xs[0])}."
        )
    return f"{name} rises from {point(0)} to {point(len(xs) - 1)} ({pct(ts[-1] / ts[0] - 1)}); fewest is fastest."


def margin(runs: pd.DataFrame, metric: str = "end_to_end_s") -> str:
    """'; the runner-up, X, is 0.1 s (5%) slower, within noise …': the fastest's margin, "" with one configuration."""
    b = analysis.best_configuration(runs, metric=metric, by=CONFIG_BY)
    if b.runner_up is None:
        return ""
    text = f"; the runner-up, {config_text(b.runner_up)}, is {num(b.margin_s)} s ({b.margin_pct:.1f}%) slower"
    if not np.isfinite(b.ci95):
        return text + ", a margin one run per configuration cannot tell from noise"
    return text + (", within noise" if b.within_noise else ", beyond noise: the intervals do not overlap")


def best(runs: pd.DataFrame, metric: str = "end_to_end_s") -> str:
    """The fastest configuration, its margin over the runner-up, and whether that margin is noise."""
    b = analysis.best_configuration(runs, metric=metric, by=CONFIG_BY)
    ci = f" (± {num(b.ci95)} s, 95% CI)" if np.isfinite(b.ci95) else ""
    text = f"The fastest configuration is {config_text(b.config)} at {num(b.mean)} s{ci}"
    if b.runner_up is None:
        return text + "; it is the only one measured."
    text += f"; the runner-up, {config_text(b.runner_up)}, is {num(b.margin_s)} s ({b.margin_pct:.1f}%) slower"
    if not np.isfinite(b.ci95):
        return text + ", a margin one run per configuration cannot tell from noise."
    if b.within_noise:
        return text + ", within noise: their confidence intervals overlap, so the ranking may be luck."
    return text + ", a real difference: their confidence intervals do not overlap."


def _cores_sentence(runs):
    cores = analysis.cores_of(runs)
    over = runs.loc[runs["workers"] > cores, "workers"].unique()
    if not len(over):
        return f"Every configuration uses at most the {cores} CPUs of the machine."
    verb = "exceeds" if len(over) == 1 else "exceed"
    return (
        f"{len(over)} of {plural(runs['workers'].nunique(), 'worker count')} {verb} the {cores} CPUs (up to W={int(over.max())})."
    )


def _poor_fit(r2):
    # A model that explains under half the variance should not be quoted as if it were exact.
    return " — a poor fit, so read it loosely" if np.isfinite(r2) and r2 < 0.5 else ""


def _cost_sentence(runs, x):
    """The time each extra task adds: the slope of the mean times where every core is busy.

    Below the cores more tasks still add parallelism, so a line through those
    points would mix two effects; the answer splits the slope into the cost model's terms.
    """
    letter, cores = LETTER[x], analysis.cores_of(runs)
    means = runs.groupby(x)["end_to_end_s"].mean()
    busy = means[means.index >= cores] if cores else means
    if len(busy) >= 2 and len(busy) < len(means):
        means, where = busy, f"From {letter}={int(busy.index.min())} on (all {cores} CPUs busy), a"
    else:
        where = "A"
    if len(means) < 2:
        return ""
    slope = np.polyfit(means.index.to_numpy(float), means.to_numpy(), 1)[0]
    verb = "adds" if slope > 0 else "saves"
    return f"{where} straight line through the mean times says each extra task {verb} about {num(abs(slope) * 1000)} ms."


def files_per_reduce(runs: pd.DataFrame, tasks: pd.DataFrame | None) -> str:
    """A reduce task reads one intermediate file per map task: its measured median time against M (at the R
    with the most M values), or against R where M is fixed, from the task records."""
    per = analysis.reduce_task_times(runs, tasks) if tasks is not None and len(tasks) else pd.DataFrame()
    if len(per) < 2:
        return ""
    if per["n_map"].nunique() > 1:
        r = per.groupby("n_reduce")["n_map"].nunique().idxmax()
        times = per[per["n_reduce"] == r].groupby("n_map")["reduce_s"].median()
        lo, hi = times.index.min(), times.index.max()
        return (
            f"A reduce task reads one file per map task: at R={int(r)} its median time is {num(times[lo])} s "
            f"for {int(lo)} files and {num(times[hi])} s for {int(hi)} ({num(times[hi] / times[lo])}×)."
        )
    times = per.groupby("n_reduce")["reduce_s"].median()
    lo, hi = times.index.min(), times.index.max()
    return (
        f"Each reduce task reads M={int(per['n_map'].iloc[0])} files, smaller as R grows: its median time is "
        f"{num(times[lo])} s at R={int(lo)} and {num(times[hi])} s at R={int(hi)}."
    )


def limits(runs: pd.DataFrame, tasks: pd.DataFrame | None, x: str | None) -> str:
    """Where and why speedup stops: cores and per-task overhead (the serial stages: the stage figure; stragglers:
    the appendix's slowest-over-median column)."""
    parts = [_cores_sentence(runs)]
    if x in ("n_map", "n_reduce") and runs[x].nunique() >= 2:
        parts.append(_cost_sentence(runs, x))
    return " ".join(p for p in parts if p)


def _amdahl_speedup(f, n):
    return 1.0 / (f + (1.0 - f) / n)


AMDAHL_PARAMETERS = 2  # T1 and f: a fit needs more distinct worker counts than this to be tested at all


def amdahl_scope(runs: pd.DataFrame, x: str = "workers"):
    """(runs Amdahl's law may be fitted to, None) or (None, why it is not fitted).

    The law models processors, so only x within the CPUs is its regime; and a fit needs
    more distinct points than its two parameters, else it passes through them exactly
    (R² = 1, a zero-width interval) and says nothing (Hoefler & Belli, SC'15).
    """
    cores = analysis.cores_of(runs)
    within = runs[runs[x] <= cores] if cores else runs
    counts = sorted(int(v) for v in within[x].unique())
    if len(counts) > AMDAHL_PARAMETERS:
        return within, None
    regime = f" within the {cores} CPUs" if cores else ""
    have = f"{plural(len(counts), 'distinct worker count')} ({', '.join(map(str, counts))})" if counts else "no worker count"
    return None, f"Amdahl's law is not fitted: {have}{regime}; it needs {AMDAHL_PARAMETERS + 1}."


def fraction_ci(lo, hi) -> str:
    """'0.18–0.22' at the fewest decimals (2 to 4) that tell its ends apart; "" for an interval of zero width,
    which is never quoted: no measurement is that certain."""
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return ""
    for digits in (2, 3, 4):
        if f"{lo:.{digits}f}" != f"{hi:.{digits}f}":
            return f"{lo:.{digits}f}–{hi:.{digits}f}"
    return ""


def amdahl(runs: pd.DataFrame, metric: str = "end_to_end_s") -> str:
    """The fitted serial fraction with its CI and what Amdahl's law predicts at 10 and 100 workers,
    or why the law is not fitted (amdahl_scope)."""
    if runs["workers"].nunique() < 2:
        return f"Workers stayed at W={int(runs['workers'].iloc[0])}, so no serial fraction can be fitted."
    used, why_not = amdahl_scope(runs)
    if used is None:
        return why_not
    cores = analysis.cores_of(runs)
    scope = (
        f"; only W ≤ {cores}, the CPU count: beyond it workers share cores, which the law does not model"
        if len(used) < len(runs)
        else ""
    )
    fit = laws.fit_amdahl(used["workers"], used[metric])
    f, (lo, hi) = fit.serial_fraction, fit.ci95
    ci = fraction_ci(lo, hi)
    ci = f"95% CI {ci}, " if ci else ""
    head = (
        f"Fitting Amdahl's law T(W) = T1·(f + (1 − f)/W) to the {fit.n_points} runs "
        f"(W={int(used['workers'].min())}..{int(used['workers'].max())}{scope}) gives a serial fraction "
        f"f = {f:.2f} ({ci}R² = {fit.r2:.2f}{_poor_fit(fit.r2)})."
    )
    if f >= 0.99:
        means = used.groupby("workers")[metric].mean()
        observed = (
            "Time never fell as workers were added"
            if means.idxmin() == means.index.min()
            else f"Time fell only from {num(means.iloc[0])} s to {num(means.min())} s, too little to fit"
        )
        return head + (
            f" {observed}, so the law predicts no speedup at 10 or 100 workers: here the limit is "
            "cores and per-task overhead, not a serial part of the job."
        )
    preds = []
    for n in (10, 100):
        rng = f" (CI {num(_amdahl_speedup(hi, n))}–{num(_amdahl_speedup(lo, n))})" if ci else ""
        preds.append(f"{num(_amdahl_speedup(f, n))} at {n} workers{rng}")
    limit = f"1/f = {num(fit.max_speedup)}" if f > 0 else "none: f = 0"
    return head + f" It predicts a speedup over one worker of at most {' and '.join(preds)}; the limit is {limit}."


def broken_points(runs: pd.DataFrame, metric: str = "end_to_end_s") -> pd.DataFrame:
    """Configurations whose 95% interval reaches zero: no time is that short, so a run of theirs is broken.

    Each row: the configuration, its runs' range, and the cause the records show (other programs'
    CPU seconds during its slowest run, when recorded), in `cause`.
    """
    ci = analysis.center_interval(runs, by=CONFIG_BY, metric=metric)
    bad = ci[(ci["n"] > 1) & (ci["lo"] <= 0)].copy()
    causes = []
    for _, row in bad.iterrows():
        mine = runs[(runs[CONFIG_BY] == row[CONFIG_BY].to_numpy()).all(axis=1)]
        slow = mine.loc[mine[metric].idxmax()]
        others = slow.get("others_cpu_s")
        loaded = (
            f"other programs took {num(others)} CPU-s during its slowest run ({num(slow[metric])} s)"
            if others is not None and pd.notna(others) and others > 0.1 * slow[metric]
            else f"slowest run {num(slow[metric])} s, fastest {num(mine[metric].min())} s"
        )
        causes.append(loaded)
    return bad.assign(cause=causes)


def broken_text(runs: pd.DataFrame, metric: str = "end_to_end_s") -> str:
    """A sentence flagging each configuration whose interval reaches zero, with its cause; "" when none does."""
    bad = broken_points(runs, metric)
    if bad.empty:
        return ""
    listed = "; ".join(f"{config_text(r)} ({r['cause']})" for _, r in bad.iterrows())
    # its interval is in the table: the sentence says only what makes it broken
    return (
        f"**Broken measurement{'s' if len(bad) > 1 else ''}** (one run far from the others: a 95% interval reaching "
        f"zero; not compared with the rest): {listed}."
    )


def noise(runs: pd.DataFrame, metric: str = "end_to_end_s") -> str:
    """Flags configurations whose repeats vary by more than 10% (CV)."""
    s = analysis.summarize(runs, by=CONFIG_BY, metric=metric, noisy_cv=NOISY_CV)
    if (s["n"] < 2).all():
        return "With one run per configuration, noise cannot be judged."
    noisy = s[s["noisy"]]
    if noisy.empty:
        text = f"No configuration varies by more than {NOISY_CV:.0%} (CV) over its repeats (max CV {s['cv'].max():.1%})."
    else:  # which ones: the table's CV column (a list here cost the report hundreds of words)
        text = f"{len(noisy)} of {len(s)} configurations vary by more than {NOISY_CV:.0%} over their repeats (CV)."
    broken = broken_text(runs, metric)
    return text + _repeated(runs, metric) + (" " + broken if broken else "")


def _repeated(runs, metric):
    """Which points the sweep repeated past its planned runs (their interval was wide), and how wide they ended."""
    ci = analysis.center_interval(runs, by=CONFIG_BY, metric=metric)
    planned = int(ci["n"].min())
    extra = ci[ci["n"] > planned]
    if extra.empty:
        return ""
    return f" {len(extra)} took more than {planned} runs for a wide 95% interval."


def map_stage(runs: pd.DataFrame) -> str:
    """Map-stage speedup (map_serial_sum_s / map_wall_s) against mappers and cores."""
    s = analysis.map_stage_speedup(runs, by="n_map").dropna(subset=["mean"])
    top = s.loc[s["mean"].idxmax()]
    last = s.iloc[-1]
    cores = int(runs["cpu_count"].max())
    text = (
        f"Map-stage speedup (map tasks' summed durations over the map stage's wall time) peaks at {num(top['mean'])} at "
        f"M={int(top['n_map'])} (ideal: {int(top['n_map'])})"
    )
    if last["n_map"] != top["n_map"]:
        text += f" and is {num(last['mean'])} at M={int(last['n_map'])}"
    text += f", on {cores} CPUs."
    if last["n_map"] > cores:
        # Past the cores the ratio keeps counting tasks that merely shared a CPU: their
        # durations (the serial sum) stretch, which inflates the "speedup".
        sums = runs.groupby("n_map")["map_serial_sum_s"].mean()
        text += (
            f" Beyond {cores} mappers tasks share cores and each takes longer (serial sum {num(sums.iloc[0])} s at "
            f"M={int(sums.index[0])}, {num(sums.iloc[-1])} s at M={int(sums.index[-1])}): above {cores} is no real gain."
        )
    return text


def estimate(runs: pd.DataFrame, x: str = "n_map") -> str:
    """Estimated parallel time (split + map wall + reduce wall) against the measured end-to-end time."""
    m = runs.groupby(x)[["est_parallel_s", "est_serial_s", "end_to_end_s"]].mean().sort_index()
    ends = list(dict.fromkeys([m.index[0], m.index[-1]]))
    said = "; ".join(
        f"{num(m.loc[v, 'est_parallel_s'])} s against {num(m.loc[v, 'end_to_end_s'])} s measured at {_at(x, v)}" for v in ends
    )
    gap = (m["end_to_end_s"] - m["est_parallel_s"]).loc[ends]
    why = (
        "start-up and coordination, which it leaves out"
        if (gap > 0).all()
        else "the stages overlapping less than it assumes"
        if (gap < 0).all()
        else "start-up it leaves out at one end, stages overlapping less than it assumes at the other"
    )
    return f"Estimated end-to-end time (split + map wall + reduce wall): {said}; the gap is {why}."


def pairs_overview(runs: pd.DataFrame) -> str:
    """The slowest pair against the fastest (the time along M at each R: the figure and the table)."""
    s = analysis.summarize(runs, by=["n_map", "n_reduce"])
    bad = broken_points(runs)
    broken = set(zip(bad["n_map"], bad["n_reduce"]))
    sound = s[[(m, r) not in broken for m, r in zip(s["n_map"], s["n_reduce"])]]
    sound = sound if len(sound) else s
    slow, fast = sound.loc[sound["mean"].idxmax()], sound.loc[sound["mean"].idxmin()]
    aside = f" (leaving out the broken measurement{'s' if len(broken) > 1 else ''} flagged below)" if broken else ""
    return (
        f"The slowest pair{aside} is (M, R) = ({int(slow['n_map'])}, {int(slow['n_reduce'])}) "
        f"at {num(slow['mean'])} s, "
        f"{num(slow['mean'] / fast['mean'])}× the fastest."
    )


# -------------------------------------------------------------- sections


_TREND = lambda r, t, x: trend(r, x)  # noqa: E731
_BEST = lambda r, t, x: best(r)  # noqa: E731
_LIMITS = lambda r, t, x: limits(r, t, x)  # noqa: E731
_AMDAHL = lambda r, t, x: amdahl(r)  # noqa: E731
_NOISE = lambda r, t, x: noise(r)  # noqa: E731
_FILES = lambda r, t, x: files_per_reduce(r, t)  # noqa: E731

# Each question's sentences in order (the questions themselves: meaning.QUESTIONS).
SENTENCES = {
    "map_sweep": (_TREND, _BEST, _LIMITS, _AMDAHL, _NOISE),
    "reduce_sweep": (_TREND, _BEST, _LIMITS, _FILES, _AMDAHL, _NOISE),
    "pairs": (lambda r, t, x: pairs_overview(r), _BEST, _LIMITS, _FILES, _AMDAHL, _NOISE),
    "mappers": (_TREND, lambda r, t, x: map_stage(r), lambda r, t, x: estimate(r, x), _BEST, _LIMITS, _AMDAHL, _NOISE),
}
# The report's sections open with their answer (answers.py), which states the fastest configuration and its
# margin: there the evidence leaves `best` out, so the fact is stated once.
EVIDENCE = {question: tuple(part for part in parts if part is not _BEST) for question, parts in SENTENCES.items()}


def question_section(runs: pd.DataFrame, tasks: pd.DataFrame | None, question: str, parts=SENTENCES) -> str:
    """One question's Markdown section: a heading and a paragraph of sentences from the runs.

    `parts`: SENTENCES (a section on its own), or EVIDENCE (under an answer that states the fastest).
    """
    q = QUESTIONS[question]
    apps = ", ".join(sorted(map(str, runs["app"].unique()))) if "app" in runs else "?"
    sentences = [part(runs, tasks, q.x) for part in parts[question]]
    return f"## {q.title} ({apps})\n\n" + "\n\n".join(s for s in sentences if s) + "\n"


def _header(runs, meta):
    if not meta:
        return f"{len(runs)} runs.\n"
    p = meta.get("parameters", {})
    return (
        f"Measured on {meta.get('host', '?')} ({meta.get('cpu_count', '?')} CPUs), mrkit "
        f"{meta.get('versions', {}).get('mrkit', '?')}, commit {str(meta.get('git_commit'))[:10]}, "
        f"{meta.get('start', '?')}; {len(runs)} runs, {p.get('repeats', '?')} per configuration after "
        f"{'one unrecorded warm-up' if p.get('warmup', True) else 'no warm-up'}; input "
        f"{num(meta.get('input_bytes', 0) / 2**20)} MiB.\n"
    )


def markdown_report(
    runs: pd.DataFrame,
    tasks: pd.DataFrame | None = None,
    *,
    meta: dict | None = None,
    questions: list[str] | None = None,
    extra_sections=(),
    title="MapReduce scaling report",
) -> str:
    """The whole Markdown report: a header, one section per question, then `extra_sections`.

    Questions come from `questions`, else from the runs' `sweep` column
    (`meaning.question_of`), else from what varies (`meaning.infer_question`). With a
    `sweep` column each section uses that sweep's runs only.
    """
    groups = []
    if questions is not None:
        groups = [(q, runs) for q in questions]
    elif "sweep" in runs and runs["sweep"].notna().all():
        for name, rows in runs.groupby("sweep", sort=False):
            groups.append((question_of(name, rows), rows))
    else:  # apps are never mixed in one section: their times are not comparable
        groups = [(infer_question(rows), rows) for _, rows in runs.groupby("app", sort=False)]
    sections = [f"# {title}\n\n{_header(runs, meta)}"]
    for question, rows in groups:
        sub_tasks = None if tasks is None else tasks[tasks["run_id"].astype(str).isin(rows["run_id"].astype(str))]
        sections.append(question_section(rows, sub_tasks, question))
    sections.extend(extra_sections)
    return "\n".join(sections)

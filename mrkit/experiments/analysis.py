"""Statistics for MapReduce timing experiments.

Turns the per-run table (``runs.csv``) and the per-task-attempt table
(``tasks.csv``), whose columns are in ``mrkit.timing``, into the numbers a report needs: summaries
with confidence intervals and a noise flag, speedup/efficiency curves (Amdahl
and Karp-Flatt are in laws.py), the best configuration and whether its lead is real, a
per-stage breakdown, a Gantt-ready task timeline and an output-correctness check.

Everything is a pure function of DataFrames or arrays -- no I/O, plotting or
printing -- so the CLI, the report and the tests share one implementation.
Only numpy and pandas are used (no scipy), hence the small t table and NNLS.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from math import comb

import numpy as np
import pandas as pd

from mrkit.verify import compare

CONFIG_COLUMNS = ("app", "backend", "n_map", "n_reduce", "workers")
# What a sweep varies within one app and backend: the groups of the report's tables and figures.
CONFIG_BY = ["n_map", "n_reduce", "workers"]
STAGES = ("split", "map", "reduce", "overhead")

# Two-sided 95% Student-t critical values by degrees of freedom. Between table
# entries above 30 we use the next smaller dof, which slightly widens the
# interval (conservative) instead of pretending n is large.
_T95 = dict(
    enumerate(
        (
            12.706,
            4.303,
            3.182,
            2.776,
            2.571,
            2.447,
            2.365,
            2.306,
            2.262,
            2.228,
            2.201,
            2.179,
            2.160,
            2.145,
            2.131,
            2.120,
            2.110,
            2.101,
            2.093,
            2.086,
            2.080,
            2.074,
            2.069,
            2.064,
            2.060,
            2.056,
            2.052,
            2.048,
            2.045,
            2.042,
        ),
        start=1,
    )
)
_T95.update({40: 2.021, 60: 2.000, 120: 1.980})


def t95(dof: int) -> float:
    """Two-sided 95% t critical value; NaN when dof < 1 (one run has no spread)."""
    if dof < 1:
        return float("nan")
    return _T95[max(k for k in _T95 if k <= dof)]


def _cols(by: str | Sequence[str]) -> list[str]:
    # A bare string would otherwise be split into characters by list().
    return [by] if isinstance(by, str) else list(by)


def _require(df: pd.DataFrame, cols: Sequence[str], who: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise KeyError(f"{who}: missing column(s) {missing}; have {list(df.columns)}")


def cores_of(runs: pd.DataFrame) -> int | None:
    """The CPUs the runs could use: the `cores` they recorded (their affinity), else the
    machine's `cpu_count` (records from before `cores`); None when neither is known."""
    for col in ("cores", "cpu_count"):
        if col in runs and runs[col].notna().any():
            return int(runs[col].max())
    return None


def r2(y: np.ndarray, fitted: np.ndarray) -> float:
    """Coefficient of determination; NaN when y has no variance to explain."""
    sst = float(((y - y.mean()) ** 2).sum())
    return 1.0 - float(((y - fitted) ** 2).sum()) / sst if sst > 0 else float("nan")


def spearman(x, y) -> float:
    """Spearman's rank correlation of x and y: Pearson's of their ranks, ties at their average rank.

    NaN for fewer than two pairs or a side whose values are all equal.
    """
    frame = pd.DataFrame({"x": np.asarray(x, dtype=float), "y": np.asarray(y, dtype=float)}).dropna()
    if len(frame) < 2:
        return float("nan")
    return float(frame.rank().corr().iloc[0, 1])


CEILING_DRAWS = 2000  # bootstrap draws behind spearman_ceiling: its value moves by about 0.005 between seeds


def spearman_ceiling(repeats, draws=CEILING_DRAWS, seed=0) -> float:
    """The rank correlation with these measurements that a model exact to each point's true time would have.

    `repeats`: each point's repeated times; a point is measured as their
    median. Points whose medians lie within each other's noise are ranked
    by the noise, and a prediction of their true times ranks them no better
    than another draw of that noise would. Estimated by bootstrap: the
    points' medians stand for their true times, each point's times are
    resampled with replacement, and Spearman's rho between the medians and
    the resampled medians is averaged over `draws` resamples. In
    simulations of eight points measured three times each it averaged 0.75,
    0.89 and 0.95 where an exact model's rho averaged 0.73, 0.91 and 0.97
    (points 0.3, 0.6 and 1 standard deviation of their noise apart), and
    0.56 where the points were equal (an exact model then has no ranking
    to get). Seeded: a pure function of the times. NaN for fewer
    than three points with two times or more (the points with one time are
    left out: they have no noise to draw).
    """
    groups = [np.asarray(g, dtype=float) for g in repeats]
    groups = [g[np.isfinite(g)] for g in groups]
    groups = [g for g in groups if len(g) >= 2]
    if len(groups) < 3:
        return float("nan")
    rng = np.random.default_rng(seed)
    drawn = np.column_stack([np.median(rng.choice(g, size=(draws, len(g))), axis=1) for g in groups])
    ranks = pd.DataFrame(np.vstack([[np.median(g) for g in groups], drawn])).rank(axis=1).to_numpy()
    ranks = ranks - ranks.mean(axis=1, keepdims=True)
    measured, drawn = ranks[0], ranks[1:]
    norm = np.sqrt((measured @ measured) * (drawn * drawn).sum(axis=1))
    rho = np.divide(drawn @ measured, norm, out=np.full(draws, np.nan), where=norm > 0)
    return float(np.nanmean(rho)) if np.isfinite(rho).any() else float("nan")


def nnls(a: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Least squares with every coefficient >= 0.

    If the plain fit is already non-negative it is the answer. Otherwise the
    optimum is the plain fit on some subset of columns, so for the 2-3 column
    models here trying every subset is exact and simpler than an active-set
    solver. Smaller subsets are tried first and win near-ties.
    """
    coef = np.linalg.lstsq(a, y, rcond=None)[0]
    if (coef >= 0).all():
        return coef
    k = a.shape[1]
    best, best_sse = np.zeros(k), float(y @ y)
    for size in range(1, k + 1):
        for cols in combinations(range(k), size):
            coef = np.linalg.lstsq(a[:, cols], y, rcond=None)[0]
            if (coef < 0).any():
                continue
            full = np.zeros(k)
            full[list(cols)] = coef
            sse = float(((y - a @ full) ** 2).sum())
            if sse < best_sse * (1 - 1e-9):
                best, best_sse = full, sse
    return best


def _scalar(v):
    """numpy scalars -> plain Python values, so results print and compare cleanly."""
    return v.item() if isinstance(v, np.generic) else v


# ---------------------------------------------------------------- summaries


def summarize(
    runs: pd.DataFrame, by: str | Sequence[str] = CONFIG_COLUMNS, metric: str = "end_to_end_s", noisy_cv: float = 0.10
) -> pd.DataFrame:
    """Per configuration: n, mean, median, std, cv, min, max, ci95 half-width, noisy.

    ``ci95`` is the t-based half-width (t * std / sqrt(n)); ``noisy`` is
    cv > ``noisy_cv``. With a single run std, cv and ci95 are NaN and noisy is
    False: one run cannot show noise, it also cannot show its absence.
    """
    by = _cols(by)
    _require(runs, [*by, metric], "summarize")
    # dropna=False: a missing backend/app must not silently drop the group.
    g = runs.groupby(by, dropna=False, sort=True)[metric]
    out = g.agg(n="count", mean="mean", median="median", std="std", min="min", max="max").reset_index()
    out["cv"] = out["std"] / out["mean"]
    out["ci95"] = out["n"].map(lambda n: t95(n - 1)) * out["std"] / np.sqrt(out["n"])
    out["noisy"] = (out["cv"] > noisy_cv).astype(bool)
    return out[[*by, "n", "mean", "median", "std", "cv", "min", "max", "ci95", "noisy"]]


def speedup(
    runs: pd.DataFrame,
    x: str = "workers",
    metric: str = "end_to_end_s",
    baseline: float | None = None,
    by: str | Sequence[str] = (),
) -> pd.DataFrame:
    """Per x (and per ``by`` group): n, mean_s, speedup = T(baseline)/T(x), efficiency.

    The baseline defaults to the smallest x present; column ``baseline_x``
    records it, so a sweep without a 1-worker run is visible rather than
    passed off as absolute speedup. efficiency = speedup * baseline_x / x,
    i.e. speedup / x when the baseline is 1. Runs of different apps/backends
    are refused unless split with ``by`` -- averaging them is meaningless.
    """
    by = _cols(by)
    _require(runs, [*by, x, metric], "speedup")
    for col in ("app", "backend"):
        if col not in by and col in runs and runs[col].nunique(dropna=False) > 1:
            raise ValueError(f"speedup: runs mix several {col} values; filter them or pass by={col!r}")
    data = runs.dropna(subset=[x, metric])
    means = data.groupby([*by, x], dropna=False, sort=True)[metric].agg(n="count", mean_s="mean").reset_index()
    parts = []
    for _, g in means.groupby(by, dropna=False, sort=True) if by else [(None, means)]:
        base_x = g[x].min() if baseline is None else baseline
        if not (g[x] == base_x).any():
            raise ValueError(f"speedup: baseline {x}={base_x} not among {sorted(g[x])}")
        base_t = g.loc[g[x] == base_x, "mean_s"].iloc[0]
        g = g.assign(speedup=base_t / g["mean_s"], baseline_x=_scalar(base_x))
        g["efficiency"] = g["speedup"] * base_x / g[x]
        parts.append(g)
    return pd.concat(parts, ignore_index=True)


def map_stage_speedup(runs: pd.DataFrame, by: str | Sequence[str] = ("n_map",)) -> pd.DataFrame:
    """Per n_map: summary (mean, ci95, cv, ...) of map_serial_sum_s / map_wall_s.

    Recomputed from the two times rather than read from ``map_speedup`` so a
    zero wall time becomes NaN instead of inf. Add "workers" to ``by`` when a
    sweep varies both.
    """
    _require(runs, ["map_serial_sum_s", "map_wall_s"], "map_stage_speedup")
    wall = runs["map_wall_s"].where(runs["map_wall_s"] > 0)
    ratio = runs["map_serial_sum_s"] / wall
    return summarize(runs.assign(map_speedup=ratio), by=by, metric="map_speedup")


# ---------------------------------------------------- decisions and views


@dataclass(frozen=True)
class BestConfig:
    """Lowest-mean configuration, the runner-up, and whether the gap is real."""

    config: dict
    mean: float
    ci95: float
    runner_up: dict | None
    runner_up_mean: float
    margin_s: float
    margin_pct: float  # runner-up is this many % slower than the best
    within_noise: bool


def best_configuration(runs: pd.DataFrame, metric: str = "end_to_end_s", by: str | Sequence[str] = CONFIG_COLUMNS) -> BestConfig:
    """The configuration with the lowest mean ``metric`` and its margin over the runner-up.

    ``within_noise`` is True when the two ci95 intervals overlap, or when
    either is unknown (single run): then the ranking may be luck. Overlap is
    a conservative rule -- overlapping intervals can still differ -- which
    suits a "don't over-claim" report. Without a runner-up it is False.
    """
    by = _cols(by)
    s = summarize(runs, by=by, metric=metric).dropna(subset=["mean"])
    if s.empty:
        raise ValueError(f"best_configuration: no runs with a {metric} value")
    s = s.sort_values("mean", kind="stable").reset_index(drop=True)
    cfg = lambda row: {c: _scalar(row[c]) for c in by}  # noqa: E731
    best = s.iloc[0]
    if len(s) == 1:
        return BestConfig(cfg(best), float(best["mean"]), float(best["ci95"]), None, np.nan, np.nan, np.nan, False)
    second = s.iloc[1]
    margin = float(second["mean"] - best["mean"])
    ci_b, ci_r = float(best["ci95"]), float(second["ci95"])
    unknown = not (np.isfinite(ci_b) and np.isfinite(ci_r))
    overlap = best["mean"] + ci_b >= second["mean"] - ci_r
    return BestConfig(
        cfg(best),
        float(best["mean"]),
        ci_b,
        cfg(second),
        float(second["mean"]),
        margin,
        100.0 * margin / float(best["mean"]),
        bool(unknown or overlap),
    )


def stage_breakdown(runs: pd.DataFrame, by: str | Sequence[str] = CONFIG_COLUMNS) -> pd.DataFrame:
    """Long form (by..., stage, seconds, fraction) of mean stage times per configuration.

    Stages are split, map (wall), reduce (wall) and overhead = end_to_end_s -
    (split + map + reduce), clipped at 0 per run before averaging (timer
    jitter can make it slightly negative). startup_s is not a stage of its own:
    it overlaps split_s, so its non-split part (process start-up) is in overhead.
    ``fraction`` is each stage's share of the stacked total.
    """
    by = _cols(by)
    cols = {"split": "split_s", "map": "map_wall_s", "reduce": "reduce_wall_s"}
    _require(runs, [*by, *cols.values(), "end_to_end_s"], "stage_breakdown")
    per_run = runs[by].copy()
    for stage, col in cols.items():
        per_run[stage] = runs[col]
    per_run["overhead"] = (runs["end_to_end_s"] - per_run[list(cols)].sum(axis=1)).clip(lower=0)
    means = per_run.groupby(by, dropna=False, sort=True)[list(STAGES)].mean().reset_index()
    long = means.melt(id_vars=by, var_name="stage", value_name="seconds")
    long["stage"] = pd.Categorical(long["stage"], categories=STAGES, ordered=True)
    long = long.sort_values([*by, "stage"]).reset_index(drop=True)
    long["fraction"] = long["seconds"] / long.groupby(by, dropna=False)["seconds"].transform("sum")
    return long


def task_timeline(tasks: pd.DataFrame, run_id) -> pd.DataFrame:
    """Task attempts of one run, times relative to its first start, sorted for a Gantt chart.

    Columns: worker, (host,) phase, task, attempt, start_s, end_s, duration_s,
    status, (backup, slowdown, when recorded); sorted by worker then start. run_id is compared as text so "7"
    and 7 both work whatever dtype the CSV reader chose.
    """
    _require(tasks, ["run_id", "phase", "task", "attempt", "worker", "start", "end", "status"], "task_timeline")
    rows = tasks[tasks["run_id"].astype(str) == str(run_id)]
    if rows.empty:
        raise ValueError(f"task_timeline: no tasks for run_id {run_id!r}")
    t0 = rows["start"].min()
    out = rows.assign(start_s=rows["start"] - t0, end_s=rows["end"] - t0)
    out["duration_s"] = out["end_s"] - out["start_s"]
    keep = [
        "worker",
        *(["host"] if "host" in out else []),
        "phase",
        "task",
        "attempt",
        "start_s",
        "end_s",
        "duration_s",
        "status",
        *(c for c in ("backup", "slowdown") if c in out),
    ]
    return out[keep].sort_values(["worker", "start_s", "task", "attempt"], kind="stable").reset_index(drop=True)


@dataclass(frozen=True)
class Correctness:
    """Comparison of a job's output with the expected key -> value map."""

    expected_keys: int
    actual_keys: int
    missing: int
    extra: int
    different: int
    duplicate: int  # keys emitted more than once (e.g. by two reducers)
    exact: bool
    examples: dict[str, list[str]]  # first few keys per kind, for debugging


def straggler_ratio(tasks: pd.DataFrame) -> pd.Series:
    """Per run: its slowest task over the median one of the same phase (map or reduce, tasks that ended ok),
    the larger of the two phases; runs with one task per phase have none."""
    ok = tasks[(tasks["status"] == "ok") & tasks["phase"].isin(["map", "reduce"])] if len(tasks) else tasks
    if not len(ok):
        return pd.Series(dtype=float, name="straggler_x")
    g = ok.groupby(["run_id", "phase"])["duration_s"].agg(["max", "median", "count"])
    g = g[(g["count"] > 1) & (g["median"] > 0)]
    return (g["max"] / g["median"]).groupby(level="run_id").max().rename("straggler_x")


def reduce_task_times(runs: pd.DataFrame, tasks: pd.DataFrame) -> pd.DataFrame:
    """Per configuration, the median time of a reduce task that ended ok, and the M files each read."""
    done = tasks[(tasks["phase"] == "reduce") & (tasks["status"] == "ok")] if len(tasks) else tasks
    if not len(done) or "duration_s" not in done:
        return pd.DataFrame(columns=[*CONFIG_BY, "reduce_s", "tasks"])
    done = done.drop(columns=[c for c in CONFIG_BY if c in done]).merge(runs[["run_id", *CONFIG_BY]], on="run_id")
    return done.groupby(CONFIG_BY, as_index=False).agg(reduce_s=("duration_s", "median"), tasks=("duration_s", "size"))


def _pairs(obj: Mapping | pd.Series, who: str):
    if isinstance(obj, Mapping):
        return obj.items()
    if isinstance(obj, pd.Series):
        return zip(obj.index, obj.to_numpy())
    raise TypeError(f"correctness: {who} must be a dict or Series, not {type(obj).__name__}")


def correctness(expected: Mapping | pd.Series, actual: Mapping | pd.Series, n_examples: int = 5) -> Correctness:
    """Count missing, extra, different and duplicated keys; ``exact`` only if all are 0.

    This is the check that catches words lost or split at chunk borders
    (missing keys plus extra fragments) and partitioning bugs (duplicates).
    The rule is `mrkit.verify.compare`'s (the one output check); this adds the
    DataFrame-friendly inputs and the counts a report prints.
    """
    v = compare(_pairs(expected, "expected"), _pairs(actual, "actual"))
    examples = {
        name: keys[:n_examples] for name, keys in (("missing", v.missing), ("extra", v.extra), ("different", v.different)) if keys
    }
    return Correctness(v.expected, v.found, len(v.missing), len(v.extra), len(v.different), v.duplicate, v.ok, examples)


# ------------------------------------------------------- centres, intervals

MEDIAN_CI_MIN_N = 6  # the fewest runs whose order statistics give a 95% interval for the median


def _median_ci(values: np.ndarray) -> tuple[float, float]:
    """Distribution-free 95% interval of the median: order statistics j..k with binomial coverage >= 95%
    (Le Boudec; Hoefler & Belli, SC'15, rule 5)."""
    v = np.sort(values)
    n = len(v)
    pmf = [comb(n, i) / 2**n for i in range(n + 1)]
    best = (0, n - 1)
    for j in range(n // 2 + 1):  # the narrowest symmetric pair still covering 95%
        k = n - 1 - j
        if sum(pmf[j + 1 : k + 1]) >= 0.95:
            best = (j, k)
    return float(v[best[0]]), float(v[best[1]])


def center_interval(runs: pd.DataFrame, by: str | Sequence[str] = CONFIG_BY, metric: str = "end_to_end_s") -> pd.DataFrame:
    """Per configuration: n, center, lo, hi and method, the one summary the report's text and figures share.

    With at least MEDIAN_CI_MIN_N runs the center is the median and [lo, hi] its
    nonparametric 95% interval; with fewer, the mean with a t 95% interval
    (NaN for one run). Intervals never go below zero: a time cannot.
    """
    by = _cols(by)
    rows = []
    for key, g in runs.groupby(by, sort=True)[metric]:
        values = g.dropna().to_numpy(float)
        key = key if isinstance(key, tuple) else (key,)
        rows.append({**dict(zip(by, key)), **interval_of(values)})
    return pd.DataFrame(rows)


def interval_of(values) -> dict:
    """n, center, lo, hi and method of one configuration's values: the rule center_interval applies."""
    values = np.asarray(values, dtype=float)
    n = len(values)
    if n >= MEDIAN_CI_MIN_N:
        center, (lo, hi), method = float(np.median(values)), _median_ci(values), "median, nonparametric 95% CI"
    else:
        center = float(values.mean()) if n else float("nan")
        half = t95(n - 1) * values.std(ddof=1) / np.sqrt(n) if n > 1 else float("nan")
        lo, hi, method = center - half, center + half, "mean, t 95% CI"
    return {"n": n, "center": center, "lo": max(0.0, lo) if np.isfinite(lo) else lo, "hi": hi, "method": method}


def is_tight(values, target: float) -> bool:
    """Whether the 95% interval of `values` is within `target` (a fraction) of its centre on either side.

    Judged on the interval's half-width, (hi - lo) / 2, before clipping at 0; one run has no interval.
    """
    s = interval_of(values)
    if s["n"] < 2 or not np.isfinite(s["hi"]):
        return False
    half = s["hi"] - s["center"] if s["method"].startswith("mean") else (s["hi"] - s["lo"]) / 2
    return half <= target * s["center"]

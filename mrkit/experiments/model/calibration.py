"""The cost model behind `mrkit predict`: calibrated from task records, run through a simulator.

Calibration (`calibrate(runs, tasks)`) fits, per app and with non-negative
least squares (errors relative to the fitted value, `_fit`), the CPU seconds
(`cpu_s`) of each successful attempt:

    map     = map_fixed + map_per_byte(bytes_in) * bytes_in + map_per_piece_key * piece keys
              + map_per_joined_key * joined keys + map_per_file * files written + map_fresh * first
    reduce  = reduce_fixed + reduce_per_record(M) * records_in + reduce_per_file * files read
              + reduce_per_key * keys written + reduce_fresh * first

(piece keys: the distinct keys of each of a map task's input pieces, by
Heaps' law, added up: a task maps, groups and combines each piece on its
own; joined keys: the same over its pieces after the first, whose keys it
joins to the first's and combines again where they repeat, tasks.run_map.
A task's pieces cross a file's end, so tasks of equal bytes differ in
them: over the 8 files of the lab's corpus, the 7 tasks of M = 7 joined
164,000 keys in 0.08 s and combined the 97,000 they shared in 0.14 s, of
1.3 s of map CPU, where the 8 of M = 8 joined none. Fitted on the
validation's calibrations of 7 December: 43-60 ns per byte, 0.3-0.9 us per
piece key and per joined key, and no fixed, per-file or size-dependent
map cost left: keys per byte fall with a task's size, which is what a cost
per byte falling with size had stood for. files: the intermediate files a
map task writes, one per partition it fills; those a reduce task reads,
one per map task that filled its partition; keys written: the distinct keys a reduce task outputs, the
job's keys / R; first: 1 for the first attempt a worker runs, which costs
a freshly forked process more, docs/model.md; with W >= M every map task is
one, so only runs with W < M tell this cost from a task's fixed cost). The
cost per byte may depend on the map task's size s:
per_byte(s) = a + slope * ln(s / lo) over the sizes [lo, hi] the
calibration ran (held at the nearest end outside them, not extrapolated);
the cost per record, in the same way, on M, the map tasks whose outputs a
reduce task merges: by Heaps' law a key's records number M^(1 - beta), and
in the records of 6 December an indexer reduce record cost 1.1 us at M = 1
and 1.4-2.0 us at M = 100 whatever the records per task (16,000 or
200,000), which a cost per reduce task size or per file read (M x R files:
0.45 ms each fitted, 2.6 s of reduce CPU predicted for 1.1 s measured at
M = 100, R = 50) does not follow. A cost per key written is separate from
the cost per record read: a wc reduce at M = 1 (every record a key of its
own) took 1.2-2.5 us per record, at M >= 5 0.6-0.9 (both CPU sets).
Whether it does is the data's call: each phase is fitted flat, rising and
falling, and a slope is kept only where its BIC on the runs' relative
errors beats flat's by SHAPE_EVIDENCE, so an app whose cost per byte does
not move with size gets a flat curve (slope 0). The number of distinct keys a map task of b bytes emits
(Heaps' law, records = k * b^beta, which sizes the reduce side), and from
the runs: the launch cost and the launcher's CPU per forked worker
(`startup_s = launch + ` the simulated time to the first task: W forks on
the run's cores, shared with the forked workers' own start), the master's CPU per task, per file it
commits and per worker (`master_cpu_s`), and the workers' own CPU outside
their attempts, per worker and per attempt (`workers_cpu_s` less the
attempts' `cpu_s`). CPU seconds, not wall seconds, are
what makes calibration portable across core counts: wall time inflated by
sharing cores is the simulator's business.

A VM's speed drifts: the same work can take twice the CPU seconds half an
hour later. Sweeps record `probe_cpu_s` (a fixed word count's CPU around
each run, `pinning.speed_probe_cpu_s`); calibration divides each
run's seconds by its speed, `(probe_cpu_s / probe_ref_s) ** speed_elasticity`
(the calibration runs' median probe; how far the runs' CPU followed their
probe, see speed_elasticity), so the fitted costs are those of the machine
at its usual speed, and a measured point is predicted at the speed its runs
recorded (`Point.speed`, `prediction.agreement`).

Prediction from a calibration is `prediction`'s job. Everything is a pure
function of DataFrames and numbers; no job runs here.
"""

from __future__ import annotations

import dataclasses
import math
import pathlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mrkit.errors import MrkitError
from mrkit.experiments.analysis import CONFIG_BY, nnls, r2
from mrkit.experiments.meaning import CALIBRATION_SWEEP
from mrkit.experiments.model import whatif
from mrkit.experiments.model.simulate import SimJob, inflation, simulate
from mrkit.experiments.sweeps.results import load_results


class ModelError(MrkitError, ValueError):
    """Calibration data that cannot be used, or a configuration the model cannot predict."""


@dataclass(frozen=True)
class AppCosts:
    """One app's fitted CPU costs (seconds; per byte, record or file where named)."""

    map_fixed_s: float
    map_per_byte_s: float
    map_per_file_s: float
    reduce_fixed_s: float
    reduce_per_record_s: float
    reduce_per_file_s: float
    heaps_k: float  # distinct keys a map task of b bytes emits: heaps_k * b ** heaps_beta
    heaps_beta: float
    r2_map: float
    r2_reduce: float
    n_attempts: int
    # CPU inflation of a map (reduce) attempt with n running at once, simulate.inflation(contention, n):
    # caches, memory bandwidth and context switches shared by concurrent tasks (simulate.SimJob.contention).
    contention: float = 0.0
    reduce_contention: float = 0.0
    # Cost per byte (record) as a function of the task's size: map_per_byte_s is its value at the smallest
    # calibrated size, the slope its change per e-fold of size (0: flat), the range the sizes calibrated.
    map_size_slope_s: float = 0.0
    map_size_range: tuple = (1.0, 1.0)
    reduce_size_slope_s: float = 0.0
    reduce_size_range: tuple = (1.0, 1.0)
    reduce_per_key_s: float = 0.0  # CPU per distinct key a reduce task writes
    key_share: float = 0.0  # the job's distinct keys per keys(input bytes): job_keys(b) = key_share * keys(b)
    # CPU a worker's first map (reduce) attempt needs beyond the same attempt in a worker that has run one:
    # a freshly started process touching its pages and caches for the first time.
    map_fresh_s: float = 0.0
    reduce_fresh_s: float = 0.0
    # Whether a map task's records are its input pieces' distinct keys added up (an app that keeps each
    # document's apart: indexer's (word, document) pairs, 252,000 for 8 files of 2 MB in one task against
    # 31,500 for one) rather than the task's distinct keys (wc's counts, combined over the task: 51,600).
    keys_per_piece: bool = False
    # CPU per key a map task handles for its input pieces (task_keys, MAP_KEY_COSTS): per key of each piece,
    # which it maps, groups and combines on its own; per key of its pieces after the first, which it joins to
    # the first's, combining again the keys they share.
    map_per_piece_key_s: float = 0.0
    map_per_joined_key_s: float = 0.0

    def keys(self, map_bytes):
        """The distinct keys in `map_bytes` bytes of one input (Heaps' law)."""
        return self.heaps_k * max(map_bytes, 1.0) ** self.heaps_beta

    def map_records(self, input_bytes, n_map, files=1):
        """The records a map task emits on average, the input's `files` cut into `n_map` tasks (split_pieces):
        the task's keys, or its pieces' added up."""
        if not self.keys_per_piece:
            return self.keys(input_bytes / n_map)
        return float(self.task_keys(input_bytes, n_map, files)["piece_keys"].mean())

    def task_keys(self, input_bytes, n_map, files=1):
        """Per map task, the keys it handles for its input pieces (see task_keys)."""
        return task_keys(input_bytes, n_map, files, self.heaps_k, self.heaps_beta)

    def map_key_cpu(self, input_bytes, n_map, files=1):
        """Per map task (an array of `n_map`), the CPU seconds of the keys it handles for its pieces."""
        counts = self.task_keys(input_bytes, n_map, files)
        return sum(getattr(self, cost) * counts[name] for name, cost in MAP_KEY_COSTS.items())

    def job_keys(self, input_bytes):
        """The distinct keys a job over `input_bytes` outputs (all its reduce tasks together)."""
        return self.key_share * self.keys(input_bytes)

    def map_per_byte(self, task_bytes):
        """CPU seconds per byte of a map task of `task_bytes` bytes."""
        return self.map_per_byte_s + self.map_size_slope_s * log_size(task_bytes, self.map_size_range)

    def reduce_per_record(self, n_map):
        """CPU seconds per record of a reduce task merging the outputs of `n_map` map tasks."""
        return self.reduce_per_record_s + self.reduce_size_slope_s * log_size(n_map, self.reduce_size_range)


def split_pieces(input_bytes, n_map, files):
    """(task of each piece, piece sizes): `input_bytes` in `files` files of equal size cut into `n_map` tasks of
    equal size, as mrkit.split cuts them (to a line's end there); a piece is one task's part of one file."""
    cuts = np.union1d(np.linspace(0.0, input_bytes, n_map + 1), np.linspace(0.0, input_bytes, max(int(files), 1) + 1))
    sizes = np.diff(cuts)
    keep = sizes > 1e-9 * max(input_bytes, 1.0)  # a file's end that is also a task's: no piece between them
    task = np.minimum((cuts[:-1] / max(input_bytes, 1e-300) * n_map + 1e-9).astype(int), n_map - 1)
    return task[keep], np.maximum(sizes[keep], 1.0)


# What a map task's keys cost per key, by the count task_keys gives (a regressor of the map's fit each). A cost
# per key its pieces share (the combiner's calls; by inclusion and exclusion over the pieces) was tried beside
# them: it traded places with the cost per intermediate file and predicted wc at M = 100, R = 50 3x too slow.
MAP_KEY_COSTS = {"piece_keys": "map_per_piece_key_s", "joined_keys": "map_per_joined_key_s"}
MAP_KEYS_COUNTED = {"piece_keys": "of each input piece", "joined_keys": "a task joins from its later pieces"}  # in words


def task_keys(input_bytes, n_map, files, heaps_k, heaps_beta):
    """Per map task, arrays of `n_map` by Heaps' law, keys(b) = k * b ** beta, over its pieces (split_pieces):
    `piece_keys`, its pieces' distinct keys added up; `joined_keys`, those of its pieces after the first."""
    task, sizes = split_pieces(input_bytes, n_map, files)
    per_piece = heaps_k * sizes**heaps_beta
    later = np.r_[False, task[1:] == task[:-1]]
    return {
        "piece_keys": np.bincount(task, weights=per_piece, minlength=n_map),
        "joined_keys": np.bincount(task[later], weights=per_piece[later], minlength=n_map),
    }


def log_size(size, size_range):
    """ln(size / lo) with size held inside the calibrated [lo, hi]: a size effect is not extrapolated."""
    lo, hi = size_range
    return math.log(min(max(float(size), lo), hi) / lo) if lo > 0 else 0.0


@dataclass(frozen=True)
class Calibration:
    """Everything `predict` needs: per-app costs and the runtime's own costs."""

    apps: dict
    launch_s: float  # launch to the first fork: staging, the master's start, the split
    fork_cpu_s: float  # the launcher's CPU per worker it forks (sharing the cores with those forked, simulate.SimJob)
    master_task_s: float  # master CPU per task attempt handed out, received, committed
    master_file_s: float  # master CPU per file committed (a rename)
    master_worker_s: float  # master CPU per worker beyond its fork (registration, exit)
    # A worker process's own CPU outside its attempts (workers_cpu_s less the attempts' cpu_s): per worker
    # (its start: a forked process's first touches of the pages it shares, connecting) and per attempt it runs.
    worker_cpu_s: float = 0.0
    worker_attempt_cpu_s: float = 0.0
    task_start_latency_s: float = 0.0  # ECS: measured task start latency when the records have it
    background: float = 0.0  # cores other programs took while calibrating (median others_cores; see others_cores)
    probe_ref_s: float = 0.0  # the calibration runs' median probe_cpu_s, the speed costs are stated at (0: not recorded)
    speed_elasticity: float = 1.0  # how much of the probe's change a run's CPU follows: speed = probe ratio ** this
    # The most attempts per core the calibration saw running at once (W = 24 on 2 cores: about 12). Contention is
    # not extrapolated past what it saw (contention_cap), as a size effect is not (log_size): from W <= 24, log2(n)
    # went on growing to W = 100 and over-predicted its runs by up to 100% (docs/model-validation.md, 7 December).
    concurrency_per_core: float = math.inf
    cores_seen: tuple = ()
    n_runs: int = 0
    # The files of the calibration's input (from its map tasks' pieces): a prediction's input, unless told
    input_files: int = 1

    def contention_cap(self, cores):
        """The most attempts at once whose contention the calibration saw on `cores` cores: as many as it saw at
        once on its own cores, and on more cores as many per core (inflation's cap)."""
        return self.concurrency_per_core * max((cores, *self.cores_seen))

    def costs(self, app):
        try:
            return self.apps[app]
        except KeyError:
            raise ModelError(f"no calibration runs of app {app!r}; calibrated: {', '.join(sorted(self.apps))}") from None


# ---------------------------------------------------------------- loading


def load_calibration(dirs):
    """(runs, tasks) of one or more results directories, concatenated; ModelError for one without both CSVs."""
    runs, tasks = [], []
    for d in dirs:
        path = pathlib.Path(d)
        missing = [n for n in ("runs.csv", "tasks.csv") if not (path / n).is_file()]
        if missing:
            raise ModelError(f"{d}: not a results directory (no {' or '.join(missing)})")
        r, t, _ = load_results(path)
        runs.append(r)
        tasks.append(t)
    runs, tasks = pd.concat(runs, ignore_index=True), pd.concat(tasks, ignore_index=True)
    if runs.empty:
        raise ModelError(f"{', '.join(map(str, dirs))}: no runs recorded")
    return runs, tasks


# ------------------------------------------------------------ calibration


def _attempt_table(runs, tasks):
    """ok map/reduce attempts with their run's M, R, W and the model's regressors; cpu_s divided by the run's `speed`."""
    need = ["run_id", "phase", "worker", "start", "bytes_in", "records_in", "records_out", "status", "cpu_s"]
    missing = [c for c in need if c not in tasks]
    if missing:
        raise ModelError(f"tasks.csv lacks {missing}: it was written by an mrkit without cpu_s; re-run the calibration")
    keep = ["run_id", "app", "n_map", "n_reduce", "workers", "cores", "speed"]
    runs = runs.assign(
        cores=runs["cores"] if "cores" in runs else runs["cpu_count"], speed=runs["speed"] if "speed" in runs else 1.0
    )
    t = tasks[tasks["phase"].isin(["map", "reduce"])].copy()
    t["run_id"] = t["run_id"].astype(str)
    r = runs[keep].copy()
    r["run_id"] = r["run_id"].astype(str)
    t = t.merge(r, on="run_id", how="inner")
    t["cpu_s"] = t["cpu_s"] / t["speed"]  # the attempt's CPU at the machine's usual speed
    # A worker's first attempt of the run, whatever became of it: the one a freshly started process runs
    # (on a Dask cluster that outlives the run, a warm one). "?" is no one worker: records of workers that died.
    first = t.sort_values(["start", "attempt"], kind="stable").groupby(["run_id", "worker"]).cumcount() == 0
    t["fresh"] = (first & (t["worker"].astype(str) != "?")).astype(float)
    maps = t[t["phase"] == "map"]
    keys_per_map = maps.groupby("run_id")["records_out"].mean()
    t["map_keys"] = t["run_id"].map(keys_per_map).fillna(0.0)
    t = t[t["status"] == "ok"]
    share = 1.0 - np.exp(-t["map_keys"] / t["n_reduce"].clip(lower=1))  # partitions a map task fills
    t["files_written"] = np.where(t["phase"] == "map", t["n_reduce"] * (1.0 - np.exp(-t["records_out"] / t["n_reduce"])), 0.0)
    t["files_read"] = np.where(t["phase"] == "reduce", t["n_map"] * share, 0.0)
    t["concurrency"] = _concurrency(tasks[tasks["phase"].isin(["map", "reduce"])], t)
    return t


def _concurrency(attempts, ok):
    """For each row of `ok`: how many of its run's attempts (itself included) ran during it, on average over its span."""
    out = pd.Series(1.0, index=ok.index)
    spans = {
        rid: (g["start"].to_numpy(float), g["end"].to_numpy(float))
        for rid, g in attempts.assign(run_id=attempts["run_id"].astype(str)).groupby("run_id")
    }
    for rid, g in ok.groupby("run_id"):
        starts, ends = spans[rid]
        a, b = g["start"].to_numpy(float)[:, None], g["end"].to_numpy(float)[:, None]
        overlap = np.clip(np.minimum(ends, b) - np.maximum(starts, a), 0.0, None).sum(axis=1)
        span = (b - a)[:, 0]
        out[g.index] = np.where(span > 0, overlap / np.where(span > 0, span, 1.0), 1.0)
    return out.clip(lower=1.0)


def _fit(df, columns, y="cpu_s", relative=False):
    """Non-negative least squares of y on columns; relative: errors in % of the fitted value.

    Relative errors are weighted by 1/fitted, found in a second fit weighted by the first's values: weighted
    by 1/y, the measured value, a run slower than its repeats counts less than one faster by as much, and the
    costs came out low (repeats 0.6-1.4x around a configuration's CPU: 17% low; on the validation's records
    of 7 December the calibration runs themselves predicted 2-5% fast).
    """
    a = df[list(columns)].to_numpy(dtype=float)
    v = df[y].to_numpy(dtype=float)
    w = 1.0 / np.maximum(v, 1e-3) if relative else np.ones_like(v)
    scale = np.where(a.max(axis=0) > 0, a.max(axis=0), 1.0)  # bytes and counts differ by 10^6: scale for lstsq
    coef = nnls(a / scale * w[:, None], v * w) / scale
    if relative:
        w = 1.0 / np.maximum(a @ coef, 1e-3)
        coef = nnls(a / scale * w[:, None], v * w) / scale
    coef[~a.any(axis=0)] = 0.0  # a cost of nothing the runs did (no task joined pieces): none, not NNLS's leftover
    return coef, r2(v, a @ coef)


def _per_run(t, phase, columns, contention=0.0):
    """A phase's attempts summed per run: what the run's CPU demand is made of.

    Each attempt's regressors are inflated by the contention it ran under,
    simulate.inflation(contention, concurrency), so the fit's coefficients
    are the costs of an attempt running alone.
    """
    rows = t[t["phase"] == phase].assign(one=1.0)
    inflated = rows["concurrency"].map(lambda n: inflation(contention, n))
    rows = rows.assign(**{c: rows[c] * inflated for c in ("one", *columns)})
    return rows.groupby("run_id")[["one", *columns, "cpu_s"]].sum()


# Per phase: what the size-dependent cost is per, then the other terms' regressors (a reduce task's
# records_out: the keys it writes).
COLUMNS = {
    "map": ("bytes_in", *MAP_KEY_COSTS, "files_written", "fresh"),
    "reduce": ("records_in", "files_read", "records_out", "fresh"),
}
SIZE_OF = {"map": "bytes_in", "reduce": "n_map"}  # what that cost depends on, per phase
# The shapes of cost per byte (record) against size, as the extra regressor each adds (see the module docstring).
SHAPES = {"flat": None, "rising": "size_up", "falling": "size_down"}
CONTENTION_MAX = 2.0  # the largest contention calibration tries: a task side by side at 3x its CPU alone
RELATIVE_NOISE = 1e-4  # relative errors below 0.01% rms are a perfect fit: BIC compares no further
# A cost that moves with size is kept only on strong evidence: BIC lower than flat's by more than this (twice
# the "very strong" 10 of Kass & Raftery 1995, JASA 90:773). On synthetic calibrations with 3% noise per
# attempt (CONFIGS, 3 repeats, 20 seeds) it let 1 size effect of 40 through where there was none (10: 3),
# and found a cost per byte rising by 29% over the calibrated sizes in 16 of 20, by 58% in all.
SHAPE_EVIDENCE = 20.0


def _size_range(t, phase):
    sizes = t.loc[(t["phase"] == phase) & (t[SIZE_OF[phase]] > 0), SIZE_OF[phase]]
    return (float(sizes.min()), float(sizes.max())) if len(sizes) else (1.0, 1.0)


def _with_size_columns(t, ranges):
    """The attempts with size_up = amount * ln(s / lo) and size_down = amount * ln(hi / s), s the size
    (SIZE_OF) clipped to [lo, hi], amount what the cost is per (COLUMNS' first)."""
    up, down = pd.Series(0.0, index=t.index), pd.Series(0.0, index=t.index)
    for phase, (lo, hi) in ranges.items():
        rows = t["phase"] == phase
        amount = t.loc[rows, COLUMNS[phase][0]].astype(float)
        clipped = t.loc[rows, SIZE_OF[phase]].astype(float).clip(lower=lo, upper=hi)
        up[rows] = amount * np.log(clipped / lo)
        down[rows] = amount * np.log(hi / clipped)
    return t.assign(size_up=up, size_down=down)


def _relative_sse(df, columns, coef):
    v = df["cpu_s"].to_numpy(dtype=float)
    return float(((((df[list(columns)].to_numpy(dtype=float) @ coef) - v) / np.maximum(v, 1e-3)) ** 2).sum())


def _bic(sse, n, k):
    return n * math.log(max(sse, n * RELATIVE_NOISE**2) / n) + k * math.log(n)


def _fit_phase(t, phase, contention):
    """(BIC, shape, coefficients, r2) of one phase's per-run CPU for one contention value: its best shape."""
    base = COLUMNS[phase]
    best = None
    for shape, extra in SHAPES.items():
        columns = ["one", base[0], *([extra] if extra else []), *base[1:]]
        rows = _per_run(t, phase, columns[1:], contention)
        coef, r2 = _fit(rows, columns, relative=True)
        score = _bic(_relative_sse(rows, columns, coef), len(rows), len(columns))
        # flat comes first; another shape must beat it by SHAPE_EVIDENCE, and then the other by any margin
        margin = 0.0 if best is None else SHAPE_EVIDENCE if best[1] == "flat" else 1e-9
        if best is None or score < best[0] - margin:
            best = (score, shape, coef, r2)
    return best


def _fit_contended(t, phase):
    """(contention, shape, coefficients, r2) of one phase: the contention on a grid, and shape, of the lowest BIC."""
    fits = {}
    best = 0.0
    for step in (0.1, 0.01):  # a coarse grid over [0, CONTENTION_MAX], then a fine one around its best
        grid = np.arange(max(0.0, best - 10 * step), min(CONTENTION_MAX, best + 10 * step) + 1e-9, step)
        for a in map(float, np.round(grid, 2)):
            if a not in fits:
                fits[a] = _fit_phase(t, phase, a)
        best = min(fits, key=lambda a: (round(fits[a][0], 6), a))
    return (best, *fits[best][1:])


def _size_terms(shape, coef, size_range):
    """(fixed, per unit at the smallest size, slope per e-fold, [the other terms' coefficients]) from a shape's."""
    if shape == "flat":
        fixed, per_unit, *rest = coef
        return fixed, per_unit, 0.0, rest
    fixed, per_unit, c, *rest = coef
    if shape == "rising":
        return fixed, per_unit, c, rest
    lo, hi = size_range  # falling: a + c ln(hi / s) = (a + c ln(hi / lo)) - c ln(s / lo)
    return fixed, per_unit + c * math.log(hi / lo), -c, rest


def _fit_app(t, files):
    """One app's costs, fitted on each run's summed map and reduce CPU, and the contention that fits each phase best
    (`files`: the runs' input files, which the map tasks' pieces come from).

    Sums per run, weighted by 1/total, make every calibration run count the
    same in relative terms (records before 761cf5a read cpu_s in 10 ms ticks, which sums average away). Each
    phase has its own contention (map tasks scan megabytes, reduce tasks
    merge small files) and its own shape of cost against size; runs whose
    attempts all ran alone (one task, or one CPU and one worker) cannot tell
    contention from zero, and it comes out 0 there.
    """
    sizes = t.loc[t["phase"] == "map", "bytes_in"]
    if t.loc[t["phase"] == "map", "run_id"].nunique() < 4 or sizes.nunique() < 2:
        raise ModelError("calibration needs at least 4 runs per app, with map tasks of two sizes or more (vary M)")
    sized = t[(t["phase"] == "map") & (t["bytes_in"] > 0) & (t["records_out"] > 0)]
    per_piece, beta, logk = _heaps(sized, files)
    ranges = {phase: _size_range(t, phase) for phase in ("map", "reduce")}
    t = _with_size_columns(_key_columns(t, files, math.exp(logk), beta), ranges)
    contention, map_shape, m, r2m = _fit_contended(t, "map")
    reduce_contention, reduce_shape, r, r2r = _fit_contended(t, "reduce")
    map_fixed, map_per_byte, map_slope, map_rest = _size_terms(map_shape, m, ranges["map"])
    *per_key_map, map_per_file, map_fresh = map_rest
    reduce_fixed, reduce_per_record, reduce_slope, (reduce_per_file, per_key, reduce_fresh) = _size_terms(
        reduce_shape, r, ranges["reduce"]
    )
    # The job's distinct keys: its reduce tasks' records_out, per keys(input) of the map side's Heaps law (the
    # input is the map tasks' bytes), so another input size scales them as the map tasks' keys scale.
    per_run = t.groupby(["run_id", "phase"])[["bytes_in", "records_out"]].sum().unstack("phase")
    job_keys = per_run[("records_out", "reduce")] / (math.exp(logk) * per_run[("bytes_in", "map")] ** beta)
    return AppCosts(
        map_fixed_s=float(map_fixed),
        map_per_byte_s=float(map_per_byte),
        map_per_file_s=float(map_per_file),
        reduce_fixed_s=float(reduce_fixed),
        reduce_per_record_s=float(reduce_per_record),
        reduce_per_file_s=float(reduce_per_file),
        heaps_k=float(math.exp(logk)),
        heaps_beta=float(beta),
        r2_map=r2m,
        r2_reduce=r2r,
        n_attempts=len(t),
        contention=float(contention),
        reduce_contention=float(reduce_contention),
        map_size_slope_s=float(map_slope),
        map_size_range=ranges["map"],
        reduce_size_slope_s=float(reduce_slope),
        reduce_size_range=ranges["reduce"],
        reduce_per_key_s=float(per_key),
        key_share=float(job_keys.median()),
        map_fresh_s=float(map_fresh),
        reduce_fresh_s=float(reduce_fresh),
        keys_per_piece=per_piece,
        **{cost: float(value) for cost, value in zip(MAP_KEY_COSTS.values(), per_key_map)},
    )


HEAPS_BETAS = np.arange(0.2, 1.0001, 0.002)  # the exponents tried for keys counted per piece


def _heaps(maps, files):
    """(keys per piece?, beta, ln k) of Heaps' law, records = k * b ** beta, fitted on map tasks in log space:
    over each task's bytes, or added up over its pieces (split_pieces of its run's input in `files` files),
    whichever leaves less error; per task where they tie (every task within one file)."""
    size, records = maps["bytes_in"].to_numpy(dtype=float), maps["records_out"].to_numpy(dtype=float)
    beta, logk = np.polyfit(np.log(size), np.log(records), 1)
    per_task = (float(((np.log(records) - logk - beta * np.log(size)) ** 2).sum()), False, float(beta), float(logk))
    pieces = list(_task_pieces(maps, files).values())
    padded = np.zeros((len(pieces), max(len(p) for p in pieces)))  # a task's pieces in a row; 0 ** b adds nothing
    for row, p in enumerate(pieces):
        padded[row, : len(p)] = p
    best = per_task
    for b in HEAPS_BETAS:
        summed = np.log((padded**b).sum(axis=1))
        logk = float(np.mean(np.log(records) - summed))
        error = float(((np.log(records) - logk - summed) ** 2).sum())
        if error < best[0] - 1e-9 * max(best[0], 1e-12):
            best = (error, True, float(b), logk)
    return best[1:]


def _run_input(run):
    """A run's input bytes, from its map attempts (their mean bytes x M)."""
    return float(run["bytes_in"].mean()) * int(run["n_map"].iloc[0])


def _task_pieces(maps, files):
    """{row: its piece sizes} for map attempts, from their run's split."""
    pieces = {}
    for _, run in maps.groupby("run_id"):
        task, sizes = split_pieces(_run_input(run), int(run["n_map"].iloc[0]), files)
        pieces.update((row, sizes[task == i]) for row, i in zip(run.index, run["task"].astype(int)))
    return {row: pieces[row] for row in maps.index}


def _key_columns(t, files, heaps_k, heaps_beta):
    """The attempts with a column per count of task_keys (MAP_KEY_COSTS): a map attempt's from its run's split,
    0 for a reduce."""
    columns = {name: pd.Series(0.0, index=t.index) for name in MAP_KEY_COSTS}
    maps = t[(t["phase"] == "map") & (t["bytes_in"] > 0)]
    for _, run in maps.groupby("run_id"):
        counts = task_keys(_run_input(run), int(run["n_map"].iloc[0]), files, heaps_k, heaps_beta)
        task = run["task"].astype(int).to_numpy()
        for name, column in columns.items():
            column[run.index] = counts[name][task]
    return t.assign(**columns)


def calibrate(runs: pd.DataFrame, tasks: pd.DataFrame, *, background=None) -> Calibration:
    """Fit the model to the runs and task attempts of calibration sweeps (see the module docstring).

    `background` (cores other programs take) defaults to the calibration
    runs' median `others_cores` (0 where not recorded); 0 predicts a quiet machine.
    """
    for col in ("run_id", "app", "n_map", "n_reduce", "workers", "startup_s", "master_cpu_s"):
        if col not in runs:
            raise ModelError(f"runs.csv lacks {col!r}: it was written by an older mrkit; re-run the calibration")
    runs = calibration_runs(runs)
    local = runs[runs["backend"].astype(str) != "ecs"] if "backend" in runs else runs
    local = local if not local.empty else runs
    ref = probe_ref(local)
    elasticity = speed_elasticity(local, tasks, ref)
    runs = runs.assign(speed=speeds(runs, ref, elasticity))
    local = local.assign(speed=speeds(local, ref, elasticity))
    t = _attempt_table(runs, tasks)
    files = _input_files(t)
    apps = {str(app): _fit_app(g, files) for app, g in t.groupby("app")}
    usual = local.assign(
        one=1.0, startup_s=local["startup_s"] / local["speed"], master_cpu_s=local["master_cpu_s"] / local["speed"]
    )
    worker_cpu, worker_attempt_cpu = _worker_costs(local, tasks)
    launch, fork = _launch_and_fork(usual, worker_cpu)
    m, r = usual["n_map"].to_numpy(dtype=float), usual["n_reduce"].to_numpy(dtype=float)
    master = usual.assign(tasks_=m + r, files_=m * r + r)
    (_, per_worker, per_task, per_file), _ = _fit(master, ["one", "workers", "tasks_", "files_"], y="master_cpu_s")
    cal = Calibration(
        apps=apps,
        launch_s=float(launch),
        fork_cpu_s=float(fork),
        master_task_s=float(per_task),
        master_file_s=float(per_file),
        master_worker_s=float(max(0.0, per_worker - fork)),  # the master forks the workers: its CPU per worker holds the fork
        worker_cpu_s=worker_cpu,
        worker_attempt_cpu_s=worker_attempt_cpu,
        task_start_latency_s=whatif.measured_start_latency(tasks),
        cores_seen=tuple(sorted(set(int(c) for c in runs.get("cores", pd.Series(dtype=int)).dropna()))),
        n_runs=int(len(runs)),
        input_files=files,
    )
    if background is None:
        measured = others_cores(local).dropna()
        background = float(measured.median()) if len(measured) else 0.0
    per_core = t["concurrency"] / t["cores"].astype(float)
    return dataclasses.replace(
        cal,
        background=float(background),
        probe_ref_s=ref,
        speed_elasticity=elasticity,
        concurrency_per_core=float(per_core.max()) if len(per_core) else math.inf,
    )


def first_task_s(fork_cpu, worker_cpu, workers, cores):
    """When the simulated job's first task starts: W forks, the launcher sharing `cores` with the workers' start."""
    job = SimJob(map_cpu=(0.0,), reduce_cpu=(0.0,), workers=workers, cores=cores, fork_cpu=fork_cpu, worker_cpu=worker_cpu)
    return simulate(job).first_task_s


def _launch_and_fork(runs, worker_cpu):
    """(launch, the launcher's CPU per fork) that fit the runs' start-up: startup_s = launch + first_task_s(...).

    A fork's wall time is the launcher's CPU only where the cores are free: the
    workers already forked start meanwhile (worker_cpu each), and on 1 CPU a
    fork took 13.7 ms on 7 December against 7.4 on 2, about 5 ms of CPU on
    either. Least squares in the fork's CPU (golden-section search; the
    launch cost is then the mean residual, at least 0).
    """
    startup = runs["startup_s"].to_numpy(dtype=float)
    shapes = list(zip(runs["workers"].astype(int), runs["cores"].astype(float)))
    distinct = sorted(set(shapes))

    def fit(fork):
        first = dict(zip(distinct, (first_task_s(fork, worker_cpu, w, k) for w, k in distinct)))
        residual = startup - np.array([first[shape] for shape in shapes])
        launch = max(0.0, float(residual.mean()))
        return float(((residual - launch) ** 2).sum()), launch

    lo, hi = 0.0, float(max(startup.max(), 1e-6))
    golden = (math.sqrt(5) - 1) / 2
    for _ in range(60):  # the bracket shrinks to 1e-12 of its width
        a, b = hi - golden * (hi - lo), lo + golden * (hi - lo)
        if fit(a)[0] <= fit(b)[0]:
            hi = b
        else:
            lo = a
    fork = (lo + hi) / 2
    return fit(fork)[1], fork


def _input_files(attempts):
    """The files the runs' input had: a run's map pieces less its tasks, plus one (every file boundary inside
    a task adds a piece; one at a task's edge adds none), the most any run shows; 1 where none says."""
    maps = attempts[attempts["phase"] == "map"].drop_duplicates(["run_id", "task"])
    if maps.empty:
        return 1
    per_run = maps.groupby("run_id").agg(pieces=("records_in", "sum"), tasks=("task", "size"))
    return max(1, int((per_run["pieces"] - per_run["tasks"] + 1).max()))


def _attempts_cpu(tasks):
    """Per run (by its id as text): its map and reduce attempts' summed `cpu_s` ("sum") and their number ("size")."""
    attempts = tasks[tasks["phase"].isin(["map", "reduce"])]
    return attempts.groupby(attempts["run_id"].astype(str))["cpu_s"].agg(["sum", "size"])


def _worker_costs(runs, tasks):
    """(per worker, per attempt): the worker processes' CPU outside their attempts, at the usual speed.

    Fitted (non-negative least squares) on the runs that recorded
    `workers_cpu_s` (local runs on Linux): what the workers used until the
    job was done, less the CPU their attempts recorded, against W and the
    attempts run. In the validation of 6 December: 10.5 ms per worker and
    0.8 ms per attempt on 2 CPUs and on 1, so 100 workers add about a
    CPU-second the attempts do not show. (0, 0) where no run recorded it.
    """
    if "workers_cpu_s" not in runs or "cpu_s" not in tasks:
        return 0.0, 0.0
    attempts = _attempts_cpu(tasks)
    r = runs.assign(run_id=runs["run_id"].astype(str)).dropna(subset=["workers_cpu_s"])
    r = r[r["run_id"].isin(attempts.index)]
    if len(r) < 2:
        return 0.0, 0.0
    got = attempts.loc[r["run_id"]]
    outside = (r["workers_cpu_s"].astype(float).to_numpy() - got["sum"].to_numpy()) / r["speed"].to_numpy()
    rows = pd.DataFrame(
        {"workers": r["workers"].astype(float).to_numpy(), "attempts": got["size"].astype(float).to_numpy(), "y": outside}
    )
    (per_worker, per_attempt), _ = _fit(rows, ["workers", "attempts"], y="y")
    return float(per_worker), float(per_attempt)


def calibration_runs(runs):
    """The runs of the calibration sweep where results mix it with other sweeps' (a report's interleaved
    order, runs tagged by `sweep`); all runs where none is tagged so (calibrating on lab sweeps)."""
    if "sweep" not in runs:
        return runs
    tagged = runs[runs["sweep"].astype(str) == CALIBRATION_SWEEP]
    return tagged if len(tagged) else runs


def probe_ref(runs) -> float:
    """The runs' median `probe_cpu_s`, the speed a calibration states its costs at; 0.0 where none was recorded."""
    if "probe_cpu_s" not in runs:
        return 0.0
    probes = runs["probe_cpu_s"].astype(float)
    probes = probes[probes > 0]
    return float(probes.median()) if len(probes) else 0.0


def speeds(runs, ref=None, elasticity=1.0) -> pd.Series:
    """Per run, how much slower than `ref` (default: the runs' own median) the machine ran: (probe_cpu_s / ref)
    ** elasticity (see speed_elasticity).

    1.0 where the run or the reference has no probe, so records of an mrkit
    without it calibrate and compare as before.
    """
    ref = probe_ref(runs) if ref is None else ref
    if not ref or "probe_cpu_s" not in runs:
        return pd.Series(1.0, index=runs.index)
    ratio = runs["probe_cpu_s"].astype(float) / ref
    return ratio.where(ratio > 0, 1.0).fillna(1.0) ** elasticity


def speed_elasticity(runs, tasks, ref) -> float:
    """How much of a change in the speed probe a run's own CPU follows, fitted on repeats of one configuration.

    The probe is a 40-60 ms word count beside the run, not the run: in the quiet
    measurement of 6 December it moved by +-17% between repeats of one
    configuration, and the repeats' summed task CPU followed 0.2-0.3
    of it (log-log slope within configurations: 0.28 on 2 CPUs, 0.21 on 1). Scaling
    every cost by the full probe ratio then adds the probe's own noise to each
    prediction. The slope of log(run CPU) on log(probe), both centred per
    configuration, clipped to [0, 1]; 1 (the probe taken at its word) where no
    configuration's repeats saw the probe move.
    """
    if not ref or "probe_cpu_s" not in runs or "cpu_s" not in tasks:
        return 1.0
    cpu = _attempts_cpu(tasks)["sum"]
    r = runs.assign(cpu_=runs["run_id"].astype(str).map(cpu), probe_=runs["probe_cpu_s"].astype(float))
    r = r[(r["cpu_"] > 0) & (r["probe_"] > 0)]
    config = ["app", *CONFIG_BY] + (["cores"] if "cores" in r else [])
    logs = np.log(r[["cpu_", "probe_"]]).groupby([r[c] for c in config])
    centred = np.log(r[["cpu_", "probe_"]]) - logs.transform("mean")
    x, y = centred["probe_"].to_numpy(), centred["cpu_"].to_numpy()
    spread = float((x * x).sum())
    if spread < 1e-6:
        return 1.0
    return float(np.clip((x * y).sum() / spread, 0.0, 1.0))


def others_cores(runs) -> pd.Series:
    """Per run, the cores other programs took from it on average: others_cpu_s / end_to_end_s (NaN where not recorded).

    Sweeps record how much CPU other programs used on a run's CPUs while it
    ran. The model gives the job what they left: K - others_cores (at least
    a tenth of K). Taking it as a share of the cores, not as competing
    processes, holds up at W = 100, where a process count would have to
    assume how many of the job's own were busy.
    """
    if "others_cpu_s" not in runs:
        return pd.Series(np.nan, index=runs.index)
    return (runs["others_cpu_s"].astype(float) / runs["end_to_end_s"].astype(float)).clip(lower=0)

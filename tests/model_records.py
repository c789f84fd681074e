"""Synthetic runs and task records that follow the cost model exactly, with known costs (TRUE).

Shared by the calibration, prediction and answers tests (tests/ is on the path, as for conftest).
"""

import math

import pandas as pd

from mrkit.experiments.model.calibration import split_pieces
from mrkit.experiments.model.simulate import inflation

TRUE = dict(
    map_fixed_s=0.01,
    map_per_byte_s=8e-8,
    map_per_file_s=0.002,
    reduce_fixed_s=0.004,
    reduce_per_record_s=1e-6,
    reduce_per_file_s=0.0005,
    reduce_per_key_s=2e-6,
)
HEAPS_K, HEAPS_BETA = 30.0, 0.5
LAUNCH, FORK = 0.05, 0.004
MASTER_TASK, MASTER_FILE, MASTER_WORKER = 0.002, 0.0001, 0.003
INPUT = 8 * 2**20
# `mrkit predict --json`'s keys (docs/model.md, the design's contract), overall and per point.
PREDICT_KEYS = {"points", "median_abs_error_pct", "max_abs_error_pct", "spearman", "within_noise_share", "spearman_ceiling"}
POINT_KEYS = {
    "app",
    "n_map",
    "n_reduce",
    "workers",
    "cores",
    "predicted_end_to_end_s",
    "measured_end_to_end_s",
    "error_pct",
    "measured_interval",
    "within_noise",
}


def synthetic(
    configs,
    cores=2,
    repeats=2,
    app="wc",
    contention=0.0,
    reduce_contention=None,
    map_per_byte=None,
    reduce_per_record=None,
    map_fresh=0.0,
    reduce_fresh=0.0,
    worker_cpu=0.0,
    attempt_overhead=0.0,
    files=1,
    per_piece_key=0.0,
    per_joined_key=0.0,
):
    """runs and tasks DataFrames whose every number follows the model with the TRUE costs, exactly.

    Tasks run in rounds of W (one per worker), a round's tasks side by side; with `contention`, each
    map task of a round of n needs inflation(contention, n) times its CPU (reduce tasks: by
    `reduce_contention`, default the same). `map_per_byte(bytes)` and `reduce_per_record(m)`
    give a cost per byte that depends on the map task's size and per record that depends on the map
    tasks merged, M (default: TRUE's, flat). A reduce task writes the job's keys / R distinct keys,
    the job's keys those of the whole input by the same Heaps law. A worker's first attempt needs
    `map_fresh` (`reduce_fresh` when it is a reduce) more, before contention. The workers' own CPU
    (`workers_cpu_s`) is their attempts' plus `worker_cpu` per worker and `attempt_overhead` per attempt.
    The input is `files` files of equal size; a map task needs `per_piece_key` per distinct key of each of
    its pieces (split_pieces; by the same Heaps law) and `per_joined_key` per key of its pieces after the first.
    """
    map_per_byte = map_per_byte or (lambda b: TRUE["map_per_byte_s"])
    reduce_per_record = reduce_per_record or (lambda n: TRUE["reduce_per_record_s"])
    reduce_contention = contention if reduce_contention is None else reduce_contention
    runs, tasks = [], []
    for i, (m, r, w) in enumerate(c for c in configs for _ in range(repeats)):
        run_id = f"run{i}"
        b = INPUT / m
        keys = HEAPS_K * b**HEAPS_BETA
        share = 1 - math.exp(-keys / r)
        task_of, sizes = split_pieces(INPUT, m, files)
        t = 0.0
        started = set()  # workers that have run an attempt
        for phase, n in (("map", m), ("reduce", r)):
            for k in range(n):
                worker = f"w{k % w}"
                if k % w == 0:  # a new round starts once the previous one has ended
                    t = max([t] + [x["end"] for x in tasks if x["run_id"] == run_id]) + 0.001
                side_by_side = min(w, n - k // w * w)
                if phase == "map":
                    piece_keys = HEAPS_K * sizes[task_of == k] ** HEAPS_BETA
                    cpu = TRUE["map_fixed_s"] + map_per_byte(b) * b + TRUE["map_per_file_s"] * r * share
                    cpu += per_piece_key * piece_keys.sum() + per_joined_key * piece_keys[1:].sum()
                    counts = dict(bytes_in=b, records_in=len(piece_keys), records_out=keys)
                else:
                    records = m * keys / r
                    written = HEAPS_K * INPUT**HEAPS_BETA / r
                    cpu = (
                        TRUE["reduce_fixed_s"]
                        + reduce_per_record(m) * records
                        + TRUE["reduce_per_file_s"] * m * share
                        + TRUE["reduce_per_key_s"] * written
                    )
                    counts = dict(bytes_in=0, records_in=records, records_out=written)
                if worker not in started:
                    cpu += map_fresh if phase == "map" else reduce_fresh
                    started.add(worker)
                cpu *= inflation(contention if phase == "map" else reduce_contention, side_by_side)
                tasks.append(
                    dict(
                        run_id=run_id,
                        phase=phase,
                        task=k,
                        attempt=1,
                        worker=worker,
                        pid=1,
                        host="h",
                        start=t,
                        end=t + cpu,
                        duration_s=cpu,
                        bytes_out=0,
                        status="ok",
                        cpu_s=cpu,
                        **counts,
                    )
                )
        runs.append(
            dict(
                run_id=run_id,
                app=app,
                backend="local",
                n_map=m,
                n_reduce=r,
                workers=w,
                cpu_count=cores,
                input_bytes=INPUT,
                startup_s=LAUNCH + FORK * w,
                end_to_end_s=1.0,
                cores=cores,
                master_cpu_s=0.01 + (FORK + MASTER_WORKER) * w + MASTER_TASK * (m + r) + MASTER_FILE * (m * r + r),
                workers_cpu_s=sum(x["cpu_s"] for x in tasks if x["run_id"] == run_id)
                + worker_cpu * w
                + attempt_overhead * (m + r),
                repeat=0,
            )
        )
    return pd.DataFrame(runs), pd.DataFrame(tasks)


CONFIGS = [(1, 1, 1), (4, 2, 2), (16, 16, 2), (48, 4, 24), (8, 40, 24), (16, 4, 4), (32, 8, 8)]

PROBE = 0.006  # probe_cpu_s of the machine at its usual speed


def slowed(runs, tasks, slow):
    """The records with the runs named in `slow` (run_id -> factor) made that many times slower, probe included."""
    runs, tasks = runs.copy(), tasks.copy()
    factor = runs["run_id"].map(slow).fillna(1.0)
    runs["probe_cpu_s"] = PROBE * factor
    for col in ("startup_s", "master_cpu_s"):
        runs[col] *= factor
    per_task = tasks["run_id"].map(slow).fillna(1.0)
    for col in ("start", "end", "duration_s", "cpu_s"):
        tasks[col] *= per_task
    return runs, tasks

"""`mrkit demo` / `make demo`: word count on the built-in corpus at a few worker counts.

A first look at what mrkit measures: the sequential reference, then the same
job on 1, 2 and 4 local workers, each checked against the reference, with
the timing columns a sweep records.
"""

import os
import pathlib
import tempfile
import time

from mrkit.app import load_app
from mrkit.backends.local import run_job
from mrkit.corpus import corpus_dir
from mrkit.job import resolve_inputs
from mrkit.sequential import run_sequential
from mrkit.verify import compare, output_pairs, read_outputs

COLUMNS = [
    "workers",
    "n_map",
    "n_reduce",
    "end_to_end_s",
    "map_wall_s",
    "map_serial_sum_s",
    "map_speedup",
    "reduce_wall_s",
    "speedup",
]


def demo(results="results", files=8, size=2 * 2**20, worker_counts=(1, 2, 4), n_reduce=4, out=print):
    inputs = corpus_dir(pathlib.Path(results) / "corpus", files, size)
    total = sum(os.path.getsize(p) for p in inputs)
    out(f"word count over {len(inputs)} generated files, {total / 2**20:.1f} MiB, on {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory(prefix="mrkit-demo-") as scratch:
        reference = pathlib.Path(scratch) / "sequential"
        reference.mkdir()
        began = time.perf_counter()
        run_sequential(load_app("wc"), resolve_inputs(inputs), reference)
        sequential_s = time.perf_counter() - began
        expected = read_outputs(reference)
        out(f"sequential reference: {sequential_s:.2f} s, {len(expected)} distinct words\n")
        out("  ".join(f"{c:>{max(len(c), 7)}}" for c in COLUMNS + ["exact"]))
        for workers in worker_counts:
            workdir = pathlib.Path(scratch) / f"w{workers}"
            summary, _ = run_job("wc", inputs, n_reduce=n_reduce, workers=workers, workdir=workdir)
            summary["speedup"] = sequential_s / summary["end_to_end_s"]
            exact = "yes" if compare(expected, output_pairs(workdir)).ok else "NO"
            cells = [
                f"{summary[c]:>{max(len(c), 7)}.3f}" if isinstance(summary[c], float) else f"{summary[c]:>{max(len(c), 7)}}"
                for c in COLUMNS
            ]
            out("  ".join(cells + [f"{exact:>7}"]))
    out("\nspeedup = sequential reference time / end_to_end_s; map_speedup = map_serial_sum_s / map_wall_s")

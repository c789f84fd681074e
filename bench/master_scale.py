"""Does the master's cost per task grow with the number of tasks? (issue 14's scale target)

    .venv/bin/python bench/master_scale.py [-m 100000] [--direct] [--gc freeze|off]

Runs `wc` on a tiny file with M map tasks (all but one empty) and 10 reduces on
2 workers, the master in this process, and prints the master's CPU per task
in each tenth of the map phase (sampled every 0.2 s from os.times, so only the
master's process counts), the total time the cyclic GC paused it (gc.callbacks)
and the number of collections per generation (building the table included).
A cost that grows with M shows as later tenths costing more than earlier ones,
or as GC taking a larger share.

--direct drives the master's handlers (_on_done, the report that also asks for
the next task) in a loop, with no HTTP, no threads and no workers: the task
table's own logic, without the noise of the machine's other processes.
--gc freeze freezes the heap once the task table is built; --gc off disables
the cyclic GC: the two bounds of what GC tuning could win.
"""

import argparse
import gc
import os
import sys
import tempfile
import threading
import time

import mrkit
from mrkit.backends.staging import stage_inputs
from mrkit.job import JobSpec
from mrkit.runtime import master as master_module
from mrkit.storage.local import LocalStorage

_gc = {"pause_s": 0.0, "collections": [0, 0, 0], "began": 0.0}


def _on_gc(phase, info):
    if phase == "start":
        _gc["began"] = time.perf_counter()
    else:
        _gc["pause_s"] += time.perf_counter() - _gc["began"]
        _gc["collections"][info["generation"]] += 1


def _cpu():
    times = os.times()
    return times.user + times.system


def _tenths(samples, n):
    """Master CPU µs per task in each tenth of the map phase, from (cpu, maps done) samples."""
    step, marks = max(n // 10, 1), []
    for cpu, done in samples:
        if done >= step * (len(marks) + 1):
            marks.append((cpu, done))
    return [round((b[0] - a[0]) / (b[1] - a[1]) * 1e6) for a, b in zip(marks, marks[1:])]


def _tune(how):
    if how == "freeze":
        gc.freeze()  # the task table (and all else alive now) is never scanned again
    elif how == "off":
        gc.disable()


def run(n, tiny, how):
    samples = []
    serve = master_module.Master.serve

    def sampled_serve(self):  # once the table is built and the workers forked
        _tune(how)

        def sample():
            while not self._finished.is_set():
                samples.append((_cpu(), self._done["map"]))
                time.sleep(0.2)

        threading.Thread(target=sample, daemon=True).start()
        return serve(self)

    master_module.Master.serve = sampled_serve
    with tempfile.TemporaryDirectory() as workdir:
        summary, _ = mrkit.run("wc", [tiny], n_map=n, n_reduce=10, workers=2, workdir=workdir)
    print(
        f"M={n}: end_to_end_s {summary['end_to_end_s']:.2f}, master_cpu_s {summary['master_cpu_s']:.2f} "
        f"({summary['master_cpu_s'] / n * 1e6:.0f} µs/task)"
    )
    print(f"master CPU µs/task by tenth of the map phase: {_tenths(samples, n)}")


def direct(n, tiny, how):
    with tempfile.TemporaryDirectory() as workdir:
        files = LocalStorage(workdir)
        spec = JobSpec(stage_inputs([tiny], files), n_reduce=10, n_map=n, task_timeout=10.0, max_attempts=10)
        master = master_module.Master(spec, files, lock_dir=workdir)
        master.start(serve=False)
        _tune(how)
        session, identity = {}, {"pid": 1, "host": "h", "slowdown": 1.0}
        reply = master._on_task(dict(identity), session)[1]
        per, step, began = [], max(n // 10, 1), time.process_time()
        for i in range(1, n + spec.n_reduce + 1):
            identity["worker"] = reply["worker"]
            now = time.time()
            body = {
                **identity,
                "phase": reply["action"],
                "task": reply["task"]["task"],
                "attempt": reply["attempt"],
                "start": now,
                "end": now,
                "counters": {"cpu_s": 0.0},
                "partitions": [],
            }
            reply = master._on_done(body, session)[1]
            if i % step == 0 and i <= n:
                t = time.process_time()
                per.append(round((t - began) / step * 1e6, 1))
                began = t
        assert reply["action"] == "exit", reply
        master.shutdown(0)
    print(f"M={n} direct: handler CPU µs/task by tenth: {per}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-m", type=int, default=100_000, help="map tasks")
    p.add_argument("--direct", action="store_true", help="drive the handlers directly (no HTTP, no workers)")
    p.add_argument("--gc", choices=("freeze", "off"), help="GC tuning to compare against the default")
    args = p.parse_args(argv)
    gc.callbacks.append(_on_gc)
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as tiny:
        tiny.write("a few words here\n")
        tiny.flush()
        (direct if args.direct else run)(args.m, tiny.name, args.gc)
    print(f"GC paused this process {_gc['pause_s']:.2f} s, collections by generation {_gc['collections']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Profile one map task and one reduce task of `mrkit run wc`, in this process.

    .venv/bin/python bench/profile_wc.py [INPUT...] [--n-reduce 2] [--html DIR]

Default input: the first file of the cached 200 MiB corpus (one 12.5 MiB map
task, what each map task of `mrkit_run` does). The map task is run through
`mrkit.tasks.run_map` into a temporary directory, then one reduce task through
`run_reduce` over that map's intermediate files. Uses pyinstrument when it is
installed (text tree, or HTML with --html), else cProfile. Prints each phase's
wall time and peak RSS so far, so the profile and the memory target can be read
together.
"""

import argparse
import pathlib
import resource
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from mrbench import cli, corpus
from mrkit import tasks
from mrkit.app import load_app
from mrkit.storage.local import LocalStorage


def _profiler():
    try:
        from pyinstrument import Profiler

        return Profiler(interval=0.001)
    except ImportError:
        return None


def _peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def profile(label, fn, html_dir=None):
    profiler = _profiler()
    start = time.perf_counter()
    if profiler is None:
        import cProfile
        import pstats

        with cProfile.Profile() as prof:
            result = fn()
        pstats.Stats(prof).sort_stats("cumulative").print_stats(15)
    else:
        profiler.start()
        result = fn()
        profiler.stop()
    wall = time.perf_counter() - start
    print(f"== {label}: {wall:.2f} s, peak RSS of this process so far {_peak_mb():.0f} MB")
    if profiler is not None:
        if html_dir:
            path = pathlib.Path(html_dir) / f"profile-{label.split()[0]}.html"
            path.write_text(profiler.output_html())
            print(f"   html: {path}")
        print(profiler.output_text(unicode=True, color=False, show_all=False))
    return result


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("inputs", nargs="*")
    p.add_argument("--n-reduce", type=int, default=2)
    p.add_argument("--html", default=None, help="also write the pyinstrument HTML here")
    args = p.parse_args(argv)
    inputs = args.inputs or corpus.build(cli.ROOT / "results" / "bench" / "corpus", 16, cli.CHUNK)[1][:1]
    app = load_app("wc")
    with tempfile.TemporaryDirectory(prefix="mrkit-profile-") as work:
        storage = LocalStorage(work)
        splits = [[p, str(pathlib.Path(p).resolve()), 0, pathlib.Path(p).stat().st_size] for p in inputs]
        print(f"map task: {len(inputs)} input(s), {sum(s[3] for s in splits) / 2**20:.1f} MiB, R = {args.n_reduce}")
        result = profile(
            "map task", lambda: tasks.run_map(app, {"task": 0, "n_reduce": args.n_reduce, "splits": splits}, storage), args.html
        )
        print(f"   {result['records_out']} intermediate records, {result['bytes_out'] / 2**20:.1f} MiB written")
        first = result["partitions"][0]  # a reduce task index, or [index, bytes] in newer runtimes
        reduce_task = {"task": first[0] if isinstance(first, (list, tuple)) else first, "maps": [0]}
        result = profile("reduce task", lambda: tasks.run_reduce(app, reduce_task, storage), args.html)
        print(f"   {result['records_in']} records in, {result['records_out']} keys out")


if __name__ == "__main__":
    main()

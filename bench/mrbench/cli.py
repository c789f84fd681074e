"""`bench.py`: the suites, the alternating run loop, output checks, and the command line.

Suites (cases), each run as whole processes with every implementation
alternating (repeat k runs the implementations rotated by k: ABC, BCA, CAB...):
  books          the eight Gutenberg books (3.3 MB), or 8 generated files of that size
  corpus         16 files x 12.5 MiB = 200 MiB built from the books (cached): every
                 implementation, the peers each idiomatic and with mrkit's count_words
  same_function  the corpus again, only mrkit_run (local, dask, dask-tasks), mp_pool_cw and
                 sequential_cw, in --pairs alternating repeats (default 5): the runtime-overhead targets
  scale          mrkit run wc -m N -r 10 -w 2 on one tiny file, N = --scale (1k, 10k,
                 100k), the sizes alternating: tasks/s and master CPU per task
  fixed          python -c pass, the imports, and mrkit run wc on one empty file
                 (--fixed-repeats runs each): the fixed cost of a run
  overhead       N empty input files (default 1000): one file per map task
  memory_2gb     the corpus listed 10 times (2 GiB, no new files), M scaled: mrkit_run only
Every run's counts are compared with the reference (the first python_sequential
run of the case); a difference marks the run not ok and is printed loudly.
"""

import argparse
import datetime
import functools
import hashlib
import json
import os
import pathlib
import platform
import shutil
import subprocess
import sys

from mrbench import corpus, impls, measure, report

ROOT = pathlib.Path(__file__).resolve().parents[2]
CHUNK = int(12.5 * 2**20)  # mrkit's best chunk size on 2 cores: one 12.5 MiB piece per map task
SUITES = ("books", "corpus", "same_function", "scale", "fixed", "overhead", "memory_2gb")
DEFAULT_SUITES = ("books", "corpus", "same_function", "scale", "fixed")
QUICK_SUITES = ("corpus", "same_function", "scale", "fixed")
# The runs the same-function targets compare: mrkit against an ideal Pool and a sequential run of one function.
SAME_FUNCTION_IMPLS = ("mrkit_run", "mrkit_run_dask", "mrkit_run_dask_tasks", "mp_pool_cw", "sequential_cw")


def best_n_map(sizes, workers, chunk=CHUNK):
    """M for mrkit_run: chunks of about `chunk` bytes, at least one per worker.

    None (one map task per file, mrkit's default) when there are enough files
    and none is bigger than a chunk: cutting them again would only add the
    merging of pieces that share a map task (~20 ms on the books).
    """
    if len(sizes) >= workers and max(sizes, default=0) <= chunk:
        return None
    return max(workers, round(sum(sizes) / chunk))


class Reference:
    """The counts every run of a case is checked against."""

    def __init__(self, counts=None, source=""):
        self.counts, self.source = counts, source

    def check(self, impl, counts):
        """(match, note): match is yes | no | n/a; the note names a few differing words."""
        if self.counts is None:
            return "n/a", "no reference yet"
        if counts == self.counts:
            return "yes", ""
        keys = set(counts) | set(self.counts)
        diff = sorted(k for k in keys if counts.get(k) != self.counts.get(k))
        examples = ", ".join(f"{k!r}: {counts.get(k)} vs {self.counts.get(k)}" for k in diff[:3])
        note = f"{len(diff)} of {len(keys)} words differ from {self.source} (e.g. {examples})"
        if not impl.comparable:
            return "n/a", f"not comparable (ASCII-only words): {len(diff)} words differ"
        return "no", note


# What `mrkit run wc` and `mrkit sequential wc` import: the code whose changes matter to these numbers.
_RUNTIME_IMPORTS = "import mrkit.cli, mrkit.backends.local, mrkit.runtime.worker, mrkit.sequential, mrkit.apps.wc"


@functools.cache
def runtime_files(python=sys.executable):
    """mrkit's source files that a word-count run imports (asked once, in a fresh interpreter).

    That interpreter also writes their bytecode caches, even where the session sets
    PYTHONDONTWRITEBYTECODE: without fresh .pyc files every measured run would
    compile mrkit from source (~25 ms of CPU per process), which no installed copy does.
    """
    script = (
        f"{_RUNTIME_IMPORTS}\nimport sys\n"
        "print('\\n'.join(sorted(m.__file__ for n, m in list(sys.modules.items())"
        " if n.split('.')[0] == 'mrkit' and getattr(m, '__file__', None))))"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    try:
        out = subprocess.run([python, "-c", script], capture_output=True, text=True, timeout=60, env=env)
    except (OSError, subprocess.SubprocessError):
        return ()
    return tuple(line for line in out.stdout.splitlines() if line.endswith(".py"))


def source_digest():
    """A short hash of the mrkit sources a run imports: tells runs of different code apart
    (the package is installed editable, so an edit lands in the next run)."""
    digest = hashlib.sha1()
    for path in runtime_files():
        try:
            digest.update(path.encode() + b"\0" + pathlib.Path(path).read_bytes())
        except OSError:
            digest.update(path.encode() + b"\0missing")
    return digest.hexdigest()[:10] if runtime_files() else "unknown"


def git_head():
    """The repository's commit, for the header (read-only git)."""
    try:
        out = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=10)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _warm(files):
    """Read the inputs once so every implementation starts with them in the page cache."""
    for path in dict.fromkeys(files):
        with open(path, "rb") as f:
            while f.read(1 << 24):
                pass


MRKIT_COLUMNS = {
    "mr_end_to_end_s": "end_to_end_s",
    "mr_map_wall_s": "map_wall_s",
    "mr_reduce_wall_s": "reduce_wall_s",
    "mr_startup_s": "startup_s",
    "master_cpu_s": "master_cpu_s",
    "mr_n_map": "n_map",
    "mr_n_reduce": "n_reduce",
}


def _mrkit_details(stdout_path):
    """The runtime's own figures from `mrkit run --json`: timings that split the wall time, the master's CPU."""
    try:
        lines = pathlib.Path(stdout_path).read_text().strip().splitlines()
        data = json.loads(lines[-1])
        return {column: data.get(key) for column, key in MRKIT_COLUMNS.items()}
    except (OSError, IndexError, ValueError):
        return {}


def run_one(name, impl, job, settings, *, repeat, work, reference, timeout=3600, quiet_wait=0.0):
    """One measured run of one implementation; returns its bench.csv row (its counts checked)."""
    outdir = work / name / impl.name
    impls.clear_outputs(outdir)
    command = impl.build(settings, job, outdir)
    logs = work / "logs" / f"{name}-{impl.name}-{repeat}"
    busy = measure.wait_until_quiet(quiet_wait)  # also a reading of the noise from elsewhere
    row = {
        "case": name,
        "impl": impl.name,
        "runtime": impl.runtime,
        "function": impl.function,
        "repeat": repeat,
        "settings": command.settings,
        "input_mb": corpus.total_bytes(job.inputs) / 1e6,
        "n_inputs": len(job.inputs),
        "busy_before": busy,
        "load1": measure.load_average(),
        "mrkit_src": source_digest(),
        "match": "n/a",
        "note": "",
    }
    env = {**os.environ, **command.env} if command.env else None
    m = measure.run(command.argv, cwd=outdir, stdout_path=f"{logs}.out", stderr_path=f"{logs}.err", env=env, timeout=timeout)
    row.update(
        wall_s=m.wall_s,
        cpu_s=m.cpu_s,
        peak_rss_tree_mb=m.peak_rss_tree_mb,
        peak_rss_max_proc_mb=m.peak_rss_max_proc_mb,
        returncode=m.returncode,
        max_fds=m.max_fds,
        max_procs=m.max_procs,
    )
    if m.returncode == 0:
        counts = impl.parse(outdir)
        row["distinct_words"] = len(counts)
        if reference.counts is None and impl.name == impls.BASELINE:
            reference.counts, reference.source = counts, f"{impl.name} (repeat {repeat})"
        row["match"], row["note"] = reference.check(impl, counts)
    else:
        tail = pathlib.Path(f"{logs}.err").read_text(errors="replace").strip().splitlines()[-1:]
        row["note"] = ("timed out; " if m.timed_out else f"exit {m.returncode}; ") + " ".join(tail)[:200]
    if impl.name.startswith("mrkit_run"):
        row.update(_mrkit_details(f"{logs}.out"))
    row["ok"] = m.returncode == 0 and row["match"] != "no"
    shutil.rmtree(outdir, ignore_errors=True)
    return row


def run_case(name, job, chosen, settings, *, repeats, work, log, reference=None, timeout=3600, quiet_wait=0.0):
    """Run every implementation `repeats` times, alternating; returns (rows, skipped)."""
    rows, skipped, runnable = [], [], []
    for impl in chosen:
        note = impl.missing(settings)
        if note:
            skipped.append({"case": name, "impl": impl.name, "note": note})
            log(f"[{name}] {impl.name}: {note}")
        else:
            runnable.append(impl)
    reference = reference or Reference()
    _warm(job.inputs)
    for repeat in range(repeats):
        k = repeat % len(runnable) if runnable else 0
        for impl in runnable[k:] + runnable[:k]:
            row = run_one(
                name, impl, job, settings, repeat=repeat, work=work, reference=reference, timeout=timeout, quiet_wait=quiet_wait
            )
            rows.append(row)
            log(
                f"[{name} {repeat + 1}/{repeats}] {impl.name:<17} {row['wall_s']:8.2f} s  cpu {row['cpu_s']:7.2f} s"
                f"  tree {row['peak_rss_tree_mb']:6.0f} MB  proc {row['peak_rss_max_proc_mb']:5.0f} MB"
                f"  fds {row['max_fds']:4d}  busy {row['busy_before']:.1f}  {'ok' if row['ok'] else 'NOT OK'}"
                + (f"  {row['note']}" if row["note"] else "")
            )
            if not row["ok"]:
                log(
                    f"!!! {name}/{impl.name} repeat {repeat}: "
                    f"{'COUNTS DIFFER' if row['match'] == 'no' else 'FAILED'}: {row['note']}"
                )
    return rows, skipped


def build_parser():
    p = argparse.ArgumentParser(
        prog="bench.py", description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="tiny corpus (4 x 64 KiB), study (20, 10), 1 repeat, 2 pairs, scale 50,200, 2 fixed-cost runs: for tests",
    )
    p.add_argument("--repeats", type=int, default=None, help="runs per implementation (default 3; 1 with --quick)")
    p.add_argument("--only", default="", help=f"comma-separated, of {', '.join(impls.REGISTRY)} (python_sequential always runs)")
    p.add_argument(
        "--suites",
        default=None,
        help=f"comma-separated, of {', '.join(SUITES)} (default {','.join(DEFAULT_SUITES)}; "
        f"{','.join(QUICK_SUITES)} with --quick)",
    )
    p.add_argument("--memory-2gb", action="store_true", help="add the memory_2gb suite (expensive)")
    p.add_argument("--results", default=str(ROOT / "results" / "bench"), help="output directory")
    p.add_argument("--corpus-cache", default=None, help="corpus cache (default RESULTS/corpus)")
    p.add_argument(
        "--source",
        choices=("auto", "gutenberg", "synth"),
        default="auto",
        help="corpus from the Gutenberg books or the generator (auto: books when present)",
    )
    p.add_argument("--workers", type=int, default=2, help="W for mrkit and the parallel peers (default 2)")
    p.add_argument("--mrkit-m", type=int, default=None, help="M for mrkit_run (default: 12.5 MiB chunks, >= W)")
    p.add_argument("--mrkit-r", type=int, default=None, help="R for mrkit_run (default: W)")
    p.add_argument("--study", default=None, help="(M,R) of mrkit_run_study (default 100,50; 20,10 with --quick)")
    p.add_argument("--empty-tasks", type=int, default=None, help="empty map tasks in the overhead suite (default 1000)")
    p.add_argument(
        "--pairs", type=int, default=None, help="alternating repeats of the same_function suite (default 5; 2 with --quick)"
    )
    p.add_argument(
        "--scale", default=None, help="map-task counts of the scale suite (default 1000,10000,100000; 50,200 with --quick)"
    )
    p.add_argument("--fixed-repeats", type=int, default=None, help="runs of each fixed-cost command (default 11; 2 with --quick)")
    p.add_argument("--peer-python", default=sys.executable, help="interpreter for optional peers (e.g. a venv with dask)")
    p.add_argument("--timeout", type=float, default=3600, help="seconds before one run is killed")
    p.add_argument(
        "--quiet-wait",
        type=float,
        default=0.0,
        metavar="S",
        help="before each run wait up to S s until other processes use < 0.5 core (default 0: only measure)",
    )
    p.add_argument("--no-chart", action="store_true", help="skip bench.png")
    p.add_argument("--list", action="store_true", help="list the implementations and whether each can run, then exit")
    p.add_argument(
        "--rebuild", action="store_true", help="run nothing: rebuild summary, tables, chart and targets from RESULTS/bench.csv"
    )
    return p


def list_impls(settings, log):
    for impl in impls.REGISTRY.values():
        log(f"{impl.name:<18} {impl.missing(settings) or 'available':<50.50} {impl.description}")
    return 0


def _plan(args, settings, cache, log):
    """[(case name, Job, implementations, reference-or-None, repeats-or-None)] for the chosen suites."""
    names = [n for n in args.only.split(",") if n]
    if impls.unknown(names):
        raise SystemExit(
            f"bench.py: unknown implementation(s) {', '.join(impls.unknown(names))}; known: {', '.join(impls.REGISTRY)}"
        )
    given = args.suites or ",".join(QUICK_SUITES if args.quick else DEFAULT_SUITES)
    suites = [s for s in given.split(",") if s] + (["memory_2gb"] if args.memory_2gb else [])
    if "memory_2gb" in suites and "corpus" not in suites:  # its reference and its 200 MiB comparison
        suites.insert(suites.index("memory_2gb"), "corpus")
    bad = sorted(set(suites) - set(SUITES))
    if bad:
        raise SystemExit(f"bench.py: unknown suite(s) {', '.join(bad)}; known: {', '.join(SUITES)}")
    w = settings.workers
    study = tuple(int(x) for x in (args.study or ("20,10" if args.quick else "100,50")).split(","))
    mrkit_cmd = settings.mrkit
    plan = []

    def job(files, n_map=None):
        n_map = n_map or args.mrkit_m or best_n_map([os.path.getsize(f) for f in files], w)
        return impls.Job(inputs=[os.path.abspath(f) for f in files], n_map=n_map, n_reduce=args.mrkit_r or w, study=study)

    def pick(*only):
        chosen = impls.selected(names)
        return [i for i in chosen if not only or i.name in only]

    main_files = None
    for suite in dict.fromkeys(suites):
        if suite == "books":
            source, files = corpus.small(cache, args.source, mrkit_cmd)
            plan.append(("books", job(files), [i for i in pick() if i.name != "mrkit_run_study"], None, None))
        elif suite in ("corpus", "same_function", "memory_2gb") and main_files is None:
            n, size = (4, 64 * 1024) if args.quick else (16, CHUNK)
            source, main_files = corpus.build(cache, n, size, args.source, mrkit_cmd)
            log(
                f"corpus: {source}, {len(main_files)} files, {corpus.total_bytes(main_files) / 2**20:.1f} MiB "
                f"in {pathlib.Path(main_files[0]).parent}"
            )
        if suite == "corpus":
            plan.append(("corpus", job(main_files), pick(), None, None))
        elif suite == "same_function":
            # Checked against the corpus case's plain count when it ran first, else against its own.
            with_corpus = "corpus" in suites[: suites.index("same_function")]
            chosen = pick(*SAME_FUNCTION_IMPLS, *(() if with_corpus else (impls.BASELINE,)))
            plan.append(
                (
                    "same_function",
                    job(main_files),
                    chosen,
                    ("corpus", 1) if with_corpus else None,
                    args.pairs or (2 if args.quick else 5),
                )
            )
        elif suite == "scale" and (not names or "mrkit_run" in names):
            sizes = [int(n) for n in (args.scale or ("50,200" if args.quick else "1000,10000,100000")).split(",") if n]
            files = corpus.tiny_file(cache)
            plan.append(
                (
                    "scale",
                    impls.Job([os.path.abspath(f) for f in files], n_reduce=10),
                    [impls.scale_impl(n) for n in sizes],
                    Reference(corpus.tiny_counts(), "the tiny file's words"),
                    None,
                )
            )
        elif suite == "fixed" and (not names or "mrkit_run" in names):
            files = corpus.empty_file(cache)
            plan.append(
                (
                    "fixed",
                    impls.Job([os.path.abspath(f) for f in files], n_map=None, n_reduce=10),
                    [*impls.STARTUP, impls.REGISTRY["mrkit_run"]],
                    Reference({}, "an empty input"),
                    args.fixed_repeats or (2 if args.quick else 11),
                )
            )
        elif suite == "overhead":
            files = corpus.empty_files(cache, args.empty_tasks or (50 if args.quick else 1000))
            plan.append(
                (
                    "overhead",
                    impls.Job([os.path.abspath(f) for f in files], n_map=None, n_reduce=10),
                    pick(impls.BASELINE, "mrkit_run"),
                    Reference({}, "empty inputs"),
                    None,
                )
            )
        elif suite == "memory_2gb":
            times = 3 if args.quick else 10  # the same files listed again: 2 GiB read, nothing new written
            n_map = job(main_files).n_map  # None: one map per listed file, so chunks keep their size anyway
            big = job(main_files * times, n_map=n_map and n_map * times)
            plan.append(("memory_2gb", big, [impls.REGISTRY["mrkit_run"]], ("corpus", times), None))
    return plan


def _print(line):
    print(line, flush=True)  # progress shows up even when stdout is a file (make bench > log)


def main(argv=None, log=_print):
    args = build_parser().parse_args(argv)
    repeats = args.repeats or (1 if args.quick else 3)
    results = pathlib.Path(args.results)
    cache = pathlib.Path(args.corpus_cache) if args.corpus_cache else results / "corpus"
    settings = impls.Settings(peer_python=args.peer_python, workers=args.workers)
    if args.list:
        return list_impls(settings, log)
    if args.rebuild:  # the report is a pure function of the rows (skip notes are not in bench.csv)
        import pandas as pd

        # "n/a" is a value of `match`, not a missing one
        rows = pd.read_csv(results / "bench.csv", keep_default_na=False, na_values=[""]).to_dict("records")
        return write_outputs(results, rows, [], args, log, empty_tasks=args.empty_tasks or 1000)
    work = results / "work"
    shutil.rmtree(work, ignore_errors=True)
    (work / "logs").mkdir(parents=True)
    started = datetime.datetime.now().isoformat(timespec="seconds")
    log(
        f"bench: {started}, {os.cpu_count()} CPUs, Python {platform.python_version()}, load {measure.load_average():.1f}, "
        f"{repeats} repeat(s), mrkit = {' '.join(settings.mrkit)}, commit {git_head()}, mrkit source {source_digest()}"
    )
    rows, skipped, references = [], [], {}
    for name, job, chosen, reference, case_repeats in _plan(args, settings, cache, log):
        if isinstance(reference, tuple):  # (case, k): that case's reference, each count times k
            base, times = references.get(reference[0]), reference[1]
            counts = None if base is None or base.counts is None else {k: v * times for k, v in base.counts.items()}
            reference = Reference(counts, f"{reference[0]} reference" + (f" x {times}" if times != 1 else ""))
        log(
            f"== {name}: {len(job.inputs)} inputs, {corpus.total_bytes(job.inputs) / 2**20:.1f} MiB, "
            + (
                f"{', '.join(i.name for i in chosen)}"
                if name == "scale"
                else f"mrkit -m {job.n_map or 'one per file'} -r {job.n_reduce} -w {settings.workers}"
            )
        )
        reference = reference or Reference()
        case_rows, case_skipped = run_case(
            name,
            job,
            chosen,
            settings,
            repeats=case_repeats or repeats,
            work=work,
            log=log,
            reference=reference,
            timeout=args.timeout,
            quiet_wait=args.quiet_wait,
        )
        references[name] = reference
        rows += case_rows
        skipped += case_skipped
    return write_outputs(results, rows, skipped, args, log, empty_tasks=args.empty_tasks or (50 if args.quick else 1000))


def write_outputs(results, rows, skipped, args, log, empty_tasks):
    """bench.csv, summary.csv, bench.png, bench.md; prints the tables and targets. Returns the exit code."""
    runs = report.runs_frame(rows)
    for column in MRKIT_COLUMNS:
        runs[column] = [r.get(column) for r in rows] if rows else []
    runs.to_csv(results / "bench.csv", index=False)
    summary = report.summarize(runs, skipped)
    summary.to_csv(results / "summary.csv", index=False)
    if not args.no_chart and len(runs):
        report.chart(summary, results / "bench.png")
    table = report.markdown(summary) + "\n" + report.analysis(runs)
    goals = report.targets(summary, runs, overhead_tasks=empty_tasks + 10)
    text = report.targets_text(goals)
    warning = report.source_warning(runs)
    if warning:
        text += "\n" + warning
    (results / "bench.md").write_text(f"{table}\n\n```\n{text}\n```\n")
    log(table)
    log("\ntargets:\n" + text)
    log(
        f"\nwrote {results / 'bench.csv'}, {results / 'summary.csv'}, {results / 'bench.md'}"
        + ("" if args.no_chart else f", {results / 'bench.png'}")
    )
    bad = runs[~runs["ok"].astype(bool)]
    required = bad[~bad["impl"].map(lambda n: impls.REGISTRY[n].optional if n in impls.REGISTRY else False)]
    for r in bad.itertuples():
        log(f"!!! NOT OK: {r.case}/{r.impl} repeat {r.repeat}: {r.note}")
    return 1 if len(required) else 0

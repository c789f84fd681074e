"""The implementations under test: a registry of name -> command builder + output parser.

Every implementation is a whole process that reads the input files and writes
`word count` lines into its own output directory. `build` returns the argv
(and cwd) for one run; `parse` reads the directory back into {word: count}.
An implementation that needs a module or a tool says so in `requires`; when
one is missing it is skipped with a note instead of failing the benchmark.

Peers in bench/peers/ run with `Settings.peer_python` (by default this
interpreter), so optional frameworks can live in a separate venv:
`bench.py --peer-python /tmp/peers/bin/python`.
"""

import functools
import os
import pathlib
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass

PEERS = pathlib.Path(__file__).resolve().parents[1] / "peers"


@dataclass
class Settings:
    """What a command builder needs to know about this machine and run."""

    python: str = sys.executable
    peer_python: str = sys.executable
    mrkit: tuple = ()
    workers: int = 2

    def __post_init__(self):
        if not self.mrkit:
            script = pathlib.Path(self.python).parent / "mrkit"
            self.mrkit = (str(script),) if script.exists() else (self.python, "-m", "mrkit")


@dataclass
class Job:
    """One case's inputs and the mrkit settings chosen for it."""

    inputs: list
    n_map: int | None = None
    n_reduce: int = 10
    study: tuple = (100, 50)  # the lab study's (M, R), run by mrkit_run_study


@dataclass
class Command:
    argv: list
    settings: str = ""  # a short description of the configuration, for the tables
    env: dict | None = None  # extra environment variables


@dataclass
class Impl:
    name: str
    build: Callable  # (Settings, Job, outdir) -> Command
    parse: Callable  # outdir -> {word: count}
    requires_modules: tuple = ()  # importable by the interpreter that runs it
    requires_tools: tuple = ()  # on PATH
    interpreter: str = "python"  # "python" (this venv) or "peer" (Settings.peer_python)
    comparable: bool = True  # False: its word definition differs; a mismatch is reported, not a failure
    optional: bool = False  # a peer from the `.[bench]` extra
    description: str = ""

    def missing(self, settings):
        """None when it can run, else a note saying what is missing."""
        tools = [t for t in self.requires_tools if shutil.which(t) is None]
        if tools:
            return f"skipped: {', '.join(tools)} not on PATH"
        python = settings.peer_python if self.interpreter == "peer" else settings.python
        modules = [m for m in self.requires_modules if not _importable(python, m)]
        if modules:
            return f"skipped: {', '.join(modules)} not importable by {python}"
        return None


@functools.cache
def _importable(python, module):
    """Whether `python -c 'import module'` succeeds (asked once per run)."""
    result = subprocess.run([python, "-c", f"import {module}"], capture_output=True, timeout=120)
    return result.returncode == 0


# ---- output parsers ---------------------------------------------------------

def parse_word_count_lines(paths):
    """{word: count} from files of `word count` lines; a word seen twice is summed (reported by compare)."""
    counts = {}
    for path in paths:
        with open(path, encoding="utf-8", errors="surrogateescape") as f:
            for line in f:
                word, _, n = line.rstrip("\n").rpartition(" ")
                if word:
                    counts[word] = counts.get(word, 0) + int(n)
    return counts


def parse_counts_file(outdir):
    return parse_word_count_lines([pathlib.Path(outdir) / "counts.txt"])


def parse_mr_out(outdir):
    """{word: count} from a job's mr-out-* (read by mrkit's one reader; a word seen twice is summed)."""
    from mrkit.verify import output_pairs

    counts = {}
    for word, n in output_pairs(outdir):
        if word:
            counts[word] = counts.get(word, 0) + int(n)
    return counts


def parse_uniq_c(outdir):
    """`uniq -c` output: `  count word` lines (the empty token from leading separators dropped)."""
    counts = {}
    with open(pathlib.Path(outdir) / "counts.txt", encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            n, _, word = line.strip().partition(" ")
            if word:
                counts[word] = int(n)
    return counts


# ---- command builders -------------------------------------------------------

def _peer(script, *args, python="python"):
    def build(settings, job, outdir):
        exe = settings.peer_python if python == "peer" else settings.python
        # Frameworks copy the script elsewhere (mrjob) or start `python` by name
        # (lithops): the shared wordcount module and the right interpreter must
        # be found through the environment, not the script's folder.
        env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(PEERS), os.environ.get("PYTHONPATH")])),
               "PATH": os.pathsep.join([str(pathlib.Path(exe).parent), os.environ.get("PATH", "")])}
        return Command([exe, str(PEERS / script), str(pathlib.Path(outdir) / "counts.txt"),
                        *[a(settings, job) if callable(a) else a for a in args], *job.inputs], env=env)
    return build


def _workers(settings, job):
    return str(settings.workers)


def _mrkit_run(settings, job, outdir, n_map=None, n_reduce=None):
    n_map = job.n_map if n_map is None else n_map
    n_reduce = job.n_reduce if n_reduce is None else n_reduce
    options = (["-m", str(n_map)] if n_map else []) + ["-r", str(n_reduce), "-w", str(settings.workers)]
    return Command([*settings.mrkit, "run", "wc", *job.inputs, *options, "--workdir", str(outdir), "--json"],
                   settings=" ".join(options))


def _mrkit_study(settings, job, outdir):
    return _mrkit_run(settings, job, outdir, *job.study)


def _mrkit_sequential(settings, job, outdir):
    return Command([*settings.mrkit, "sequential", "wc", *job.inputs])


def _gnu_pipeline(settings, job, outdir):
    # The classic shell word count. tr's classes are bytes, so it only agrees
    # with the isalpha definition on ASCII text: reported, never a failure.
    out = pathlib.Path(outdir) / "counts.txt"
    script = 'cat "$@" | tr -cs A-Za-z "\\n" | sort | uniq -c > "$OUT"'
    return Command(["env", "LC_ALL=C", f"OUT={out}", "sh", "-c", script, "gnu_pipeline", *job.inputs],
                   settings="LC_ALL=C tr|sort|uniq -c")


REGISTRY = {}


def register(impl):
    """Add (or replace) an implementation; order of registration is the order of runs."""
    REGISTRY[impl.name] = impl
    return impl


BASELINE = "python_sequential"

register(Impl(BASELINE, _peer("plain_count.py"), parse_counts_file,
              description="one process: re.findall + Counter per file (the baseline)"))
register(Impl("mp_pool", _peer("mp_pool_count.py", _workers), parse_counts_file,
              description="multiprocessing.Pool(W), one file per task, Counters merged"))
register(Impl("mrkit_run", _mrkit_run, parse_mr_out, description="mrkit run wc at its best settings for 2 cores"))
register(Impl("mrkit_run_study", _mrkit_study, parse_mr_out, description="mrkit run wc at the lab study's (100, 50)"))
register(Impl("mrkit_sequential", _mrkit_sequential, parse_mr_out,
              description="mrkit sequential wc: the plain map path, all pairs in memory"))
register(Impl("gnu_pipeline", _gnu_pipeline, parse_uniq_c, requires_tools=("tr", "sort", "uniq"),
              comparable=False, description="tr -cs A-Za-z | sort | uniq -c (ASCII words only)"))
register(Impl("dask_bag", _peer("dask_bag_count.py", _workers, python="peer"), parse_counts_file,
              requires_modules=("dask.bag",), interpreter="peer", optional=True,
              description="dask.bag, processes scheduler, Counter per partition"))
register(Impl("lithops", _peer("lithops_count.py", _workers, python="peer"), parse_counts_file,
              requires_modules=("lithops",), interpreter="peer", optional=True,
              description="lithops localhost backend, map_reduce"))
register(Impl("pyspark", _peer("pyspark_count.py", _workers, python="peer"), parse_counts_file,
              requires_modules=("pyspark",), requires_tools=("java",), interpreter="peer", optional=True,
              description="pyspark local[W], mapPartitions + reduceByKey"))
register(Impl("mrjob", _peer("mrjob_count.py", _workers, python="peer"), parse_counts_file,
              requires_modules=("mrjob",), interpreter="peer", optional=True,
              description="mrjob local runner"))


def selected(names=None):
    """The implementations to run, in registry order; the baseline always comes along."""
    return [impl for name, impl in REGISTRY.items() if not names or name in names or name == BASELINE]


def unknown(names):
    return sorted(set(names or ()) - set(REGISTRY))


def clear_outputs(outdir):
    """Empty an implementation's output directory between runs."""
    shutil.rmtree(outdir, ignore_errors=True)
    os.makedirs(outdir)

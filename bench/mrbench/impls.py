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
ROOT = PEERS.parents[1]  # the repository: on a peer's PYTHONPATH so MRBENCH_COUNT=count_words finds mrkit.text
SAME_FUNCTION = "count_words"  # mrkit.text.count_words, the map function of `mrkit run wc`


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
    runtime: str = ""  # what runs the map function (sequential, mp_pool, mrkit, dask_bag...): groups the tables
    function: str = "plain"  # the map function: plain (re.findall + Counter), count_words, or the runtime's own

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


def _peer(script, *args, python="python", count="plain"):
    def build(settings, job, outdir):
        exe = settings.peer_python if python == "peer" else settings.python
        # Frameworks copy the script elsewhere (mrjob) or start `python` by name
        # (lithops): the shared modules, the map function's choice and the right
        # interpreter must come through the environment, not the script's folder.
        path = [str(PEERS)] + ([str(ROOT)] if count != "plain" else []) + [os.environ.get("PYTHONPATH")]
        env = {
            "PYTHONPATH": os.pathsep.join(filter(None, path)),
            "MRBENCH_COUNT": count,
            "PATH": os.pathsep.join([str(pathlib.Path(exe).parent), os.environ.get("PATH", "")]),
        }
        return Command(
            [
                exe,
                str(PEERS / script),
                str(pathlib.Path(outdir) / "counts.txt"),
                *[a(settings, job) if callable(a) else a for a in args],
                *job.inputs,
            ],
            env=env,
            settings="" if count == "plain" else f"map = mrkit.text.{count}",
        )

    return build


def _workers(settings, job):
    return str(settings.workers)


def _startup(*code):
    """`python -c CODE`: interpreter start-up (and imports), the floor under every whole-process time."""

    def build(settings, job, outdir):
        return Command([settings.python, "-c", "; ".join(code) or "pass"], settings=f"-c {'; '.join(code) or 'pass'}")

    return build


def parse_nothing(outdir):
    return {}


def _mrkit_run(settings, job, outdir, n_map=None, n_reduce=None, backend="local"):
    n_map = job.n_map if n_map is None else n_map
    n_reduce = job.n_reduce if n_reduce is None else n_reduce
    options = (["-m", str(n_map)] if n_map else []) + ["-r", str(n_reduce), "-w", str(settings.workers)]
    options += ["--backend", backend] if backend != "local" else []
    return Command(
        [*settings.mrkit, "run", "wc", *job.inputs, *options, "--workdir", str(outdir), "--json"], settings=" ".join(options)
    )


def _mrkit_study(settings, job, outdir):
    return _mrkit_run(settings, job, outdir, *job.study)


def _mrkit_sequential(settings, job, outdir):
    return Command([*settings.mrkit, "sequential", "wc", *job.inputs])


def _gnu_pipeline(settings, job, outdir):
    # The classic shell word count. tr's classes are bytes, so it only agrees
    # with the isalpha definition on ASCII text: reported, never a failure.
    out = pathlib.Path(outdir) / "counts.txt"
    script = 'cat "$@" | tr -cs A-Za-z "\\n" | sort | uniq -c > "$OUT"'
    return Command(
        ["env", "LC_ALL=C", f"OUT={out}", "sh", "-c", script, "gnu_pipeline", *job.inputs], settings="LC_ALL=C tr|sort|uniq -c"
    )


REGISTRY = {}


def register(impl):
    """Add (or replace) an implementation; order of registration is the order of runs."""
    REGISTRY[impl.name] = impl
    return impl


BASELINE = "python_sequential"

register(
    Impl(
        BASELINE,
        _peer("plain_count.py"),
        parse_counts_file,
        runtime="sequential",
        description="one process: re.findall + Counter per file (the baseline)",
    )
)
register(
    Impl(
        "sequential_cw",
        _peer("plain_count.py", count=SAME_FUNCTION),
        parse_counts_file,
        runtime="sequential",
        function=SAME_FUNCTION,
        description="one process: mrkit.text.count_words per file (the same-function baseline)",
    )
)
register(
    Impl(
        "mp_pool",
        _peer("mp_pool_count.py", _workers),
        parse_counts_file,
        runtime="mp_pool",
        description="multiprocessing.Pool(W), one file per task, Counters merged",
    )
)
register(
    Impl(
        "mp_pool_cw",
        _peer("mp_pool_count.py", _workers, count=SAME_FUNCTION),
        parse_counts_file,
        runtime="mp_pool",
        function=SAME_FUNCTION,
        description="multiprocessing.Pool(W) running mrkit.text.count_words: the ideal runtime",
    )
)
register(
    Impl(
        "mrkit_run",
        _mrkit_run,
        parse_mr_out,
        runtime="mrkit",
        function=SAME_FUNCTION,
        description="mrkit run wc at its best settings for 2 cores",
    )
)
# The same job on a LocalCluster of W processes (what `--backend dask[-tasks]` starts without --scheduler).
for _backend in ("dask", "dask-tasks"):
    register(
        Impl(
            f"mrkit_run_{_backend.replace('-', '_')}",
            functools.partial(_mrkit_run, backend=_backend),
            parse_mr_out,
            requires_modules=("distributed",),
            runtime="mrkit",
            function=SAME_FUNCTION,
            description=f"mrkit run wc --backend {_backend}, a LocalCluster of W processes, same settings",
        )
    )
register(
    Impl(
        "mrkit_run_study",
        _mrkit_study,
        parse_mr_out,
        runtime="mrkit",
        function=SAME_FUNCTION,
        description="mrkit run wc at the lab study's (100, 50)",
    )
)
register(
    Impl(
        "mrkit_sequential",
        _mrkit_sequential,
        parse_mr_out,
        runtime="mrkit",
        function="words",
        description="mrkit sequential wc: the plain map path, all pairs in memory",
    )
)
register(
    Impl(
        "gnu_pipeline",
        _gnu_pipeline,
        parse_uniq_c,
        requires_tools=("tr", "sort", "uniq"),
        comparable=False,
        runtime="gnu",
        function="tr|sort|uniq",
        description="tr -cs A-Za-z | sort | uniq -c (ASCII words only)",
    )
)

# The parallel peers, each idiomatic and with mrkit's count_words as its map function.
_PEERS = [
    ("dask_bag", "dask_bag_count.py", ("dask.bag",), (), "dask.bag, processes scheduler, Counter per partition"),
    ("lithops", "lithops_count.py", ("lithops",), (), "lithops localhost backend, map_reduce"),
    ("pyspark", "pyspark_count.py", ("pyspark",), ("java",), "pyspark local[W], mapPartitions + reduceByKey"),
]
for _name, _script, _modules, _tools, _text in _PEERS:
    for _count, _suffix, _extra in (("plain", "", ""), (SAME_FUNCTION, "_cw", ", map = mrkit.text.count_words")):
        register(
            Impl(
                _name + _suffix,
                _peer(_script, _workers, python="peer", count=_count),
                parse_counts_file,
                requires_modules=_modules,
                requires_tools=_tools,
                interpreter="peer",
                optional=True,
                runtime=_name,
                function=_count,
                description=_text + _extra,
            )
        )
register(
    Impl(
        "mrjob",
        _peer("mrjob_count.py", _workers, python="peer"),
        parse_counts_file,
        requires_modules=("mrjob",),
        interpreter="peer",
        optional=True,
        runtime="mrjob",
        description="mrjob local runner (Hadoop streaming: one line per map call; no count_words variant)",
    )
)

# Fixed cost: what an empty run is made of (not in --only's list: the fixed suite builds its own rows).
STARTUP = [
    Impl(
        "python_startup",
        _startup(),
        parse_nothing,
        runtime="python",
        function="",
        description="python -c pass: interpreter start-up and exit",
    ),
    Impl(
        "import_mrkit_cli",
        _startup("import mrkit.cli"),
        parse_nothing,
        runtime="python",
        function="",
        description="python -c 'import mrkit.cli': what every mrkit command imports",
    ),
    Impl(
        "import_local_backend",
        _startup("import mrkit.cli, mrkit.backends.local"),
        parse_nothing,
        runtime="python",
        function="",
        description="... plus the local backend `mrkit run` imports",
    ),
]


def scale_impl(n_map, n_reduce=10):
    """`mrkit run wc` with n_map map tasks over one tiny file: scheduling work, nearly no map work."""

    def build(settings, job, outdir):
        return _mrkit_run(settings, job, outdir, n_map=n_map, n_reduce=n_reduce)

    return Impl(
        f"mrkit_run_m{n_map}",
        build,
        parse_mr_out,
        runtime="mrkit",
        function=SAME_FUNCTION,
        description=f"mrkit run wc -m {n_map} -r {n_reduce} on one tiny file",
    )


def selected(names=None):
    """The implementations to run, in registry order; the baseline always comes along."""
    return [impl for name, impl in REGISTRY.items() if not names or name in names or name == BASELINE]


def unknown(names):
    return sorted(set(names or ()) - set(REGISTRY))


def clear_outputs(outdir):
    """Empty an implementation's output directory between runs."""
    shutil.rmtree(outdir, ignore_errors=True)
    os.makedirs(outdir)

"""Sweeps: run a grid of (M, R, W) configurations several times and keep every timing row.

A sweep is described by a `SweepConfig`, filled from defaults <- a YAML file in
`params/` <- its `quick` variant (optional) <- keyword overrides
(`load_sweep("map_sweep", quick=True, repeats=2)`). `run_sweep` runs each
configuration once as an unrecorded warm-up (page cache, imports, CPU
frequency), then `repeats` recorded times, and appends each run's rows to
`results/<sweep>/<stamp>/runs.csv` and `tasks.csv` as soon as the run ends, so
an interrupted sweep keeps what it measured. Pointing `run_sweep` at an
existing results directory resumes it: (configuration, repeat) pairs already
in runs.csv are skipped.

Workers: W defaults to max(M, R), the lab's "number of workers". `workers`
fixes W instead; `max_workers` caps it. Capping changes what is measured:
with W < max(M, R) tasks queue for workers, so a larger M measures finer
task granularity on the same W rather than more parallelism.

`cpus` pins each run (master and workers) to those CPUs, so 1-core and
2-core sweeps can be measured on one machine; runs record the count as `cores`.

Backends are looked up by name in `BACKENDS`; a backend is a function with
`mrkit.backends.local.run_job`'s signature returning (summary, task records),
plus the sweep's `backend_options` as keyword arguments ("ecs": settings,
stand_in, endpoint_url; see mrkit.backends.ecs.launcher.run_job).
"""

from __future__ import annotations

import csv
import dataclasses
import datetime
import io
import itertools
import json
import os
import pathlib
import platform
import secrets
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field

from mrkit import timing
from mrkit.backends.local import run_job
from mrkit.errors import MrkitError, UsageError
from mrkit.pinning import busy_cpu_s, format_cpus, parse_cpus, pinned


def _run_on_ecs(app, inputs, **options):
    from mrkit.backends.ecs.launcher import run_job as run_ecs_job  # boto3 is imported only when a sweep uses ECS

    return run_ecs_job(app, inputs, **options)


BACKENDS = {"local": run_job, "ecs": _run_on_ecs}
REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
PARAMS_DIR = REPO_ROOT / "params"
SETTINGS_FILES = {"ecs"}  # params/ files that hold settings, not sweeps
EXTRA_RUN_COLUMNS = ["sweep", "config_id", "others_cpu_s"]  # others_cpu_s: CPU other programs took on the run's CPUs
EXTRA_TASK_COLUMNS = ["sweep", "config_id", "repeat"]
RUN_FILE_COLUMNS = timing.RUN_COLUMNS + EXTRA_RUN_COLUMNS
TASK_FILE_COLUMNS = timing.TASK_COLUMNS + EXTRA_TASK_COLUMNS
WARMUP_NOTE = "one unrecorded warm-up run per configuration before its repeats (again after a resume)"


# ------------------------------------------------------------------ config


class SweepError(MrkitError, ValueError):
    """A bad sweep parameter, an unknown sweep name, or a results directory that cannot be resumed.

    A ValueError for Python callers; a MrkitError so the CLI prints it as one line.
    """


def _positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SweepError(f"{name} must be a whole number >= 1, got {value!r}")
    return value


def _int_list(name, value):
    """A scalar or a list of positive ints -> tuple (YAML allows both)."""
    values = value if isinstance(value, (list, tuple)) else [value]
    if not values:
        raise SweepError(f"{name} must not be empty")
    return tuple(_positive_int(name, v) for v in values)


def _from_mapping(cls, what, values):
    """Build dataclass `cls` from a mapping, naming any unknown key."""
    known = {f.name for f in dataclasses.fields(cls)}
    for key in values:
        if key not in known:
            raise SweepError(f"unknown {what} parameter {key!r}; known: {', '.join(sorted(known))}")
    return cls(**values)


@dataclass(frozen=True)
class CorpusConfig:
    """The built-in generated corpus used when a sweep names no inputs."""

    files: int = 8
    size: int | str = "4MB"  # bytes, or text such as "64KB" (powers of 1024)
    seed: int = 0

    def __post_init__(self):
        from mrkit.corpus import parse_size

        _positive_int("corpus.files", self.files)
        try:
            size = self.size if isinstance(self.size, int) and not isinstance(self.size, bool) else parse_size(self.size)
        except ValueError as exc:
            raise SweepError(f"corpus.size: {exc}") from None
        object.__setattr__(self, "size", _positive_int("corpus.size", size))
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise SweepError(f"corpus.seed must be a whole number, got {self.seed!r}")


@dataclass(frozen=True)
class RunConfig:
    """One configuration of a sweep: map tasks M, reduce tasks R, worker processes W (and its app, in a sweep of several)."""

    n_map: int
    n_reduce: int
    workers: int
    app: str | None = None  # None: the sweep's one app

    @property
    def config_id(self) -> str:
        prefix = f"{self.app}-" if self.app is not None else ""
        return f"{prefix}m{self.n_map}-r{self.n_reduce}-w{self.workers}"


def resolve_workers(n_map, n_reduce, workers=None, max_workers=None) -> int:
    """W for one configuration: `workers` if given, else max(M, R); then at most `max_workers`."""
    w = max(n_map, n_reduce) if workers is None else workers
    return min(w, max_workers) if max_workers is not None else w


@dataclass(frozen=True)
class SweepConfig:
    """What a sweep runs. Configurations are n_map x n_reduce x workers, or `pairs` x workers."""

    name: str = "sweep"
    description: str = ""
    app: str | list = "wc"  # a list runs every configuration for each app (e.g. the calibration sweep)
    app_options: dict = field(default_factory=dict)
    backend: str = "local"
    backend_options: dict = field(default_factory=dict)  # keyword arguments for the backend (ecs: settings, stand_in)
    n_map: tuple | None = None  # default (10,) unless pairs are given
    n_reduce: tuple | None = None  # default (10,), the lab's R, unless pairs are given
    pairs: tuple | None = None  # ((M, R), ...): instead of the n_map x n_reduce grid
    workers: tuple | None = None  # None: W = max(M, R)
    max_workers: int | None = None
    repeats: int = 3
    warmup: bool = True
    task_timeout: float = 10.0
    inputs: tuple | None = None  # paths (relative to the cwd); None: the generated corpus
    corpus: CorpusConfig = field(default_factory=CorpusConfig)
    results_dir: str = "results"
    cpus: str | int | list | None = None  # pin every run (master and workers) to these CPUs, e.g. "0" or "0,1"

    def __post_init__(self):
        setattr_ = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731  (frozen)
        if self.backend not in BACKENDS:
            raise SweepError(f"unknown backend {self.backend!r}; known: {', '.join(BACKENDS)}")
        if self.pairs is None:
            setattr_("n_map", _int_list("n_map", 10 if self.n_map is None else self.n_map))
            setattr_("n_reduce", _int_list("n_reduce", 10 if self.n_reduce is None else self.n_reduce))
        elif self.n_map is not None or self.n_reduce is not None:
            raise SweepError("give either pairs or n_map/n_reduce, not both (set pairs=None to use a grid)")
        else:
            pairs = tuple(tuple(p) for p in self.pairs)
            if not pairs or any(len(p) != 2 for p in pairs):
                raise SweepError(f"pairs must be a non-empty list of [M, R], got {self.pairs!r}")
            setattr_("pairs", tuple((_positive_int("pairs M", m), _positive_int("pairs R", r)) for m, r in pairs))
        if self.workers is not None:
            setattr_("workers", _int_list("workers", self.workers))
        if self.max_workers is not None:
            _positive_int("max_workers", self.max_workers)
        _positive_int("repeats", self.repeats)
        if not (isinstance(self.task_timeout, (int, float)) and self.task_timeout > 0):
            raise SweepError(f"task_timeout must be a positive number of seconds, got {self.task_timeout!r}")
        if self.inputs is not None:
            setattr_("inputs", (self.inputs,) if isinstance(self.inputs, str) else tuple(map(str, self.inputs)))
        if isinstance(self.corpus, dict):
            setattr_("corpus", _from_mapping(CorpusConfig, "corpus", self.corpus))
        if self.cpus is not None:
            try:
                setattr_("cpus", format_cpus(parse_cpus(self.cpus)))  # canonical text: meta.json compares it
            except UsageError as exc:
                raise SweepError(f"cpus: {exc}") from None
        if isinstance(self.app, (list, tuple)):
            if not self.app or not all(isinstance(a, str) and a for a in self.app):
                raise SweepError(f"app must be a name or a non-empty list of names, got {self.app!r}")
            setattr_("app", list(self.app))
        setattr_("app_options", dict(self.app_options or {}))
        setattr_("backend_options", dict(self.backend_options or {}))

    @classmethod
    def from_dict(cls, values: dict) -> "SweepConfig":
        """Build from a plain mapping (a YAML document); unknown keys raise SweepError."""
        return _from_mapping(cls, "sweep", values)

    def to_dict(self) -> dict:
        """Plain JSON-able parameters (what meta.json records)."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    def configurations(self) -> list[RunConfig]:
        """Every configuration in order, duplicates (e.g. made equal by the cap) removed."""
        pairs = self.pairs or tuple(itertools.product(self.n_map, self.n_reduce))
        out = []
        apps = self.app if isinstance(self.app, (list, tuple)) else (None,)
        for app, (m, r), w in itertools.product(apps, pairs, self.workers or (None,)):
            rc = RunConfig(m, r, resolve_workers(m, r, w, self.max_workers), app)
            if rc not in out:
                out.append(rc)
        return out

    def input_paths(self) -> list[str]:
        """The sweep's input files: `inputs`, or the generated corpus (made once, cached)."""
        if self.inputs is not None:
            return list(self.inputs)
        from mrkit.experiments.demo import corpus_dir

        c = self.corpus
        return corpus_dir(pathlib.Path(self.results_dir) / "corpus", c.files, c.size, c.seed)


def _merge(base: dict, override: dict) -> dict:
    out = dict(base)
    for key, value in override.items():
        # corpus is merged key by key, so `corpus={"size": "8KB"}` keeps files and seed.
        if key == "corpus" and isinstance(value, dict) and isinstance(out.get(key), dict):
            value = {**out[key], **value}
        out[key] = value
    return out


def sweep_path(name_or_path, params_dir=PARAMS_DIR) -> pathlib.Path:
    """params/<name>.yaml for a bare name; a path is taken as it is."""
    text = str(name_or_path)
    if text.endswith((".yaml", ".yml")) or os.sep in text:
        if not pathlib.Path(text).is_file():
            raise SweepError(f"sweep file {text!r} does not exist")
        return pathlib.Path(text)
    path = pathlib.Path(params_dir) / f"{text}.yaml"
    if not path.exists():
        names = sorted(p.stem for p in pathlib.Path(params_dir).glob("*.yaml") if p.stem not in SETTINGS_FILES)
        raise SweepError(f"no sweep named {text!r} in {params_dir}; available: {', '.join(names) or 'none'}")
    return path


def load_sweep(name_or_path, *, quick=False, what_if=False, params_dir=PARAMS_DIR, **overrides) -> SweepConfig:
    """A SweepConfig from defaults <- YAML <- its `quick:` block (if quick) <- overrides.

    A `what_if:` block holds configurations only `mrkit predict` uses (what_if=True):
    a study too costly to run, e.g. 100 Fargate mappers, predicted instead.
    """
    import yaml

    path = sweep_path(name_or_path, params_dir)
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise SweepError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(document, dict):
        raise SweepError(f"{path}: expected a mapping of sweep parameters")
    quick_block = document.pop("quick", None) or {}
    what_if_block = document.pop("what_if", None) or {}
    values = _merge({"name": path.stem}, document)
    if quick:
        values = _merge(values, quick_block)
    if what_if:
        values = _merge(values, what_if_block)
    return SweepConfig.from_dict(_merge(values, overrides))


# ----------------------------------------------------------------- storage


def _append_rows(path: pathlib.Path, columns, rows):
    """Append whole CSV lines with one write on an O_APPEND descriptor, then fsync.

    One write call per run means a reader (or a crash) never sees half of a
    run's rows mixed with a torn line; `_repair` trims a torn tail anyway.
    """
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    if not path.exists():
        _replace_text(path, ",".join(columns) + "\n")
    writer.writerows(rows)
    data = buffer.getvalue().encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)


def _replace_text(path: pathlib.Path, text: str):
    """Write a whole file atomically: temp file in the same directory + os.replace."""
    # Not mkstemp: its 0600 mode would make results unreadable to others; "x" respects the umask.
    tmp = path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    try:
        with open(tmp, "x", encoding="utf-8", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _read_rows(path: pathlib.Path, columns) -> list[dict]:
    """Rows of a results CSV (after trimming a torn last line); checks the header."""
    if not path.exists():
        return []
    text = path.read_text(encoding="utf-8")
    if text and not text.endswith("\n"):  # a write cut short by power loss: drop the torn line
        text = text[: text.rfind("\n") + 1]
        _replace_text(path, text)
    reader = csv.DictReader(io.StringIO(text))
    old = list(reader.fieldnames or [])
    if old and old != list(columns) and _only_appended(old, columns):
        # Written before timing columns were appended (the contract only appends): upgrade it, new columns blank.
        rows = list(reader)
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        _replace_text(path, buffer.getvalue())
        return rows
    if reader.fieldnames and list(reader.fieldnames) != list(columns):
        raise SweepError(f"{path} has columns {reader.fieldnames}, expected {columns}; "
                         "it was written by a different mrkit version")
    return list(reader)


def _only_appended(old, columns) -> bool:
    """Whether `old` is `columns` without some timing columns appended since (the tail of the timing list)."""
    columns = list(columns)
    if columns[: len(old)] == old:  # columns appended at the end
        return True
    base = next((b for b in (timing.TASK_COLUMNS, timing.RUN_COLUMNS) if columns[: len(b)] == b), [])
    present = [c for c in base if c in old]
    return [c for c in columns if c in old] == old and present == base[: len(present)]


def _done_and_clean(out: pathlib.Path) -> set:
    """(config_id, repeat) pairs already in runs.csv; drops tasks of runs never committed.

    A run's tasks are written before its runs.csv row, which commits it. Tasks
    whose run has no row (interrupted, or the row was deleted to redo it) go.
    """
    runs = _read_rows(out / "runs.csv", RUN_FILE_COLUMNS)
    tasks_path = out / "tasks.csv"
    tasks = _read_rows(tasks_path, TASK_FILE_COLUMNS)
    committed = {r["run_id"] for r in runs}
    kept = [t for t in tasks if t["run_id"] in committed]
    if len(kept) != len(tasks):
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=TASK_FILE_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(kept)
        _replace_text(tasks_path, buffer.getvalue())
    return {(r["config_id"], int(r["repeat"])) for r in runs}


# -------------------------------------------------------------------- meta


def _versions() -> dict:
    from importlib import metadata

    out = {"python": platform.python_version()}
    for name in ("mrkit", "pandas", "numpy", "multiprocess"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def _git(*args):
    try:
        done = subprocess.run(["git", "-C", str(REPO_ROOT), *args], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _now_iso():
    return datetime.datetime.now().astimezone().isoformat(timespec="seconds")


def _new_meta(cfg: SweepConfig, inputs) -> dict:
    status = _git("status", "--porcelain", "--untracked-files=no")
    return {
        "sweep": cfg.name, "parameters": cfg.to_dict(),
        "configurations": [rc.config_id for rc in cfg.configurations()],
        "inputs": list(inputs), "input_bytes": sum(os.path.getsize(p) for p in inputs),
        "warmup": WARMUP_NOTE if cfg.warmup else "none",
        "workers_rule": "W = max(M, R) unless `workers` fixes it; capped at `max_workers` when set",
        "versions": _versions(), "cpu_count": os.cpu_count(), "host": socket.gethostname(),
        "platform": platform.platform(),
        "git_commit": _git("rev-parse", "HEAD"), "git_dirty": None if status is None else bool(status),
        "start": _now_iso(), "end": None, "status": "running", "sessions": [],
    }


def _check_resumable(meta: dict, cfg: SweepConfig, out):
    """Resuming with other parameters would mix two experiments in one table; refuse."""
    old, new = meta.get("parameters", {}), cfg.to_dict()
    free = {"repeats", "results_dir", "description"}  # they do not change what a run measures
    differ = sorted(k for k in set(old) | set(new) if k not in free and old.get(k) != new.get(k))
    if differ:
        raise SweepError(f"cannot resume {out}: parameters differ from its meta.json: {', '.join(differ)}")


# --------------------------------------------------------------------- run


def new_results_dir(results_dir, sweep_name) -> pathlib.Path:
    """results/<sweep>/<YYYYmmdd-HHMMSS>[-NN], created, never an existing one."""
    base = pathlib.Path(results_dir) / sweep_name
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    for n in itertools.count():
        path = base / (stamp if n == 0 else f"{stamp}-{n:02d}")
        try:
            path.mkdir(parents=True)
            return path
        except FileExistsError:
            continue


def _one_run(run_fn, cfg: SweepConfig, rc: RunConfig, inputs, repeat, scratch):
    # A fresh working directory per run: no run reads files a previous one left.
    # Pinned run by run (and restored after): the workers it forks inherit the affinity.
    with tempfile.TemporaryDirectory(prefix="mrkit-sweep-", dir=scratch) as workdir, pinned(cfg.cpus):
        busy, own = busy_cpu_s(), _own_cpu_s()
        summary, records = run_fn(rc.app or cfg.app, inputs, n_map=rc.n_map, n_reduce=rc.n_reduce,
                                  workers=rc.workers, workdir=workdir, repeat=repeat, task_timeout=cfg.task_timeout,
                                  app_options=cfg.app_options or None, **cfg.backend_options)
        if busy is not None and cfg.backend == "local":
            # What a shared machine's other programs took from this run's CPUs: the cost model's background load.
            summary = {**summary, "others_cpu_s": max(0.0, (busy_cpu_s() - busy) - (_own_cpu_s() - own))}
        return summary, records


def _own_cpu_s():
    """CPU seconds of this process and its reaped children (the job's master and workers)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def run_sweep(sweep, out_dir=None, *, progress=True, scratch=None, **overrides) -> pathlib.Path:
    """Run (or resume) a sweep; returns its results directory.

    `sweep` is a SweepConfig or a name/path for `load_sweep`; `overrides`
    (e.g. quick=True for a name, repeats=5) are applied on top.
    `out_dir` None starts results/<sweep>/<stamp>; an existing directory is
    resumed. `scratch` is where per-run working directories go (default: the
    system temp dir). `progress` shows a tqdm bar of configurations done.
    """
    from tqdm.auto import tqdm

    if isinstance(sweep, SweepConfig):
        cfg = SweepConfig.from_dict(_merge(sweep.to_dict(), overrides)) if overrides else sweep
    else:
        cfg = load_sweep(sweep, **overrides)
    inputs = cfg.input_paths()
    out = pathlib.Path(out_dir) if out_dir is not None else new_results_dir(cfg.results_dir, cfg.name)
    out.mkdir(parents=True, exist_ok=True)
    meta_path = out / "meta.json"
    if meta_path.exists():
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        _check_resumable(meta, cfg, out)
        meta["parameters"] = cfg.to_dict()  # repeats may have grown
    else:
        meta = _new_meta(cfg, inputs)
    session = {"start": _now_iso(), "end": None, "runs": 0}
    meta["sessions"].append(session)
    meta["status"] = "running"
    _replace_text(meta_path, json.dumps(meta, indent=2) + "\n")

    done = _done_and_clean(out)
    run_fn = BACKENDS[cfg.backend]
    configs = cfg.configurations()
    todo = {rc: [i for i in range(cfg.repeats) if (rc.config_id, i) not in done] for rc in configs}
    bar = tqdm(total=len(configs), initial=sum(1 for v in todo.values() if not v), unit="config",
               desc=cfg.name, disable=not progress)
    try:
        for rc in configs:
            if not todo[rc]:
                continue
            bar.set_postfix_str(rc.config_id)
            if cfg.warmup:
                _one_run(run_fn, cfg, rc, inputs, -1, scratch)  # discarded on purpose
            for repeat in todo[rc]:
                summary, records = _one_run(run_fn, cfg, rc, inputs, repeat, scratch)
                extra = {"sweep": cfg.name, "config_id": rc.config_id}
                # tasks first: the runs.csv row is what marks the run as done
                _append_rows(out / "tasks.csv", TASK_FILE_COLUMNS,
                             [{**t, **extra, "repeat": repeat} for t in records])
                _append_rows(out / "runs.csv", RUN_FILE_COLUMNS, [{**summary, **extra}])
                session["runs"] += 1
            bar.update(1)
        meta["status"] = "complete"
    except BaseException:
        meta["status"] = "interrupted"
        raise
    finally:
        bar.close()
        session["end"] = meta["end"] = _now_iso()
        _replace_text(meta_path, json.dumps(meta, indent=2) + "\n")
    return out


# ------------------------------------------------------------------ loading


def load_results(path):
    """(runs DataFrame, tasks DataFrame, meta dict) of a results directory.

    Tasks of runs without a runs.csv row (an interrupted run) are left out.
    """
    import pandas as pd

    path = pathlib.Path(path)
    runs = pd.read_csv(path / "runs.csv") if (path / "runs.csv").exists() else pd.DataFrame(columns=RUN_FILE_COLUMNS)
    tasks_path = path / "tasks.csv"
    tasks = pd.read_csv(tasks_path) if tasks_path.exists() else pd.DataFrame(columns=TASK_FILE_COLUMNS)
    tasks = tasks[tasks["run_id"].astype(str).isin(runs["run_id"].astype(str))].reset_index(drop=True)
    meta_path = path / "meta.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.exists() else {}
    return runs, tasks, meta


def latest(results_dir, sweep) -> pathlib.Path:
    """The newest results directory of a sweep (results/<sweep>/<stamp> with a meta.json)."""
    base = pathlib.Path(results_dir) / sweep
    found = sorted(p for p in base.glob("*") if (p / "meta.json").exists()) if base.is_dir() else []
    if not found:
        raise FileNotFoundError(f"no results for sweep {sweep!r} under {base}")
    return found[-1]

"""A sweep's description: `SweepConfig`, filled from defaults <- a YAML file in `params/` <- overrides.

`load_sweep("map_sweep", quick=True, repeats=2)` reads `params/map_sweep.yaml`,
applies its `quick:` block when asked, then the keyword overrides, and checks
every value (a `SweepError` names the bad one). `SweepConfig.configurations()`
is the grid of (M, R, W) a sweep runs.

Backends: `backend` runs every configuration on one; `backends: [local, dask,
dask-tasks]` runs each configuration on each (an engine comparison), and each
run's config_id ends in its backend. `crash` adds one run of the crash app per
backend with its own M, R, W, task timeout and attempt limit (the recovery the
engine comparison reports).

Workers: W defaults to max(M, R), the lab's "number of workers". `workers`
fixes W instead; `max_workers` caps it. Capping changes what is measured:
with W < max(M, R) tasks queue for workers, so a larger M measures finer
task granularity on the same W rather than more parallelism.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import pathlib
from dataclasses import dataclass, field
from importlib import resources

import yaml

from mrkit.backends import BACKENDS
from mrkit.corpus import corpus_dir, parse_size
from mrkit.errors import MrkitError, UsageError
from mrkit.job import N_REDUCE, TASK_TIMEOUT_S, check_at_least_one, default_workers
from mrkit.pinning import format_cpus, parse_cpus
from mrkit.runtime.backups import POLICIES

# Named sweeps are package data (a checkout's params/ links to them), so an installed mrkit finds them too.
PARAMS_DIR = pathlib.Path(str(resources.files("mrkit") / "params"))
SETTINGS_FILES = {"ecs"}  # params/ files that hold settings, not sweeps


def _checkout_root():
    root = pathlib.Path(__file__).resolve().parents[3]
    return root if (root / "pyproject.toml").is_file() and (root / "mrkit").is_dir() else None


# The checkout mrkit runs from (relative paths in its notebooks mean it), or None when mrkit is installed.
REPO_ROOT = _checkout_root()


class SweepError(MrkitError, ValueError):
    """A bad sweep parameter, an unknown sweep name, or a results directory that cannot be resumed.

    A ValueError for Python callers; a MrkitError so the CLI prints it as one line.
    """


def _int_list(name, value):
    """A scalar or a list of positive ints -> tuple (YAML allows both)."""
    values = value if isinstance(value, (list, tuple)) else [value]
    if not values:
        raise SweepError(f"{name} must not be empty")
    return tuple(check_at_least_one(name, v, SweepError) for v in values)


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
        check_at_least_one("corpus.files", self.files, SweepError)
        try:
            size = self.size if isinstance(self.size, int) and not isinstance(self.size, bool) else parse_size(self.size)
        except ValueError as exc:
            raise SweepError(f"corpus.size: {exc}") from None
        object.__setattr__(self, "size", check_at_least_one("corpus.size", size, SweepError))
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise SweepError(f"corpus.seed must be a whole number, got {self.seed!r}")


@dataclass(frozen=True)
class RunConfig:
    """One configuration of a sweep: map tasks M, reduce tasks R, worker processes W (and its app, in a sweep of several).

    A straggler study adds K slowed workers taking F times as long, and the
    backup policy run against them (None: no backups).
    """

    n_map: int
    n_reduce: int
    workers: int
    slow_workers: int = 0
    slowdown: float = 1.0
    backup_tasks: str | None = None
    app: str | None = None  # None: the sweep's one app
    backend: str | None = None  # None: the sweep's one backend
    task_timeout: float | None = None  # None: the sweep's (set for its crash runs)
    max_attempts: int | None = None  # None: the backend's default (set for its crash runs)

    @property
    def config_id(self) -> str:
        prefix = f"{self.app}-" if self.app is not None else ""
        base = f"{prefix}m{self.n_map}-r{self.n_reduce}-w{self.workers}"
        if self.slow_workers:
            base += f"-slow{self.slow_workers}x{self.slowdown:g}"
        base += f"-{self.backup_tasks}" if self.backup_tasks else ""
        return base + (f"-{self.backend}" if self.backend is not None else "")

    def options(self) -> dict:
        """The backend's keyword arguments this configuration sets beyond M, R and W."""
        out = {"max_attempts": self.max_attempts} if self.max_attempts is not None else {}
        if not self.slow_workers and not self.backup_tasks:
            return out
        return {**out, "slow_workers": self.slow_workers, "slowdown": self.slowdown, "backup_tasks": self.backup_tasks}


def resolve_workers(n_map, n_reduce, workers=None, max_workers=None) -> int:
    """W for one configuration: `workers` if given, else max(M, R); then at most `max_workers`."""
    w = default_workers(n_map, n_reduce) if workers is None else workers
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
    backends: tuple | None = None  # [local, dask, ...]: every configuration on each (instead of `backend`)
    # One crash-app run per backend: {"n_map": M, "n_reduce": R, "workers": W, "task_timeout": s, "max_attempts": n}
    crash: dict | None = None
    n_map: tuple | None = None  # default (10,) unless pairs are given
    n_reduce: tuple | None = None  # default (10,), the lab's R, unless pairs are given
    pairs: tuple | None = None  # ((M, R), ...): instead of the n_map x n_reduce grid
    workers: tuple | None = None  # None: W = max(M, R)
    max_workers: int | None = None
    repeats: int = 3
    # Noisy points are repeated (up to max_repeats runs in all) until their 95% interval's half-width is at
    # most ci_target of its centre (Hoefler & Belli, SC'15); None keeps every configuration at `repeats`.
    max_repeats: int | None = None
    ci_target: float = 0.10
    # A run during which other programs took more than this share of its CPUs (others_cpu_s over
    # end-to-end x cores) is run again, at most `loaded_reruns` times; the last attempt is kept whatever
    # its load, and meta.json's `loaded_reruns` lists each re-run. None: no run is re-run for load.
    max_others_share: float | None = None
    loaded_reruns: int = 2
    warmup: bool = True
    task_timeout: float = TASK_TIMEOUT_S
    # A straggler study: {"slow_workers": K, "slowdown": [F, ...], "backup_tasks": [none|paper|spark|late, ...]};
    # every (M, R, W) runs with each F and each policy.
    stragglers: dict | None = None
    inputs: tuple | None = None  # paths (relative to the cwd); None: the generated corpus
    corpus: CorpusConfig = field(default_factory=CorpusConfig)
    results_dir: str = "results"
    cpus: str | int | list | None = None  # pin every run (master and workers) to these CPUs, e.g. "0" or "0,1"

    def __post_init__(self):
        setattr_ = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731  (frozen)
        if self.backend not in BACKENDS:
            raise SweepError(f"unknown backend {self.backend!r}; known: {', '.join(BACKENDS)}")
        if self.backends is not None:
            backends = (self.backends,) if isinstance(self.backends, str) else tuple(self.backends)
            unknown = [b for b in backends if b not in BACKENDS]
            if not backends:
                raise SweepError(f"backends must list at least one of {', '.join(BACKENDS)}")
            if unknown:
                raise SweepError(f"unknown backend {unknown[0]!r} in backends; known: {', '.join(BACKENDS)}")
            if self.backend != "local":
                raise SweepError("give either backend or backends, not both")
            setattr_("backends", backends)
        if self.crash is not None:
            setattr_("crash", _crash(self.crash))
        if self.pairs is None:
            setattr_("n_map", _int_list("n_map", 10 if self.n_map is None else self.n_map))
            setattr_("n_reduce", _int_list("n_reduce", N_REDUCE if self.n_reduce is None else self.n_reduce))
        elif self.n_map is not None or self.n_reduce is not None:
            raise SweepError("give either pairs or n_map/n_reduce, not both (set pairs=None to use a grid)")
        else:
            pairs = tuple(tuple(p) for p in self.pairs)
            if not pairs or any(len(p) != 2 for p in pairs):
                raise SweepError(f"pairs must be a non-empty list of [M, R], got {self.pairs!r}")
            setattr_(
                "pairs",
                tuple(
                    (check_at_least_one("pairs M", m, SweepError), check_at_least_one("pairs R", r, SweepError)) for m, r in pairs
                ),
            )
        if self.workers is not None:
            setattr_("workers", _int_list("workers", self.workers))
        if self.max_workers is not None:
            check_at_least_one("max_workers", self.max_workers, SweepError)
        check_at_least_one("repeats", self.repeats, SweepError)
        if self.max_repeats is not None and check_at_least_one("max_repeats", self.max_repeats, SweepError) < self.repeats:
            raise SweepError(f"max_repeats ({self.max_repeats}) must be at least repeats ({self.repeats})")
        if not (isinstance(self.ci_target, (int, float)) and self.ci_target > 0):
            raise SweepError(f"ci_target must be a positive fraction of the centre (e.g. 0.1), got {self.ci_target!r}")
        if self.max_others_share is not None and not (
            isinstance(self.max_others_share, (int, float)) and 0 <= self.max_others_share < 1
        ):
            raise SweepError(
                f"max_others_share must be a share of the CPUs from 0 to 1 (e.g. 0.25), got {self.max_others_share!r}"
            )
        if not (isinstance(self.loaded_reruns, int) and not isinstance(self.loaded_reruns, bool) and self.loaded_reruns >= 0):
            raise SweepError(f"loaded_reruns must be a whole number of at least 0, got {self.loaded_reruns!r}")
        if not (isinstance(self.task_timeout, (int, float)) and self.task_timeout > 0):
            raise SweepError(f"task_timeout must be a positive number of seconds, got {self.task_timeout!r}")
        if self.inputs is not None:
            setattr_("inputs", (self.inputs,) if isinstance(self.inputs, str) else tuple(map(str, self.inputs)))
        if isinstance(self.corpus, dict):
            setattr_("corpus", _from_mapping(CorpusConfig, "corpus", self.corpus))
        for name in ("app_options", "backend_options"):
            if not isinstance(getattr(self, name) or {}, dict):
                raise SweepError(f"{name} must be a mapping of option: value, got {getattr(self, name)!r}")
            setattr_(name, dict(getattr(self, name) or {}))
        if self.stragglers is not None:
            setattr_("stragglers", _stragglers(self.stragglers))
        if self.cpus is not None:
            try:
                setattr_("cpus", format_cpus(parse_cpus(self.cpus)))  # canonical text: meta.json compares it
            except UsageError as exc:
                raise SweepError(f"cpus: {exc}") from None
        if isinstance(self.app, (list, tuple)):
            if not self.app or not all(isinstance(a, str) and a for a in self.app):
                raise SweepError(f"app must be a name or a non-empty list of names, got {self.app!r}")
            setattr_("app", list(self.app))

    @classmethod
    def from_dict(cls, values: dict) -> SweepConfig:
        """Build from a plain mapping (a YAML document); unknown keys raise SweepError."""
        return _from_mapping(cls, "sweep", values)

    def to_dict(self) -> dict:
        """Plain JSON-able parameters (what meta.json records)."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    def configurations(self) -> list[RunConfig]:
        """Every configuration in order, duplicates (e.g. made equal by the cap) removed."""
        pairs = self.pairs or tuple(itertools.product(self.n_map, self.n_reduce))
        study = self.stragglers or {"slow_workers": 0, "slowdown": (1.0,), "backup_tasks": (None,)}
        apps = self.app if isinstance(self.app, (list, tuple)) else (None,)
        backends = self.backends or (None,)
        out = []
        for app, (m, r), w, f, policy, backend in itertools.product(
            apps, pairs, self.workers or (None,), study["slowdown"], study["backup_tasks"], backends
        ):
            rc = RunConfig(m, r, resolve_workers(m, r, w, self.max_workers), study["slow_workers"], f, policy, app, backend)
            if rc not in out:
                out.append(rc)
        if self.crash is not None:
            c = self.crash
            out += [
                RunConfig(
                    c["n_map"],
                    c["n_reduce"],
                    c["workers"],
                    app="crash",
                    backend=backend,
                    task_timeout=c["task_timeout"],
                    max_attempts=c["max_attempts"],
                )
                for backend in (self.backends or (self.backend,))
            ]
        return out

    def input_paths(self) -> list[str]:
        """The sweep's input files: `inputs`, or the generated corpus (made once, cached)."""
        if self.inputs is not None:
            return list(self.inputs)
        c = self.corpus
        return corpus_dir(pathlib.Path(self.results_dir) / "corpus", c.files, c.size, c.seed)


def _crash(values) -> dict:
    """The crash runs' settings, checked: M, R, W, a task timeout in seconds and an attempt limit."""
    keys = {"n_map", "n_reduce", "workers", "task_timeout", "max_attempts"}
    if not isinstance(values, dict) or set(values) != keys:
        raise SweepError(f"crash takes exactly {', '.join(sorted(keys))}, got {values!r}")
    out = {k: check_at_least_one(f"crash.{k}", values[k], SweepError) for k in keys - {"task_timeout"}}
    if not (isinstance(values["task_timeout"], (int, float)) and values["task_timeout"] > 0):
        raise SweepError(f"crash.task_timeout must be a positive number of seconds, got {values['task_timeout']!r}")
    return {**out, "task_timeout": float(values["task_timeout"])}


def _stragglers(values) -> dict:
    """A straggler study's settings, checked: K slowed workers, the slowdowns F, the policies."""
    if not isinstance(values, dict) or set(values) - {"slow_workers", "slowdown", "backup_tasks"}:
        raise SweepError(f"stragglers takes slow_workers, slowdown and backup_tasks, got {values!r}")
    slow = check_at_least_one("stragglers.slow_workers", values.get("slow_workers", 1), SweepError)
    slowdowns = values.get("slowdown", [10])
    slowdowns = tuple(float(f) for f in (slowdowns if isinstance(slowdowns, list) else [slowdowns]))
    if any(f < 1 for f in slowdowns):
        raise SweepError(f"stragglers.slowdown must be factors of at least 1, got {list(slowdowns)}")
    policies = values.get("backup_tasks", ["none", *POLICIES])
    policies = tuple(None if p in (None, "none") else p for p in (policies if isinstance(policies, list) else [policies]))
    unknown = [p for p in policies if p is not None and p not in POLICIES]
    if unknown:
        raise SweepError(f"unknown backup policy {unknown[0]!r} in stragglers; use none, {', '.join(POLICIES)}")
    return {"slow_workers": slow, "slowdown": slowdowns, "backup_tasks": policies}


def merge_params(base: dict, override: dict) -> dict:
    """`base` with `override`'s keys on top (corpus merged key by key)."""
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


def _resolve_settings(document, sweep_file):
    """A relative `backend_options.settings` as the sweep file means it, whatever the cwd.

    `settings: params/ecs.yaml` names the file beside the sweep: it is taken
    from the cwd when there (a checkout, or a user's own params/), else from
    the directory that holds the sweep's params/.
    """
    options = document.get("backend_options")
    settings = options.get("settings") if isinstance(options, dict) else None
    if not isinstance(settings, str) or os.path.isabs(settings) or os.path.exists(settings):
        return
    beside = pathlib.Path(sweep_file).resolve().parent.parent / settings
    if beside.is_file():
        options["settings"] = str(beside)


def yaml_problem(exc) -> str:
    """A YAML parser's error in one line: what is wrong and where (its own message spans several)."""
    mark = getattr(exc, "problem_mark", None)
    where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
    return f"{getattr(exc, 'problem', None) or exc}{where}".replace("\n", " ")


def load_sweep(name_or_path, *, quick=False, what_if=False, params_dir=PARAMS_DIR, **overrides) -> SweepConfig:
    """A SweepConfig from defaults <- YAML <- its `quick:` block (if quick) <- overrides.

    A `what_if:` block holds configurations only `mrkit predict` uses (what_if=True):
    a study too costly to run, e.g. 100 Fargate mappers, predicted instead.
    """
    path = sweep_path(name_or_path, params_dir)
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise SweepError(f"{path} is not valid YAML: {yaml_problem(exc)}") from None
    if document is None:
        raise SweepError(f"{path} is empty: a sweep file sets at least its app and inputs or corpus (see params/*.yaml)")
    if not isinstance(document, dict):
        raise SweepError(f"{path}: expected a mapping of sweep parameters")
    _resolve_settings(document, path)
    quick_block = document.pop("quick", None) or {}
    what_if_block = document.pop("what_if", None) or {}
    values = merge_params({"name": path.stem}, document)
    for block, wanted, key in ((quick_block, quick, "quick"), (what_if_block, what_if, "what_if")):
        if not block:
            continue
        if wanted:
            values = merge_params(values, block)
            continue
        try:  # a mistake in a block not used now is named now, not at its first use (a sweep file's quick: typo)
            SweepConfig.from_dict(merge_params(values, block))
        except SweepError as exc:
            raise SweepError(f"{path}: its {key}: block: {exc}") from None
    return SweepConfig.from_dict(merge_params(values, overrides))

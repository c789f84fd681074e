"""Sweeps: run a grid of (M, R, W) configurations several times and keep every timing row.

`run_sweep` runs each configuration of a `SweepConfig` (sweep_config.py)
once as an unrecorded warm-up (page cache, imports, CPU frequency), then
`repeats` recorded times, and appends each run's rows to
`results/<sweep>/<stamp>/runs.csv` and `tasks.csv` (results.py) as soon as the
run ends. Pointing `run_sweep` at an existing results directory resumes it:
(configuration, repeat) pairs already in runs.csv are skipped.

With `max_others_share`, a run during which other programs took more than
that share of its CPUs is run again (at most `loaded_reruns` times; meta.json
lists each re-run under `loaded_reruns`), so a burst of load on a shared
machine does not become a configuration's time. A run that failed (JobFailed:
tasks timed out or died, not an input or disk the user must fix) while other
programs took more than that share is run again within the same bound: a
burst of load must not end a 15-minute report either.

With `max_repeats`, a configuration whose 95% interval (analysis.interval_of:
the report's own rule) is wider than `ci_target` of its centre after its
`repeats` runs is repeated, one run at a time, until it is tight or has
`max_repeats` runs; the report says which points were repeated and which
stayed wide.

Backends are looked up by name in `mrkit.backends.BACKENDS` (the contract is
there); the sweep's `backend_options` are their keyword arguments ("ecs":
settings, stand_in, endpoint_url; see mrkit.backends.ecs.run.run_job). A
sweep with `backends` runs each configuration on each of them (RunConfig.backend).

`cpus` pins each run (master and workers) to those CPUs, so 1-core and
2-core sweeps can be measured on one machine; runs record the count as
`cores`, `others_cpu_s` the CPU other programs took on those CPUs, and
`probe_cpu_s` how fast those CPUs ran a fixed word count around the run
(the mean of a probe just before it and one just after).
"""

from __future__ import annotations

import contextlib
import inspect
import os
import pathlib
import secrets
import shutil
import tempfile
import time

from tqdm import tqdm as text_tqdm
from tqdm.auto import tqdm

from mrkit.backends import get_backend
from mrkit.errors import JobCannotSucceed, JobFailed
from mrkit.experiments.analysis import is_tight
from mrkit.experiments.sweeps.results import (
    close_session,
    done_and_clean,
    measured,
    new_results_dir,
    open_session,
    record_run,
)
from mrkit.experiments.sweeps.scratch import choose as choose_scratch
from mrkit.experiments.sweeps.scratch import filesystem, local_bytes
from mrkit.experiments.sweeps.sweep_config import (
    RunConfig,
    SweepConfig,
    SweepError,
    load_sweep,
    merge_params,
)
from mrkit.pinning import busy_cpu_s, pinned, speed_probe_cpu_s


def check_before_runs(cfg: SweepConfig, inputs):
    """Raise what would fail every run of `cfg`, before the first and before its results directory exists:
    an app that does not load, an input that is not there, a backend option no backend of the sweep takes."""
    from mrkit.app import load_app
    from mrkit.errors import InputError
    from mrkit.job import resolve_inputs

    for app in cfg.app if isinstance(cfg.app, list) else [cfg.app]:
        load_app(app, cfg.app_options or None)
    local = [path for path in inputs if "://" not in str(path)]  # s3:// inputs are the backend's to check
    try:
        if local or not inputs:
            resolve_inputs(local)  # a job's own check: missing, unreadable, not a file, an empty directory
    except InputError as exc:
        raise SweepError(f"{cfg.name}: {exc}: fix the sweep's `inputs:`") from None
    for backend in cfg.backends or (cfg.backend,):
        taken = inspect.signature(get_backend(backend)).parameters
        if any(p.kind is p.VAR_KEYWORD for p in taken.values()):
            continue
        unknown = sorted(set(cfg.backend_options) - set(taken))
        if unknown:
            raise SweepError(f"{cfg.name}: backend_options {', '.join(unknown)}: not options of the {backend} backend")


@contextlib.contextmanager
def run_directory(scratch):
    """A new directory for one run's job files under `scratch` (None: the temp directory), removed on every way out.

    Its name is chosen before it is made, so a Ctrl-C or SIGTERM that lands just after the mkdir still
    removes it: with tempfile.TemporaryDirectory, one landing inside mkdtemp (a sweep stopped right after
    it records a run is making the next run's directory) left the directory behind with nothing to remove it.
    """
    path = os.path.join(scratch or tempfile.gettempdir(), f"mrkit-sweep-{secrets.token_hex(6)}")
    try:
        os.mkdir(path, 0o700)
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def one_run(run_fn, cfg: SweepConfig, rc: RunConfig, inputs, repeat, scratch):
    """(summary, records) of one run of `rc`: pinned to cfg.cpus, in a fresh working directory under `scratch`,
    with the load other programs put on its CPUs and the speed probe around it (local runs), and the filesystem
    its job files were on (where that was its working directory)."""
    # A fresh working directory per run: no run reads files a previous one left.
    # Pinned run by run (and restored after): the workers it forks inherit the affinity.
    with run_directory(scratch) as workdir, pinned(cfg.cpus):
        local = (rc.backend or cfg.backend) == "local"  # the machine a remote backend runs on is not this one
        probe = speed_probe_cpu_s() if local else None
        busy, own, started = busy_cpu_s(), _own_cpu_s(), time.monotonic()

        def others_cpu_s():  # what a shared machine's other programs took from this run's CPUs: the model's background load
            return max(0.0, (busy_cpu_s() - busy) - (_own_cpu_s() - own))

        try:
            summary, records = run_fn(
                rc.app or cfg.app,
                inputs,
                n_map=rc.n_map,
                n_reduce=rc.n_reduce,
                workers=rc.workers,
                workdir=workdir,
                repeat=repeat,
                task_timeout=rc.task_timeout or cfg.task_timeout,
                app_options=cfg.app_options or None,
                **rc.options(),
                **cfg.backend_options,
            )
        except JobCannotSucceed:
            raise
        except JobFailed as failed:
            if local and busy is not None:  # the others' share while it ran, for measure() to judge
                failed.others_share = _share(others_cpu_s(), time.monotonic() - started, len(os.sched_getaffinity(0)))
            raise
        if local:
            if busy is not None:
                summary = {**summary, "others_cpu_s": others_cpu_s()}
            # Probed on both sides of the run: a VM's speed changes within seconds, and runs last seconds.
            summary = {**summary, "probe_cpu_s": (probe + speed_probe_cpu_s()) / 2}
        # the filesystem its job files were on: its working directory's, unless they went to S3 (ECS, a storage option)
        in_workdir = (rc.backend or cfg.backend) != "ecs" and not cfg.backend_options.get("storage")
        return ({**summary, "scratch_fs": filesystem(workdir)} if in_workdir else summary), records


def others_share(summary) -> float | None:
    """The share of a run's CPUs other programs took while it ran (None where not measured)."""
    others, seconds = summary.get("others_cpu_s"), summary.get("end_to_end_s")
    cores = summary.get("cores") or os.cpu_count()
    if others is None or not seconds:
        return None
    return _share(others, seconds, cores)


def _share(others_cpu_s, seconds, cores):
    return others_cpu_s / (max(seconds, 1e-9) * cores)


def _own_cpu_s():
    """CPU seconds of this process and its reaped children (the job's master and workers)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def runs_bar(total, initial=0, desc="runs", disable=False, file=None):
    """A terminal bar of recorded runs: done / total, the configuration running, elapsed and time left.

    `file`: a stream to draw a text bar on, also from inside a notebook's kernel; None: stderr, or a
    widget in a notebook.
    """
    make = tqdm if file is None else text_tqdm
    return make(
        total=total,
        initial=initial,
        unit="run",
        desc=desc,
        disable=disable,
        file=file,
        bar_format="{n_fmt}/{total_fmt} runs |{bar:20}| {desc} [{elapsed}, {remaining} left]",
    )


def describe(rc: RunConfig):
    """'M=10 R=5 W=10' (plus the app, backend, backups and slowdown where the configuration sets them)."""
    text = f"M={rc.n_map} R={rc.n_reduce} W={rc.workers}"
    o = rc.options()
    extra = [f"slow x{o['slowdown']:g}"] if o.get("slow_workers") else []
    extra += [f"backups {o.get('backup_tasks') or 'none'}"] * ("slowdown" in o)
    return " ".join([*([rc.app] if rc.app else []), text, *extra, *([f"on {rc.backend}"] if rc.backend else [])])


def measure(run_fn, cfg: SweepConfig, rc: RunConfig, inputs, repeat, scratch, again=None):
    """One run of `rc` to record: (summary, records, loaded), run again while other programs took more than
    cfg.max_others_share of its CPUs, at most cfg.loaded_reruns times (the last attempt is kept whatever its
    load, and the report can see it); a run that failed while that loaded is run again within the same bound
    (the last failure is raised). `loaded`: the others' share of each attempt run again; `again()` is called
    before each."""
    loaded = []

    def keep(share):
        return cfg.max_others_share is None or share is None or share <= cfg.max_others_share or len(loaded) == cfg.loaded_reruns

    while True:
        try:
            summary, records = one_run(run_fn, cfg, rc, inputs, repeat, scratch)
        except JobFailed as failed:
            share = getattr(failed, "others_share", None)
            if keep(share):
                raise
        else:
            share = others_share(summary)
            if keep(share):
                return summary, records, loaded
        loaded.append(round(share, 3))
        if again is not None:
            again()


def noisy(cfg: SweepConfig, runs: dict) -> bool:
    """Whether a configuration wants another repeat: its interval is wider than ci_target and max_repeats allows."""
    return (
        cfg.max_repeats is not None
        and cfg.repeats <= len(runs) < cfg.max_repeats
        and not is_tight(list(runs.values()), cfg.ci_target)
    )


def run_sweep(sweep, out_dir=None, *, progress=True, scratch=None, **overrides) -> pathlib.Path:
    """Run (or resume) a sweep; returns its results directory.

    `sweep` is a SweepConfig or a name/path for `load_sweep`; `overrides`
    (e.g. quick=True for a name, repeats=5) are applied on top.
    `out_dir` None starts results/<sweep>/<stamp>; an existing directory is
    resumed. `scratch` is where per-run working directories go (default:
    scratch.choose's: a RAM-backed directory where the machine has one with
    room). `progress` True shows a bar of recorded runs done / total with the
    current configuration and the time left; a bar object (`runs_bar`)
    is advanced instead, so several sweeps (the report's) share one bar.
    """
    if isinstance(sweep, SweepConfig):
        cfg = SweepConfig.from_dict(merge_params(sweep.to_dict(), overrides)) if overrides else sweep
    else:
        cfg = load_sweep(sweep, **overrides)
    inputs = cfg.input_paths()
    check_before_runs(cfg, inputs)
    scratch = choose_scratch(scratch, local_bytes(inputs))
    out = pathlib.Path(out_dir) if out_dir is not None else new_results_dir(cfg.results_dir, cfg.name)
    out.mkdir(parents=True, exist_ok=True)
    meta, session = open_session(cfg, out, inputs)

    done = done_and_clean(out)
    run_fns = {b: get_backend(b) for b in (cfg.backends or (cfg.backend,))}
    configs = cfg.configurations()
    todo = {rc: [i for i in range(cfg.repeats) if (rc.config_id, i) not in done] for rc in configs}
    shared = not isinstance(progress, bool)
    bar = (
        progress
        if shared
        else runs_bar(
            len(configs) * cfg.repeats,
            len(configs) * cfg.repeats - sum(map(len, todo.values())),
            desc=cfg.name,
            disable=not progress,
        )
    )
    values = measured(out)

    def record(rc, repeat):
        again = lambda: bar.set_description_str(f"{cfg.name}: {describe(rc)} (loaded: again)", refresh=True)  # noqa: E731
        summary, records, loaded = measure(run_fns[rc.backend or cfg.backend], cfg, rc, inputs, repeat, scratch, again)
        for share in loaded:
            meta.setdefault("loaded_reruns", []).append({"config_id": rc.config_id, "repeat": repeat, "others_share": share})
        record_run(out, cfg.name, rc.config_id, repeat, summary, records)
        values.setdefault(rc.config_id, {})[repeat] = summary["end_to_end_s"]
        session["runs"] += 1
        bar.update(1)

    try:
        for rc in configs:
            if todo[rc]:
                bar.set_description_str(f"{cfg.name}: {describe(rc)}", refresh=True)
                if cfg.warmup:
                    one_run(run_fns[rc.backend or cfg.backend], cfg, rc, inputs, -1, scratch)  # discarded on purpose
                for repeat in todo[rc]:
                    record(rc, repeat)
            while noisy(cfg, values.get(rc.config_id, {})):
                bar.total += 1  # the bar grows by each extra repeat as it is decided
                bar.set_description_str(f"{cfg.name}: {describe(rc)} (noisy: one more)", refresh=True)
                record(rc, max(values[rc.config_id]) + 1)
    except BaseException:
        close_session(out, meta, session, "interrupted")
        raise
    finally:
        if not shared:
            bar.close()
    close_session(out, meta, session, "complete")
    return out

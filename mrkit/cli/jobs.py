"""Commands that run one job: `sequential`, `master`, `worker` and `run` (a master plus local workers)."""

import contextlib
import gc
import os
import sys

from mrkit.cli.parsing import (
    add_app,
    add_cpus,
    add_storage,
    app_options,
    check_seconds,
    configure_job,
    listen_address,
    print_summary,
    stdout_for_the_summary,
)
from mrkit.errors import UsageError

RUN_BACKENDS = ("local", "dask", "dask-tasks")  # `mrkit run`'s; ecs has its own command (`mrkit ecs run`)


def configure_sequential(p):
    add_app(p)
    p.add_argument("inputs", nargs="*", metavar="INPUT")


def cmd_sequential(args):
    from mrkit.app import load_app
    from mrkit.job import resolve_inputs
    from mrkit.runtime.lock import JobLock
    from mrkit.sequential import run_sequential
    from mrkit.storage.local import LocalStorage

    app = load_app(args.app, app_options(args.app_opt))
    inputs = resolve_inputs(args.inputs)
    out = os.path.realpath("mr-out-0")
    if any(os.path.realpath(i.location) == out for i in inputs):  # it would read, then replace, its own input
        raise UsageError(f"input {out} is the reference's own output: copy it elsewhere, or run in another directory")
    lock = JobLock(LocalStorage("."))  # its mr-out-0 is a job's file: not beside a job running here
    lock.acquire()
    try:
        run_sequential(app, inputs)
    finally:
        lock.release()


def _job_spec(args, storage):
    from mrkit.backends.staging import read_manifest, stage_inputs
    from mrkit.job import JobSpec

    if args.inputs_from and args.inputs:
        raise UsageError("give inputs either as INPUT... or with --inputs-from, not both")
    inputs = read_manifest(args.inputs_from, storage) if args.inputs_from else stage_inputs(args.inputs, storage)
    return JobSpec(
        inputs, n_reduce=args.n_reduce, n_map=args.n_map, task_timeout=args.task_timeout, max_attempts=args.max_attempts
    )


def _run_id(text):
    from mrkit.timing import check_run_id  # on the master's path only

    return check_run_id(text)


def configure_master(p):
    configure_job(p)
    add_storage(p)
    add_cpus(p)
    p.add_argument(
        "--listen",
        default="127.0.0.1:0",
        metavar="HOST:PORT",
        help="address to serve workers on (default: loopback, any free port)",
    )
    p.add_argument(
        "--token-file",
        metavar="FILE",
        help="file or s3:// object holding the token workers must present (default: a new random one)",
    )
    p.add_argument(
        "--inputs-from",
        metavar="NAME",
        help="JSON list of inputs ({path, location, size}) in the job's storage, instead of INPUT...",
    )
    p.add_argument(
        "--run-id", metavar="ID", type=_run_id, help="the run's id in the timing records (default: time stamp + random)"
    )
    p.add_argument(
        "--status-every",
        type=float,
        default=None,
        metavar="S",
        help="write the status to the job's storage every S seconds (mr-status.json), for launchers that cannot reach the master",
    )
    p.add_argument(
        "--no-workers-timeout",
        type=float,
        default=None,
        metavar="S",
        help="fail the job when no worker has been connected for S seconds (default 3 task timeouts, at least 5 s)",
    )


def cmd_master(args):
    from mrkit import timing
    from mrkit.runtime.master import Master
    from mrkit.runtime.serve import serve
    from mrkit.runtime.worker import resolve_token
    from mrkit.storage import open_storage
    from mrkit.storage.local import LocalStorage

    check_seconds("--no-workers-timeout", args.no_workers_timeout)
    check_seconds("--status-every", args.status_every)  # one of 0 wrote no status, silently
    launched_at = timing.now()
    here = LocalStorage(".")
    files = here if args.storage is None else open_storage(args.storage)
    spec = _job_spec(args, files)
    token = resolve_token(args.token_file) if args.token_file else None
    master = Master(
        spec,
        files,
        listen=listen_address(args.listen),
        token=token,
        run_id=args.run_id,
        advertise_storage=files is not here,
        lock_dir=".",
        backup_tasks=args.backup_tasks,
        no_workers_s=args.no_workers_timeout,
    )
    serve(master, here, launched_at=launched_at, status_every=args.status_every)


def configure_worker(p):
    add_app(p)
    p.add_argument("--master", metavar="URL", help="master URL (default: read mr-master.json in the cwd)")
    p.add_argument("--token-file", metavar="FILE", help="file holding the master's token (else $MRKIT_TOKEN or mr-master.json)")
    p.add_argument(
        "--master-timeout",
        type=float,
        default=None,
        metavar="S",
        help="how long to keep trying a master that cannot be reached before exiting 1 (default 30)",
    )
    add_cpus(p)


def cmd_worker(args):
    from mrkit.app import load_app
    from mrkit.runtime.processes import Terminated, contained
    from mrkit.runtime.worker import PATIENCE_S, run_worker
    from mrkit.storage import open_storage
    from mrkit.storage.local import LocalStorage

    if args.master_timeout is not None and not args.master_timeout > 0:
        raise UsageError(f"--master-timeout must be a number of seconds above 0, got {args.master_timeout:g}")
    app = load_app(args.app, app_options(args.app_opt))
    try:
        with contained():  # what the app's tasks start ends with this worker
            return run_worker(
                app,
                LocalStorage("."),
                master_url=args.master,
                token_file=args.token_file,
                open_storage=open_storage,
                patience_s=args.master_timeout or PATIENCE_S,
            )
    except Terminated:
        print("mrkit worker: stopped by SIGTERM", file=sys.stderr)
        return 143


def configure_run(p):
    add_app(p)
    configure_job(p)
    add_storage(p)
    add_cpus(p)
    p.add_argument(
        "-w",
        "--workers",
        type=int,
        default=None,
        metavar="W",
        help="worker processes (default max(M, R) capped at the CPUs the job may use: --cpus)",
    )
    p.add_argument("--workdir", default=None, metavar="DIR", help="where intermediate and output files go (default: cwd)")
    p.add_argument("--json", action="store_true", help="print the run summary as JSON")
    p.add_argument(
        "--slow-workers",
        type=int,
        default=None,
        metavar="K",
        help="straggler injection for studies: K of the W workers take --slowdown times as long",
    )
    p.add_argument(
        "--slowdown",
        type=float,
        default=1.0,
        metavar="F",
        help="how many times as long each slow worker takes (it sleeps (F-1) x the task's time)",
    )
    p.add_argument(
        "--backend",
        default="local",
        choices=RUN_BACKENDS,
        help="local: worker processes here (default); dask: mrkit's workers on a Dask cluster; "
        "dask-tasks: each map and reduce attempt a Dask task",
    )
    p.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="the Dask scheduler, e.g. tcp://host:8786 (default: a LocalCluster of W processes for the job)",
    )


@contextlib.contextmanager
def _imports_kept_from_the_collector():
    """What the imports inside make is frozen out of the garbage collector for the rest of this process.

    `gc.freeze`'s documented recipe for a process that forks workers: no
    collection while imports allocate (they free next to nothing), then
    everything made so far moved to the permanent generation, which neither
    the job's collections (here, and in workers forked from here, whose
    pages then stay shared) nor the interpreter's exit walk again. The
    benchmark's 200 MB word count with `--backend dask` took 3.60 s instead of
    3.94 s (12 alternating rounds, docs/dask.md). Only for a process that ends
    with its job: a notebook's kernel would never collect cycles among its
    frozen objects.
    """
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()


def cmd_run(args):
    from mrkit.backends import get_backend

    if args.backend == "local" and args.scheduler is not None:
        raise UsageError("--scheduler names a Dask scheduler: use it with --backend dask or dask-tasks")
    # One without the other injected nothing, silently. An explicit --slow-workers 0 is a baseline (a script's K = 0..n).
    if args.slowdown != 1 and args.slow_workers is None:
        raise UsageError("--slowdown F slows the --slow-workers K: give --slow-workers too")
    if args.slow_workers and args.slowdown == 1:
        raise UsageError("--slow-workers K are as fast as the others at --slowdown 1: give --slowdown F above 1")
    dask = {} if args.backend == "local" else {"scheduler": args.scheduler}
    with _imports_kept_from_the_collector():
        run = get_backend(args.backend)  # a missing extra (distributed) is main()'s one-line error
    with stdout_for_the_summary() as out:
        summary, records = _run_with_progress(run, args, dask)
        keys = sum(r["records_out"] for r in records if r["phase"] == "reduce" and r["status"] == "ok")
        where = args.storage.rstrip("/") if args.storage else os.path.abspath(args.workdir or ".")
        print(
            f"mrkit run: {summary['n_reduce']} outputs in {where}/mr-out-*, {keys:,} keys, {summary['end_to_end_s']:.2f} s",
            file=sys.stderr,
        )
        print_summary(summary, args.json, out)


def _run_with_progress(run, args, dask):
    from mrkit.progress import TaskProgress

    progress = TaskProgress("mrkit run")
    try:
        return run(
            args.app,
            args.inputs,
            n_map=args.n_map,
            n_reduce=args.n_reduce,
            workers=args.workers,
            workdir=args.workdir,
            task_timeout=args.task_timeout,
            app_options=app_options(args.app_opt),
            storage=args.storage,
            max_attempts=args.max_attempts,
            backup_tasks=args.backup_tasks,
            slow_workers=args.slow_workers or 0,
            slowdown=args.slowdown,
            on_status=progress if progress.live else None,
            **dask,
        )
    finally:
        progress.close()

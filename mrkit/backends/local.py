"""Local cluster: a master in this process plus W worker processes.

Apps made of functions defined in a notebook work as they are. The default
start method is fork: it costs milliseconds per worker and pickles nothing,
so the stdlib's fork context serves (importing `multiprocess` would add its
dill import, ~25 ms, to every run). The spawn and forkserver methods ship the
app to fresh interpreters, which plain pickle cannot do for notebook
functions: they go through `multiprocess`, i.e. dill with recurse on. The
master's socket is listening before the first fork, and it starts serving
only after, so no server thread exists when the workers fork.

A worker that dies (the crash app does that on purpose) is reported to the
master at once, so its task is handed out again without waiting for the
timeout, and it is replaced until the job is over. Workers never outlive
the job: they die with their parent (PR_SET_PDEATHSIG, on Linux; the kernel
means the parent *thread*, and workers are started by the thread that runs
the job and by its watcher, which both live until the job is over), leave the
terminal's Ctrl-C to the parent, and are killed as soon as the job has failed
or was interrupted. Nor does what their tasks start: each worker leads a
process group of its own, killed whole when the worker is gone or must go
(mrkit.runtime.processes).
"""

import gc
import os
import signal
import sys
import threading
import time
from collections import namedtuple

from mrkit import timing
from mrkit.app import load_app
from mrkit.backends.staging import stage_inputs
from mrkit.errors import JobFailed, UsageError, unusable_directory
from mrkit.job import (
    MAX_ATTEMPTS,
    MAX_LOCAL_WORKERS,
    N_REDUCE,
    TASK_TIMEOUT_S,
    JobSpec,
    check_at_least_one,
    check_at_most,
    is_number,
)
from mrkit.job import default_workers as lab_workers
from mrkit.runtime import processes
from mrkit.runtime.master import Master
from mrkit.runtime.rpc import RpcClient, RpcError
from mrkit.runtime.worker import work
from mrkit.storage import open_storage
from mrkit.storage.local import LocalStorage

BACKEND = "local"


def default_workers(n_map, n_reduce):
    """The lab's worker count, max(M, R), capped at the CPUs this job may use (its affinity: `--cpus`).

    More cannot run at once. Called after the job is pinned, so `--cpus 0` caps W at 1.
    """
    return lab_workers(n_map, n_reduce, cap=timing.cores())


class PreparedJob(namedtuple("PreparedJob", "app workdir files spec launched_at launched_cpu")):
    """A job ready for a master: its App, absolute workdir, storage, JobSpec, and when it was launched."""

    __slots__ = ()


def prepare_job(app, inputs, *, n_map, n_reduce, workdir, task_timeout, app_options, storage, max_attempts):
    """What a backend with its master in this process does first (`local`, `dask`, `dask-tasks`).

    Loads the app, makes the workdir, opens the storage (`workdir` unless a
    URL is given) and stages the inputs there; a bad input or option raises
    before anything has started.
    """
    launched_at, launched_cpu = timing.now(), timing.process_cpu_s()
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    app = load_app(app, app_options)
    if workdir is not None and not isinstance(workdir, (str, os.PathLike)):
        raise UsageError(f"workdir must be a directory's path (str or pathlib.Path), got {workdir!r}")
    workdir = os.path.abspath(workdir or ".")
    try:
        os.makedirs(workdir, exist_ok=True)
    except OSError as exc:  # a file in its way, a read-only parent
        raise unusable_directory(exc, workdir) from None
    files = LocalStorage(workdir) if storage is None else open_storage(storage)
    spec = JobSpec(
        stage_inputs(inputs, files), n_reduce=n_reduce, n_map=n_map, task_timeout=task_timeout, max_attempts=max_attempts
    )
    return PreparedJob(app, workdir, files, spec, launched_at, launched_cpu)


def _context(start_method):
    """A multiprocessing context for the start method (see the module docstring)."""
    if start_method not in ("fork", "forkserver", "spawn"):
        raise UsageError(f"start_method must be 'fork', 'forkserver' or 'spawn', got {start_method!r}")
    if start_method == "fork":
        import multiprocessing

        return multiprocessing.get_context("fork")
    import dill
    import multiprocess

    dill.settings["recurse"] = True  # ship the globals a notebook function uses, not just its code
    return multiprocess.get_context(start_method)


def _worker_main(app, url, token, workdir, parent, slowdown):
    # What the worker inherited (a sweep's or a notebook's heap) is moved out of its collector's reach: a full
    # collection in a forked worker walked all of it, touching and so copying its pages. From a sweep's process
    # a wc map task then cost up to 0.14 s instead of 0.05, the more the longer the sweep had run (W = 50 on
    # 16 MB: map CPU 2.1-6.4 s over 6 runs, 1.8-1.9 s frozen; docs/model-validation.md).
    gc.freeze()
    processes.lead_own_group()  # the launcher kills this group when the worker is gone: its tasks' processes go too
    processes.die_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C that reaches a worker anyway is the parent's to handle
    os.chdir(workdir)
    try:
        with processes.contained():
            code = work(app, RpcClient(url, token), LocalStorage("."), open_storage, slowdown=slowdown)
    except (JobFailed, RpcError):
        code = 1  # the launcher reports the failure once, from the master
    except processes.Terminated:
        code = 143
    sys.exit(code)


class _Workers:
    """The worker processes, kept at W until the job is over.

    A watcher thread waits on the processes' sentinels, tells the master of
    every death at once and starts a replacement. Deaths the master cannot
    charge to a task (a worker dying between tasks) are bounded too, or a
    worker that cannot even start would be replaced forever.
    """

    def __init__(self, context, count, args, slowdowns=()):
        self._context, self._args = context, args
        self.processes = []
        self._slot = {}  # process -> its slot; slot i runs with slowdowns[i] (1: a normal worker)
        self._lock = threading.Lock()  # starting a worker vs. stopping them all
        self._stopping = False
        self._watcher = None
        self._idle_deaths = 0
        self._budget = 2 * count + 2
        processes.load()
        self._slowdowns = list(slowdowns) + [1.0] * (count - len(slowdowns))
        for slot in range(count):
            self._start(slot)

    def _start(self, slot):
        with self._lock:
            if self._stopping:
                return
            process = self._context.Process(target=_worker_main, args=(*self._args, self._slowdowns[slot]), daemon=True)
            process.start()
            processes.lead_own_group(process.pid)  # as the worker does: whichever runs first makes the group
            self.processes.append(process)
            self._slot[process] = slot

    def watch(self, master):
        self._watcher = threading.Thread(target=self._watch, args=(master,), daemon=True, name="mrkit-local-workers")
        self._watcher.start()

    def _watch(self, master):
        from multiprocessing.connection import wait

        while not master.wait_quietly(0):
            wait([p.sentinel for p in self.processes], timeout=0.5)
            with self._lock:
                dead = [p for p in self.processes if p.exitcode is not None]
                for process in dead:
                    self.processes.remove(process)
            for process in dead:
                processes.end_group(process.pid)  # what its tasks started dies with it
                if not master.worker_exited(process.pid, process.exitcode):
                    self._idle_deaths += 1
                    if self._idle_deaths > self._budget:
                        master.fail(
                            f"worker processes died {self._idle_deaths} times outside any task "
                            f"(last: exit {process.exitcode}): they cannot run here"
                        )
                        return
                if not master.wait_quietly(0):
                    self._start(self._slot.pop(process))  # a slow worker's replacement is slow too

    def cpu_s(self):
        """CPU seconds the worker processes now alive have used (their start-up, tasks, the loop between them).

        Taken when the job is done, before they exit; a worker that died (and
        its replacement's start) is not in it. None where it cannot be read (not Linux).
        """
        with self._lock:
            pids = [process.pid for process in self.processes]
        return timing.processes_cpu_s(pids)

    def terminate(self):
        """Stop every worker now, and start no more: after a failure or an interrupt nothing they do counts."""
        with self._lock:
            self._stopping = True
            workers = list(self.processes)
        for process in workers:
            processes.end_group(process.pid)

    def stop(self, grace_s=1.0):
        """Once the job is over: let workers exit on their own for up to `grace_s`, then end the rest.

        A worker still busy then runs an attempt that can no longer count
        (its task is done, or the job is over), so it is killed. Every
        worker's group is killed either way: it holds what the worker's tasks
        started, which must not outlive the job.
        """
        from multiprocessing.connection import wait

        if self._watcher is not None:
            self._watcher.join()
        with self._lock:
            self._stopping = True
            workers = list(self.processes)
        deadline = time.monotonic() + grace_s
        running = {process.sentinel: process for process in workers}
        while running and time.monotonic() < deadline:
            for sentinel in wait(list(running), timeout=max(0.0, deadline - time.monotonic())):
                del running[sentinel]
        for process in workers:
            processes.end_group(process.pid)
            process.join()


MAX_SLOWDOWN = 1000.0


def _slowdowns(slow_workers, slowdown, workers):
    """The injected slowdown of each worker slot: the first K of W take F times as long."""
    if not isinstance(slow_workers, int) or not 0 <= slow_workers <= workers:
        raise UsageError(f"--slow-workers must be a whole number from 0 to the {workers} workers, got {slow_workers!r}")
    if not is_number(slowdown) or not 1 <= slowdown <= MAX_SLOWDOWN:  # beyond it, the sleep it makes overflowed
        raise UsageError(f"--slowdown must be a factor from 1 to {MAX_SLOWDOWN:g}, got {slowdown!r}")
    return [float(slowdown)] * slow_workers


def run_job(
    app,
    inputs,
    *,
    n_map=None,
    n_reduce=N_REDUCE,
    workers=None,
    workdir=None,
    task_timeout=TASK_TIMEOUT_S,
    repeat=0,
    app_options=None,
    start_method="fork",
    on_status=None,
    poll_s=0.2,
    storage=None,
    max_attempts=MAX_ATTEMPTS,
    backup_tasks=None,
    slow_workers=0,
    slowdown=1.0,
):
    """Run one job; returns (run summary dict, list of task records).

    Files go to `workdir` (default: the cwd), or to `storage` when given as a
    URL (e.g. s3://bucket/prefix; inputs are staged there, workers are told).
    on_status, if given, is called with the master's status dict about every
    poll_s seconds while the job runs (progress bars). backup_tasks names a
    backup policy (mrkit.runtime.backups); slow_workers K and slowdown F make
    K of the workers stragglers that take F times as long (studies).
    """
    app, workdir, files, spec, launched_at, launched_cpu = prepare_job(
        app,
        inputs,
        n_map=n_map,
        n_reduce=n_reduce,
        workdir=workdir,
        task_timeout=task_timeout,
        app_options=app_options,
        storage=storage,
        max_attempts=max_attempts,
    )
    if workers is None:
        workers = default_workers(spec.map_count, n_reduce)
    check_at_most("--workers", check_at_least_one("--workers", workers), MAX_LOCAL_WORKERS)
    slowdowns = _slowdowns(slow_workers, slowdown, workers)
    context = _context(start_method)  # a mistaken one is named before the master takes the directory
    # Workers run in workdir; they are told where the files are when that is elsewhere (s3://, another directory).
    master = Master(spec, files, advertise_storage=files.url != workdir, backup_tasks=backup_tasks)
    pool = None
    finished = False
    try:
        master.start(serve=False)
        pool = _Workers(context, workers, (app, master.url, master.token, workdir, os.getpid()), slowdowns)
        master.serve()
        pool.watch(master)
        while not master.wait(poll_s):
            if on_status is not None:
                on_status(master.status())
        finished = True
        finished_at = timing.now()
        workers_cpu_s = pool.cpu_s()
        if on_status is not None:
            on_status(master.status())
    finally:
        if pool is not None and not finished:
            pool.terminate()  # first, and at once: nothing a worker does now can count
        master.shutdown()
        if pool is not None:
            pool.stop()
    records = master.task_records()
    summary = timing.summarize(
        records,
        run_id=master.run_id,
        app=app.name,
        backend=BACKEND,
        n_map=spec.map_count,
        n_reduce=n_reduce,
        workers=workers,
        input_bytes=spec.input_bytes,
        launched_at=launched_at,
        finished_at=finished_at,
        repeat=repeat,
        backup_tasks=backup_tasks,
        slow_workers=slow_workers,
        slowdown=slowdown,
        master_cpu_s=timing.process_cpu_s() - launched_cpu,  # this job's, not the whole process's (sweeps run many)
        workers_cpu_s=workers_cpu_s,
    )
    return summary, records


class RunResult(namedtuple("RunResult", "summary tasks")):
    """What `mrkit.run` returns: the runs.csv row (a dict) and the tasks.csv rows as a DataFrame.

    A collections.namedtuple: typing.NamedTuple would add typing to every run's imports.
    """

    __slots__ = ()


def run(app, inputs, **options):
    """Run a job on local processes; returns RunResult(summary, tasks DataFrame).

    Options are those of `run_job`: n_map, n_reduce, workers, workdir,
    task_timeout, max_attempts, repeat, app_options, start_method, on_status,
    backup_tasks, slow_workers, slowdown.
    """
    import pandas as pd

    summary, records = run_job(app, inputs, **options)
    return RunResult(summary, pd.DataFrame(records, columns=timing.TASK_COLUMNS))

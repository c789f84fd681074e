"""Local cluster: a master in this process plus W worker processes.

Apps made of functions defined in a notebook work as they are. The default
start method is fork: it costs milliseconds per worker and pickles nothing,
so the stdlib's fork context serves (importing `multiprocess` would add its
dill import, ~25 ms, to every run). The spawn and forkserver methods ship the
app to fresh interpreters, which plain pickle cannot do for notebook
functions: they go through `multiprocess`, i.e. dill with recurse on. The
master's socket is listening before the first fork, and it starts serving
only after, so no server thread exists when the workers fork. A worker that
dies (the crash app does that on purpose) is replaced until the job is over.
"""

from collections import namedtuple
import os
import sys

from mrkit import timing
from mrkit.app import load_app
from mrkit.errors import JobFailed
from mrkit.backends.staging import stage_inputs
from mrkit.job import JobSpec, check_at_least_one
from mrkit.runtime.master import Master
from mrkit.runtime.rpc import RpcClient
from mrkit.runtime.worker import work
from mrkit.storage import open_storage
from mrkit.storage.local import LocalStorage

BACKEND = "local"


def default_workers(n_map, n_reduce):
    """The lab's worker count, max(M, R), capped at the CPU count: more cannot run at once."""
    from mrkit import job  # the rule's home (imported here so this module's import lines stay as they are)

    return job.default_workers(n_map, n_reduce, cap=os.cpu_count() or 1)


def _context(start_method):
    """A multiprocessing context for the start method (see the module docstring)."""
    if start_method == "fork":
        import multiprocessing

        return multiprocessing.get_context("fork")
    import dill
    import multiprocess

    dill.settings["recurse"] = True  # ship the globals a notebook function uses, not just its code
    return multiprocess.get_context(start_method)


def _worker_main(app, url, token, workdir):
    os.chdir(workdir)
    try:
        code = work(app, RpcClient(url, token), LocalStorage("."), open_storage)
    except JobFailed:
        code = 1  # the launcher reports the failure once, from the master
    sys.exit(code)


class _Workers:
    """The worker processes, kept at W until the job is over."""

    def __init__(self, context, count, args):
        self._context, self._args = context, args
        self.processes = []
        for _ in range(count):
            self._start()

    def _start(self):
        process = self._context.Process(target=_worker_main, args=self._args, daemon=True)
        process.start()
        self.processes.append(process)

    def replace_dead(self):
        for process in list(self.processes):
            if process.exitcode is not None:
                self.processes.remove(process)
                self._start()

    def stop(self, grace_s=2.0):
        """Join workers that are exiting; terminate any still busy (e.g. stalled attempts)."""
        for process in self.processes:
            process.join(grace_s)
            grace_s = 0.1
        for process in self.processes:
            if process.exitcode is None:
                process.terminate()
                process.join(1.0)


def run_job(app, inputs, *, n_map=None, n_reduce=10, workers=None, workdir=None, task_timeout=10.0,
            repeat=0, app_options=None, start_method="fork", on_status=None, poll_s=0.2, storage=None):
    """Run one job; returns (run summary dict, list of task records).

    Files go to `workdir` (default: the cwd), or to `storage` when given as a
    URL (e.g. s3://bucket/prefix; inputs are staged there, workers are told).
    on_status, if given, is called with the master's status dict about every
    poll_s seconds while the job runs (progress bars).
    """
    launched_at = timing.now()
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    app = load_app(app, app_options)
    workdir = os.path.abspath(workdir or ".")
    os.makedirs(workdir, exist_ok=True)
    files = LocalStorage(workdir) if storage is None else open_storage(storage)
    spec = JobSpec(stage_inputs(inputs, files), n_reduce=n_reduce, n_map=n_map, task_timeout=task_timeout)
    if workers is None:
        workers = default_workers(spec.map_count, n_reduce)
    check_at_least_one("--workers", workers)
    master = Master(spec, files, advertise_storage=not isinstance(files, LocalStorage))
    pool = None
    try:
        pool = _Workers(_context(start_method), workers, (app, master.url, master.token, workdir))
        master.start()
        while not master.wait(poll_s):
            pool.replace_dead()
            if on_status is not None:
                on_status(master.status())
        finished_at = timing.now()
        if on_status is not None:
            on_status(master.status())
    finally:
        master.shutdown()
        if pool is not None:
            pool.stop()
    records = master.task_records()
    summary = timing.summarize(
        records, run_id=master.run_id, app=app.name, backend=BACKEND, n_map=spec.map_count,
        n_reduce=n_reduce, workers=workers, input_bytes=spec.input_bytes,
        launched_at=launched_at, finished_at=finished_at, repeat=repeat,
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
    task_timeout, repeat, app_options, start_method, on_status.
    """
    import pandas as pd

    summary, records = run_job(app, inputs, **options)
    return RunResult(summary, pd.DataFrame(records, columns=timing.TASK_COLUMNS))

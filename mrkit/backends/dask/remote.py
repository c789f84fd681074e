"""What runs on the Dask workers: mrkit's worker loop (`dask`) and one task attempt (`dask-tasks`).

Nothing here takes the master's token as an argument: a task's arguments
are shown by the dashboard and kept by the scheduler. The token reaches the
workers in a worker plugin (`Token`), registered for the job and removed
after it, and a worker loop reads it from its worker's plugins.

An app travels as the string it was loaded from when there is one (each
worker process loads it once), otherwise as the App object itself
(cloudpickle ships a notebook's functions by value).
"""

import functools
import os
import socket
import time

from distributed import get_worker
from distributed.diagnostics.plugin import WorkerPlugin

from mrkit import timing
from mrkit.app import load_app
from mrkit.errors import FATAL_TO_JOB, JobFailed, one_line
from mrkit.runtime.protocol import Action
from mrkit.runtime.rpc import RpcClient
from mrkit.runtime.worker import RUNNERS, AttemptFiles, work
from mrkit.storage import open_storage
from mrkit.storage.base import StorageError

# A loop's master lives in the driver until the job is over: one that cannot be reached for this long
# has gone with its job (or the network has), and the loop ends instead of occupying its Dask worker.
LOOP_PATIENCE_S = 5.0


class Token(WorkerPlugin):
    """Carries the master's token to every worker of the cluster, outside any task's arguments."""

    def __init__(self, token):
        self.token = token


def portable(app):
    """What to send for an App: (spec, options) when it can be loaded again by name, else the App.

    A .py file's path is made absolute: a Dask worker's cwd is not ours.
    """
    if app.spec is None:
        return app
    spec = os.path.abspath(app.spec) if os.path.isfile(app.spec) else app.spec
    return spec, tuple(sorted(app.options.items()))


@functools.lru_cache(maxsize=8)
def _load(spec, options):
    return load_app(spec, dict(options))


def load(sent):
    return _load(*sent) if isinstance(sent, tuple) else sent


@functools.lru_cache(maxsize=8)
def storage(ref):
    """The job's storage from its URL or absolute directory, opened once per worker process."""
    return open_storage(ref)


def worker_loop(app, url, plugin, storage_ref):
    """The `dask` backend's worker: mrkit's worker loop against the master at `url`; its exit code.

    The driver removes the token's plugin from the cluster on every way out of the job: a loop that then
    cannot reach the master ends at once instead of after LOOP_PATIENCE_S, its thread free for others.
    """
    worker = get_worker()
    token = worker.plugins[plugin].token
    try:
        return work(
            load(app),
            RpcClient(url, token),
            storage(storage_ref),
            open_storage,
            patience_s=LOOP_PATIENCE_S,
            told_over=lambda: plugin not in worker.plugins,
        )
    except JobFailed:
        return 1  # the driver reports the failure once, from the master


def run_attempt(app, phase, task, storage_ref, run_id, attempt):
    """One map or reduce attempt of `dask-tasks`: its files under the attempt's hidden names, its report.

    An app's failure is a result, not an exception: Dask must not take it for
    a reason to run the task again, and the master wants its one line.
    """
    files = AttemptFiles(storage(storage_ref), run_id, attempt)
    report = {"dask_worker": str(get_worker().name), "host": socket.gethostname(), "pid": os.getpid()}
    # The attempt's own thread: a Dask worker process also runs its event loop and heartbeats.
    start, cpu = timing.now(), time.thread_time()
    try:
        result = RUNNERS[Action(phase)](load(app), task, files)
    except (Exception, SystemExit) as exc:
        files.discard()
        return {
            **report,
            "start": start,
            "end": timing.now(),
            "error": one_line(exc),
            "fatal": isinstance(exc, FATAL_TO_JOB),  # a full disk, a changed input: no retry can help
            "storage": isinstance(exc, StorageError),  # an outage, maybe brief: the master backs the task off
            "counters": {"cpu_s": time.thread_time() - cpu},
        }
    cpu = time.thread_time() - cpu
    partitions = result.pop("partitions", None)
    report.update(start=start, end=timing.now(), counters={**result, "cpu_s": cpu})
    if partitions is not None:
        report["partitions"] = partitions
    return report


def sees(paths):
    """[(path, size)] -> the first path this worker cannot read at that size, or None."""
    for path, size in paths:
        try:
            if os.path.getsize(path) != size:
                return f"{path} (a different file: {os.path.getsize(path)} bytes, not {size})"
        except OSError:
            return path
    return None


def reads(path, expected):
    """Whether this worker reads `expected` in `path`: the same directory as the client's, not one of its own."""
    try:
        with open(path, encoding="utf-8") as f:
            return f.read() == expected
    except OSError:
        return False


def reaches(host, port, timeout_s=5.0):
    """None when this worker can open a TCP connection to host:port, else why not."""
    try:
        socket.create_connection((host, port), timeout=timeout_s).close()
        return None
    except OSError as exc:
        return exc.strerror or str(exc)

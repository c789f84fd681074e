"""Which Dask cluster a job runs on, and closing what the job opened.

`scheduler` is None (a LocalCluster for this job: W worker processes of one
thread each on 127.0.0.1, no dashboard, closed at the end), an address
(`tcp://host:8786`), a `distributed.Client`, or a Cluster object (anything
with `scheduler_address`: LocalCluster, dask-jobqueue's SLURMCluster, a
Dask Gateway cluster). A Client or Cluster the caller made stays open.
"""

import contextlib
import logging
import multiprocessing
import sys
import threading
import time

from mrkit.backends.dask import worker_start
from mrkit.errors import JobFailed, UsageError

# The settings a LocalCluster of ours runs under, held for its whole life (some are read when an
# event happens, not when the cluster starts):
OWN_CLUSTER_CONFIG = {
    # A task fails at its worker's first death (Dask's default re-runs it up to 3 times, unseen):
    # mrkit counts that death as an attempt and decides about the retry itself.
    "distributed.scheduler.allowed-failures": 0,
    # Dask closes a nanny whose worker has not registered again this long after a death (15 s by
    # default). Under load a restart takes longer, or the restarted worker dies again (the crash app)
    # while the first death's timer runs: the nanny was closed for good, and with every nanny closed
    # the job had no worker left. Ours restart their workers until the job ends; a worker that never
    # comes back is bounded by the master (no worker connected, task timeouts).
    "distributed.deploy.lost-worker-timeout": "1 day",
    # No statistical profiler: it samples the task thread's stack every 10 ms, and on 2 cores the job's
    # process tree took 5% more CPU with it (8.40 against 8.00 CPU-s, the benchmark's 200 MB word count,
    # docs/dask.md); mrkit's records already hold each attempt's CPU.
    "distributed.worker.profile.enabled": False,
    # Each worker's event loop wakes every 20 ms to measure its own lag, and every 100 ms to read the
    # process's memory (its nanny too): each wake-up takes the GIL from the task thread, which runs
    # mrkit's worker (`dask`) or an attempt (`dask-tasks`). Every second is enough for a lag warning
    # and for a memory limit of gigabytes. On the benchmark's 200 MB word count (2 cores, 10 rounds)
    # the map attempts' summed time fell from 7.90 to 7.14 s, local's being 7.37 (docs/dask.md).
    "distributed.admin.tick.interval": "1s",
    "distributed.worker.memory.monitor-interval": "1s",
    # No HTTP routes (Prometheus metrics, health, info) on the scheduler or the workers: nothing reads
    # them, and serving them imports prometheus_client, wsgiref and http.server when the cluster starts
    # (0.06 s of a first LocalCluster's 0.15 s here).
    "distributed.scheduler.http.routes": [],
    "distributed.worker.http.routes": [],
}
WORKER_START = worker_start.__name__  # imported here, so a forked worker finds it loaded
# A nanny that has not got its worker process registered this long after starting it gives up, and
# the job ends with WorkersDidNotStart instead of waiting for ever.
WORKER_START_TIMEOUT_S = 60


def worker_start_method():
    """How our nannies make their worker processes: "forkserver" where that is safe and needed, else "fork".

    A forked worker shares nothing it must import again (a spawned one imports
    distributed, dask and numpy anew, about 1.5 s of a job's start here, W at
    once on 2 cores) and skips finalizing an interpreter when it exits. But a
    fork copies the locks other threads hold at that instant, never to be
    released in the child: a caller with threads of its own (a notebook's
    kernel, pytest) can get a worker that hangs before it registers, as CI's
    report test once did. There the workers come from a forkserver (started
    once per process by exec, about 1.2 s; each worker then forks from a
    process that runs one thread) — unless the caller is a script
    multiprocessing would run again in every worker it makes that way (a
    script without an `if __name__ == "__main__"` guard would start its job
    again in each): a script forks, as it always did. So does the CLI's job
    (one thread); a restart later forks while the master's threads run, as
    `local`'s replacements do.
    """
    return "forkserver" if threading.active_count() > 1 and not _main_runs_again_in_workers() else "fork"


def _main_runs_again_in_workers():
    """Whether a process made by a forkserver would run this process's __main__ again (multiprocessing.spawn's rule)."""
    main = sys.modules.get("__main__")
    name = getattr(getattr(main, "__spec__", None), "name", None)
    if name is not None:  # `python -m NAME`: a package's __main__ is skipped, a module is run again
        return not (name == "__main__" or name.endswith(".__main__"))
    return getattr(main, "__file__", None) is not None  # a script; none in a notebook's kernel or `python -c`


class WorkersDidNotStart(JobFailed):
    """A LocalCluster whose workers did not register in time: the job ran nothing."""


def _local_cluster(workers):
    from distributed import LocalCluster

    # No dashboard, and its HTTP server (with no routes, OWN_CLUSTER_CONFIG) on a free loopback port, not
    # on 8787, where another cluster of this machine may be. Deaths are logged by mrkit, as retries.
    return LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        silence_logs=logging.CRITICAL,
        scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
        death_timeout=WORKER_START_TIMEOUT_S,
    )


def _read_versions_once():
    """Read the installed packages' versions in this process, before its workers fork from it.

    Every Dask worker sends them when it registers, each package's metadata
    read from disk once per process (distributed caches it): a worker forked
    after this inherits the cache. On 2 cores the first LocalCluster of a
    process was up in 0.14 s instead of 0.18 (median of 5), and the CLI's
    200 MB word count started its first task 0.159 s after launch instead of
    0.197 (median of 12 alternating runs). The job's version check reads them
    in this process anyway.
    """
    from distributed.versions import get_versions

    get_versions()


def _started(workers):
    """Our LocalCluster once every worker has registered, or WorkersDidNotStart with nothing of it left."""
    _read_versions_once()
    before = set(multiprocessing.active_children())
    try:
        return _local_cluster(workers)
    except Exception as exc:
        # The cluster has closed its scheduler, but distributed cannot stop a worker process that is
        # still starting (its nanny's close fails an assertion): those are killed here.
        for process in set(multiprocessing.active_children()) - before:
            process.kill()
            process.join()
        timed_out = isinstance(exc, (TimeoutError, AssertionError))  # the assertion: a nanny closed mid-start
        what = (
            f"did not start within {WORKER_START_TIMEOUT_S} s" if timed_out else f"could not start ({type(exc).__name__}: {exc})"
        )
        raise WorkersDidNotStart(
            f"the Dask workers of this job's LocalCluster {what}; is the machine short of memory or processes? Run the job again"
        ) from None


@contextlib.contextmanager
def connect(scheduler, workers):
    """A Client on the cluster `scheduler` names; what this opened is closed on the way out.

    Yields (client, own): `own` is True for a LocalCluster started here.
    """
    from distributed import Client

    if scheduler is None:
        import dask

        preloads = dask.config.get("distributed.worker.preload", None) or []
        config = OWN_CLUSTER_CONFIG | {
            "distributed.worker.multiprocessing-method": worker_start_method(),
            # Ctrl-C is the job's to handle, not each worker's (worker_start); the caller's preloads run too.
            "distributed.worker.preload": [*([preloads] if isinstance(preloads, str) else preloads), WORKER_START],
        }
        with dask.config.set(config), _started(workers) as cluster, Client(cluster) as client:
            yield client, True
        return
    if isinstance(scheduler, Client):
        yield scheduler, False
        return
    if hasattr(scheduler, "scheduler_address"):
        with Client(scheduler) as client:
            yield client, False
        return
    if not isinstance(scheduler, str) or not scheduler.strip():
        raise UsageError(f"--scheduler takes a Dask scheduler address (e.g. tcp://host:8786), got {scheduler!r}")
    _answers_as_dask(scheduler)
    try:
        client = Client(scheduler, timeout=f"{CONNECT_TIMEOUT_S}s")
    except OSError as exc:
        raise _unreachable(scheduler, exc) from None
    with _quiet_about_a_lost_scheduler(client), client:  # the client closes first, quietly
        yield client, False


CONNECT_TIMEOUT_S = 10


@contextlib.contextmanager
def _quiet_about_a_lost_scheduler(client):
    """distributed logs, as errors with tracebacks, giving up on a scheduler that went away, and closing the
    client while it still tries to reconnect; the job says what happened in its one line (or finished anyway)."""
    logger = logging.getLogger("distributed.client")

    def keep(record):
        return client.status == "running" and not record.getMessage().startswith("Failed to reconnect to scheduler")

    logger.addFilter(keep)
    try:
        yield
    finally:
        logger.removeFilter(keep)


def _unreachable(scheduler, why):
    return UsageError(f"cannot reach the Dask scheduler at {scheduler}: {why}; start one (`dask scheduler`) or check the address")


def _answers_as_dask(scheduler):
    """Raise a one-line UsageError unless `scheduler` is an address that completes Dask's handshake in time.

    Client(timeout=...) bounds the TCP connect, not the handshake after it: a port that accepts and
    then never answers as Dask does (a web server) held `mrkit run` for ever. The handshake runs on a
    thread of its own, since a notebook's thread already runs an event loop.
    """
    import asyncio

    from distributed.comm import connect as dask_connect

    async def handshake():  # a refused port ends in distributed's own OSError; a silent one in ours, later
        comm = await asyncio.wait_for(dask_connect(scheduler, timeout=CONNECT_TIMEOUT_S), CONNECT_TIMEOUT_S + 2)
        await comm.close()

    failed = []
    shaking = threading.Thread(
        target=lambda: _recorded(failed, asyncio.run, handshake()), name="mrkit-dask-handshake", daemon=True
    )
    shaking.start()
    shaking.join()
    if not failed:
        return
    if isinstance(failed[0], ValueError):  # distributed's parse of the address: no port, an unknown scheme
        raise UsageError(f"--scheduler {scheduler!r} is not a Dask scheduler address (e.g. tcp://host:8786): {failed[0]}")
    if isinstance(failed[0], TimeoutError):
        raise _unreachable(
            scheduler, f"it accepted but gave no Dask handshake in {CONNECT_TIMEOUT_S + 2} s (not a scheduler's port?)"
        )
    if isinstance(failed[0], OSError):
        raise _unreachable(scheduler, failed[0])
    raise failed[0]


def _recorded(failed, function, *args):
    try:
        function(*args)
    except BaseException as exc:  # handed to the caller's thread
        failed.append(exc)


def cancel(client, futures):
    """Cancel what a job still has on the cluster. A client that lost its scheduler has nothing there to
    cancel, and its ClosedClientError, raised in a job's `finally`, would hide why the job ended."""
    from distributed.client import ClosedClientError

    if not futures or client.status != "running":
        return
    try:
        client.cancel(futures, force=True)
    except ClosedClientError:  # closed between the look and the call
        pass


def workers_cpu_s(client, before=None):
    """{worker address: CPU seconds its process has used}, less `before`'s reading of it (0 for a worker not in it);
    None where the workers cannot be read (one died as the job ended): a record, never the job's failure.

    Each Dask worker reads its own CPU-time clock (all its threads: the task's, the event loop's, its
    communications), as `local` reads its worker processes'.
    """
    try:
        now = client.run(time.process_time, on_error="raise")
    except Exception:
        return None
    before = before or {}
    return {address: cpu - before.get(address, 0.0) for address, cpu in now.items()}


def threads(client):
    """The threads of the cluster's workers, all together (0 with no worker)."""
    return sum(client.nthreads().values())


def worker_count(client, requested):
    """W: the requested count, else one per thread of the cluster's workers (at least 1)."""
    if requested is not None:
        return requested
    return max(1, threads(client))

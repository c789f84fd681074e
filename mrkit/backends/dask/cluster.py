"""Which Dask cluster a job runs on, and closing what the job opened.

`scheduler` is None (a LocalCluster for this job: W worker processes of one
thread each on 127.0.0.1, no dashboard, closed at the end), an address
(`tcp://host:8786`), a `distributed.Client`, or a Cluster object (anything
with `scheduler_address`: LocalCluster, dask-jobqueue's SLURMCluster, a
Dask Gateway cluster). A Client or Cluster the caller made stays open.
"""

import contextlib
import logging

from mrkit.errors import UsageError

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
    # Nannies fork their worker processes, as `local` forks its workers: a spawned one imports
    # distributed, dask and numpy again (about 1.5 s of a job's start here, W at once on 2 cores)
    # and finalizes a whole interpreter when it exits (most of the cluster's close). The first
    # workers fork before this job's master exists; a restart forks while the job runs, as
    # `local`'s replacements do (the master's lock file is closed in a forked child: runtime/lock.py).
    "distributed.worker.multiprocessing-method": "fork",
}


def _local_cluster(workers):
    from distributed import LocalCluster

    # No dashboard; the scheduler's plain HTTP routes (health, metrics) on a free loopback port, not
    # on 8787, where another cluster of this machine may be. Deaths are logged by mrkit, as retries.
    return LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        silence_logs=logging.CRITICAL,
        scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
    )


@contextlib.contextmanager
def connect(scheduler, workers):
    """A Client on the cluster `scheduler` names; what this opened is closed on the way out.

    Yields (client, own): `own` is True for a LocalCluster started here.
    """
    from distributed import Client

    if scheduler is None:
        import dask

        with dask.config.set(OWN_CLUSTER_CONFIG), _local_cluster(workers) as cluster, Client(cluster) as client:
            yield client, True
        return
    if isinstance(scheduler, Client):
        yield scheduler, False
        return
    if hasattr(scheduler, "scheduler_address"):
        with Client(scheduler) as client:
            yield client, False
        return
    if not isinstance(scheduler, str) or not scheduler:
        raise UsageError(f"--scheduler takes a Dask scheduler address (e.g. tcp://host:8786), got {scheduler!r}")
    try:
        client = Client(scheduler, timeout="10s")
    except OSError as exc:
        raise UsageError(
            f"cannot reach the Dask scheduler at {scheduler}: {exc}; start one (`dask scheduler`) or check the address"
        ) from None
    with client:
        yield client, False


def worker_count(client, requested):
    """W: the requested count, else one per thread of the cluster's workers (at least 1)."""
    if requested is not None:
        return requested
    return max(1, sum(client.nthreads().values()))

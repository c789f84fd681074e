"""One job on a Dask cluster around mrkit's master: the part the `dask` and `dask-tasks` backends share.

The set-up is `local`'s (`local.prepare_job`: load the app, stage the
inputs, a JobSpec), then a Master; then the cluster is connected, checked,
and an engine (workers.WorkerLoops or scheduled.DaskAttempts) puts the
work on it. Every way out goes through one `finally`: the engine cancels
its futures first, the master shuts down, the engine's threads end, and a
cluster of our own is closed — so nothing of the job outlives it (done,
failed, Ctrl-C, or SIGTERM, which the CLI turns into SystemExit).
"""

import inspect

from mrkit import timing
from mrkit.backends.dask import checks
from mrkit.backends.dask.cluster import connect, threads, worker_count, workers_cpu_s
from mrkit.backends.dask.remote import portable
from mrkit.backends.local import default_workers, prepare_job
from mrkit.errors import UsageError
from mrkit.job import MAX_LOCAL_WORKERS, check_at_least_one, check_at_most
from mrkit.runtime.master import Master
from mrkit.storage.local import LocalStorage


def run_on_dask(
    engine_class,
    app,
    inputs,
    *,
    n_map=None,
    n_reduce=10,
    workers=None,
    workdir=None,
    task_timeout=10.0,
    repeat=0,
    app_options=None,
    on_status=None,
    poll_s=0.2,
    storage=None,
    max_attempts=10,
    backup_tasks=None,
    scheduler=None,
    slow_workers=0,
    slowdown=1.0,
):
    """Run one job with `engine_class` on the cluster `scheduler` names (None: a LocalCluster of W processes).

    Takes `mrkit.backends.local.run_job`'s options; W defaults to local's
    count for a LocalCluster and to the cluster's threads otherwise.
    Returns (summary, records).
    """
    if slow_workers or slowdown != 1.0:
        raise UsageError(f"--slow-workers/--slowdown are for the local backend, not {engine_class.BACKEND}")
    app, _, files, spec, launched_at, launched_cpu = prepare_job(
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
    if workers is None and scheduler is None:
        workers = default_workers(spec.map_count, n_reduce)
    if workers is not None:
        check_at_least_one("--workers", workers)
    if scheduler is None:  # a LocalCluster of our own: W processes on this machine
        check_at_most("--workers", workers, MAX_LOCAL_WORKERS)
    with connect(scheduler, workers) as (client, own):
        workers = worker_count(client, workers)
        # A cluster of our own runs here, on this process's CPUs; another one has its threads wherever it is.
        job_cores = None if own else threads(client) or None
        checks.versions(client)
        checks.storage(client, files, spec.inputs)
        remote_files = not isinstance(files, LocalStorage)
        master = Master(
            spec,
            files,
            listen=(engine_class.listen_host(client, own), 0),
            advertise_storage=remote_files,
            backup_tasks=backup_tasks,
            no_workers_advice=engine_class.NO_WORKERS_ADVICE,
        )
        engine = engine_class(client, master, portable(app), files.root if not remote_files else files.url, workers)
        # The workers' CPU during the job; a cluster of our own was started for it, and counts from its start as
        # `local`'s workers do.
        cpu_before = {} if own else workers_cpu_s(client)
        try:
            master.start()
            engine.start()
            while not master.wait(poll_s):
                if on_status is not None:
                    on_status(master.status())
            finished_at = timing.now()
            cpu_used = workers_cpu_s(client, cpu_before) if cpu_before is not None else None
            if on_status is not None:
                on_status(master.status())
        finally:
            engine.cancel()  # first: nothing the cluster still runs for this job can count now
            master.shutdown()
            engine.join()
        records = engine.records(master.task_records())
    summary = timing.summarize(
        records,
        run_id=master.run_id,
        app=app.name,
        backend=engine_class.BACKEND,
        n_map=spec.map_count,
        n_reduce=n_reduce,
        workers=workers,
        input_bytes=spec.input_bytes,
        launched_at=launched_at,
        finished_at=finished_at,
        repeat=repeat,
        backup_tasks=backup_tasks,
        master_cpu_s=timing.process_cpu_s() - launched_cpu,
        workers_cpu_s=None if cpu_used is None else sum(cpu_used.values()),
        job_cores=job_cores,
    )
    return summary, records


def options_of(run):
    """The signature of a backend built on `run` (run_on_dask): run's, without the engine it is given."""
    signature = inspect.signature(run)
    return signature.replace(parameters=list(signature.parameters.values())[1:])

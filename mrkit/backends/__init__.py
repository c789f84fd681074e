"""Where workers run: local processes, ECS tasks or a Dask cluster, looked up by name.

The contract: a backend is a function

    run(app, inputs, *, n_map=None, n_reduce=N_REDUCE, workers=None, workdir=None,
        task_timeout=TASK_TIMEOUT_S, repeat=0, app_options=None, **options) -> (summary, records)

(the defaults are the lab's, from mrkit.job) that runs one job to the end.
`summary` is the run's row (`mrkit.timing.RUN_COLUMNS`), `records` its task
attempts (`mrkit.timing.TASK_COLUMNS`: a list of dicts or a DataFrame);
`options` are the backend's own (a sweep's `backend_options`). A job that
fails raises `mrkit.errors.JobFailed`. `mrkit.backends.local.run_job` is the
reference implementation.

`BACKENDS` maps names to such functions, as `mrkit.storage.SCHEMES` maps URL
schemes to openers: the sweep looks its `backend` up here and knows no backend
itself. The built-in entries import their module on first use, so a local sweep
never imports boto3 or distributed. `register_backend` adds one.
"""

from mrkit.errors import UsageError


def _run_local(app, inputs, **options):
    from mrkit.backends.local import run_job

    return run_job(app, inputs, **options)


def _run_ecs(app, inputs, **options):
    from mrkit.backends.ecs.run import run_job  # boto3 is imported only when a job uses ECS

    return run_job(app, inputs, **options)


def _run_dask(app, inputs, **options):
    from mrkit.backends.dask.job import run_on_dask  # distributed is imported only when a job uses Dask
    from mrkit.backends.dask.workers import WorkerLoops

    return run_on_dask(WorkerLoops, app, inputs, **options)


def _run_dask_tasks(app, inputs, **options):
    from mrkit.backends.dask.job import run_on_dask
    from mrkit.backends.dask.scheduled import DaskAttempts

    return run_on_dask(DaskAttempts, app, inputs, **options)


# name -> run(app, inputs, **options) -> (summary, records); register_backend adds more.
BACKENDS = {"local": _run_local, "ecs": _run_ecs, "dask": _run_dask, "dask-tasks": _run_dask_tasks}


def register_backend(name, run):
    """Let sweeps (and anything that looks backends up) run jobs with `run` under `name`."""
    BACKENDS[name] = run


def get_backend(name):
    """The run function registered under `name`; a one-line UsageError naming the known ones otherwise."""
    try:
        return BACKENDS[name]
    except KeyError:
        raise UsageError(f"unknown backend {name!r}; known: {', '.join(BACKENDS)}") from None

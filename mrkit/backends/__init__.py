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
schemes to openers: the sweep looks its `backend` up here (`get_backend`) and
knows no backend itself. `register_backend` adds one.
"""

import importlib

from mrkit.errors import UsageError

# name -> run(app, inputs, **options) -> (summary, records), or "module:function" naming one, imported on
# first lookup (so a local sweep never imports boto3 or distributed); register_backend adds more.
BACKENDS = {
    "local": "mrkit.backends.local:run_job",
    "ecs": "mrkit.backends.ecs.run:run_job",
    "dask": "mrkit.backends.dask.workers:run",
    "dask-tasks": "mrkit.backends.dask.scheduled:run",
}


def register_backend(name, run):
    """Let sweeps (and anything that looks backends up) run jobs with `run` under `name`."""
    BACKENDS[name] = run


def get_backend(name):
    """The run function registered under `name`, its module imported; a one-line UsageError naming the known ones otherwise."""
    try:
        run = BACKENDS[name]
    except KeyError:
        raise UsageError(f"unknown backend {name!r}; known: {', '.join(BACKENDS)}") from None
    if isinstance(run, str):
        module, _, function = run.partition(":")
        run = getattr(importlib.import_module(module), function)
    return run

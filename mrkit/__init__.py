"""mrkit: run and study MapReduce.

Imports point one way: tests/test_layers.py holds the layer order and checks
every module. Importing `mrkit` stays cheap: `run` pulls in the
local backend (and pandas) only when called.
"""

from mrkit.version import __version__  # the one version number (mrkit/version.py)


def run(app, inputs, backend="local", **options):
    """Run a job; returns RunResult(summary, tasks DataFrame) (see `mrkit.backends.local.run`).

    `backend` is a name from `mrkit.backends.BACKENDS`: "local" (worker
    processes here), "dask" or "dask-tasks" (a Dask cluster: pass
    scheduler=ADDRESS, a distributed.Client or a Cluster; none starts a
    LocalCluster for the job).
    """
    from mrkit.backends.local import run as run_local

    if backend == "local":
        return run_local(app, inputs, **options)
    import pandas as pd

    from mrkit import timing
    from mrkit.backends import get_backend
    from mrkit.backends.local import RunResult

    summary, records = get_backend(backend)(app, inputs, **options)
    return RunResult(summary, pd.DataFrame(records, columns=timing.TASK_COLUMNS))


__all__ = ["run", "__version__"]

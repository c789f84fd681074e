"""mrkit: run and study MapReduce.

Imports point one way: errors and storage are the foundation; the core
(job, split, shuffle, tasks, timing, text, app, verify) builds on them and
apps import the core; the runtime (master, worker, rpc) imports the core;
backends import the runtime; experiments import backends and the core; the
CLI imports everything. Importing `mrkit` stays cheap: `run` pulls in the
local backend (and pandas) only when called.
"""

__version__ = "0.1.0"  # the one version number: pyproject.toml reads it (tool.setuptools.dynamic)


def run(app, inputs, **options):
    """Run a job on local worker processes; see `mrkit.backends.local.run`."""
    from mrkit.backends.local import run as run_local

    return run_local(app, inputs, **options)


__all__ = ["run", "__version__"]

"""mrkit: run and study MapReduce.

Imports point one way: tests/test_layers.py holds the layer order and checks
every module. Importing `mrkit` stays cheap: `run` pulls in the
local backend (and pandas) only when called.
"""

__version__ = "0.1.0"  # the one version number: pyproject.toml reads it (tool.setuptools.dynamic)


def run(app, inputs, **options):
    """Run a job on local worker processes; see `mrkit.backends.local.run`."""
    from mrkit.backends.local import run as run_local

    return run_local(app, inputs, **options)


__all__ = ["run", "__version__"]

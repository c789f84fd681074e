"""The optional stacks (pyproject's optional-dependencies): which extra installs a module, checked before work starts.

A base install (`pip install mrkit`, what an ECS worker image has) runs
jobs; sweeps, the report and S3 need an extra. A command that needs one
says so in one line, naming the pip command, instead of a traceback, and
before it has started anything.
"""

import importlib

from mrkit.errors import UsageError

EXTRAS = {
    "experiments": ("pandas", "tqdm", "matplotlib", "seaborn"),
    "notebooks": ("papermill", "nbformat", "nbclient", "nbconvert", "ipykernel", "ipywidgets"),
    "aws": ("boto3",),
    "dask": ("distributed",),
}
# Modules the extras bring in with them, which a command can miss as well.
EXTRA_OF_MODULE = {
    **{m: extra for extra, modules in EXTRAS.items() for m in modules},
    "numpy": "experiments",
    "botocore": "aws",
    "jupyterlab": "notebooks",
    "dask": "dask",
}


def missing(module):
    """The one-line message for a module an extra installs, or None when no extra installs it."""
    top = (module or "").partition(".")[0]
    extra = EXTRA_OF_MODULE.get(top)
    if extra is None:
        return None
    return f"this needs {top}, which is not installed here: pip install 'mrkit[{extra}]' (make setup installs every extra)"


def require(*extras):
    """Import every module of the named extras; UsageError naming the pip command for the first one missing."""
    for extra in extras:
        for module in EXTRAS[extra]:
            try:
                importlib.import_module(module)
            except ModuleNotFoundError as exc:
                message = missing(exc.name)
                if message is None:
                    raise
                raise UsageError(message) from None

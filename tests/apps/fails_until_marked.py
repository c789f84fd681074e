"""Test app: word count whose map raises until the file `marker` exists (a job that fails, then succeeds)."""

import os

from mrkit.apps import wc

combine, reduce = wc.combine, wc.reduce
_options = {"marker": None}


def configure(marker):
    _options.update(marker=marker)


def map(filename, contents):
    if not os.path.exists(_options["marker"]):
        raise RuntimeError("not yet")
    return wc.map(filename, contents)

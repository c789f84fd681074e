"""Test app: every map call kills its worker process (os._exit), as a segfaulting library would."""

import os


def map(filename, contents):
    os._exit(3)


def reduce(key, values):
    return str(len(values))

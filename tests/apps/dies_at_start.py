"""Test app: a worker process that loads it dies at once, before asking for work.

As a worker whose image lacks one of the app's dependencies would: the
master never hands out an attempt, so only the launcher can end the job.
The launcher loads the app too (to check it), so only `mrkit worker` dies.
"""

import os
import sys

if sys.argv[1:2] == ["worker"]:
    os._exit(4)


def map(filename, contents):
    return [("x", "1")]


def reduce(key, values):
    return str(len(values))

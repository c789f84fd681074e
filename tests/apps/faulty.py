"""Test app: word count with one fault, chosen by `--app-opt fault=KIND`.

KIND: exit (os._exit(1) in every map), sysexit (sys.exit(3) in every map),
loop (map never returns), reduce_exit (os._exit(1) in every reduce),
slow (each map sleeps `seconds`, default 3: longer than a short task timeout),
pause (the first reduce call drops `paused-<pid>` and sleeps `seconds`, so a
test can stop the process mid-reduce). Every map drops `pid-<pid>` first.
"""

import os
import sys
import time

from mrkit.apps import wc

_fault = {"kind": "", "seconds": 3.0}


def configure(fault="", seconds="3"):
    _fault.update(kind=fault, seconds=float(seconds))


def map(filename, contents):
    open(f"pid-{os.getpid()}", "w").close()
    kind = _fault["kind"]
    if kind == "exit":
        os._exit(1)
    if kind == "sysexit":
        sys.exit(3)
    if kind == "loop":
        while True:
            time.sleep(0.05)
    if kind == "slow":
        time.sleep(_fault["seconds"])
    return wc.map(filename, contents)


def reduce(key, values):
    kind = _fault["kind"]
    if kind == "reduce_exit":
        os._exit(1)
    if kind == "pause" and not _fault.get("paused"):
        _fault["paused"] = True
        open(f"paused-{os.getpid()}", "w").close()
        time.sleep(_fault["seconds"])
    return wc.reduce(key, values)

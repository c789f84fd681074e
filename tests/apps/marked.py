"""Test app: word count whose map first leaves a marker `started-<pid>` in `marker_dir`, then sleeps.

A test waits for a marker, so it knows which process is mid-map, then kills
or interrupts it. Options: marker_dir (required), sleep (seconds, default 1).
"""

import os
import time

from mrkit.apps import wc

combine, reduce = wc.combine, wc.reduce
_options = {"marker_dir": None, "sleep": 1.0}


def configure(marker_dir, sleep="1"):
    _options.update(marker_dir=marker_dir, sleep=float(sleep))


def map(filename, contents):
    with open(os.path.join(_options["marker_dir"], f"started-{os.getpid()}"), "a") as f:
        f.write(f"{filename}\n")
    time.sleep(_options["sleep"])
    return wc.map(filename, contents)

"""Test app: proves tasks run at the same time (the lab's mtiming/rtiming).

Each call drops a pid file, sleeps, and counts the pid files of live
processes (os.kill(pid, 0)). Map outputs `parallel-map <count>` per call;
reduce returns its own count.
"""

import glob
import os
import time


def _nparallel(phase):
    mine = f"mr-worker-{phase}-{os.getpid()}"
    with open(mine, "w") as f:
        f.write("x")
    time.sleep(1.0)
    alive = 0
    for name in glob.glob(f"mr-worker-{phase}-*"):
        try:
            os.kill(int(name.rsplit("-", 1)[1]), 0)
            alive += 1
        except (ProcessLookupError, ValueError):
            pass
    os.remove(mine)
    return alive


def map(filename, contents):
    return [("parallel-map", str(_nparallel("map"))), ("pid-map", str(os.getpid()))] + [(k, "1") for k in "abcdefghij"]


def reduce(key, values):
    if key in "abcdefghij":
        return str(_nparallel("reduce"))
    return " ".join(sorted(values))

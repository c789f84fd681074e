"""Test app: word count whose every map leaves processes behind, as a careless app would.

Each map starts `sleep 300` (a subprocess it never waits for) and, with
`--app-opt fork=1`, forks a copy of itself that sleeps 300 s too (with
`fork=return` the copy returns from map as the map does); with
`--app-opt daemon=1` it also starts a daemon (double fork and setsid: in a
session of its own, its parent gone at once) that sleeps 300 s. It records
`worker-<pid>` for the process running the map and `child-<pid>` for each
process it started, in the worker's directory, so a test can check that none
of them outlives the job. `--app-opt hold=S` makes each map then wait S
seconds, so a test can stop the worker or the job mid-task.
"""

import os
import subprocess
import time

from mrkit.apps import wc

combine, reduce = wc.combine, wc.reduce

_options = {"fork": "0", "daemon": False, "hold": 0.0}


def configure(fork="0", daemon="0", hold="0"):
    _options.update(fork=fork, daemon=daemon == "1", hold=float(hold))


def _record(kind, pid):
    # written under a temporary name, then renamed: a test never reads half a name
    with open(f".{kind}-{pid}.part", "w"):
        pass
    os.rename(f".{kind}-{pid}.part", f"{kind}-{pid}")


def _start_daemon():
    recorded, record = os.pipe()
    middle = os.fork()
    if middle == 0:
        os.setsid()
        if os.fork() == 0:
            _record("child", os.getpid())
            os.write(record, b"x")  # recorded before the map goes on
            time.sleep(300)
        os._exit(0)
    os.close(record)
    os.read(recorded, 1)
    os.close(recorded)
    os.waitpid(middle, 0)


def map(filename, contents):
    _record("worker", os.getpid())
    sleeper = subprocess.Popen(["sleep", "300"])
    _record("child", sleeper.pid)
    if _options["fork"] != "0":
        pid = os.fork()
        if pid == 0 and _options["fork"] != "return":  # the copy: it holds everything the worker held, and sleeps
            time.sleep(300)
            os._exit(0)
        if pid:
            _record("child", pid)
    if _options["daemon"]:
        _start_daemon()
    time.sleep(_options["hold"])
    return wc.map(filename, contents)

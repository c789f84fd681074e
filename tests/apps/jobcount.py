"""Test app: counts map calls through files, so each map must run exactly once."""

import glob
import os
import secrets
import time


def map(filename, contents):
    with open(f"mr-worker-jobcount-{os.getpid()}-{secrets.token_hex(4)}", "w") as f:
        f.write("x")
    time.sleep(0.2 + secrets.randbelow(300) / 1000)
    return [("a", "x")]


def reduce(key, values):
    return str(len(glob.glob("mr-worker-jobcount-*")))

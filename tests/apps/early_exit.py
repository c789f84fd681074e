"""Test app: some reduce keys take seconds, to catch processes that exit early."""

import time


def map(filename, contents):
    return [(filename, "1")]


def reduce(key, values):
    if key.endswith(("3.txt", "5.txt")):
        time.sleep(2)
    return str(len(values))

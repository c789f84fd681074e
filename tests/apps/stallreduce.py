"""Test app: word count whose reduce stalls with its output file open, so a test can kill the worker writing it."""

import time

from mrkit.apps import wc

map, combine = wc.map, wc.combine


def reduce(key, values):
    time.sleep(3600)
    return wc.reduce(key, values)

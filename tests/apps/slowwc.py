"""Test app: word count that takes half a second per map call, so a test can kill a worker mid-job."""

import time

from mrkit.apps import wc

combine, reduce = wc.combine, wc.reduce


def map(filename, contents):
    time.sleep(0.5)
    return wc.map(filename, contents)

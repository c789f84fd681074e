"""nocrash's job, but a third of map/reduce calls kill the process and a third stall.

Randomness comes from the OS, not a seed, so restarted workers crash
differently each time, as in the lab's crash test.
"""

import os
import secrets
import time

from mrkit.apps import nocrash


def _maybe_crash():
    roll = secrets.randbelow(1000)
    if roll < 330:
        os._exit(1)
    elif roll < 660:
        time.sleep(secrets.randbelow(10_000) / 1000)


def map(filename, contents):
    _maybe_crash()
    return nocrash.map(filename, contents)


def reduce(key, values):
    _maybe_crash()
    return nocrash.reduce(key, values)

"""Test app: word count whose first map call of the whole job stalls for `stall` seconds (default 20).

The first call leaves `first` in `marker_dir`, so every later call (a backup
of the same task included) runs at once: a test of backups past the timeout.
"""

import os
import time

from mrkit.apps import wc

combine, reduce = wc.combine, wc.reduce
_options = {"marker_dir": None, "stall": 20.0}


def configure(marker_dir, stall="20"):
    _options.update(marker_dir=marker_dir, stall=float(stall))


def map(filename, contents):
    try:
        os.close(os.open(os.path.join(_options["marker_dir"], "first"), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        time.sleep(_options["stall"])
    except FileExistsError:
        pass
    return wc.map(filename, contents)

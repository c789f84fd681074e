"""The sequential reference: every input through map, sort, group, reduce, one output.

It deliberately takes the plain path (map, no combiner, no fast hook), so the
distributed runs, which do take those, are checked against the simplest
reading of the app.
"""

import contextlib
import errno
from itertools import groupby
from operator import itemgetter

from mrkit import contract, shuffle
from mrkit.errors import JobFailed, MrkitError, directory_in_the_way, disk_problem, one_line
from mrkit.storage.local import LocalStorage


def run_sequential(app, inputs, out_dir=".", out_name="mr-out-0"):
    """Write `out_name` in out_dir with one `key value` line per key, keys sorted.

    An app that raises fails it with JobFailed, one line naming the call, as `mrkit run` names the task.
    """
    storage = LocalStorage(out_dir)
    if out_name in storage.directories(out_name):  # before the work, not after it
        raise directory_in_the_way(storage.path(out_name))
    pairs = []
    for item in inputs:
        with open(item.location, "rb") as f:
            contents = f.read().decode("utf-8", "replace")
        with _the_app_failing(f"map of {item.path}"):
            emitted = list(contract.emitted(app.map(item.path, contents), "map", item.path))
        contract.check_pairs(emitted, "map", item.path)  # before sorting, which would fail on a mix of types
        pairs.extend(emitted)
    pairs.sort(key=itemgetter(0))
    try:
        with storage.atomic_writer(out_name) as out:
            for key, group in groupby(pairs, key=itemgetter(0)):
                values = [value for _, value in group]
                with _the_app_failing(f"reduce of key {key[:40]!r}"):
                    result = app.reduce(key, values)
                contract.check_reduced(key, result)
                out.write(shuffle.encode_output([(key, result)]))
    except OSError as exc:
        if exc.errno == errno.EISDIR:
            raise directory_in_the_way(storage.path(out_name)) from None
        raise disk_problem(exc, storage.root) or exc from None
    return storage.path(out_name)


@contextlib.contextmanager
def _the_app_failing(call):
    try:
        yield
    except MrkitError:  # the app broke its contract: the line says where already
        raise
    except (Exception, SystemExit) as exc:
        raise JobFailed(f"{call}: {one_line(exc)}") from exc

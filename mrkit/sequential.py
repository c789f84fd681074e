"""The sequential reference: every input through map, sort, group, reduce, one output.

It deliberately takes the plain path (map, no combiner, no fast hook), so the
distributed runs, which do take those, are checked against the simplest
reading of the app.
"""

from itertools import groupby
from operator import itemgetter

from mrkit import contract, shuffle
from mrkit.storage.local import LocalStorage


def run_sequential(app, inputs, out_dir=".", out_name="mr-out-0"):
    """Write `out_name` in out_dir with one `key value` line per key, keys sorted."""
    pairs = []
    for item in inputs:
        with open(item.location, "rb") as f:
            contents = f.read().decode("utf-8", "replace")
        emitted = list(app.map(item.path, contents))
        contract.check_pairs(emitted, "map", item.path)  # before sorting, which would fail on a mix of types
        pairs.extend(emitted)
    pairs.sort(key=itemgetter(0))
    storage = LocalStorage(out_dir)
    with storage.atomic_writer(out_name) as out:
        for key, group in groupby(pairs, key=itemgetter(0)):
            values = [value for _, value in group]
            result = app.reduce(key, values)
            contract.check_reduced(key, result)
            out.write(shuffle.encode_output([(key, result)]))
    return storage.path(out_name)

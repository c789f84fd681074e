"""Checking a job's output against the sequential reference, key by key.

The ECS assignment's check, for any app and any storage: run the app
sequentially on the local inputs, read the job's `mr-out-*`, and count the
unique keys, the keys missing from the output (a split that cut a word loses
it), the extra ones (the halves of a cut word), and those whose value differs.
An output line is `key value`; the key is what comes before the first space.
"""

import tempfile
from dataclasses import dataclass

from mrkit.sequential import run_sequential
from mrkit.storage.local import LocalStorage

EXAMPLES = 3


@dataclass
class Verification:
    expected: int     # unique keys in the sequential output
    found: int        # unique keys in the job's output
    missing: list     # keys only the sequential output has
    extra: list       # keys only the job's output has
    different: list   # keys in both, with different values

    @property
    def ok(self):
        return not (self.missing or self.extra or self.different)

    def line(self):
        counts = (f"{self.expected:,} unique keys expected, {self.found:,} found; missing {len(self.missing)}, "
                  f"extra {len(self.extra)}, different {len(self.different)}")
        if self.ok:
            return f"verify: {counts}: equal to the sequential run"
        examples = ", ".join(repr(k) for k in (self.missing + self.extra + self.different)[:EXAMPLES])
        return f"verify: {counts}: NOT equal to the sequential run (e.g. {examples})"


def read_outputs(storage):
    """{key: value} from every mr-out-* in `storage`."""
    result = {}
    for name in storage.list("mr-out-"):
        with storage.open_lines(name) as lines:
            for line in lines:
                key, _, value = line.rstrip("\n").partition(" ")
                result[key] = value
    return result


def reference(app, inputs):
    """{key: value} of the app run sequentially on local `inputs` (job.Input)."""
    with tempfile.TemporaryDirectory(prefix="mrkit-verify-") as directory:
        run_sequential(app, inputs, out_dir=directory)
        return read_outputs(LocalStorage(directory))


def compare(expected, found):
    both = expected.keys() & found.keys()
    return Verification(
        expected=len(expected), found=len(found),
        missing=sorted(expected.keys() - found.keys()), extra=sorted(found.keys() - expected.keys()),
        different=sorted(k for k in both if expected[k] != found[k]),
    )


def verify(app, inputs, storage):
    """Compare the job's outputs in `storage` with the sequential run of `app` on `inputs`."""
    return compare(reference(app, inputs), read_outputs(storage))

"""Checking a job's output against the sequential reference, key by key.

The ECS assignment's check, for any app and any storage: run the app
sequentially on the local inputs, read the job's `mr-out-*`, and count the
unique keys, the keys missing from the output (a split that cut a word loses
it), the extra ones (the halves of a cut word), and those whose value differs.
An output line is `key value`, read as the lab reads it: the key is what comes
before the first space, the value the rest (indexer's and crash's values hold
spaces). A key that itself holds a space (grep's lines) is therefore read as
its first word, the rest joining the value; a key's lines are compared as the
set of their values, so the check stays exact line for line all the same.
This module is the one reader of `mr-out-*` (`output_pairs`) and the one
checker (`compare`); the report, the demo and the benchmark use them.
"""

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass

from mrkit.sequential import run_sequential
from mrkit.storage.local import LocalStorage

EXAMPLES = 3
# A verified sweep run's columns in runs.csv: unique keys expected and found, and how the output differed.
VERIFY_COLUMNS = ["verify_expected", "verify_found", "verify_missing", "verify_extra", "verify_different", "verify_duplicate"]


@dataclass
class Verification:
    expected: int  # unique keys in the sequential output
    found: int  # unique keys in the job's output
    missing: list  # keys only the sequential output has
    extra: list  # keys only the job's output has
    different: list  # keys in both, with different values
    duplicate: int = 0  # output lines that repeat an earlier line (e.g. two reducers wrote it)

    @property
    def ok(self):
        return not (self.missing or self.extra or self.different or self.duplicate)

    def columns(self):
        """The counts as a verified sweep run records them ({VERIFY_COLUMNS name: count})."""
        counts = (self.expected, self.found, len(self.missing), len(self.extra), len(self.different), self.duplicate)
        return dict(zip(VERIFY_COLUMNS, counts))

    def line(self):
        counts = (
            f"{self.expected:,} unique keys expected, {self.found:,} found; missing {len(self.missing)}, "
            f"extra {len(self.extra)}, different {len(self.different)}"
        )
        if self.duplicate:
            counts += f", emitted twice {self.duplicate}"
        if self.ok:
            return f"verify: {counts}: equal to the sequential run"
        examples = ", ".join(repr(k) for k in (self.missing + self.extra + self.different)[:EXAMPLES])
        return f"verify: {counts}: NOT equal to the sequential run (e.g. {examples})"


def output_pairs(source):
    """(key, value) for every line of every `mr-out-*`, in name order; duplicates kept.

    The one reader of a job's outputs: `source` is a Storage or a local directory.
    A line is `key value`, split at the first space (a line without one is a key
    with an empty value).
    """
    storage = LocalStorage(source) if isinstance(source, (str, os.PathLike)) else source
    for name in storage.list("mr-out-"):
        with storage.open_lines(name) as lines:
            for line in lines:
                key, _, value = line.rstrip("\n").partition(" ")
                yield key, value


def read_outputs(source):
    """{key: value} from every mr-out-* in `source` (a Storage or a directory); the first line of a key wins."""
    return _unique(output_pairs(source))[0]


def _unique(pairs):
    """({key: value} keeping each key's first value, how many later lines repeated a key)."""
    result, duplicate = {}, 0
    for key, value in pairs:
        if key in result:
            duplicate += 1
        else:
            result[key] = value
    return result, duplicate


def reference(app, inputs):
    """The (key, value) pairs of the app run sequentially on local `inputs` (job.Input), as `output_pairs` reads them."""
    with tempfile.TemporaryDirectory(prefix="mrkit-verify-") as directory:
        run_sequential(app, inputs, out_dir=directory)
        return list(output_pairs(LocalStorage(directory)))


def compare(expected, found):
    """The one output check: missing, extra, different and repeated keys of `found` against `expected`.

    Each side is a mapping of key -> value or an iterable of (key, value) pairs (as
    `output_pairs` yields; lines of `found` that repeat an earlier one are counted).
    Keys and values compare as text, values stripped: "3" read from a file equals 3
    from a Counter; a key read from several lines compares the set of their values.
    """
    expected, _ = _as_text(expected)
    found, duplicate = _as_text(found)
    both = expected.keys() & found.keys()
    return Verification(
        expected=len(expected),
        found=len(found),
        missing=sorted(expected.keys() - found.keys()),
        extra=sorted(found.keys() - expected.keys()),
        different=sorted(k for k in both if expected[k] != found[k]),
        duplicate=duplicate,
    )


def _as_text(side):
    """({key: its distinct values, sorted}, how many lines repeat an earlier one), all as stripped text.

    Several values of one key are lines whose keys share a first word (keys with spaces): they
    compare as a set, so a job's output must hold exactly the reference's lines.
    """
    pairs = side.items() if isinstance(side, Mapping) else side
    values, seen, repeated = {}, set(), 0
    for key, value in pairs:
        pair = (str(key), str(value).strip())
        if pair in seen:
            repeated += 1
            continue
        seen.add(pair)
        values.setdefault(pair[0], []).append(pair[1])
    return {key: sorted(found) for key, found in values.items()}, repeated


def verify(app, inputs, storage):
    """Compare the job's outputs in `storage` with the sequential run of `app` on `inputs`."""
    return compare(reference(app, inputs), output_pairs(storage))

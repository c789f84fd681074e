"""Reading a reduce's intermediate files with a bounded number of them open.

A reduce over M map tasks reads up to M files. Opening them all at once
runs into the file-descriptor limit (`ulimit -n`, often 1024 or 256) and, on
S3, holds one HTTP connection per file. Here no more than `MAX_OPEN_FILES`
inputs are ever open at once (plus the one file being written):

- `one_at_a_time` hands files over in turn, for a reader that consumes each
  whole before asking for the next (the in-memory sort);
- `bounded_files` merges in rounds, as an external merge sort does, when
  there are more files than that: batches of files are merged into sorted
  run files in the same storage, then the runs are merged, until few enough
  remain to open together. Merging raw lines is associative, so the lines
  come out exactly as one merge of every file would yield them.

Run files have hidden names (`.mr-run-....tmp`: storage.base.temporary_name,
like the storage's atomic-writer temporaries), so `mr-*` globs and
`Storage.list` never show them, and each attempt's names are its own, so
duplicate attempts of one reduce never share a run. They are removed when
the reduce ends, whether it succeeds or raises.
"""

import heapq
import secrets
from contextlib import ExitStack, contextmanager
from itertools import islice

from mrkit.storage.base import temporary_name

# Inputs a reduce holds open at once: far below the usual `ulimit -n` of 256
# or 1024, and S3Storage's pool of 64 connections.
MAX_OPEN_FILES = 64

_WRITE_LINES = 8192  # lines joined per write while merging into a run file


def one_at_a_time(storage, names):
    """Each file of `names` open in turn; the previous one is closed when the next is asked for."""
    for name in names:
        with storage.open_lines(name) as lines:
            yield lines


def run_name(label, attempt, round_, index):
    """The hidden name of one run file: never matched by `mr-*`, never listed."""
    return temporary_name(f"mr-run-{label}-{attempt}", f"{round_}-{index}")


@contextmanager
def bounded_files(storage, names, label="reduce", fan_in=None):
    """Open line iterables whose merge is the merge of every file in `names`: at most `fan_in` of them.

    With more names than `fan_in` (default `MAX_OPEN_FILES`), the files are
    first merged in rounds into run files in `storage`; every run file is
    removed when the block ends, also when it raises.
    """
    fan_in = max(2, fan_in or MAX_OPEN_FILES)
    attempt = secrets.token_hex(4)  # duplicate attempts of one reduce never write the same run
    runs = set()  # run files that exist now
    try:
        names = list(names)
        round_ = 0
        while len(names) > fan_in:
            names = _merge_round(storage, names, fan_in, lambda i, round_=round_: run_name(label, attempt, round_, i), runs)
            round_ += 1
        with ExitStack() as stack:
            yield [stack.enter_context(storage.open_lines(name)) for name in names]
    except BaseException:
        _remove(storage, runs, quietly=True)  # the reduce's own error is the one to report
        raise
    _remove(storage, runs)


def _merge_round(storage, names, fan_in, name_of, runs):
    """Merge `names` in batches of at most `fan_in` into runs `name_of(0)`, `name_of(1)`, ...

    Returns the runs' names. Runs of the previous round are removed as soon
    as they are merged, so the extra storage a reduce needs stays about one
    copy of its input.
    """
    n_batches = -(-len(names) // fan_in)
    size = -(-len(names) // n_batches)  # even batches: 65 files make 33 + 32, not 64 + 1
    merged = []
    for index, start in enumerate(range(0, len(names), size)):
        batch = names[start : start + size]
        run = name_of(index)
        runs.add(run)  # before writing: a failed write leaves nothing, but is still cleaned up after
        _merge_into(storage, batch, run)
        merged.append(run)
        done = runs.intersection(batch)
        _remove(storage, done)
        runs -= done
    return merged


def _merge_into(storage, names, run):
    """Write the merged lines of `names` to `run`, through the storage's atomic writer."""
    with ExitStack() as stack:
        files = [stack.enter_context(storage.open_lines(name)) for name in names]
        lines = heapq.merge(*files)
        with storage.atomic_writer(run) as out:
            while chunk := "".join(islice(lines, _WRITE_LINES)):
                # surrogatepass: the same encoding the map side wrote the lines with
                out.write(chunk.encode("utf-8", "surrogatepass"))


def _remove(storage, names, quietly=False):
    for name in names:
        try:
            storage.remove(name)
        except Exception:
            if not quietly:
                raise

"""Partitioning, intermediate files, and the streaming merge on the reduce side.

Intermediate file `mr-<map>-<reduce>` holds one `key<TAB>value` line per
record, lines sorted; a backslash, tab or newline inside a field is escaped.
The reduce side merges its files with heapq.merge, so it holds one key group
at a time, not the partition; a partition small enough to hold is read whole
and sorted instead (`sorted_groups`), which is faster and yields the same.
Keys come out in the order of their lines, which is plain string order unless
a key holds a backslash, tab, newline or a control character below tab.
"""

import heapq
import re
import zlib
from itertools import compress, groupby, islice
from operator import itemgetter, methodcaller, ne

from mrkit.errors import AppError


def intermediate_name(map_task, reduce_task):
    return f"mr-{map_task}-{reduce_task}"


def output_name(reduce_task):
    return f"mr-out-{reduce_task}"


def encode_output(pairs):
    """The `key value` lines of an output file for (key, reduce result) pairs, as UTF-8.

    One line per key is the output's contract, so a newline in a key or a
    result is the app's bug: AppError names it. Checked once per batch, in C.
    """
    text = "".join([f"{key} {result}\n" for key, result in pairs])
    if text.count("\n") != len(pairs):
        key, result = next((k, r) for k, r in pairs if "\n" in k or "\n" in r)
        part = f"key {key!r}" if "\n" in key else f"result {result!r} for key {key!r}"
        raise AppError(
            f"reduce's {part} holds a newline: an output line is `key value`, one per key, "
            "so keys and results must not contain one"
        )
    return text.encode("utf-8", "surrogatepass")


def partition(key, n_reduce):
    """A stable partition: CRC32 of the key's UTF-8 bytes mod n_reduce (never the salted hash())."""
    return zlib.crc32(key.encode("utf-8", "surrogatepass")) % n_reduce


_ESCAPES = {"\\": "\\\\", "\t": "\\t", "\n": "\\n"}
_UNESCAPES = {"\\\\": "\\", "\\t": "\t", "\\n": "\n"}
_ESCAPED = re.compile(r"\\[\\tn]")
_UNSAFE = re.compile(r"[\\\t\n]")


def _escape(text):
    return "".join(_ESCAPES.get(ch, ch) for ch in text) if _UNSAFE.search(text) else text


def _unescape(text):
    if "\\" in text:
        return _ESCAPED.sub(lambda m: _UNESCAPES[m.group()], text)
    return text


def group(pairs, combine=None):
    """key -> list of values, in emission order, combined per key when a combiner is given."""
    grouped = {}
    for key, value in pairs:
        values = grouped.get(key)
        if values is None:
            grouped[key] = [value]
        else:
            values.append(value)
    if combine is not None:
        grouped = combine_groups(grouped, combine)
    return grouped


def combine_groups(grouped, combine):
    """key -> the list combine(key, values) returns, for every key of a key -> values mapping."""
    return {key: list(combine(key, values)) for key, values in grouped.items()}


def split_partitions(grouped, n_reduce):
    """Distribute a key -> values mapping over n_reduce buckets."""
    buckets = [{} for _ in range(n_reduce)]
    crc32 = zlib.crc32
    for key, values in grouped.items():
        buckets[crc32(key.encode("utf-8", "surrogatepass")) % n_reduce][key] = values
    return buckets


def encode_partition(bucket):
    """The intermediate file for one bucket, its lines sorted, and its record count.

    Lines are built unescaped and checked once, as a whole: they need escaping
    only if they hold a backslash, or more tabs or newlines than one of each
    per line, and almost no real key or value contains either.
    """
    lines = [f"{key}\t{value!s}\n" for key, values in bucket.items() for value in values]
    lines.sort()
    text = "".join(lines)
    if "\\" in text or text.count("\t") != len(lines) or text.count("\n") != len(lines):
        lines = sorted(f"{_escape(key)}\t{_escape(str(value))}\n" for key, values in bucket.items() for value in values)
        text = "".join(lines)
    return text.encode("utf-8", "surrogatepass"), len(lines)


_strip_newline = methodcaller("rstrip", "\n")
_split_record = methodcaller("split", "\t", 1)


def merge_groups(files):
    """(key, values) over intermediate files (iterables of lines), one key group at a time.

    Files are merged as raw lines, compared in C. That groups keys exactly:
    a key never holds a raw tab, so any line between two lines of key k
    starts with "k<TAB>" too. Parsing is a chain of C-level maps (a value
    never ends in a raw newline, so rstrip removes only the line end), and
    escapes are undone once per group.
    """
    records = map(_split_record, map(_strip_newline, heapq.merge(*files)))
    for key, group in groupby(records, key=itemgetter(0)):
        values = [value for _, value in group]
        if "\\" in key:
            key = _unescape(key)
        if any("\\" in value for value in values):
            values = [_unescape(value) for value in values]
        yield key, values


def sorted_groups(files):
    """What merge_groups yields, but from the files read whole: for partitions that fit in memory.

    Sorting all lines at once merges the sorted files in C (timsort finds the
    runs), and one split of the joined text parses every record, since each
    line holds exactly one raw tab and ends in the one raw newline. Group
    boundaries are where a key differs from the one before, found in C too.
    """
    lines = []
    for f in files:
        lines.extend(f)
    if not lines:
        return
    lines.sort()
    text = "".join(lines)
    del lines  # peak memory: the partition is held as one text, then as its fields
    fields = text.replace("\n", "\t").split("\t")  # key, value, key, value, ..., ""
    keys, values = fields[0:-1:2], fields[1::2]
    del fields
    if "\\" in text:
        keys, values = list(map(_unescape, keys)), list(map(_unescape, values))
    starts = [0, *compress(range(1, len(keys)), map(ne, keys, islice(keys, 1, None))), len(keys)]
    for start, end in zip(starts, islice(starts, 1, None)):
        yield keys[start], values[start:end]

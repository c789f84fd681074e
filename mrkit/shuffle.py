"""Partitioning, intermediate files, and the streaming merge on the reduce side.

Intermediate file `mr-<map>-<reduce>` holds one `key<TAB>value` line per
record, lines sorted; a backslash, tab or newline inside a field is escaped.
The reduce side merges its files with heapq.merge, so it holds one key group
at a time, not the partition. Keys come out in the order of their lines,
which is plain string order unless a key holds a backslash, tab, newline or
a control character below tab.
"""

import heapq
from itertools import groupby
from operator import itemgetter, methodcaller
import re
import zlib


def intermediate_name(map_task, reduce_task):
    return f"mr-{map_task}-{reduce_task}"


def output_name(reduce_task):
    return f"mr-out-{reduce_task}"


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
        grouped = {key: list(combine(key, values)) for key, values in grouped.items()}
    return grouped


def split_partitions(grouped, n_reduce):
    """Distribute a key -> values mapping over n_reduce buckets."""
    buckets = [{} for _ in range(n_reduce)]
    crc32 = zlib.crc32
    for key, values in grouped.items():
        buckets[crc32(key.encode("utf-8", "surrogatepass")) % n_reduce][key] = values
    return buckets


def encode_partition(bucket):
    """The intermediate file for one bucket, its lines sorted, and its record count.

    Escaping is checked once over all keys and values, not field by field:
    almost no real key or value contains a backslash, tab or newline.
    """
    keys = list(bucket)
    values = [[str(v) for v in bucket[key]] for key in keys]
    if _UNSAFE.search("".join(keys)) or _UNSAFE.search("".join(v for group in values for v in group)):
        keys = [_escape(k) for k in keys]
        values = [[_escape(v) for v in group] for group in values]
    lines = [f"{key}\t{value}\n" for key, group in zip(keys, values) for value in group]
    lines.sort()
    return "".join(lines).encode("utf-8", "surrogatepass"), len(lines)


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

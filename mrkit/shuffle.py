"""Partitioning, intermediate files, and the streaming merge on the reduce side.

Intermediate file `mr-<map>-<reduce>` holds one `key<TAB>value` line per
record, sorted by key; a backslash, tab or newline inside a field is escaped.
The reduce side merges its files with heapq.merge, so it holds one key group
at a time, not the partition.
"""

import heapq
from itertools import groupby
from operator import itemgetter
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
    """The sorted intermediate file for one bucket, and its record count.

    Escaping is checked once over all keys and values, not field by field:
    almost no real key or value contains a backslash, tab or newline.
    """
    keys = sorted(bucket)
    groups = [[str(v) for v in bucket[key]] for key in keys]
    flat = [v for group in groups for v in group]
    if _UNSAFE.search("".join(keys)) or _UNSAFE.search("".join(flat)):
        keys = [_escape(k) for k in keys]
        groups = [[_escape(v) for v in group] for group in groups]
    text = "".join([f"{key}\t{value}\n" for key, group in zip(keys, groups) for value in group])
    return text.encode("utf-8", "surrogatepass"), len(flat)


def read_records(lines):
    """(key, value) pairs from an open intermediate file."""
    for line in lines:
        key, _, value = line[:-1].partition("\t")
        yield _unescape(key), _unescape(value)


def merge_groups(streams):
    """(key, values) in key order over several sorted record streams."""
    merged = heapq.merge(*streams, key=itemgetter(0))
    for key, records in groupby(merged, key=itemgetter(0)):
        yield key, [value for _, value in records]

"""Cutting inputs into map tasks.

By default each input file is one map task (the lab's rule). With n_map = M
the inputs, taken as one stream, are cut into M pieces of near-equal size; a
cut moves forward to the next line break if one is within LINE_WINDOW bytes
(so line-based apps such as grep see whole lines), otherwise to the next
whitespace byte, so no word is ever cut. A piece never spans two files: a task
is a list of splits, and map is called once per split with the file's path.

Each input is pinned as it is split: its version (`Storage.version`: size,
modification time and inode locally, the ETag on S3) goes with every split,
and a map task reads its split only if the input still has that version
(`Storage.read_pinned`), so a job never runs on data other than what it split.
"""

import re
from dataclasses import dataclass

from mrkit.errors import InputChanged

LINE_WINDOW = 64 * 1024
_BLOCK = 64 * 1024
_WHITESPACE = re.compile(rb"[ \t\n\r\x0b\x0c]")


@dataclass(frozen=True)
class Split:
    path: str  # as the user gave it: what map receives
    location: str  # where it is read from
    start: int
    end: int
    version: str = ""  # the input's version when it was split ("": not pinned)

    def as_list(self):
        return [self.path, self.location, self.start, self.end, self.version]


def _boundary(storage, location, pos, size):
    """The first offset >= pos just after a line break (nearby) or a whitespace byte."""
    window = storage.read_range(location, pos, min(pos + LINE_WINDOW, size))
    newline = window.find(b"\n")
    if newline >= 0:
        return pos + newline + 1
    offset, block = pos, window
    while block:
        match = _WHITESPACE.search(block)
        if match:
            return offset + match.end()
        offset += len(block)
        block = storage.read_range(location, offset, min(offset + _BLOCK, size))
    return size


def plan(inputs, n_map, storage):
    """Map tasks as lists of Splits: one per input (n_map None), or n_map of near-equal size.

    `storage` reads the bytes around each cut (a ranged GET on S3); inputs
    are located in it by their `location`. Every input is pinned first; one
    whose size is no longer the one staged raises InputChanged.
    """
    versions = pin(inputs, storage)
    if n_map is None:
        return [[Split(i.path, i.location, 0, i.size, versions[i.location])] for i in inputs]
    total = sum(i.size for i in inputs)
    targets = [total * k // n_map for k in range(1, n_map)]
    tasks = [[] for _ in range(n_map)]
    task = 0
    offset = 0  # where the current file starts in the combined stream
    for item in inputs:
        start = 0
        while task < n_map - 1 and targets[task] < offset + item.size:
            local = targets[task] - offset
            if local > start:
                cut = _boundary(storage, item.location, local, item.size)
                tasks[task].append(Split(item.path, item.location, start, cut, versions[item.location]))
                start = cut
            task += 1
        if start < item.size or item.size == 0:
            tasks[task].append(Split(item.path, item.location, start, item.size, versions[item.location]))
        offset += item.size
    return tasks


def pin(inputs, storage):
    """{location: version} of every input, checked against the size it was staged with."""
    found = storage.versions([i.location for i in inputs])
    for item in inputs:
        size, _ = found[item.location]
        if size != item.size:
            raise InputChanged(
                f"input {item.path!r} changed before the job split it ({item.size:,} bytes when "
                f"staged, {size:,} now): run the job on inputs that stay put while it runs"
            )
    return {location: version for location, (_, version) in found.items()}

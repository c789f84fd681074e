"""Where a sweep's runs keep their job files, and which filesystem holds them.

Each run writes its M x R intermediate files and R outputs into a fresh
directory, removed when the run ends. On a disk filesystem, creating a file
can cost what the files removed before it left behind: on the machine this
project is measured on (ext4 without a journal, whose inode allocator passes
over inodes removed in the last minute or more), one creation took 20-40 us
of CPU after a quiet minute and up to 0.5 ms after a minute of a sweep's own
create-and-remove churn. At M x R = 5,000 that doubled a run's map CPU, so a
run's time depended on the runs before it, whatever their order
(docs/model-validation.md has the measurement). A RAM-backed filesystem keeps
no such memory (16 us a file, whatever ran before), so a sweep's runs go to
one when the machine has one with room for them.

`choose` says where, in this order: the directory the caller names; the
system temp directory when the user set TMPDIR (their choice: a disk, say);
the first of RAM_DIRS that is RAM-backed, writable and has room; else the
system temp directory. `filesystem` names the filesystem type of a directory
(runs.csv's `scratch_fs`), from /proc/mounts; None where it cannot be told.
"""

from __future__ import annotations

import functools
import os
import re

from mrkit.job import resolve_inputs

RAM_DIRS = ("/dev/shm",)
RAM_FILESYSTEMS = {"tmpfs", "ramfs"}
# Room a run needs: its intermediate files are about its input's size, its outputs less, and a failed attempt's
# leftovers may be there until it is cleared; the floor keeps a small sweep off a container's 64 MB /dev/shm.
ROOM_PER_INPUT_BYTE = 4
MIN_ROOM = 256 << 20


def choose(scratch, input_bytes: int) -> str | None:
    """The parent directory of a sweep's per-run job directories (None: the system temp directory)."""
    if scratch is not None:
        return os.fspath(scratch)
    if os.environ.get("TMPDIR"):
        return None
    need = max(MIN_ROOM, ROOM_PER_INPUT_BYTE * input_bytes)
    for directory in RAM_DIRS:
        if filesystem(directory) in RAM_FILESYSTEMS and os.access(directory, os.W_OK | os.X_OK) and _room(directory) >= need:
            return directory
    return None


def local_bytes(paths) -> int:
    """The bytes of a sweep's local inputs, the files a job reads of them (mrkit.job.resolve_inputs); s3:// count 0."""
    local = [path for path in paths if "://" not in os.fspath(path)]
    return sum(given.size for given in resolve_inputs(local)) if local else 0


def _room(directory) -> int:
    try:
        stat = os.statvfs(directory)
    except OSError:
        return 0
    return stat.f_bavail * stat.f_frsize


def filesystem(path) -> str | None:
    """The type of the filesystem holding `path` ('tmpfs', 'ext4', ...): the longest mount point above it."""
    path = os.path.realpath(path)
    best, kind = "", None
    for mount_point, fs_type in _mounts():
        inside = path == mount_point or path.startswith(mount_point.rstrip("/") + "/")
        if inside and len(mount_point) >= len(best):  # a later mount over the same point hides the earlier
            best, kind = mount_point, fs_type
    return kind


@functools.lru_cache(maxsize=1)
def _mounts() -> tuple[tuple[str, str], ...]:
    """(mount point, filesystem type) of this process's mounts, in mount order; none where /proc is not there."""
    try:
        with open("/proc/self/mounts", encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError:
        return ()
    # fields: device, mount point (a space written as \040), type, options, ...
    return tuple((_OCTAL.sub(_unescape, fields[1]), fields[2]) for fields in map(str.split, lines) if len(fields) >= 3)


_OCTAL = re.compile(r"\\([0-7]{3})")


def _unescape(match):
    return chr(int(match.group(1), 8))

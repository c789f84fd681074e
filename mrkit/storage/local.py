"""A job's files in a local directory, every one written whole or not at all."""

import os
import tempfile
from contextlib import contextmanager

from mrkit.storage.base import Storage, is_temporary


class LocalStorage(Storage):
    """Files under `root`; relative names resolve against it, absolute ones stand."""

    def __init__(self, root="."):
        self.root = os.path.abspath(root)

    @property
    def url(self):
        return self.root

    def path(self, name):
        return os.path.join(self.root, name)

    def size(self, name):
        return os.path.getsize(self.path(name))

    def exists(self, name):
        return os.path.exists(self.path(name))

    def read_range(self, name, start, end):
        if end <= start:  # f.read(negative) would read the whole file
            return b""
        with open(self.path(name), "rb") as f:
            f.seek(start)
            return f.read(end - start)

    def open_lines(self, name):
        """Text lines split on '\\n' only, so a stray '\\r' inside a record survives."""
        return open(self.path(name), encoding="utf-8", newline="\n")

    @contextmanager
    def atomic_writer(self, name):
        """A binary file that appears under `name` only if the block completes.

        The temporary file sits in the same directory so os.replace is atomic.
        """
        final = self.path(name)
        # Names may contain '/', as S3 keys do (e.g. inputs/a.txt).
        os.makedirs(os.path.dirname(final), exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(final)}.", suffix=".tmp", dir=os.path.dirname(final))
        try:
            with os.fdopen(fd, "wb", buffering=1 << 20) as f:
                yield f
            os.replace(tmp, final)
        except BaseException:
            os.unlink(tmp)
            raise

    def publish(self, temporary, name):
        os.replace(self.path(temporary), self.path(name))

    def remove(self, name):
        try:
            os.unlink(self.path(name))
        except FileNotFoundError:
            pass

    def list(self, prefix="", temporary=False):
        """Files whose relative name starts with `prefix`, like S3 keys.

        Only directories that could hold a match are entered, so listing
        "mr-" in a large working directory stays a single directory read.
        """
        names = []
        for top, dirs, files in os.walk(self.root):
            rel = os.path.relpath(top, self.root)
            rel = "" if rel == "." else rel.replace(os.sep, "/") + "/"
            dirs[:] = [d for d in dirs if _may_match(rel + d + "/", prefix)]
            names.extend(rel + f for f in files
                         if (rel + f).startswith(prefix) and is_temporary(f) == temporary)
        return sorted(names)


def _may_match(directory, prefix):
    """Whether names under `directory` (ending in '/') can start with `prefix`."""
    return directory.startswith(prefix) or prefix.startswith(directory)

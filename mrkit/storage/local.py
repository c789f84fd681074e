"""A job's files in a local directory, every one written whole or not at all."""

from contextlib import contextmanager
import os
import tempfile


class LocalStorage:
    """Files under `root`; relative names resolve against it, absolute ones stand."""

    def __init__(self, root="."):
        self.root = os.path.abspath(root)

    def path(self, name):
        return os.path.join(self.root, name)

    def size(self, name):
        return os.path.getsize(self.path(name))

    def exists(self, name):
        return os.path.exists(self.path(name))

    def read_range(self, name, start, end):
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
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(final)}.", suffix=".tmp", dir=os.path.dirname(final))
        try:
            with os.fdopen(fd, "wb", buffering=1 << 20) as f:
                yield f
            os.replace(tmp, final)
        except BaseException:
            os.unlink(tmp)
            raise

    def write_bytes(self, name, data):
        with self.atomic_writer(name) as f:
            f.write(data)

    def remove(self, name):
        try:
            os.unlink(self.path(name))
        except FileNotFoundError:
            pass

    def list(self, prefix=""):
        return sorted(n for n in os.listdir(self.root) if n.startswith(prefix))

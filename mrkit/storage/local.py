"""A job's files in a local directory, every one written whole or not at all.

`atomic_file` is mrkit's one temp-file-then-rename helper: the storage's
`atomic_writer`, mr-master.json, the sweep's results, the corpus and the
report all write through it.
"""

import os
import secrets
from contextlib import contextmanager

from mrkit.errors import disk_problem
from mrkit.storage.base import Storage, changed, check_length, is_temporary, temporary_name


@contextmanager
def atomic_file(path, *, mode=0o666, fsync=False, buffering=1 << 20):
    """A binary file that appears at `path` whole, and only if the block completes.

    It is written under a temporary name, `.<name>.<random>.tmp` (storage.base.temporary_name) in the same
    directory (so os.replace is atomic, and LocalStorage.list skips it), then
    renamed; if the block raises, the temporary file is removed. A full disk or a
    directory that cannot be written raises CannotWrite, naming the directory. `mode` goes
    through the umask as for open(): 0o666 is an ordinary file, 0o600 a private
    one. `fsync` flushes the data to disk before the rename (results that must
    survive a crash of the machine).
    """
    path = os.fspath(path)
    directory, name = os.path.split(os.path.abspath(path))
    tmp = os.path.join(directory, temporary_name(name, secrets.token_hex(6)))
    with _disk_problems_named(directory):
        os.makedirs(directory, exist_ok=True)  # names may contain '/', as S3 keys do (e.g. inputs/a.txt)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        try:
            with os.fdopen(fd, "wb", buffering=buffering) as f:
                yield f
                if fsync:
                    f.flush()
                    os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise


@contextmanager
def _disk_problems_named(directory):
    """A full disk or a read-only `directory` raises CannotWrite naming it, not a bare OSError."""
    try:
        yield
    except OSError as exc:
        problem = disk_problem(exc, directory)
        if problem is None:
            raise
        raise problem from None


def write_atomic(path, data, *, mode=0o666, fsync=False):
    """Write `data` (bytes, or str as UTF-8) to `path` whole or not at all (see `atomic_file`)."""
    with atomic_file(path, mode=mode, fsync=fsync) as f:
        f.write(data.encode("utf-8") if isinstance(data, str) else data)


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

    def version(self, name):
        return _version(os.stat(self.path(name)))

    def read_pinned(self, name, start, end, version):
        """One open file: its version before and after the read (fstat), and the read's length."""
        where = self.path(name)
        try:
            f = open(where, "rb")
        except FileNotFoundError:
            raise changed(where, "it is gone") from None
        with f:
            if _version(os.fstat(f.fileno()))[1] != version:
                raise changed(where, "it was modified")
            f.seek(start)
            data = f.read(max(0, end - start))
            if _version(os.fstat(f.fileno()))[1] != version:
                raise changed(where, "it was modified while read")
        return check_length(where, data, start, end)

    def read_range(self, name, start, end):
        if end <= start:  # f.read(negative) would read the whole file
            return b""
        with open(self.path(name), "rb") as f:
            f.seek(start)
            return f.read(end - start)

    def open_lines(self, name):
        """Text lines split on '\\n' only, so a stray '\\r' inside a record survives."""
        return open(self.path(name), encoding="utf-8", errors="surrogatepass", newline="\n")

    def atomic_writer(self, name):
        """A binary file that appears under `name` only if the block completes.

        Private (0600) like the lab's ioutil.TempFile outputs; see `atomic_file`.
        """
        return atomic_file(self.path(name), mode=0o600)

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
            names.extend(rel + f for f in files if (rel + f).startswith(prefix) and is_temporary(f) == temporary)
        return sorted(names)

    def directories(self, prefix=""):
        try:
            with os.scandir(self.root) as entries:
                return sorted(e.name for e in entries if e.name.startswith(prefix) and e.is_dir(follow_symlinks=False))
        except FileNotFoundError:  # no root yet: nothing in the way
            return []


def _version(info):
    """(size, version) from a stat: size, modification time and inode (a file replaced by rename is another)."""
    return info.st_size, f"{info.st_size}:{info.st_mtime_ns}:{info.st_ino}"


def _may_match(directory, prefix):
    """Whether names under `directory` (ending in '/') can start with `prefix`."""
    return directory.startswith(prefix) or prefix.startswith(directory)

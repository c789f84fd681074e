"""The storage interface every part of the runtime reads and writes through.

A job's inputs, intermediate files (`mr-<map>-<reduce>`) and outputs
(`mr-out-<reduce>`) live in one storage: a local directory (`LocalStorage`)
or an S3 bucket and prefix (`S3Storage`). The runtime only ever calls the
methods below, so a task runs unchanged on a laptop or on ECS.

Names are relative to the storage's root (a directory, or a bucket plus key
prefix) and use '/' as separator. Each implementation may also accept its own
absolute form (an absolute local path, an `s3://bucket/key` URL), which is
used as is. Every file is written whole: it becomes visible complete or not
at all, so a retried or duplicate task overwrites rather than adds.

Errors: a missing name raises `FileNotFoundError` (S3 raises `ObjectNotFound`,
which is both that and a `StorageError`); problems a user must fix (no such
bucket, access denied, no credentials) raise a `StorageError` whose one-line
message names the location and what to do.
"""

import abc

from mrkit.errors import InputChanged, MrkitError

# Every temporary name is `.<name>.<tag>.tmp` next to the name it stands for: a leading '.'
# and a '.tmp' end, so `mr-*` globs miss it and `Storage.list` leaves it out. Layers nest: an
# attempt's file (`.mr-out-0.<run>.a1.tmp`) written through atomic_file is, until renamed,
# `..mr-out-0.<run>.a1.tmp.<hex>.tmp`. TEMPORARY_LAYERS is how deep any writer nests them.
TEMPORARY_LAYERS = 2


def temporary_name(name, tag):
    """The temporary name of `name` for one writer (`tag`: [\\w.-], unique to it): `.<base>.<tag>.tmp`."""
    folder, sep, base = name.rpartition("/")
    return f"{folder}{sep}.{base}.{tag}.tmp"


def is_temporary(name):
    """Whether `name` is a temporary file: an atomic writer's, an attempt's or a reduce's merge run."""
    base = name.rpartition("/")[2]
    return base.startswith(".") and base.endswith(".tmp")


def unwrap_temporary(name):
    """The name one temporary layer with a dot-free tag stands for (atomic_file's): `.a.x1y2.tmp` -> `a`."""
    folder, sep, base = name.rpartition("/")
    return folder + sep + base[1 : -len(".tmp")].rpartition(".")[0] if is_temporary(base) else name


def leftovers(storage, prefix="mr-"):
    """Every temporary file, however deeply nested, standing for a name that starts with `prefix`.

    What a killed writer can leave: the sweeps of a job's start and end remove them.
    """
    names = []
    for layers in range(1, TEMPORARY_LAYERS + 1):
        names.extend(storage.list("." * layers + prefix, temporary=True))
    return names


def changed(where, how):
    """The InputChanged of an input that is no longer what the job split."""
    return InputChanged(
        f"input {where} changed after the job split it ({how}): its output would match neither "
        "version; run the job again on inputs that stay put while it runs"
    )


def check_length(where, data, start, end):
    """`data`, if it holds all of [start, end); else InputChanged (the input was cut short)."""
    if len(data) != max(0, end - start):
        raise changed(where, f"bytes {start}-{end} read {len(data)}: it is shorter")
    return data


class StorageError(MrkitError):
    """Storage that cannot be used as configured; the message says how to fix it."""


class ObjectNotFound(StorageError, FileNotFoundError):
    """A name with nothing stored under it (also a FileNotFoundError, like a local file)."""


class BucketNotFound(StorageError):
    """The bucket a storage URL names does not exist."""


class AccessDenied(StorageError, PermissionError):
    """The credentials in use may not read or write the location."""


class Storage(abc.ABC):
    """Where one job's files live. Subclasses implement every abstract method."""

    @property
    @abc.abstractmethod
    def url(self):
        """A string `open_storage` turns back into an equivalent storage.

        The master hands it to workers (which may be other processes or
        containers) instead of the object itself.
        """

    @abc.abstractmethod
    def path(self, name):
        """Where `name` lives, for messages and logs: a local path or an s3:// URL."""

    @abc.abstractmethod
    def size(self, name):
        """The size of `name` in bytes; FileNotFoundError when it does not exist."""

    @abc.abstractmethod
    def exists(self, name):
        """Whether something is stored under `name`."""

    @abc.abstractmethod
    def read_range(self, name, start, end):
        """Bytes [start, end) of `name` (fewer if the object ends first).

        An empty range (end <= start) returns b"" without touching storage.
        """

    @abc.abstractmethod
    def version(self, name):
        """(size, version) of `name`: a string that changes whenever its contents may have.

        FileNotFoundError when it does not exist. Inputs are pinned with it when split.
        """

    def versions(self, names):
        """{name: (size, version)} for many names (an implementation may ask in bulk)."""
        return {name: self.version(name) for name in names}

    def read_pinned(self, name, start, end, version):
        """Bytes [start, end) of `name`, only while it has `version`, and all of them.

        Raises InputChanged, naming `name`, when it changed, went away or reads short:
        a task must never run on other data than the job split.
        """
        self._check_version(name, version)
        data = self.read_range(name, start, end)
        self._check_version(name, version)
        return check_length(self.path(name), data, start, end)

    def _check_version(self, name, version):
        try:
            now = self.version(name)[1]
        except FileNotFoundError:
            raise changed(self.path(name), "it is gone") from None
        if now != version:
            raise changed(self.path(name), "it was modified")

    @abc.abstractmethod
    def open_lines(self, name):
        """An iterable of the text lines of `name`, decoded as UTF-8 as they stream.

        Decoded with "surrogatepass", as mrkit's files are encoded (shuffle): a key an app made with a
        lone surrogate reaches reduce as it left map, and the output equals the sequential reference's.

        Lines are split on '\\n' only and keep it; a '\\r' inside a line
        survives untouched (records may contain one). The object is streamed,
        never loaded whole, so reduce tasks merge files bigger than memory.
        The result must be closed (`.close()`); it is also a context manager.
        """

    @abc.abstractmethod
    def atomic_writer(self, name):
        """A context manager yielding a binary file to write `name` through.

        The object appears, complete, only if the block completes; if it
        raises, nothing is left behind and an existing object is untouched.
        An existing object is replaced whole, never appended to.
        """

    def read_bytes(self, name):
        """All of `name` at once: for small objects (a token, a status, a run record)."""
        return self.read_range(name, 0, self.size(name))

    def write_bytes(self, name, data):
        """Store `data` under `name` whole, replacing what was there."""
        with self.atomic_writer(name) as f:
            f.write(data)

    @abc.abstractmethod
    def publish(self, temporary, name):
        """Make the complete file `temporary` visible as `name`, replacing what was there.

        The master commits a winning attempt's files this way; `temporary`
        is gone afterwards. A missing `temporary` raises FileNotFoundError.
        """

    @abc.abstractmethod
    def remove(self, name):
        """Delete `name`; a name that does not exist is not an error."""

    @abc.abstractmethod
    def list(self, prefix="", temporary=False):
        """The sorted names (relative to the root) that start with `prefix`.

        Objects only (no directories). Temporary files (`is_temporary`:
        files being written by `atomic_writer`, attempts' files, a reduce's
        merge runs) are left out, or with `temporary=True` are all that is listed.
        """

    def directories(self, prefix=""):
        """The sorted names of directories directly under the root that start with `prefix`: where a file of
        that name cannot be written. None in a store of objects (the default), whose keys are only names."""
        return []

    # ---- conditional writes: what a lease (mrkit.runtime.lock) is made of ----------
    # A storage without a shared kernel to lock in offers these; a local directory uses flock instead.

    def create_if_absent(self, name, data):
        """Store `data` under `name` only if nothing is there: its version tag, or None when something was."""
        raise StorageError(f"{self.url} cannot hold a lease: it has no conditional writes")

    def replace_if(self, name, data, tag):
        """Replace `name` only if its version tag is still `tag`: the new tag, or None when it changed or is gone."""
        raise StorageError(f"{self.url} cannot hold a lease: it has no conditional writes")

    def remove_if(self, name, tag):
        """Delete `name` only if its version tag is still `tag`; whether it did."""
        raise StorageError(f"{self.url} cannot hold a lease: it has no conditional writes")

    def read_with_age(self, name):
        """(bytes, version tag, seconds since last written, on the storage's clock), or None when absent."""
        raise StorageError(f"{self.url} cannot hold a lease: it has no conditional writes")

    def check(self):  # noqa: B027 - optional hook: most storages have nothing to check
        """Fail early, with a StorageError, if the storage cannot be used at all.

        Cheap enough to call once when a job starts; the default checks nothing.
        """

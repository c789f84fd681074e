"""One job per storage location: a lock on where the outputs go, held by the master.

A local directory is locked with a lock file (`.mr-master.lock`) under
`flock`. flock locks belong to the open file, so the kernel drops the lock
when the master's process dies, however it dies: a crashed master never
blocks the next one. Worker processes forked from the master close their
copy at fork, or an orphaned worker would keep a dead master's lock alive.

Storage without a shared kernel (S3) is locked with a lease object
(`.mr-master.lease`) created by a conditional PUT (If-None-Match: *), so of
two masters only one can create it. Its holder renews it (a PUT with
If-Match: its own ETag) every third of its time to live; a lease not renewed
for that long belongs to a dead master, and the next master takes it over
with If-Match on the stale ETag. Its age is measured on the storage's clock
(the answer's Date minus the object's Last-Modified), so a skewed local
clock cannot expire a live lease. A holder that finds its lease gone or taken
says so (`on_lost`): the job fails instead of writing alongside another.

`JobLock` holds every lock a job needs: the storage's, and the directory the
master announces itself in (mr-master.json) when that is another place.
"""

import fcntl
import json
import os
import secrets
import socket
import threading
import time

from mrkit.errors import MrkitError, UsageError, disk_problem, unusable_directory

LOCK_FILE = ".mr-master.lock"  # hidden: `ls mr-*` shows only the job's files
LEASE = ".mr-master.lease"
LEASE_S = 30.0  # a lease's time to live; $MRKIT_LEASE_S overrides it (a test's short-lived master)
_held = set()  # descriptors of the locks this process holds


def _close_in_child():
    for fd in list(_held):
        os.close(fd)
    _held.clear()


os.register_at_fork(after_in_child=_close_in_child)


class JobInProgress(UsageError):
    """Another live master runs a job in the directory or storage location."""


_ADVICE = "wait for it to finish, or give this job another directory or --storage location"


class DirectoryLock:
    """The lock file of `directory`, held under flock while the job runs."""

    def __init__(self, directory):
        self.key = os.path.realpath(directory)
        self.path = os.path.join(self.key, LOCK_FILE)
        self._fd = None

    def acquire(self):
        if self._fd is not None:
            return
        try:
            os.makedirs(self.key, exist_ok=True)  # a --storage directory that does not exist yet
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:  # a read-only directory, a full disk, a file in its way: said in one line
            raise unusable_directory(exc, self.key) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise JobInProgress(f"another master (pid {holder}) is running a job in {self.key}: {_ADVICE}") from None
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode(), 0)
        except OSError as exc:
            os.close(fd)
            raise disk_problem(exc, self.key) or exc from None
        self._fd = fd
        _held.add(fd)

    def release(self):
        if self._fd is None:
            return
        _held.discard(self._fd)
        os.close(self._fd)  # closing drops the flock; the file may stay, unlocked
        self._fd = None


class Lease:
    """A lease object in `storage` (see the module docstring); `on_lost(message)` hears of its loss."""

    def __init__(self, storage, on_lost=None, ttl_s=None):
        self.storage = storage
        self.key = storage.path(LEASE)
        self.ttl_s = float(ttl_s or os.environ.get("MRKIT_LEASE_S") or LEASE_S)
        self._on_lost = on_lost
        self._holder = {"host": socket.gethostname(), "pid": os.getpid(), "nonce": secrets.token_hex(4), "ttl_s": self.ttl_s}
        self._etag = None
        self._stop = threading.Event()
        self._thread = None

    def _body(self):
        # S3's ETag is the body's MD5: every write must differ, or a taker's If-Match on a
        # stale ETag would still match a renewed lease.
        self._holder["renewals"] = self._holder.get("renewals", -1) + 1
        return json.dumps(self._holder).encode()

    def acquire(self):
        if self._etag is not None:
            return
        for _ in range(3):  # a lease removed between our create and our read: create again
            self._etag = self.storage.create_if_absent(LEASE, self._body())
            if self._etag is not None:
                break
            found = self.storage.read_with_age(LEASE)
            if found is None:
                continue
            data, etag, age = found
            holder = _holder(data)
            if age < holder["ttl_s"]:
                raise JobInProgress(
                    f"another master ({holder.get('host', '?')}, pid {holder.get('pid', '?')}) holds "
                    f"{self.key}, renewed {age:.0f} s ago, so a job is running in "
                    f"{self.storage.url}: {_ADVICE} (a dead master's lease expires after "
                    f"{holder['ttl_s']:g} s)"
                )
            self._etag = self.storage.replace_if(LEASE, self._body(), etag)  # take over a dead master's lease
            if self._etag is None:
                raise JobInProgress(f"another master took over the expired lease {self.key} just now: {_ADVICE}")
            break
        else:
            raise JobInProgress(f"the lease {self.key} keeps changing: another master is starting there; {_ADVICE}")
        self._stop.clear()
        self._thread = threading.Thread(target=self._renew, daemon=True, name="mrkit-lease")
        self._thread.start()

    def _renew(self):
        failing_since = None
        while not self._stop.wait(self.ttl_s / 3):
            try:
                etag = self.storage.replace_if(LEASE, self._body(), self._etag)
            except (OSError, MrkitError) as exc:  # storage unreachable for a while: keep trying until the lease runs out
                failing_since = failing_since or time.monotonic()
                if time.monotonic() - failing_since < self.ttl_s:
                    continue
                return self._lost(f"cannot renew the lease {self.key} for {self.ttl_s:g} s ({exc})")
            failing_since = None
            if etag is None:
                return self._lost(
                    f"lost the lease {self.key}: another master took it over (this one stalled "
                    f"past its {self.ttl_s:g} s time to live)"
                )
            self._etag = etag

    def _lost(self, message):
        if self._on_lost is not None and not self._stop.is_set():
            self._on_lost(message)

    def release(self):
        if self._etag is None:
            return
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(self.ttl_s)  # a renewal stuck on an unreachable S3 must not hold the exit
        try:
            self.storage.remove_if(LEASE, self._etag)
        except (OSError, MrkitError):
            pass  # it expires on its own after ttl_s
        self._etag = None


def _holder(data):
    """The lease's holder as it wrote itself; a lease that cannot be read has the default time to live."""
    try:
        holder = json.loads(data)
    except ValueError:
        holder = None
    holder = holder if isinstance(holder, dict) else {}
    ttl = holder.get("ttl_s")
    holder["ttl_s"] = float(ttl) if isinstance(ttl, (int, float)) and not isinstance(ttl, bool) and ttl > 0 else LEASE_S
    return holder


def _lock_for(storage, on_lost):
    root = getattr(storage, "root", None)
    return DirectoryLock(root) if root is not None else Lease(storage, on_lost)


class JobLock:
    """Every lock one job holds: its storage location's, and its announcing `directory`'s when given.

    Taken in that order and released together; two names for one directory are one lock.
    """

    def __init__(self, storage, directory=None, on_lost=None):
        locks = [_lock_for(storage, on_lost)]
        if directory is not None:
            locks.append(DirectoryLock(directory))
        self._locks = list({lock.key: lock for lock in locks}.values())
        self._taken = []

    def acquire(self):
        try:
            for lock in self._locks:
                lock.acquire()
                self._taken.append(lock)
        except BaseException:
            self.release()
            raise

    def release(self):
        while self._taken:
            self._taken.pop().release()

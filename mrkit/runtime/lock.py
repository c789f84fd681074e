"""One job per directory: a lock file held by the master's process.

`flock` locks belong to the open file, so the kernel drops the lock when the
master's process dies, however it dies: a crashed master never blocks the
next one. Worker processes forked from the master close their copy at fork,
or an orphaned worker would keep a dead master's lock alive.
"""

import fcntl
import os

from mrkit.errors import UsageError

LOCK_FILE = ".mr-master.lock"  # hidden: `ls mr-*` shows only the job's files
_held = set()  # descriptors of the locks this process holds


def _close_in_child():
    for fd in list(_held):
        os.close(fd)
    _held.clear()


os.register_at_fork(after_in_child=_close_in_child)


class JobInProgress(UsageError):
    """Another live master runs a job in the directory."""


class DirectoryLock:
    """The lock on `directory` (None: nothing to lock, e.g. a job whose files are in S3)."""

    def __init__(self, directory):
        self.path = None if directory is None else os.path.join(os.path.abspath(directory), LOCK_FILE)
        self._fd = None

    def acquire(self):
        if self.path is None or self._fd is not None:
            return
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise JobInProgress(
                f"another master (pid {holder}) is running a job in {os.path.dirname(self.path)}: "
                "wait for it to finish, or run this job in another directory"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd
        _held.add(fd)

    def release(self):
        if self._fd is None:
            return
        _held.discard(self._fd)
        os.close(self._fd)  # closing drops the flock; the file may stay, unlocked
        self._fd = None

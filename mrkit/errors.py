"""The exceptions mrkit raises for user mistakes and failed jobs.

The CLI prints any `MrkitError` as one line and exits non-zero; anything else
is a bug and keeps its traceback. An OSError that says the disk is full or a
directory cannot be written (`disk_problem`) is the user's to fix, not a bug.
"""

import errno
import os


class MrkitError(Exception):
    """A problem the user can fix; its message says what and how."""


class UsageError(MrkitError):
    """Bad command-line values (counts below 1, malformed addresses...)."""


class InputError(MrkitError):
    """An input path that is missing, unreadable or empty where files are needed."""


class InputChanged(InputError):
    """An input whose size, modification time or ETag is not what the master recorded when it split it."""


class AppError(MrkitError):
    """An app that cannot be found, lacks map/reduce, or returns what the app contract forbids.

    The last is the app's bug, caught as it happens: a non-str key or value from
    map (or map_combined, combine), a non-str result from reduce (mrkit.contract).
    """


class JobFailed(MrkitError):
    """A job the master gave up on: a task failed on every allowed attempt."""

    exit_code = 1


class JobCannotSucceed(JobFailed):
    """A job stopped at once by what no retry can fix and the user must (a full disk, an input that changed)."""

    exit_code = 2


class CannotWrite(MrkitError):
    """A file mrkit must write cannot be: the disk is full, or the directory is read-only or forbidden."""


_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
_FORBIDDEN = {errno.EROFS, errno.EACCES, errno.EPERM}


def disk_problem(exc, where=None):
    """The CannotWrite an OSError stands for (a full disk, a read-only directory...), or None for any other.

    It names `where` (the directory written to), else the directory of the file the OSError names.
    """
    if exc.errno in _FULL:
        advice = "free some space there, or give the job another directory (--workdir, --storage)"
    elif exc.errno in _FORBIDDEN:
        advice = "run where you may write, or give the job another directory (--workdir, --storage)"
    else:
        return None
    if where is None and exc.filename:
        where = os.path.dirname(os.path.abspath(exc.filename))
    reason = exc.strerror or errno.errorcode.get(exc.errno, exc.errno)
    return CannotWrite(f"cannot write in {where}: {reason}: {advice}" if where else f"{reason}: {advice}")


def directory_in_the_way(path):
    """The CannotWrite for a directory where a job writes a file (`mkdir mr-out-1` before a run)."""
    return CannotWrite(f"{path} is a directory where the job writes a file: move it away, then run the job again")


def unusable_directory(exc, where, options="--workdir, --storage"):
    """disk_problem's CannotWrite for `where`, or one for any other reason it cannot hold the files (a file
    in its way, a directory of /proc), naming the `options` that choose another."""
    return disk_problem(exc, where) or CannotWrite(
        f"cannot write in {where}: {exc.strerror or exc}: choose a directory you may write ({options})"
    )


class AuthError(MrkitError):
    """The master rejected the worker's token."""


# A task that fails with one of these fails its job at once (JobCannotSucceed): another attempt would meet the same.
FATAL_TO_JOB = (CannotWrite, InputChanged)


def one_line(exc):
    """An app's exception and where it was raised, on one line (a failed task's message, the master's and
    `mrkit sequential`'s)."""
    import traceback  # here, not at the top: only a failing task needs it

    if isinstance(exc, SystemExit):
        return f"the app called sys.exit({exc.code!r})"
    if isinstance(exc, MrkitError):  # e.g. the app broke its contract: the line already says where
        return str(exc).replace("\n", " ")
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {os.path.basename(frames[-1].filename)}:{frames[-1].lineno} in {frames[-1].name}" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}".replace("\n", " ")

"""The exceptions mrkit raises for user mistakes and failed jobs.

The CLI prints any `MrkitError` as one line and exits non-zero; anything else
is a bug and keeps its traceback.
"""


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


class AuthError(MrkitError):
    """The master rejected the worker's token."""

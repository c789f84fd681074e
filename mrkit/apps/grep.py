"""Distributed grep: every distinct line matching a regex, with the files it is in.

Output lines read `<line> <file1,file2,...>`. The pattern comes from the app
option `pattern` (`--app-opt pattern=REGEX`) or `$MRKIT_GREP_PATTERN`.
"""

import os
import re

from mrkit.errors import AppError

_pattern = None


def configure(pattern=None):
    """Compile the pattern now, so a bad one fails before any task runs."""
    global _pattern
    text = pattern if pattern is not None else os.environ.get("MRKIT_GREP_PATTERN")
    if not text:
        raise AppError("grep needs a pattern: pass --app-opt pattern=REGEX or set MRKIT_GREP_PATTERN")
    try:
        _pattern = re.compile(text)
    except re.error as exc:
        raise AppError(f"grep pattern {text!r} is not a valid regex: {exc}") from None


def map(filename, contents):
    if _pattern is None:
        configure()
    search = _pattern.search
    return ((line, filename) for line in contents.split("\n") if search(line))


def combine(key, values):
    return sorted(set(values))


def reduce(key, values):
    return ",".join(sorted(set(values)))

"""What an app's functions must return, checked where it costs next to nothing.

Keys and values are str, and reduce returns a str (design.md, Apps). An app
that returns 3, None or b"x" instead gets one line that names the function,
the offending object and the input, raised as an `AppError`, wherever the app
runs: `mrkit sequential` prints it, a worker reports it as the task's failure.

A mapping is checked with one C-level pass over its keys and one over its
values (joining them, which accepts only str); only when that fails is the
culprit looked for, to name it. A reduce result costs one `type() is str`
test.
"""

from collections import deque
from operator import itemgetter

from mrkit.errors import AppError

_SHOWN_CHARS = 60  # a bad value may be a whole list: show its start only
_STR = {str}  # check_pairs: the types a list of pairs may hold
_PAIR = {tuple, list}  # and what each of its items may be


def _shown(obj):
    text = repr(obj)
    if len(text) > _SHOWN_CHARS:
        text = text[: _SHOWN_CHARS - 3] + "..."
    return f"{text} ({type(obj).__name__})"


def _bad_key(producer, key, filename):
    where = f" for input {filename}" if filename is not None else ""
    return AppError(f"{producer} returned key {_shown(key)}{where}: keys and values must be str")


def _bad_value(producer, key, value, filename, rule="keys and values must be str"):
    where = f" of input {filename}" if filename is not None else ""
    return AppError(f"{producer} returned value {_shown(value)} for key {key!r}{where}: {rule}")


def check_grouped(grouped, producer, filename=None):
    """Raise AppError unless every key of `grouped` (key -> list of values) and every value is a str.

    `producer` is the app function that made them ("map", "map_combined",
    "combine"); `filename` the input they came from, when there is one.
    Joining raises TypeError on anything but a str (subclass) and runs in
    C: ~1.5 ms for wc's 44,000 keys of a 6 MiB map task (0.5% of its map).
    Values are joined a key at a time, so no copy of them all is made.
    """
    try:
        "".join(grouped)
        deque(map("".join, grouped.values()), maxlen=0)
    except TypeError:
        pass
    else:
        return
    for key, values in grouped.items():
        if not isinstance(key, str):
            raise _bad_key(producer, key, filename)
        if not isinstance(values, (list, tuple)):
            raise _bad_value(producer, key, values, filename, "values must be lists of str")
        for value in values:
            if not isinstance(value, str):
                raise _bad_value(producer, key, value, filename)


def emitted(result, producer, filename):
    """`result`, what map returned for `filename`, when it can be iterated for pairs; else AppError naming map
    (None, from a map without a `return`, failed in the shuffle's code, which the message then named)."""
    if result is None or not hasattr(result, "__iter__") or isinstance(result, (str, bytes)):
        raise AppError(f"{producer} returned {_shown(result)} for {filename}: it must return (key, value) pairs")
    return result


def check_pairs(pairs, producer, filename=None):
    """Raise AppError unless every item of the list `pairs` is a (key, value) of two str."""
    if not set(map(type, pairs)) <= _PAIR or not set(map(len, pairs)) <= {2}:  # in C, as the checks below
        bad = next(pair for pair in pairs if type(pair) not in _PAIR or len(pair) != 2)
        where = f" for input {filename}" if filename else ""
        raise AppError(f"{producer} returned {_shown(bad)} among its pairs{where}: each must be a (key, value) pair")
    if not set(map(type, map(itemgetter(0), pairs))) <= _STR:
        for key, _ in pairs:
            if not isinstance(key, str):
                raise _bad_key(producer, key, filename)
    if not set(map(type, map(itemgetter(1), pairs))) <= _STR:
        for key, value in pairs:
            if not isinstance(value, str):
                raise _bad_value(producer, key, value, filename)


def check_reduced(key, result):
    """Raise AppError unless `result`, what reduce returned for `key`, is a str.

    Callers test `type(result) is str` first and call this only when it is
    not, which keeps the per-key cost at one comparison.
    """
    if not isinstance(result, str):
        raise AppError(f"reduce returned {_shown(result)} for key {key!r}: it must return str")

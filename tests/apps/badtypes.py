"""Test app that breaks the app contract on purpose: a key, a value or a reduce result that is not a str.

Options (`--app-opt`): `what` = key | value | reduce (default key), `kind` =
int | none | bytes (default int). Map emits one good pair ("ok", "1") and one
bad record ("x" is the key that carries the bad value or reduce result).
"""

BAD = {"int": 3, "none": None, "bytes": b"x"}
_what, _bad = "key", 3


def configure(what="key", kind="int"):
    global _what, _bad
    _what, _bad = what, BAD[kind]


def map(filename, contents):
    if _what == "key":
        return [("ok", "1"), (_bad, "1")]
    if _what == "value":
        return [("ok", "1"), ("x", _bad)]
    return [("ok", "1"), ("x", "1")]


def reduce(key, values):
    if _what == "reduce" and key == "x":
        return _bad
    return str(len(values))

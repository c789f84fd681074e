"""Test app whose keys test the `key value` line format: keys with a space, a tab, or (option) a newline.

For every word w it counts w, "w<TAB>tab", "w and more" (a key sharing its first word with w),
"w<U+D800>" (a lone surrogate: a str that UTF-8 cannot encode, written as Python's "surrogatepass"
writes it) and, with `--app-opt newline=yes`, "w<NEWLINE>nl", which no output line can hold.
"""

from mrkit.apps import wc

_newline = False


def configure(newline="no"):
    global _newline
    _newline = newline == "yes"


def map(filename, contents):
    for word, _ in wc.map(filename, contents):
        yield word, "1"
        yield f"{word}\ttab", "1"
        yield f"{word} and more", "1"
        yield f"{word}\ud800", "1"
        if _newline:
            yield f"{word}\nnl", "1"


def reduce(key, values):
    return str(len(values))

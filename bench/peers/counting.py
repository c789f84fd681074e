"""The map function a peer script runs: its own plain count, or mrkit's `count_words`.

    MRBENCH_COUNT=count_words python mp_pool_count.py OUT 2 INPUT...

`plain` (the default) is `wordcount.count_text`: re.findall + Counter, made
exact, with no mrkit import (the independent check). `count_words` is
`mrkit.text.count_words(text)`, the function mrkit's wc map runs, so a peer
and mrkit can be compared on the same work: the difference left is the
runtime's, not the tokenizer's. The harness sets MRBENCH_COUNT (and puts the
repository on PYTHONPATH, so a peer venv finds mrkit's pure-stdlib `text`
module); framework workers inherit the environment.
"""

import os

from wordcount import count_text as plain_text
from wordcount import read_text


def mrkit_text(text):
    from mrkit.text import count_words  # stdlib-only module: importable from a peer venv via PYTHONPATH

    return count_words(text)


FUNCTIONS = {"plain": plain_text, "count_words": mrkit_text}
NAME = os.environ.get("MRBENCH_COUNT", "plain")
if NAME not in FUNCTIONS:
    raise SystemExit(f"MRBENCH_COUNT={NAME!r}: expected one of {', '.join(FUNCTIONS)}")


def count_text(text):
    """{word: count} of `text` with the function MRBENCH_COUNT names."""
    return FUNCTIONS[NAME](text)


def count_file(path):
    return count_text(read_text(path))

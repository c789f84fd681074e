r"""The plain word count every peer shares: re.findall + Counter, made exact.

mrkit's word is a maximal run of characters for which str.isalpha() holds.
The regex [^\W\d_]+ ("word characters but not digits or underscore") matches
every such run, but also lets in numeric non-digit characters ('²', 'Ⅻ', '½'),
so a token that is not purely alphabetic is re-split by isalpha. That runs
once per distinct token, not per word, and makes the count equal to mrkit's
definition. Files are read as bytes and decoded UTF-8 with errors=replace, as
mrkit does. Standalone on purpose: no mrkit import, so it is an independent check.
"""

import re
from collections import Counter

TOKEN = re.compile(r"[^\W\d_]+")


def _alpha_runs(token):
    runs, current = [], []
    for ch in token:
        if ch.isalpha():
            current.append(ch)
        elif current:
            runs.append("".join(current))
            current = []
    if current:
        runs.append("".join(current))
    return runs


def exact(counts):
    """Re-split the tokens that hold a non-letter, in place; returns counts."""
    for token in [t for t in counts if not t.isalpha()]:
        n = counts.pop(token)
        for word in _alpha_runs(token):
            counts[word] += n
    return counts


def count_text(text):
    return exact(Counter(TOKEN.findall(text)))


def read_text(path):
    with open(path, "rb") as f:
        return f.read().decode("utf-8", "replace")


def count_file(path):
    return count_text(read_text(path))


def merge_counts(counters):
    """One Counter from many: the reduce step the parallel peers share."""
    total = Counter()
    for counts in counters:
        total.update(counts)
    return total


def write_counts(counts, path):
    """One `word count` line per word, words sorted: the shape of mrkit's output."""
    with open(path, "w", encoding="utf-8", errors="surrogatepass") as out:
        out.writelines(f"{word} {n}\n" for word, n in sorted(counts.items()))

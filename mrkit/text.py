"""Words as the lab defines them, and a fast way to count them.

A word is a maximal run of characters for which `str.isalpha()` holds (Go's
`unicode.IsLetter`). `words` is the plain definition; `count_words` gives the
same counts an order of magnitude faster by working on UTF-8 bytes, because
word count over hundreds of megabytes is what users time.
"""

import re
from collections import Counter

# Candidate runs: \w minus digits and underscore. This is close to isalpha but
# also admits numeric non-decimal characters (e.g. '²', 'Ⅻ'), so candidates are
# re-split when they are not purely alphabetic.
_CANDIDATE = re.compile(r"[^\W\d_]+")

_BLOCK = 1 << 20

# ASCII non-letters become spaces; bytes >= 0x80 (non-ASCII UTF-8 and invalid
# bytes) are kept so multi-byte characters stay whole for the fix-up below.
_ASCII_TABLE = bytes(b if (0x41 <= b <= 0x5A or 0x61 <= b <= 0x7A or b >= 0x80) else 0x20 for b in range(256))


def _alpha_runs(text):
    """Split `text` into its isalpha runs, for the rare non-ASCII candidates."""
    runs, current = [], []
    for ch in text:
        if ch.isalpha():
            current.append(ch)
        elif current:
            runs.append("".join(current))
            current = []
    if current:
        runs.append("".join(current))
    return runs


def words(text):
    """Every word of `text`, in order."""
    out = []
    for candidate in _CANDIDATE.findall(text):
        if candidate.isalpha():
            out.append(candidate)
        else:
            out.extend(_alpha_runs(candidate))
    return out


def count_words(text):
    """{word: count} equal to `Counter(words(text))`, without a Python step per word.

    Splitting the translated bytes yields runs of ASCII letters and non-ASCII
    bytes, counted in C. The distinct tokens are decoded in one call; only
    those that hold a non-letter (possible only when the text is not pure
    ASCII: '—', '²', U+FFFD from invalid bytes...) are re-split by isalpha.
    """
    data = text.encode("utf-8", "surrogatepass").translate(_ASCII_TABLE)
    tokens = Counter()
    # Split a block at a time: a whole chunk's token list costs ~50 bytes per
    # word (~100 MB for 12 MB of text); blocks end at a space, so no token is cut.
    start = 0
    while start < len(data):
        end = data.find(b" ", start + _BLOCK)
        end = len(data) if end < 0 else end
        tokens.update(data[start:end].split())
        start = end
    joined = b" ".join(tokens)
    counts = dict(zip(joined.decode("utf-8", "replace").split(" "), tokens.values()))
    if not joined.isascii():
        for token in [t for t in counts if not t.isalpha()]:
            n = counts.pop(token)
            for word in _alpha_runs(token):
                counts[word] = counts.get(word, 0) + n
    return counts

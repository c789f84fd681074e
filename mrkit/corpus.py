"""Deterministic English-like text, built in: the default input of demos, tests and benchmarks.

`synth` writes files of pseudo-English without external data: real English
function words on top of a seed-dependent vocabulary of syllable-built words,
drawn by a Zipf-like law ((rank + 1) ** -1.07), in sentences and paragraphs
with commas, quotes, contractions, hyphens, digits and a little non-ASCII
(accented, Greek and Cyrillic words, em dashes, curly quotes). A word is a
maximal `str.isalpha()` run, so "don't" is "don" and "t", and "1990s" is "s".

A file depends only on (seed, file index, size) and the Python version: all
randomness comes from `random.Random` seeded with a string, and words are
drawn through integer tables, so output is byte-identical run to run.
"""

import array
import functools
import pathlib
import random
import re
import sys
from fractions import Fraction
from operator import getitem

from mrkit.job import check_at_least_one
from mrkit.storage.local import atomic_file

_ROW = 64
_UNITS = 65536 * _ROW  # probability resolution of the word table: 2**-22
_LOW6 = bytes(b % _ROW for b in range(256))
_PSEUDO_WORDS = 30000
_BYTES_PER_WORD = 5.4  # measured average, used only to size the last block

_FUNCTION = """the of and to a in is that it was for I on as with he be at by his this had not are
but from or have an they which you were her she there would their we him been has when who will
more no if out so said what up its about into than them can only other new some could time these
two may then do first any my now such like our over man me even most made after also did many
before must through back years where much your way well down should because each just those people
how too little good very make world still own see men work long get here between both life being
under never day same another know while last might us great old year off come since against go came
right used take three""".split()
_CONTRACTIONS = """don't it's can't won't didn't I'm that's isn't we're they're you're doesn't
I've let's o'clock wasn't don’t it’s can’t I’m that’s""".split()
_NON_ASCII = """café naïve Zürich façade señor Ångström émigré Ελλάδα Москва résumé jalapeño
über crème brûlée Kraków Łódź smörgåsbord fiancée déjà São Göteborg Dvořák Straße Αθήνα λόγος
мир данные Reykjavík Málaga coöperate Øresund touché piñata Curaçao Genève Türkiye 東京""".split()
_DIGITS = "19th 21st 3rd 1990s 1960s mp3 2nd 4th 100 12 7 42 3 1,000 9am".split()
# Syllable parts; repeats weight the choice toward simple, pronounceable syllables.
_ONSETS = (
    "- - - b c d f g h k l m n p r s t v w b c d f g h l m n p r s t w br cr dr fr gr "
    "pr tr bl cl fl pl sl st sp sh ch th wh qu j z sm sn sw".replace("-", "").split(" ")
)
_NUCLEI = "a e i o u a e i o u a e i o ai ea ee oo ou ie y".split()
_CODAS = "- - - - - - - n r s t l m n r s t nd st ck ng rt ld sh th x".replace("-", "").split(" ")


def _table(weighted):
    """256 entries, each item repeated in proportion to its weight, for lookup by a random byte."""
    total, acc, out = sum(w for _, w in weighted), 0, []
    for item, w in weighted:
        acc += w
        out += [item] * (acc * 256 // total - len(out))
    return out


# Per-sentence choices are table lookups by random bytes: no per-sentence RNG calls.
# Text is assembled as UTF-8 bytes; "\x00" means "glue to the previous word".
_LENGTHS = _table([(1, 900)] + [(L, L * (32 - L) ** 2) for L in range(2, 32)])  # mean ~13 words
_CLOSE = _table(
    [
        ((o.encode(), c.encode()), w)
        for o, c, w in [  # (opening, closing, weight)
            ("", ". ", 160),
            ("", ".\n\n", 33),
            ("", "? ", 14),
            ("", "! ", 8),
            ("", "?\n\n", 3),
            ("“", ".” ", 12),
            ("“", "?” ", 4),
            ("“", "!”\n\n", 2),
            ('"', '." ', 10),
            ('"', '?" ', 3),
            ("", "... ", 4),
            ("(", ".) ", 3),
        ]
    ]
)
_SEPS = _table(
    [
        (s and s.encode(), w)
        for s, w in [  # inside a sentence, before a word
            (None, 150),
            ("\x00, ", 68),
            ("\x00; ", 12),
            ("— ", 10),
            ("\x00—", 8),
            ("\x00: ", 8),
        ]
    ]
)
_SENT_END = re.compile(rb'[.!?](?:"|\xe2\x80\x9d|\))?(?=[ \n])')


@functools.lru_cache(maxsize=4)
def _model(seed):
    """Vocabulary of `seed` as a sampling table: (rows, capitalised).

    The word distribution is quantised to 2**22 slots laid out in rank order
    as 65536 rows of 64. A word is then rows[16 random bits][6 random bits]:
    two C-level `map` steps per word and no per-word Python code or floats,
    which is what makes generation fast (`random.choices` is ~2x slower). Rows
    lying inside one word are one shared tuple, so the table takes about 10 MB.
    """
    rng = random.Random(f"mrkit.corpus.vocab:{seed}")
    taken, pseudo = set(w.lower() for w in _FUNCTION), []
    syllables = [o + n + c for o in _ONSETS for n in _NUCLEI for c in _CODAS]
    while len(pseudo) < _PSEUDO_WORDS:  # drawn in bulk: per-call RNG overhead dominates here
        parts = rng.choices(syllables, k=4 * 4096)
        for j, n in enumerate(rng.choices((1, 2, 3, 4), (15, 45, 30, 10), k=4096)):
            w = "".join(parts[4 * j : 4 * j + n])
            if len(w) > 1 and w not in taken and len(pseudo) < _PSEUDO_WORDS:
                taken.add(w)
                pseudo.append(w)
    # Short words tend to rank higher, as in real language (Zipf's law of abbreviation).
    pseudo.sort(key=lambda w: len(w) + 8 * rng.random())
    ranked = _FUNCTION + pseudo
    compounds = [f"{rng.choice(pseudo[:3000])}-{rng.choice(pseudo[:3000])}" for _ in range(300)]
    special = [  # (words, share of all tokens), outside the Zipf ranking
        (_NON_ASCII, 0.005),
        (_CONTRACTIONS, 0.01),
        (_DIGITS, 0.002),
        ([str(y) for y in range(1700, 2030)], 0.002),
        ([w + "'s" for w in pseudo[:200]], 0.003),
        (compounds + ["well-known", "so-called"], 0.004),
    ]
    words, units = [], []
    for group, share in special:
        words += group
        units += [max(1, int(_UNITS * share / len(group)))] * len(group)
    # Zipf-Mandelbrot: the +1 keeps "the" near its English share (~6%) instead of ~12%.
    zipf = [(r + 1) ** -1.07 for r in range(1, len(ranked) + 1)]
    left, total = _UNITS - sum(units), sum(zipf)
    words += ranked
    units += [max(1, round(left * z / total)) for z in zipf]
    units[len(units) - len(ranked)] += _UNITS - sum(units)  # exact total: rank 1 absorbs rounding
    rows, part = [], []
    for w, u in zip((w.encode() for w in words), units):  # bytes: joins are memcpy, no encode pass
        if part:  # finish the row the previous word started
            take = min(u, _ROW - len(part))
            part += [w] * take
            u -= take
            if len(part) == _ROW:
                rows.append(tuple(part))
                part = []
        if u:  # here part is empty
            rows += [(w,) * _ROW] * (u // _ROW)
            part = [w] * (u % _ROW)
    return rows, {w.encode(): (w[:1].upper() + w[1:]).encode() for w in set(words)}


def _draw(rng, rows, k):
    """`k` words: row from 16 random bits, slot in it from 6 more."""
    hi = array.array("H", rng.randbytes(2 * k))
    if sys.byteorder == "big":  # the byte stream is defined little-endian
        hi.byteswap()
    return list(map(getitem, map(rows.__getitem__, hi), rng.randbytes(k).translate(_LOW6)))


def _block(rng, model, k):
    """Whole sentences of at most `k` words, as UTF-8. Marks are spliced into the word list
    (a few steps per sentence, none per word), then one join and one replace build the text."""
    rows, caps = model
    out = _draw(rng, rows, k)
    n = k // 9 + 4  # enough sentences for k words at the mean length of 13
    i, close = 0, b""
    for L, (op, cl), sep, b in zip(
        map(_LENGTHS.__getitem__, rng.randbytes(n)),
        map(_CLOSE.__getitem__, rng.randbytes(n)),
        map(_SEPS.__getitem__, rng.randbytes(n)),
        rng.randbytes(n),
    ):
        if i + L > k:
            break
        out[i] = close + op + caps[out[i]]
        if sep and L > 1:
            c = i + 1 + b % (L - 1)
            out[c] = sep + out[c]
        close = b"\x00" + cl
        i += L
    return (b" ".join(out[:i]) + close[1:]).replace(b" \x00", b"")


def _cut(data, limit, lo):
    """Length of the longest prefix of `data` of at most `limit` bytes that ends a sentence
    (if one ends at or after `lo`), else that ends before a space: never inside a word."""
    ends = [m.end() for m in _SENT_END.finditer(data, max(lo, 0), limit + 1)]
    if ends:
        return ends[-1]
    return max(data.rfind(b" ", 0, limit + 1), data.rfind(b"\n", 0, limit + 1), 0)


def _write_file(path, index, size, seed):
    """Write file `index` of the corpus to `path` atomically (temp file + os.replace)."""
    model = _model(seed)
    rng = random.Random(f"mrkit.corpus.file:{seed}:{index}:{size}")
    lo = size - 1 - size // 100  # content length that keeps the file within 1% of size
    with atomic_file(path) as f:
        flushed, total, buf = 0, 0, []
        while total < size:
            k = min(50_000, int((size - total) / _BYTES_PER_WORD * 1.03) + 40)
            buf.append(_block(rng, model, k))
            total += len(buf[-1])
            if total < lo and size > 1 << 20:  # stream big files; keep the tail in memory
                f.write(b"".join(buf))
                flushed, buf = total, []
        tail = b"".join(buf)
        cut = _cut(tail, size - 1 - flushed, lo - flushed)
        f.write(tail[:cut].rstrip() + b"\n")
    return path


def synth(out_dir, files: int, size: int, seed: int = 0) -> list[pathlib.Path]:
    """Write `files` UTF-8 files `synth-00.txt`, ... of about `size` bytes each into `out_dir`.

    Each file is at most `size` bytes and, from a few KB up, within 1% of it; it
    ends with a newline after a whole sentence (or, if none ends in the last 1%,
    a whole word), so no word or UTF-8 character is ever split. File i depends only on (seed, i, size), so a larger
    `files` adds files without changing the first ones. Each file is written to
    a hidden `.*.tmp` file in `out_dir` then renamed, so an interrupted run never leaves
    a partial file under a final name. Returns the paths in order.
    """
    check_at_least_one("files", files, ValueError)
    check_at_least_one("size", size, ValueError)
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    width = max(2, len(str(files - 1)))
    return [_write_file(out / f"synth-{i:0{width}d}.txt", i, size, seed) for i in range(files)]


def sample(size: int, seed: int = 0) -> str:
    """About `size` bytes (at least that many) of the corpus's text for `seed`, whole sentences, built in memory.

    Deterministic, like the files: the machine-speed probe counts the same text every time.
    """
    model = _model(seed)
    rng = random.Random(f"mrkit.corpus.sample:{seed}:{size}")
    blocks, total = [], 0
    while total < size:
        blocks.append(_block(rng, model, 5_000))
        total += len(blocks[-1]) + 1
    return b" ".join(blocks).decode("utf-8")


_SIZE = re.compile(r"\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*(|b|kb|mb|gb|kib|mib|gib)\s*", re.I)
_SCALE = {"": 0, "b": 0, "kb": 1, "kib": 1, "mb": 2, "mib": 2, "gb": 3, "gib": 3}


def corpus_dir(root, files, size, seed=0):
    """The generated corpus, made once and reused (generation is deterministic)."""
    directory = pathlib.Path(root) / f"synth-{files}x{size}-seed{seed}"
    marker = directory / ".complete"
    if not marker.exists():
        synth(directory, files, size, seed)
        marker.touch()
    return sorted(str(p) for p in directory.glob("synth-*.txt"))


def parse_size(text: str) -> int:
    """Parse a byte size such as "100", "512KB", "4MB", "1.5GB" or "4MiB" (case-insensitive).

    KB/MB/GB and KiB/MiB/GiB all mean powers of 1024, so "4MB" == "4MiB" ==
    4194304. A bare number or a "B" suffix means bytes. Fractions round down to
    whole bytes. Raises ValueError for anything else or for less than one byte.
    """
    m = _SIZE.fullmatch(text) if isinstance(text, str) else None
    value = int(Fraction(m.group(1)) * 1024 ** _SCALE[m.group(2).lower()]) if m else 0
    if value < 1:
        raise ValueError(
            f"bad size {text!r}: expected a positive number of bytes with an optional "
            "unit B, KB, MB, GB, KiB, MiB or GiB (e.g. 100, 512KB, 1.5GB, 4MiB)"
        )
    return value

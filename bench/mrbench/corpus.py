"""Benchmark inputs, built once and cached under results/bench/corpus/.

The main corpus is 16 files of 12.5 MiB (200 MiB) made by repeating the eight
Gutenberg books of ../shared/corpus/gutenberg (each file starts at a different
book, so files differ), cut at a line break so no word is split. Without the
books it falls back to mrkit's deterministic generator (`mrkit corpus synth`).
A corpus directory is keyed by its source and size and marked complete only
after every file is written, so an interrupted build is redone, not reused.
"""

import hashlib
import json
import os
import pathlib
import subprocess

from mrkit.storage.local import write_atomic

MIB = 2**20
BOOKS = pathlib.Path(__file__).resolve().parents[3] / "shared" / "corpus" / "gutenberg"
_MARKER = ".complete"


def books_dir(books=BOOKS):
    """The Gutenberg folder if it holds the books, else None."""
    books = pathlib.Path(books)
    return books if books.is_dir() and any(books.glob("*.txt")) else None


def book_files(books=BOOKS):
    return sorted(str(p) for p in pathlib.Path(books).glob("*.txt"))


def _books_key(files):
    """A short digest of the books' names and sizes, so a changed folder gets a new cache entry."""
    text = ";".join(f"{os.path.basename(f)}:{os.path.getsize(f)}" for f in files)
    return hashlib.sha1(text.encode()).hexdigest()[:8]


def _listing(directory):
    return sorted(str(p) for p in pathlib.Path(directory).glob("*.txt"))


def _write_repeated(path, sources, size):
    """Concatenate `sources` cyclically until `size` bytes, cut after the last line break."""
    datas = [pathlib.Path(s).read_bytes() for s in sources]
    out, total, i = [], 0, 0
    while total < size:
        data = datas[i % len(datas)]
        out.append(data if data.endswith(b"\n") else data + b"\n")
        total += len(out[-1])
        i += 1
    blob = b"".join(out)[:size]
    blob = blob[: blob.rfind(b"\n") + 1] or blob
    write_atomic(path, blob)


def _finish(directory, meta):
    (directory / _MARKER).write_text(json.dumps(meta, indent=1))
    return _listing(directory)


def _build_once(directory, fill, meta):
    """The files of `directory`: made by fill(directory) and marked complete, unless a complete build is there."""
    if (directory / _MARKER).exists():
        return _listing(directory)
    directory.mkdir(parents=True, exist_ok=True)
    fill(directory)
    return _finish(directory, meta)


def repeated_books(root, files, size, books=BOOKS):
    """`files` files of about `size` bytes made by repeating the books; cached."""
    sources = book_files(books)
    directory = pathlib.Path(root) / f"gutenberg-{_books_key(sources)}-{files}x{size}"

    def fill(directory):
        width = len(str(files - 1))
        for k in range(files):
            rotated = sources[k % len(sources) :] + sources[: k % len(sources)]
            _write_repeated(directory / f"part-{k:0{width}d}.txt", rotated, size)

    return _build_once(
        directory, fill, {"source": "gutenberg", "books": [os.path.basename(s) for s in sources], "files": files, "size": size}
    )


def synthetic(root, files, size, seed=0, mrkit_cmd=("mrkit",)):
    """`files` generated files of about `size` bytes (`mrkit corpus synth`); cached."""

    def fill(directory):
        subprocess.run(
            [
                *mrkit_cmd,
                "corpus",
                "synth",
                "--out",
                str(directory),
                "--files",
                str(files),
                "--size",
                str(size),
                "--seed",
                str(seed),
            ],
            check=True,
            capture_output=True,
        )

    return _build_once(
        pathlib.Path(root) / f"synth-seed{seed}-{files}x{size}",
        fill,
        {"source": "synth", "seed": seed, "files": files, "size": size},
    )


def build(root, files, size, source="auto", mrkit_cmd=("mrkit",)):
    """(source name, input files): the repeated books when available (source auto|gutenberg), else synth."""
    if source in ("auto", "gutenberg") and books_dir():
        return "gutenberg", repeated_books(root, files, size)
    if source == "gutenberg":
        raise SystemExit(f"bench: --source gutenberg but {BOOKS} has no books")
    return "synth", synthetic(root, files, size, mrkit_cmd=mrkit_cmd)


def small(root, source="auto", mrkit_cmd=("mrkit",)):
    """The 'books' case: the eight books themselves (3.3 MB), or 8 generated files of the same size."""
    if source in ("auto", "gutenberg") and books_dir():
        return "gutenberg", book_files()
    return "synth", synthetic(root, 8, 412 * 1024, mrkit_cmd=mrkit_cmd)


def empty_files(root, count):
    """`count` empty input files: a job whose cost is all scheduling."""

    def fill(directory):
        width = len(str(count - 1))
        for k in range(count):
            (directory / f"empty-{k:0{width}d}.txt").touch()

    return _build_once(pathlib.Path(root) / f"empty-{count}", fill, {"source": "empty", "files": count})


def total_bytes(files):
    return sum(os.path.getsize(f) for f in files)


TINY_TEXT = "one tiny input for the scale suite\n"


def tiny_file(root):
    """One file of a few words: `-m N` over it makes N map tasks that (nearly all) read nothing."""

    def fill(directory):
        (directory / "tiny.txt").write_text(TINY_TEXT)

    return _build_once(pathlib.Path(root) / "tiny", fill, {"source": "tiny", "text": TINY_TEXT})


def tiny_counts():
    """The tiny file's word counts, the scale suite's reference."""
    counts = {}
    for word in TINY_TEXT.split():
        counts[word] = counts.get(word, 0) + 1
    return counts


def empty_file(root):
    """One empty input file: `mrkit run wc` on it is the fixed cost of a run."""
    return empty_files(root, 1)

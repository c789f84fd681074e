"""Tests for mrkit.corpus: the built-in synthetic corpus, checked on real files."""

import collections
import itertools
import re

import pytest

from mrkit import corpus
from mrkit.corpus import parse_size, synth

KB = 1024


def words(text):
    """The project's words: maximal runs of characters with str.isalpha()."""
    return ["".join(run) for alpha, run in itertools.groupby(text, str.isalpha) if alpha]


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    """One 256 KiB file's text, shared by the content tests."""
    (path,) = synth(tmp_path_factory.mktemp("sample"), 1, 256 * KB, seed=0)
    return path.read_bytes().decode("utf-8")  # strict: fails on invalid UTF-8


# --- files, names, sizes, determinism ---------------------------------------------------


def test_names_order_and_creates_out_dir(tmp_path):
    out = tmp_path / "a" / "b"
    paths = synth(out, 11, 2 * KB, seed=0)
    assert [p.name for p in paths] == [f"synth-{i:02d}.txt" for i in range(11)]
    assert all(p.parent == out and p.is_file() for p in paths)
    assert sorted(p.name for p in out.iterdir()) == [p.name for p in paths]  # no *.tmp left


def test_name_width_grows_with_file_count(tmp_path):
    paths = synth(tmp_path, 101, 64, seed=0)
    assert paths[0].name == "synth-000.txt" and paths[-1].name == "synth-100.txt"
    assert not list(tmp_path.glob("*.tmp"))


@pytest.mark.parametrize("size", [5_000, 64 * KB, 300_001, 1_300_000])
def test_size_within_one_percent_and_clean_ending(tmp_path, size):
    # 1_300_000 is above the 1 MiB threshold where files are streamed to disk.
    (path,) = synth(tmp_path, 1, size, seed=3)
    data = path.read_bytes()
    assert 0.99 * size <= len(data) <= size
    assert data.endswith(b"\n") and not data.endswith(b" \n")
    assert not data.startswith((b" ", b"\n"))
    text = data.decode("utf-8")
    if size >= 64 * KB:  # smaller files may end after a word, not a sentence
        assert text.rstrip()[-1] in '.!?"”)'


def test_same_arguments_give_identical_bytes(tmp_path):
    a = synth(tmp_path / "a", 2, 40 * KB, seed=7)
    b = synth(tmp_path / "b", 2, 40 * KB, seed=7)
    assert [p.read_bytes() for p in a] == [p.read_bytes() for p in b]
    assert a[0].read_bytes() != a[1].read_bytes()  # files differ from each other


def test_seed_changes_the_text(tmp_path):
    (a,) = synth(tmp_path / "a", 1, 20 * KB, seed=0)
    (b,) = synth(tmp_path / "b", 1, 20 * KB, seed=1)
    assert a.read_bytes() != b.read_bytes()


def test_file_i_does_not_depend_on_file_count(tmp_path):
    two = synth(tmp_path / "two", 2, 30 * KB, seed=5)
    three = synth(tmp_path / "three", 3, 30 * KB, seed=5)
    assert [p.read_bytes() for p in two] == [p.read_bytes() for p in three[:2]]


def test_rerun_replaces_existing_files(tmp_path):
    (tmp_path / "synth-00.txt").write_text("old junk")
    (path,) = synth(tmp_path, 1, 8 * KB, seed=0)
    assert not path.read_bytes().startswith(b"old junk")
    assert len(path.read_bytes()) >= 0.99 * 8 * KB


def test_interrupted_run_leaves_no_partial_file(tmp_path, monkeypatch):
    real_block, calls = corpus._block, []

    def failing_block(*args):
        calls.append(1)
        if len(calls) > 2:
            raise KeyboardInterrupt
        return real_block(*args)

    monkeypatch.setattr(corpus, "_block", failing_block)
    with pytest.raises(KeyboardInterrupt):
        synth(tmp_path, 1, 2 * 1024 * KB, seed=0)  # big enough to need several blocks
    assert list(tmp_path.iterdir()) == []  # neither synth-00.txt nor a *.tmp


@pytest.mark.parametrize("files, size", [(0, 100), (-1, 100), (1, 0), (1, -5), (1.5, 100), (1, "4MB"), (True, 100)])
def test_bad_files_or_size_raise(tmp_path, files, size):
    with pytest.raises(ValueError):
        synth(tmp_path, files, size)


# --- content --------------------------------------------------------------------------


def test_text_is_english_like(sample):
    ws = words(sample)
    assert 0.12 < len(ws) / len(sample.encode()) < 0.25  # English: about one word per 5-7 bytes
    counts = collections.Counter(ws)
    assert {"the", "of", "and", "to", "a", "in"} <= set(w for w, _ in counts.most_common(15))
    assert len(counts) > 5000
    assert 3 <= sum(map(len, ws)) / len(ws) <= 6  # mean word length in letters
    sentences = re.findall(r"[.!?][\"”)]? +[“\"(]?(\w)", sample)
    assert len(sentences) > 1000 and all(s.isupper() or not s.isalpha() for s in sentences)
    assert sample.count("\n\n") > 100  # paragraphs
    for mark in [",", ";", "?", "!", "-", "'", '"', ":"]:
        assert mark in sample, mark
    assert re.search(r"\b1[7-9]\d\d\b|\b20[0-2]\d\b", sample)  # years
    for bad in ["  ", " ,", " .", " ;", "\x00", ",."]:
        assert bad not in sample, bad


def test_zipf_shape(sample):
    ranked = [n for _, n in collections.Counter(w.lower() for w in words(sample)).most_common()]
    assert ranked[0] > 20 * ranked[99]  # rank**-1.07 gives about 60x
    assert ranked[9] > 3 * ranked[99]
    assert sum(ranked[:10]) / sum(ranked) < 0.35  # but not only function words
    assert sum(1 for n in ranked if n == 1) > 1000  # a long tail of rare words


def test_contractions_split_into_words(sample):
    counts = collections.Counter(words(sample))
    assert counts["don"] > 0 and counts["t"] > 0 and counts["s"] > 0
    assert re.search(r"\b\w+'\w+\b", sample) and "’" in sample


def test_non_ascii_words_and_punctuation(sample):
    ws = words(sample)
    non_ascii = [w for w in ws if not w.isascii()]
    assert 0.002 < len(non_ascii) / len(ws) < 0.012  # about 0.5%
    assert len(set(non_ascii)) >= 10
    assert any("\u0370" <= ch <= "\u03ff" for w in non_ascii for ch in w)  # Greek
    assert any("\u0400" <= ch <= "\u04ff" for w in non_ascii for ch in w)  # Cyrillic
    assert "—" in sample and "“" in sample and "”" in sample
    assert re.search(r"[^\W\d_]—[^\W\d_]", sample)  # em dash glued between two words


# --- parse_size -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("100", 100),
        ("100B", 100),
        ("512KB", 512 * 1024),
        ("4MB", 4 * 1024**2),
        ("4mb", 4 * 1024**2),
        ("4MiB", 4 * 1024**2),
        ("4mib", 4 * 1024**2),
        ("1.5GB", 3 * 1024**3 // 2),
        ("2GiB", 2 * 1024**3),
        ("1KiB", 1024),
        (" 3 KB ", 3072),
        ("0.5KB", 512),
        ("1", 1),
    ],
)
def test_parse_size_accepts(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize(
    "text", ["", "  ", "-1", "-4MB", "0", "0MB", "0.1", "4XB", "abc", "MB", "4 M B", "1.2.3", "4M", "1e6", "nan", "4MBs"]
)
def test_parse_size_rejects_with_message_naming_input(text):
    with pytest.raises(ValueError) as err:
        parse_size(text)
    message = str(err.value)
    assert repr(text) in message and "KB" in message and "MiB" in message
    assert "\n" not in message


def test_sample_is_the_same_text_every_time_and_at_least_its_size():
    text = corpus.sample(200_000)
    assert len(text.encode()) >= 200_000 and text == corpus.sample(200_000)
    assert text != corpus.sample(200_000, seed=1)
    assert " the " in text and text.replace("\n", " ").isprintable()

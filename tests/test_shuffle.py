"""Partitions are stable across processes; intermediate files round-trip; merge streams."""

import io
import subprocess
import sys

from mrkit import shuffle


def test_partition_is_crc32_mod_r_in_every_process():
    keys = ["the", "Zürich", "a", "x" * 100]
    here = [shuffle.partition(k, 10) for k in keys]
    code = f"from mrkit.shuffle import partition; print([partition(k, 10) for k in {keys!r}])"
    for seed in ("0", "123"):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                             env={"PYTHONHASHSEED": seed, "PATH": ""}).stdout
        assert out.strip() == str(here)
    assert shuffle.partition("hello", 10) == 907060870 % 10  # zlib.crc32(b"hello")


def test_intermediate_records_round_trip_with_awkward_characters():
    bucket = {"tab\there": ["new\nline", "back\\slash"], "plain": ["1"], "é": ["\\t literal"]}
    data, count = shuffle.encode_partition(bucket)
    assert count == 4
    records = list(shuffle.read_records(io.StringIO(data.decode("utf-8"), newline="\n")))
    assert records == [("plain", "1"), ("tab\there", "new\nline"), ("tab\there", "back\\slash"), ("é", "\\t literal")]


def test_merge_groups_is_sorted_and_lazy():
    consumed = []

    def stream(name, pairs):
        for pair in pairs:
            consumed.append(name)
            yield pair

    a = stream("a", [("apple", "1"), ("cherry", "2"), ("zebra", "3")])
    b = stream("b", [("apple", "4"), ("banana", "5"), ("zebra", "6")])
    groups = shuffle.merge_groups([a, b])
    assert next(groups) == ("apple", ["1", "4"])
    assert len(consumed) <= 4, "merge must not read whole partitions ahead"
    assert list(groups) == [("banana", ["5"]), ("cherry", ["2"]), ("zebra", ["3", "6"])]


def test_group_applies_the_combiner_per_key():
    pairs = [("a", "1"), ("b", "1"), ("a", "1")]
    assert shuffle.group(pairs) == {"a": ["1", "1"], "b": ["1"]}
    assert shuffle.group(pairs, lambda k, vs: [str(len(vs))]) == {"a": ["2"], "b": ["1"]}

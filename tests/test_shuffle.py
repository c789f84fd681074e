"""Partitions are stable across processes; intermediate files round-trip; merge streams."""

import io
import subprocess
import sys

import pytest

from mrkit import shuffle


def test_partition_is_crc32_mod_r_in_every_process():
    keys = ["the", "Zürich", "a", "x" * 100]
    here = [shuffle.partition(k, 10) for k in keys]
    code = f"from mrkit.shuffle import partition; print([partition(k, 10) for k in {keys!r}])"
    for seed in ("0", "123"):
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, env={"PYTHONHASHSEED": seed, "PATH": ""}
        ).stdout
        assert out.strip() == str(here)
    assert shuffle.partition("hello", 10) == 907060870 % 10  # zlib.crc32(b"hello")


def test_intermediate_records_round_trip_with_awkward_characters():
    bucket = {"tab\there": ["new\nline", "back\\slash"], "plain": ["2", "1"], "é": ["\\t literal", "trail\r"]}
    data, count = shuffle.encode_partition(bucket)
    assert count == 6
    lines = io.StringIO(data.decode("utf-8"), newline="\n")
    groups = dict(shuffle.merge_groups([lines]))
    assert {k: sorted(v) for k, v in groups.items()} == {k: sorted(v) for k, v in bucket.items()}
    assert groups["plain"] == ["1", "2"], "lines are sorted"


def test_merge_across_files_groups_every_key_once():
    files = [
        {"b": ["1"], "a\tx": ["2"], "c": ["3"], "a": ["7"], "a\x01": ["8"]},
        {"a\tx": ["4"], "c": ["5"], "d\\": ["6"], "a\x01": ["9"], "a": ["0"]},
    ]
    streams = [io.StringIO(shuffle.encode_partition(f)[0].decode(), newline="\n") for f in files]
    groups = list(shuffle.merge_groups(streams))
    assert sorted(k for k, _ in groups) == ["a", "a\x01", "a\tx", "b", "c", "d\\"], "each key exactly once"
    assert dict(groups) == {"a": ["0", "7"], "a\x01": ["8", "9"], "a\tx": ["2", "4"], "b": ["1"], "c": ["3", "5"], "d\\": ["6"]}


def test_merge_groups_is_sorted_and_lazy():
    consumed = []

    def stream(name, pairs):
        for pair in pairs:
            consumed.append(name)
            yield pair

    a = stream("a", ["apple\t1\n", "cherry\t2\n", "zebra\t3\n"])
    b = stream("b", ["apple\t4\n", "banana\t5\n", "zebra\t6\n"])
    groups = shuffle.merge_groups([a, b])
    assert next(groups) == ("apple", ["1", "4"])
    assert len(consumed) <= 4, "merge must not read whole partitions ahead"
    assert list(groups) == [("banana", ["5"]), ("cherry", ["2"]), ("zebra", ["3", "6"])]


def test_group_applies_the_combiner_per_key():
    pairs = [("a", "1"), ("b", "1"), ("a", "1")]
    assert shuffle.group(pairs) == {"a": ["1", "1"], "b": ["1"]}
    assert shuffle.group(pairs, lambda k, vs: [str(len(vs))]) == {"a": ["2"], "b": ["1"]}


def test_sorted_groups_yields_what_the_streaming_merge_does():
    files = [
        {"b": ["1"], "a\tx": ["2"], "c": ["3\\"], "a": ["7", "7\x01"], "a\x01": ["8"], "": ["e"]},
        {"a\tx": ["4"], "c": ["5"], "d\\": ["6\n"], "a\x01": ["9"], "a": ["0\r"]},
        {},
    ]
    texts = [shuffle.encode_partition(f)[0].decode() for f in files]
    streamed = list(shuffle.merge_groups([io.StringIO(t, newline="\n") for t in texts]))
    assert list(shuffle.sorted_groups([io.StringIO(t, newline="\n") for t in texts])) == streamed
    assert list(shuffle.sorted_groups([io.StringIO("")])) == []


def test_encode_partition_escapes_only_what_needs_it():
    data, count = shuffle.encode_partition({"b": ["2", 1], "a": ["x\ty"]})
    assert (data, count) == (b"a\tx\\ty\nb\t1\nb\t2\n", 3), "values go through str(); lines sorted"
    assert shuffle.encode_partition({"k": ["plain"]}) == (b"k\tplain\n", 1)


# ---- keys that test the output's `key value` lines, through real `mrkit` processes ----------------


def _weird_inputs(tmp_path):
    (tmp_path / "a.txt").write_text("alpha beta gamma alpha\ndelta beta\n")
    (tmp_path / "b.txt").write_text("gamma epsilon alpha\n")
    return ["a.txt", "b.txt"]


@pytest.mark.timeout(120)
def test_keys_with_spaces_and_tabs_are_written_and_read_back_line_for_line(tmp_path):
    from conftest import app_path, mrkit, sorted_outputs

    from mrkit.app import load_app
    from mrkit.job import resolve_inputs
    from mrkit.storage.local import LocalStorage
    from mrkit.verify import output_pairs, verify

    inputs = _weird_inputs(tmp_path)
    app = load_app(app_path("weirdkeys"))
    keys = {key for name in inputs for key, _ in app.map(name, (tmp_path / name).read_text())}
    (tmp_path / "ref").mkdir()
    mrkit("sequential", app_path("weirdkeys"), *[tmp_path / n for n in inputs], cwd=tmp_path / "ref", check=True)
    mrkit("run", app_path("weirdkeys"), "-r", "3", *inputs, cwd=tmp_path, check=True)
    assert sorted_outputs(tmp_path) == sorted_outputs(tmp_path / "ref")
    assert len(sorted_outputs(tmp_path)) == len(keys), "one line per key"
    pairs = list(output_pairs(tmp_path))
    assert ("alpha\ttab", "3") in pairs, "a tab is part of the key"
    assert ("alpha", "and more 3") in pairs, "a key with a space is read up to its first space"
    checked = verify(app, resolve_inputs([str(tmp_path / n) for n in inputs]), LocalStorage(tmp_path))
    assert checked.ok, checked.line()


@pytest.mark.timeout(120)
def test_a_key_with_a_newline_fails_the_task_blaming_the_app(tmp_path):
    from conftest import app_path, mrkit

    inputs = _weird_inputs(tmp_path)
    # one reduce task: the first key it finds with a newline is the first in order, alpha's
    run = mrkit("run", app_path("weirdkeys"), "--app-opt", "newline=yes", "-r", "1", *inputs, cwd=tmp_path)
    lines = run.stderr.strip().splitlines()
    assert run.returncode == 1 and len(lines) == 1, run.stderr
    assert "reduce's key 'alpha\\nnl' holds a newline" in lines[0] and "reduce task" in lines[0], run.stderr
    assert not list(tmp_path.glob("mr-out-*"))
    sequential = mrkit("sequential", app_path("weirdkeys"), "--app-opt", "newline=yes", *inputs, cwd=tmp_path)
    assert sequential.returncode == 2 and sequential.stderr.count("\n") == 1, sequential.stderr
    assert "holds a newline" in sequential.stderr and not (tmp_path / "mr-out-0").exists()

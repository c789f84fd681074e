"""Splitting: M near-equal chunks, cut at whitespace, every byte in exactly one chunk."""

import json
import os
import time

import pytest

from mrkit import split
from mrkit.job import resolve_inputs
from mrkit.storage.local import LocalStorage


def _write(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def _chunks(tasks):
    return [[(s.path, s.start, s.end) for s in task] for task in tasks]


def _covers_exactly(inputs, tasks):
    pieces = sorted((s.location, s.start, s.end) for task in tasks for s in task)
    for item in inputs:
        mine = [(start, end) for location, start, end in pieces if location == item.location]
        assert mine[0][0] == 0 and mine[-1][1] == item.size
        assert all(a[1] == b[0] for a, b in zip(mine, mine[1:])), "gap or overlap"


def test_default_is_one_task_per_file(tmp_path):
    inputs = resolve_inputs([_write(tmp_path, "a.txt", b"one two"), _write(tmp_path, "b.txt", b"")])
    assert _chunks(split.plan(inputs, None, LocalStorage())) == [[(inputs[0].path, 0, 7)], [(inputs[1].path, 0, 0)]]


@pytest.mark.parametrize("n_map", [1, 2, 3, 7, 16, 50])
def test_chunks_are_near_equal_and_never_cut_a_word(tmp_path, n_map):
    texts = [b"alpha beta gamma delta\n" * 300, b"x" * 10 + b" tail", b"caf\xc3\xa9 \xe2\x80\x94 word\n" * 200]
    inputs = resolve_inputs([_write(tmp_path, f"f{i}.txt", t) for i, t in enumerate(texts)])
    tasks = split.plan(inputs, n_map, LocalStorage())
    assert len(tasks) == n_map
    _covers_exactly(inputs, tasks)
    whole = {i.location: open(i.location, "rb").read() for i in inputs}
    for task in tasks:
        for s in task:
            data = whole[s.location]
            # A cut sits right after whitespace or at a file edge, never inside a word.
            assert s.start == 0 or data[s.start - 1 : s.start].isspace()
            assert s.end == len(data) or data[s.end - 1 : s.end].isspace()
            data[s.start : s.end].decode("utf-8")  # no multi-byte character cut either
    sizes = [sum(s.end - s.start for s in task) for task in tasks]
    total = sum(i.size for i in inputs)
    if n_map <= 16:
        assert max(sizes) - min(sizes) <= 64 + 2 * len(b"alpha beta gamma delta\n"), sizes
    assert sum(sizes) == total


def test_cuts_prefer_line_breaks(tmp_path):
    inputs = resolve_inputs([_write(tmp_path, "lines.txt", b"a line with several words\n" * 1000)])
    for task in split.plan(inputs, 9, LocalStorage()):
        for s in task:
            assert s.end == inputs[0].size or open(s.location, "rb").read()[s.end - 1 : s.end] == b"\n"


def test_more_tasks_than_words_leaves_some_empty(tmp_path):
    inputs = resolve_inputs([_write(tmp_path, "tiny.txt", b"one two")])
    tasks = split.plan(inputs, 5, LocalStorage())
    assert len(tasks) == 5
    assert sorted(map(len, tasks)) == [0, 0, 0, 1, 1]
    _covers_exactly(inputs, tasks)


def test_a_file_without_whitespace_stays_whole(tmp_path):
    inputs = resolve_inputs([_write(tmp_path, "blob.txt", b"x" * 200_000)])
    assert sorted(map(len, split.plan(inputs, 4, LocalStorage()))) == [0, 0, 0, 1]


def test_splits_keep_the_path_as_given(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _write(tmp_path, "given.txt", b"a b c d e f g h\n" * 100)
    inputs = resolve_inputs(["given.txt"])
    tasks = split.plan(inputs, 3, LocalStorage())
    assert {s.path for task in tasks for s in task} == {"given.txt"}
    assert {s.location for task in tasks for s in task} == {str(tmp_path / "given.txt")}


# ---- inputs pinned at the split: real master and worker processes ----------------------------------


def _master_up(directory, *args, env=None):
    from conftest import mrkit_popen

    master = mrkit_popen("master", *args, cwd=directory, env=env)
    deadline = time.monotonic() + 60
    while not (directory / "mr-master.json").exists():
        assert master.poll() is None and time.monotonic() < deadline, master.communicate()
        time.sleep(0.05)
    return master


def _fails_naming(master, worker, where):
    _, err = master.communicate(timeout=90)
    worker.communicate(timeout=30)
    lines = err.strip().splitlines()
    assert master.returncode == 2, err  # at once: another attempt would read the same changed input
    assert "error" in lines[-1] and where in lines[-1] and "changed after the job split it" in lines[-1], err
    return lines


def _truncate(path):
    os.truncate(path, 1000)


def _rewrite_same_size(path):
    data = open(path, "rb").read()
    open(path, "r+b").write(data[::-1])  # same size, other words: only the version tells


@pytest.mark.timeout(120)
@pytest.mark.parametrize("change", [_truncate, _rewrite_same_size])
def test_an_input_changed_after_the_split_fails_the_job_naming_it(tmp_path, change):
    from conftest import mrkit_popen

    from mrkit.corpus import synth

    inputs = [str(p) for p in synth(tmp_path / "in", 2, 64 * 1024, seed=3)]
    (tmp_path / "job").mkdir()
    master = _master_up(tmp_path / "job", "-r", "2", *inputs)
    change(inputs[1])
    worker = mrkit_popen("worker", "wc", cwd=tmp_path / "job")
    _fails_naming(master, worker, inputs[1])
    record = json.loads((tmp_path / "job" / "mr-run.json").read_text())
    assert not [t for t in record["tasks"] if t["phase"] == "map" and t["task"] == 1 and t["status"] == "ok"]
    assert not list((tmp_path / "job").glob("mr-out-*"))


@pytest.mark.timeout(120)
def test_an_s3_input_overwritten_after_the_split_fails_the_job(corpus, tmp_path, s3_client, moto_endpoint):
    from conftest import BUCKET, mrkit_popen

    env = {"AWS_ENDPOINT_URL": moto_endpoint}
    master = _master_up(tmp_path, "--storage", f"s3://{BUCKET}/job", "-r", "2", *corpus[:2], env=env)
    key = s3_client.list_objects_v2(Bucket=BUCKET, Prefix="job/inputs/")["Contents"][0]["Key"]
    size = s3_client.head_object(Bucket=BUCKET, Key=key)["ContentLength"]
    s3_client.put_object(Bucket=BUCKET, Key=key, Body=b"z" * size)  # same size, another ETag
    worker = mrkit_popen("worker", "wc", cwd=tmp_path, env=env)
    _fails_naming(master, worker, f"s3://{BUCKET}/{key}")

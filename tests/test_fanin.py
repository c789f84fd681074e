"""A reduce over more intermediate files than it may open: merged in rounds, output unchanged, no runs left."""

import pathlib
import random
import subprocess
import sys
import textwrap

import pytest

from mrkit import fanin, shuffle, tasks
from mrkit.app import load_app
from mrkit.storage.local import LocalStorage

N_MAPS = 23
WORDS = ["a", "b", "tab\there", "back\\slash", "new\nline", "caf\u00e9", "\u4e2d", "z" * 40, "a\x01", "A"]
KEY_WORDS = [w for w in WORDS if "\n" not in w]  # no output line can hold a key with a newline (values: escaped)


def _write_intermediates(storage, n_maps=N_MAPS, seed=3):
    """n_maps intermediate files of reduce 0, with awkward keys and values, some keys in every file."""
    rng = random.Random(seed)
    for m in range(n_maps):
        part = {}
        for _ in range(rng.randrange(1, 30)):
            part.setdefault(rng.choice(KEY_WORDS) + str(rng.randrange(5)), []).append(rng.choice(WORDS))
        storage.write_bytes(shuffle.intermediate_name(m, 0), shuffle.encode_partition(part)[0])
    return list(range(n_maps))


def _no_map(filename, contents):
    return []


def _join(key, values):
    return "|".join(values).replace("\n", "\\n")


def _reduce(storage, maps, bytes_in=None, app=None):
    task = {"task": 0, "maps": maps}
    if bytes_in is not None:
        task["bytes_in"] = bytes_in
    counters = tasks.run_reduce(app or load_app({"map": _no_map, "reduce": _join}), task, storage)
    return storage.read_bytes(shuffle.output_name(0)), counters["records_in"], counters["records_out"]


def _hidden(directory):
    return sorted(p.name for p in directory.iterdir() if p.name.startswith("."))


@pytest.mark.parametrize("fan_in", [2, 3, 5])
def test_output_is_the_same_with_and_without_rounds(tmp_path, monkeypatch, fan_in):
    storage = LocalStorage(tmp_path)
    maps = _write_intermediates(storage)
    in_memory = _reduce(storage, maps, bytes_in=1)
    one_merge = _reduce(storage, maps)  # no bytes_in: streamed; 23 files fit under the default 64
    monkeypatch.setattr(fanin, "MAX_OPEN_FILES", fan_in)
    in_rounds = _reduce(storage, maps)
    assert in_rounds == one_merge == in_memory
    assert in_rounds[2] > 20  # keys met in several files: the merge really groups across runs
    assert _hidden(tmp_path) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*(f"mr-{m}-0" for m in maps), "mr-out-0"])


def test_runs_are_hidden_while_they_exist(tmp_path, monkeypatch):
    storage = LocalStorage(tmp_path)
    maps = _write_intermediates(storage)
    monkeypatch.setattr(fanin, "MAX_OPEN_FILES", 4)
    seen = {}

    def reduce(key, values):
        if not seen:  # while the final merge runs, the runs of the last round exist
            seen.update(hidden=_hidden(tmp_path), listed=storage.list(""), globbed=[p.name for p in tmp_path.glob("mr-*")])
        return _join(key, values)

    _reduce(storage, maps, app=load_app({"map": _no_map, "reduce": reduce}))
    runs = [name for name in seen["hidden"] if name.startswith(".mr-run-0-")]
    assert len(runs) == 2 and all(name.endswith(".tmp") for name in runs)  # 23 files, 4 at a time: 6 runs, then 2
    assert not any(name.startswith(".") for name in seen["listed"] + seen["globbed"])
    assert _hidden(tmp_path) == []


def test_runs_are_removed_when_the_reduce_raises(tmp_path, monkeypatch):
    storage = LocalStorage(tmp_path)
    maps = _write_intermediates(storage)
    monkeypatch.setattr(fanin, "MAX_OPEN_FILES", 2)

    def reduce(key, values):
        raise ValueError("the app's own bug")

    with pytest.raises(ValueError, match="the app's own bug"):
        _reduce(storage, maps, app=load_app({"map": _no_map, "reduce": reduce}))
    assert _hidden(tmp_path) == []
    assert not (tmp_path / shuffle.output_name(0)).exists()


def test_runs_are_removed_when_an_intermediate_is_missing(tmp_path, monkeypatch):
    storage = LocalStorage(tmp_path)
    maps = _write_intermediates(storage)
    monkeypatch.setattr(fanin, "MAX_OPEN_FILES", 3)
    with pytest.raises(FileNotFoundError):
        _reduce(storage, [*maps, 999])  # the last batch of the first round fails to open
    assert _hidden(tmp_path) == []


def test_rounds_on_s3_give_the_same_output_and_leave_no_keys(s3_storage, s3_client, tmp_path, monkeypatch):
    local = LocalStorage(tmp_path)
    maps = _write_intermediates(local)
    _write_intermediates(s3_storage)
    expected = _reduce(local, maps)
    monkeypatch.setattr(fanin, "MAX_OPEN_FILES", 3)
    assert _reduce(s3_storage, maps) == expected
    keys = [o["Key"] for o in s3_client.list_objects_v2(Bucket="mrkit-test").get("Contents", ())]
    assert sorted(keys) == sorted([f"job/mr-{m}-0" for m in maps] + ["job/mr-out-0"])


def test_a_streamed_reduce_over_more_files_than_the_fd_limit(tmp_path):
    # A real process limited to 100 descriptors reduces 400 files with the default fan-in.
    storage = LocalStorage(tmp_path)
    maps = _write_intermediates(storage, n_maps=400)
    expected = _reduce(storage, maps, bytes_in=1)[0]
    (tmp_path / shuffle.output_name(0)).unlink()
    script = textwrap.dedent(f"""
        import resource
        resource.setrlimit(resource.RLIMIT_NOFILE, (100, 100))
        from mrkit import tasks
        from mrkit.app import load_app
        from mrkit.storage.local import LocalStorage
        from test_fanin import _join, _no_map
        tasks.run_reduce(load_app({{"map": _no_map, "reduce": _join}}), {{"task": 0, "maps": list(range(400))}},
                         LocalStorage({str(tmp_path)!r}))
    """)
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=pathlib.Path(__file__).parent
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / shuffle.output_name(0)).read_bytes() == expected
    assert _hidden(tmp_path) == []

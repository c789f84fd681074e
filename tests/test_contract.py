"""Apps that return non-str keys, values or reduce results: one line that blames the app, everywhere."""

import pytest
from conftest import app_path, mrkit

from mrkit import contract, shuffle, tasks
from mrkit.app import load_app
from mrkit.errors import AppError
from mrkit.storage.local import LocalStorage

SHOWN = {"int": "3 (int)", "none": "None (NoneType)", "bytes": "b'x' (bytes)"}
KINDS = sorted(SHOWN)


def _expected(what, kind, filename):
    if what == "key":
        return f"map returned key {SHOWN[kind]} for input {filename}: keys and values must be str"
    if what == "value":
        return f"map returned value {SHOWN[kind]} for key 'x' of input {filename}: keys and values must be str"
    return f"reduce returned {SHOWN[kind]} for key 'x': it must return str"


def _bad_app(what, kind):
    return load_app(app_path("badtypes"), {"what": what, "kind": kind})


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("what", ["key", "value", "reduce"])
def test_sequential_prints_one_line_blaming_the_app(tmp_path, what, kind):
    (tmp_path / "a.txt").write_text("hello\n")
    result = mrkit(
        "sequential", app_path("badtypes"), "a.txt", "--app-opt", f"what={what}", "--app-opt", f"kind={kind}", cwd=tmp_path
    )
    assert result.returncode == 2
    assert result.stderr == f"mrkit sequential: error: {_expected(what, kind, 'a.txt')}\n"
    assert not (tmp_path / "mr-out-0").exists()


def _map_task(path, n_splits=1):
    size = path.stat().st_size
    return {"task": 0, "n_reduce": 3, "splits": [[path.name, str(path), 0, size]] * n_splits}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("what", ["key", "value"])
def test_a_map_task_raises_the_same_line(tmp_path, what, kind):
    (tmp_path / "a.txt").write_text("hello\n")
    storage = LocalStorage(tmp_path)
    for n_splits in (1, 2):
        with pytest.raises(AppError) as raised:
            tasks.run_map(_bad_app(what, kind), _map_task(tmp_path / "a.txt", n_splits), storage)
        assert str(raised.value) == _expected(what, kind, "a.txt")
    assert not list(tmp_path.glob("mr-*"))


@pytest.mark.parametrize("returned", [None, 3, "a string"])
def test_a_map_that_returns_no_pairs_is_named_in_a_task_as_in_the_reference(tmp_path, returned):
    """A map without a `return` failed in the shuffle's code: "TypeError ... at shuffle.py:70 in group"."""
    (tmp_path / "a.txt").write_text("hello\n")
    app = load_app({"map": lambda filename, contents: returned, "reduce": lambda key, values: ""})
    with pytest.raises(AppError, match=r"^map returned .* for a.txt: it must return \(key, value\) pairs$"):
        tasks.run_map(app, _map_task(tmp_path / "a.txt"), LocalStorage(tmp_path))


@pytest.mark.parametrize("kind", KINDS)
def test_a_reduce_task_raises_the_same_line(tmp_path, kind):
    (tmp_path / "a.txt").write_text("hello\n")
    storage = LocalStorage(tmp_path)
    app = _bad_app("reduce", kind)
    counters = tasks.run_map(app, _map_task(tmp_path / "a.txt"), storage)
    for reduce_task, size in counters["partitions"]:
        maps = {"task": reduce_task, "maps": [0]}
        for bytes_in in (size, tasks.SORT_IN_MEMORY_BYTES + 1):  # in memory and streamed
            if reduce_task != shuffle.partition("x", 3):
                tasks.run_reduce(app, {**maps, "bytes_in": bytes_in}, storage)
                continue
            with pytest.raises(AppError) as raised:
                tasks.run_reduce(app, {**maps, "bytes_in": bytes_in}, storage)
            assert str(raised.value) == _expected("reduce", kind, "a.txt")
            assert not (tmp_path / shuffle.output_name(reduce_task)).exists()


def test_map_combined_and_combine_are_named_when_they_break_it(tmp_path):
    (tmp_path / "a.txt").write_text("hello\n")
    storage = LocalStorage(tmp_path)
    fast = load_app({"map": lambda f, c: [], "reduce": lambda k, v: "", "map_combined": lambda f, c: {"w": [1]}})
    with pytest.raises(AppError, match=r"^map_combined returned value 1 \(int\) for key 'w' of input a.txt: "):
        tasks.run_map(fast, _map_task(tmp_path / "a.txt"), storage)
    combining = load_app({"map": lambda f, c: [("w", "1")], "reduce": lambda k, v: "", "combine": lambda k, v: [len(v)]})
    for n_splits in (1, 2):  # combined per split, and again across the task's splits
        with pytest.raises(AppError, match=r"^combine returned value 1 \(int\) for key 'w'"):
            tasks.run_map(combining, _map_task(tmp_path / "a.txt", n_splits), storage)


def test_str_subclasses_and_long_values_are_fine_and_shown_short():
    class Word(str):
        pass

    contract.check_grouped({Word("k"): [Word("v")], "a": ["b"]}, "map", "a.txt")  # a str is a str
    with pytest.raises(AppError) as raised:
        contract.check_grouped({"k": [list(range(1000))]}, "map", "a.txt")
    assert len(str(raised.value)) < 200 and "(list)" in str(raised.value)


def test_map_combined_values_that_are_not_lists_are_named():
    with pytest.raises(AppError) as raised:
        contract.check_grouped({"w": 3}, "map_combined", "a.txt")
    assert str(raised.value) == "map_combined returned value 3 (int) for key 'w' of input a.txt: values must be lists of str"

"""Map and reduce tasks against a local storage."""

import resource
import subprocess

import pytest
from conftest import MRKIT, mrkit, sorted_outputs

from mrkit import shuffle, tasks
from mrkit.app import load_app
from mrkit.storage.local import LocalStorage


def test_reduce_output_is_the_same_sorted_in_memory_or_streamed(tmp_path):
    storage = LocalStorage(tmp_path)
    app = load_app({"map": lambda filename, contents: [], "reduce": lambda key, values: "|".join(values).replace("\n", "<NL>")})
    parts = [{"b": ["1"], "a": ["2", "2\x01"], "tab\there": ["x\\y"]}, {"a": ["0"], "c": ["3\n"]}]
    for m, part in enumerate(parts):
        storage.write_bytes(shuffle.intermediate_name(m, 0), shuffle.encode_partition(part)[0])
    outputs = []
    for bytes_in in (1, tasks.SORT_IN_MEMORY_BYTES + 1):  # in memory, then streamed
        counters = tasks.run_reduce(app, {"task": 0, "maps": [0, 1], "bytes_in": bytes_in}, storage)
        outputs.append((storage.read_bytes(shuffle.output_name(0)), counters["records_in"], counters["records_out"]))
    assert outputs[0] == outputs[1] == (b"a 0|2\x01|2\nb 1\nc 3<NL>\ntab\there x\\y\n", 6, 4)


def test_a_task_of_several_splits_combines_again_only_the_keys_several_emitted(tmp_path):
    # Two inputs in one map task: combine runs per split on every key, then once more over the task only
    # for y, the key both splits emitted (a combiner may run any number of times on a key's values).
    (tmp_path / "a.txt").write_text("x y x")
    (tmp_path / "b.txt").write_text("y z")
    combined = []

    def combine(key, values):
        combined.append(key)
        return [str(sum(map(int, values)))]

    app = load_app(
        {"map": lambda filename, contents: [(w, "1") for w in contents.split()], "combine": combine, "reduce": lambda k, v: v[0]}
    )
    splits = [[name, name, 0, (tmp_path / name).stat().st_size] for name in ("a.txt", "b.txt")]
    storage = LocalStorage(tmp_path)
    counters = tasks.run_map(app, {"task": 0, "n_reduce": 1, "splits": splits}, storage)
    assert sorted(combined[:2]) == ["x", "y"] and sorted(combined[2:4]) == ["y", "z"], "each split's keys, combined"
    assert combined[4:] == ["y"], "over the task: only the key both splits emitted"
    assert storage.read_bytes(shuffle.intermediate_name(0, 0)) == b"x\t2\ny\t2\nz\t1\n"
    assert counters["records_out"] == 3


@pytest.mark.parametrize("combine", [None, lambda key, values: [",".join(sorted(values))]], ids=["no combine", "combine"])
@pytest.mark.parametrize("container", [tuple, "one list for every key"])
def test_a_task_of_several_splits_joins_tuples_and_shared_lists_without_changing_them(tmp_path, container, combine):
    # The contract asks for lists of str, and tuples pass its check; a map_combined may also hand every key
    # the same list (its document's name, as indexer's could). Joining three splits must not extend those:
    # a tuple has no extend, and a list shared by keys would gain every key's values.
    for name, text in (("a.txt", "x y"), ("b.txt", "y z"), ("c.txt", "y x")):
        (tmp_path / name).write_text(text)
    returned = []

    def map_combined(filename, contents):
        shared = [filename]
        part = {word: tuple(shared) if container is tuple else shared for word in contents.split()}
        returned.append((part, {word: list(values) for word, values in part.items()}))
        return part

    app = load_app({"map": lambda f, c: [], "map_combined": map_combined, "combine": combine, "reduce": lambda k, v: v[0]})
    splits = [[name, name, 0, (tmp_path / name).stat().st_size] for name in ("a.txt", "b.txt", "c.txt")]
    storage = LocalStorage(tmp_path)
    counters = tasks.run_map(app, {"task": 0, "n_reduce": 1, "splits": splits}, storage)
    for part, as_returned in returned:
        assert {word: list(values) for word, values in part.items()} == as_returned
    lines = {"x": ["a.txt", "c.txt"], "y": ["a.txt", "b.txt", "c.txt"], "z": ["b.txt"]}
    if combine is None:
        expected = "".join(sorted(f"{word}\t{doc}\n" for word, docs in lines.items() for doc in docs))
    else:
        expected = "".join(f"{word}\t{','.join(docs)}\n" for word, docs in lines.items())
    assert storage.read_bytes(shuffle.intermediate_name(0, 0)).decode() == expected
    assert counters["records_out"] == expected.count("\n")


def _limit_open_files(n):
    """A preexec_fn: the child (and its workers) may hold at most n file descriptors."""

    def limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (n, n))

    return limit


@pytest.mark.slow
def test_a_run_with_more_map_outputs_than_open_files_allowed_succeeds(tmp_path):
    # 2,000 map tasks over 1 MiB: each reduce reads ~1,000 intermediate files under a limit of 256.
    from mrkit.corpus import synth

    inputs = [str(p) for p in synth(tmp_path / "in", 4, 256 * 1024, seed=1)]
    (tmp_path / "run").mkdir()
    (tmp_path / "seq").mkdir()
    result = subprocess.run(
        [*MRKIT, "run", "wc", *inputs, "-m", "2000", "-r", "50", "-w", "2"],
        cwd=tmp_path / "run",
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=_limit_open_files(256),
    )
    assert result.returncode == 0, result.stderr
    assert len(list((tmp_path / "run").glob("mr-*-7"))) > 256  # the case in point: more files than fds
    mrkit("sequential", "wc", *inputs, cwd=tmp_path / "seq", check=True)
    assert sorted_outputs(tmp_path / "run") == sorted_outputs(tmp_path / "seq")

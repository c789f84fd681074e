"""The local cluster and `mrkit.run`: exact outputs for any (M, R), notebook functions, crashes."""

import re
from collections import Counter

import pytest
from conftest import sorted_outputs

import mrkit
from mrkit.timing import TASK_COLUMNS


def _independent_count(paths):
    """Word count by a different route: a regex over the decoded text, then isalpha runs."""
    counts = Counter()
    for path in paths:
        text = open(path, "rb").read().decode("utf-8", "replace")
        for candidate in re.findall(r"[^\W\d_]+", text):
            counts.update(run for run in re.split(r"[^a-zA-Z\u00c0-\uffff]+", candidate) if run.isalpha())
    return counts


def _outputs_as_counts(directory):
    return Counter({k: int(v) for k, v in (line.rsplit(" ", 1) for line in sorted_outputs(directory))})


@pytest.mark.timeout(120)
@pytest.mark.parametrize("n_map, n_reduce", [(None, 10), (1, 1), (3, 4), (8, 10), (13, 3), (40, 7)])
def test_word_count_equals_counter(corpus, tmp_path, n_map, n_reduce):
    summary, tasks = mrkit.run("wc", corpus, n_map=n_map, n_reduce=n_reduce, workers=2, workdir=tmp_path)
    assert _outputs_as_counts(tmp_path) == _independent_count(corpus)
    assert summary["n_map"] == (n_map or len(corpus)) and summary["retries"] == 0
    ok = tasks[tasks.status == "ok"]
    assert sorted(ok[ok.phase == "map"].task) == list(range(summary["n_map"]))
    assert sorted(ok[ok.phase == "reduce"].task) == list(range(n_reduce))
    for r in range(n_reduce):
        keys = [line.split(" ")[0] for line in (tmp_path / f"mr-out-{r}").read_text().splitlines()]
        assert keys == sorted(keys), "keys in an output file are sorted"


@pytest.mark.timeout(120)
def test_indexer_output_is_identical_for_every_m(corpus, tmp_path):
    outputs = []
    for n_map in (None, 1, 5, 20):
        workdir = tmp_path / f"m{n_map}"
        mrkit.run("indexer", corpus, n_map=n_map, n_reduce=3, workers=2, workdir=workdir)
        outputs.append(sorted_outputs(workdir))
    assert all(o == outputs[0] for o in outputs[1:])
    line = next(o for o in outputs[0] if o.startswith("the "))
    assert line.split(" ")[1] == str(len(corpus)), "'the' is in every document"


def test_run_returns_the_summary_and_a_tasks_frame(corpus, tmp_path):
    seen = []
    result = mrkit.run("wc", corpus[:3], n_reduce=2, workdir=tmp_path, on_status=seen.append, repeat=4)
    assert result.summary is result[0] and result.summary["repeat"] == 4
    tasks = result.tasks
    assert list(tasks.columns) == TASK_COLUMNS
    assert (tasks.phase == "split").sum() == 1 and (tasks.phase == "map").sum() == 3
    assert set(tasks.status) == {"ok"} and (tasks.run_id == result.summary["run_id"]).all()
    assert (tasks.end >= tasks.start).all() and tasks.pid.nunique() >= 2
    assert seen and seen[-1]["phase"] == "done"


@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_notebook_style_functions(tmp_path, start_method):
    """Functions defined inside a function (as in a notebook cell) reach the workers."""
    (tmp_path / "in.txt").write_text("b a b\nc b")
    stop = {"a"}

    def tokens(text):
        return [w for w in text.split() if w not in stop]

    def mapper(filename, contents):
        return [(w, "1") for w in tokens(contents)]

    def reducer(key, values):
        return str(len(values))

    mrkit.run({"map": mapper, "reduce": reducer}, [str(tmp_path / "in.txt")], n_reduce=2,
              workdir=tmp_path / "out", start_method=start_method)
    assert sorted_outputs(tmp_path / "out") == ["b 3", "c 1"]


@pytest.mark.timeout(150)
def test_crashing_workers_are_replaced_and_the_output_is_exact(corpus, tmp_path):
    from mrkit.app import load_app
    from mrkit.job import resolve_inputs
    from mrkit.sequential import run_sequential

    (tmp_path / "ref").mkdir()
    run_sequential(load_app("nocrash"), resolve_inputs(corpus[:3]), tmp_path / "ref")
    summary, tasks = mrkit.run("crash", corpus[:3], n_reduce=3, workers=3, task_timeout=1.0, max_attempts=40,
                               workdir=tmp_path / "job")
    assert sorted_outputs(tmp_path / "job") == sorted_outputs(tmp_path / "ref")
    assert summary["retries"] == (tasks.status != "ok").sum() >= 1


"""The local cluster and `mrkit.run`: exact outputs for any (M, R), notebook functions, crashes."""

import os
import re
import signal
import sys
from collections import Counter

import pytest
from conftest import app_path, mrkit_popen, recorded_pids, sorted_outputs, wait_until
from conftest import mrkit as run_cli

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


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="workers_cpu_s is read the Linux way")
def test_the_run_records_the_cpu_its_worker_processes_used_until_the_job_was_done(corpus, tmp_path):
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    summary, tasks = mrkit.run("wc", corpus[:2], n_map=2, n_reduce=1, workers=6, workdir=tmp_path)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    children = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    # six workers that started, ran at most three attempts between them and waited; read before they exited,
    # so no more than the whole of their (reaped) lives
    assert 0 < summary["workers_cpu_s"] <= children + 0.005
    assert summary["workers_cpu_s"] > 0.5 * tasks[tasks.phase != "split"].cpu_s.sum()


def test_an_attempt_s_cpu_s_is_read_to_the_microsecond_not_in_clock_ticks(corpus, tmp_path):
    # os.times() counts in 10 ms ticks: a 0.17 MB map task's 15 ms read as 10 or 20, a third off either way
    summary, tasks = mrkit.run("wc", corpus[:3], n_map=12, n_reduce=4, workers=2, workdir=tmp_path)
    cpu = tasks[tasks.phase.isin(["map", "reduce"])].cpu_s.to_numpy()
    off_the_tick = [c for c in cpu if abs(c * 100 - round(c * 100)) > 1e-6]
    assert len(off_the_tick) >= len(cpu) // 2, f"cpu_s in whole ticks: {sorted(cpu)}"


def test_a_forked_worker_s_collections_leave_the_heap_it_inherited_alone(tmp_path):
    # A sweep's or a notebook's process holds a large heap; a worker forked from it that walked it in a full
    # collection spent up to 0.1 s of CPU per task on it and copied its pages (docs/model-validation.md).
    import gc

    (tmp_path / "in.txt").write_text("a b")
    inherited = [[i] for i in range(200_000)]  # lists, which the collector always tracks, held as the parent forks

    def mapper(filename, contents):
        gc.collect()
        return [("walked", str(len(gc.get_objects())))]

    def reducer(key, values):
        return values[0]

    mrkit.run({"map": mapper, "reduce": reducer}, [str(tmp_path / "in.txt")], n_reduce=1, workdir=tmp_path / "out")
    walked = int(sorted_outputs(tmp_path / "out")[0].split()[1])
    assert walked < len(inherited) / 4, f"a worker's collections walked {walked} objects"


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

    mrkit.run(
        {"map": mapper, "reduce": reducer},
        [str(tmp_path / "in.txt")],
        n_reduce=2,
        workdir=tmp_path / "out",
        start_method=start_method,
    )
    assert sorted_outputs(tmp_path / "out") == ["b 3", "c 1"]


@pytest.mark.slow
@pytest.mark.timeout(150)
def test_crashing_workers_are_replaced_and_the_output_is_exact(corpus, tmp_path):
    from mrkit.app import load_app
    from mrkit.job import resolve_inputs
    from mrkit.sequential import run_sequential

    (tmp_path / "ref").mkdir()
    run_sequential(load_app("nocrash"), resolve_inputs(corpus[:3]), tmp_path / "ref")
    summary, tasks = mrkit.run(
        "crash", corpus[:3], n_reduce=3, workers=3, task_timeout=1.0, max_attempts=40, workdir=tmp_path / "job"
    )
    assert sorted_outputs(tmp_path / "job") == sorted_outputs(tmp_path / "ref")
    assert summary["retries"] == (tasks.status != "ok").sum() >= 1


SPAWNER = app_path("spawner")


def _inputs(directory, count):
    names = [f"in{i}.txt" for i in range(count)]
    for name in names:
        (directory / name).write_text("the quick brown fox jumps over the lazy dog\n" * 20)
    return names


@pytest.mark.timeout(180)
def test_an_app_s_children_and_forks_do_not_outlive_mrkit_run(tmp_path, app_children):
    """Issue 22 D8: every map leaves a `sleep 300`, a forked copy and a daemon behind; the job ends and so do they."""
    result = run_cli(
        "run",
        SPAWNER,
        "--app-opt",
        "fork=1",
        "--app-opt",
        "daemon=1",
        "-w",
        "2",
        "-r",
        "2",
        *_inputs(tmp_path, 4),
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert len(recorded_pids(tmp_path, "child")) == 12, "four maps, each a subprocess, a fork and a daemon"
    wait_until(lambda: not app_children(), "the app's processes are gone")


@pytest.mark.timeout(180)
def test_a_fork_that_returns_from_map_is_not_a_second_worker(tmp_path, app_children):
    """Issue 22 D8: os.fork() in map, both going on. The copies used to report too, on the worker's
    connection, and the master waited out task timeouts (a job of 0.3 s took 25-65 s here)."""
    import json

    inputs = _inputs(tmp_path, 8)
    result = run_cli(
        "run", SPAWNER, "--app-opt", "fork=return", "-w", "2", "-r", "4", "--json", *inputs, cwd=tmp_path, timeout=120
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["retries"] == 0, "no attempt timed out or was reported twice"
    assert len(recorded_pids(tmp_path, "child")) == 16, "each map's subprocess and copy"
    (tmp_path / "reference").mkdir()
    reference = run_cli("run", "wc", "-r", "4", *[f"../{name}" for name in inputs], cwd=tmp_path / "reference", timeout=120)
    assert reference.returncode == 0, reference.stderr
    assert sorted_outputs(tmp_path) == sorted_outputs(tmp_path / "reference")
    wait_until(lambda: not app_children(), "the app's processes are gone")


@pytest.mark.timeout(180)
def test_a_killed_worker_s_children_die_with_it(tmp_path, app_children):
    run = mrkit_popen(
        "run",
        SPAWNER,
        "--app-opt",
        "fork=1",
        "--app-opt",
        "hold=300",
        "-w",
        "1",
        "-r",
        "1",
        "--task-timeout",
        "300",
        *_inputs(tmp_path, 1),
        cwd=tmp_path,
    )
    try:
        wait_until(lambda: len(app_children()) == 2, "the first worker's map started its processes")
        first = app_children()
        (worker,) = recorded_pids(tmp_path, "worker")
        os.kill(worker, signal.SIGKILL)
        wait_until(lambda: not set(first) & set(app_children()), "the killed worker's processes are gone")
        wait_until(lambda: len(app_children()) == 2, "its replacement runs the map again")
    finally:
        run.send_signal(signal.SIGTERM)
        run.communicate(timeout=60)
    wait_until(lambda: not app_children(), "the replacement's processes are gone")


@pytest.mark.timeout(180)
@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL])
def test_an_app_s_children_do_not_outlive_an_interrupted_run(tmp_path, app_children, how):
    run = mrkit_popen(
        "run",
        SPAWNER,
        "--app-opt",
        "fork=1",
        "--app-opt",
        "hold=300",
        "-w",
        "2",
        "--task-timeout",
        "300",
        *_inputs(tmp_path, 2),
        cwd=tmp_path,
    )
    wait_until(lambda: len(app_children()) == 4, "both workers' maps started their processes")
    run.send_signal(how)
    _, stderr = run.communicate(timeout=60)
    assert run.returncode in (130, 143, -signal.SIGKILL) and "Traceback" not in stderr, stderr
    said = {signal.SIGTERM: "mrkit run: stopped by SIGTERM", signal.SIGINT: "mrkit run: interrupted"}.get(how)
    assert said is None or stderr.strip().splitlines()[-1] == said, stderr  # SIGTERM ended silently
    wait_until(lambda: not app_children(), "the app's processes are gone")


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="on one CPU the cap is 1 with or without --cpus")
def test_cpus_caps_the_default_workers(tmp_path):
    """Issue 21: `--cpus 0` leaves one CPU, so the default W = max(M, R) = 3 is capped at 1, not at the machine's count."""
    import json

    result = run_cli("run", "wc", "-r", "3", "--cpus", "0", "--json", *_inputs(tmp_path, 2), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["workers"] == 1
    unpinned = run_cli("run", "wc", "-r", "3", "--json", *_inputs(tmp_path, 2), cwd=tmp_path)
    assert json.loads(unpinned.stdout)["workers"] == min(3, len(os.sched_getaffinity(0)))


@pytest.mark.parametrize(
    "options, message",
    [
        ({"task_timeout": "5"}, "--task-timeout must be a positive number of seconds, got '5'"),
        ({"slowdown": "3", "slow_workers": 1, "workers": 2}, "--slowdown must be a factor from 1 to 1000, got '3'"),
        ({"workdir": 5}, "workdir must be a directory's path (str or pathlib.Path), got 5"),
        ({"app_options": "pattern=the"}, "app options must be a mapping such as {'pattern': 'the'}, got 'pattern=the'"),
        ({"start_method": "bogus"}, "start_method must be 'fork', 'forkserver' or 'spawn', got 'bogus'"),
        ({"inputs": [5]}, "input 5 is not a path: give file or directory names (str or pathlib.Path)"),
    ],
)
def test_a_notebook_s_wrong_types_are_mrkit_errors_naming_the_option(tmp_path, options, message):
    """Each was Python's own TypeError or ValueError from deep inside (`'>' not supported ...`)."""
    from mrkit.errors import MrkitError

    (tmp_path / "a.txt").write_text("the cat\n")
    inputs = options.pop("inputs", [str(tmp_path / "a.txt")])
    app = "grep" if "app_options" in options else "wc"
    with pytest.raises(MrkitError) as raised:
        mrkit.run(app, inputs, **{"workdir": str(tmp_path / "job"), **options})
    assert str(raised.value) == message
    assert not list(tmp_path.glob("job/mr-*"))

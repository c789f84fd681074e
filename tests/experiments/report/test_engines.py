"""The engine comparison's gaps, tables and text, from exact runs and tasks frames (and one real local run)."""

import pandas as pd
import pytest

from mrkit.backends.local import run_job
from mrkit.experiments.report import engines


def _task(run, phase, task, attempt, worker, start, end, status="ok"):
    return {
        "run_id": run,
        "phase": phase,
        "task": task,
        "attempt": attempt,
        "worker": worker,
        "start": start,
        "end": end,
        "status": status,
    }


def _frames():
    runs = pd.DataFrame(
        [
            {
                "run_id": "l",
                "app": "wc",
                "backend": "local",
                "n_map": 2,
                "n_reduce": 1,
                "workers": 1,
                "startup_s": 0.5,
                "end_to_end_s": 3.0,
            },
            {
                "run_id": "d",
                "app": "wc",
                "backend": "dask-tasks",
                "n_map": 2,
                "n_reduce": 1,
                "workers": 1,
                "startup_s": 2.0,
                "end_to_end_s": 5.0,
            },
            {
                "run_id": "c",
                "app": "crash",
                "backend": "local",
                "n_map": 2,
                "n_reduce": 1,
                "workers": 1,
                "startup_s": 0.1,
                "end_to_end_s": 7.0,
            },
        ]
    )
    tasks = pd.DataFrame(
        [
            _task("l", "split", 0, 1, "master", 0.0, 0.1),
            _task("l", "map", 1, 1, "w0", 1.25, 1.5),
            _task("l", "map", 0, 1, "w0", 1.0, 1.125),  # gap 0.125
            _task("l", "reduce", 0, 1, "w0", 2.5, 3.0),  # after the barrier: not a gap
            _task("d", "map", 0, 1, "a", 2.0, 2.5),
            _task("d", "map", 1, 1, "a", 3.0, 3.5),  # gap 0.5
            _task("d", "reduce", 0, 1, "a", 4.0, 4.5),
            _task("c", "map", 0, 1, "w0", 1.0, 2.0, "failed"),
            _task("c", "map", 0, 2, "w1", 2.0, 3.0),
            _task("c", "map", 1, 1, "w0", 1.0, 2.0),
            _task("c", "reduce", 0, 1, "w1", 4.0, 5.0, "timed_out"),
            _task("c", "reduce", 0, 2, "w0", 5.0, 6.0, "superseded"),
            _task("c", "reduce", 0, 3, "w1", 5.0, 6.0),
        ]
    )
    return runs, tasks


def test_a_gap_is_a_worker_s_next_start_minus_its_previous_end_within_a_phase():
    runs, tasks = _frames()
    gaps = engines.task_gaps(tasks[tasks["run_id"] == "l"])
    assert gaps.to_dict("records") == [{"run_id": "l", "worker": "w0", "phase": "map", "gap_s": 0.125}]


def test_the_gaps_of_a_real_local_run_are_one_fewer_than_each_worker_s_attempts_of_a_phase(corpus_files, tmp_path):
    _, records = run_job("wc", corpus_files, n_map=6, n_reduce=2, workers=2, workdir=tmp_path / "job")
    tasks = pd.DataFrame(records)
    gaps = engines.task_gaps(tasks)
    work = tasks[tasks["phase"].isin(["map", "reduce"])]
    assert len(gaps) == len(work) - work.groupby(["worker", "phase"]).ngroups
    assert (gaps["gap_s"] >= 0).all(), "a worker runs one attempt at a time"


@pytest.fixture
def corpus_files(tmp_path):
    paths = []
    for i in range(3):
        path = tmp_path / f"in{i}.txt"
        path.write_text(" ".join(f"word{j % 7}" for j in range(2000 + i)), encoding="utf-8")
        paths.append(str(path))
    return paths


def test_the_tables_are_per_engine_and_leave_the_crash_runs_to_their_own():
    runs, tasks = _frames()
    table = engines.engine_table(runs, tasks)
    assert table[["backend", "runs", "startup_s", "gap_s", "gaps"]].to_dict("records") == [
        {"backend": "local", "runs": 1, "startup_s": 0.5, "gap_s": 0.125, "gaps": 1},
        {"backend": "dask-tasks", "runs": 1, "startup_s": 2.0, "gap_s": 0.5, "gaps": 1},
    ]
    e2e = engines.end_to_end_table(runs)
    assert e2e.to_dict("records") == [{"n_map": 2, "n_reduce": 1, "workers": 1, "local": 3.0, "dask-tasks": 5.0}]
    crash = engines.crash_table(runs, tasks)
    assert crash.to_dict("records") == [
        {"backend": "local", "end_to_end_s": 7.0, "attempts": 6, "lost_attempts": 3, "rerun_tasks": 2}
    ]


def test_the_text_and_figure_state_the_tables_numbers():
    runs, tasks = _frames()
    text = engines.engines_text(runs, tasks)
    assert "**local**: workers start in 0.5 s" in text and "125 ms (median of 1 gap)" in text
    assert "**dask-tasks**: workers start in 2 s" in text and "500 ms" in text
    assert "Fastest end to end: M=2 R=1 W=1: local." in text
    assert "local took 7 s, lost 3 attempts of 6 and ran 2 tasks again" in text
    fig = engines.figure(runs, tasks)
    assert [ax.get_title() for ax in fig.axes] == ["worker start-up", "per-task overhead", "end-to-end time per configuration"]
    assert [p.get_height() for p in fig.axes[0].patches] == [0.5, 2.0]
    assert [p.get_height() for p in fig.axes[1].patches] == [125.0, 500.0]


def test_the_section_renders_from_recorded_runs(tmp_path):
    """Runs and tasks written to a results directory and read back, shown as the notebook shows them."""
    from types import SimpleNamespace

    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    from mrkit.experiments.report import display
    from mrkit.experiments.sweeps import results

    runs, tasks = _frames()
    for run_id, run in runs.set_index("run_id").iterrows():
        mine = tasks[tasks["run_id"] == run_id].to_dict("records")
        results.record_run(tmp_path, "engines", f"{run['app']}-{run['backend']}", 0, {"run_id": run_id, **run}, mine)
    runs, tasks, _ = results.load_results(tmp_path)
    InteractiveShell.instance()  # a kernel's display machinery, as in the report's notebook
    with capture_output() as shown:
        display.show_sweep(SimpleNamespace(config=SimpleNamespace(name="engines"), runs=runs, tasks=tasks))
    markdown = [o.data["text/markdown"] for o in shown.outputs if "text/markdown" in o.data]
    assert markdown[0].startswith("## Engines: local, dask and dask-tasks on the same jobs")
    assert "local took 7 s, lost 3 attempts of 6 and ran 2 tasks again" in markdown[0]
    tables = [o.data["text/html"] for o in shown.outputs if "text/html" in o.data]
    assert len(tables) == 3 and "median task gap (ms)" in tables[0] and "tasks re-run" in tables[2]
    images = [o for o in shown.outputs if "image/png" in o.data]
    assert len(images) == 1 and images[0].metadata["image/png"]["alt"] == "worker start-up"


def test_one_engine_fastest_everywhere_is_said_once():
    runs, tasks = _frames()
    wider = runs[runs["app"] == "wc"].assign(n_map=5, run_id=lambda f: f["run_id"] + "5")
    text = engines.engines_text(pd.concat([runs, wider], ignore_index=True), tasks)
    assert "Fastest end to end: local in every configuration." in text and "M=5" not in text

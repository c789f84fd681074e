"""experiments/sweeps/ecs_fault.py and the report's ECS discussion (display.show_ecs_discussion), on the stand-in.

Here rather than in tests/experiments/ for this folder's moto server. One fault-injected run on the
local stand-in (a worker task stopped through the ECS API while it runs a map task, as the report does, after
the same job without a fault) feeds every test.
"""

import json

import pandas as pd
import pytest

from mrkit.backends.ecs.bootstrap import up
from mrkit.backends.ecs.config import make_config
from mrkit.experiments.report import display
from mrkit.experiments.report import notebook_report as nr
from mrkit.experiments.report import show as notebook_show
from mrkit.experiments.sweeps import ecs_fault, results
from mrkit.experiments.sweeps import sweep as sw

SETTINGS = {"stack": "fault", "region": "us-east-1", "cpu": 256, "memory": 512}

pytestmark = [pytest.mark.notebook, pytest.mark.timeout(300)]  # a 64 MiB job on the stand-in


@pytest.fixture(scope="module")
def swept(new_aws, tmp_path_factory):
    """A quick mappers_ecs sweep on the stand-in and its fault-injected run (M = 8, W = 2), as the report makes them."""
    up(make_config(SETTINGS, source="test"), new_aws())
    base = tmp_path_factory.mktemp("fault")
    settings = base / "ecs.yaml"
    settings.write_text("".join(f"{k}: {v}\n" for k, v in SETTINGS.items()))
    options = {"settings": str(settings), "stand_in": True, "poll_s": 0.2, "verify": True}
    cfg = sw.load_sweep("mappers_ecs", quick=True, backend_options=options, results_dir=str(base / "results"))
    out = sw.run_sweep(cfg, progress=False, scratch=str(base))
    ecs_fault.fault_run(cfg, out)
    runs, tasks, meta = results.load_results(out)
    return nr.SweepResult(cfg, out, runs, tasks, meta)


def test_the_fault_run_stops_a_worker_while_it_runs_a_map_task_and_that_task_runs_again(swept):
    # issue 25 item 7: at M = W the stopped worker had finished its one task ("16 of 16 map tasks first time")
    fault, runs, tasks = ecs_fault.load_fault(swept.path)
    assert fault["stopped_task"] and fault["stopped_after_s"] > 0 and fault["error"] is None, fault
    assert fault == json.loads((swept.path / "fault" / "fault.json").read_text())
    assert (fault["n_map"], fault["workers"]) == (8, 2) and fault["status_when_stopped"]["map_idle"] >= 2
    assert sorted(runs["sweep"]) == ["mappers_ecs-baseline", "mappers_ecs-fault"] and set(runs["n_map"]) == {8}
    job_runs, work = ecs_fault.fault_job(fault, runs, tasks)
    assert list(job_runs["run_id"]) == [fault["run_id"]] and fault["baseline_run_id"] != fault["run_id"]
    lost = ecs_fault.lost_attempts(fault, tasks)
    assert len(lost) == 1 and lost["phase"].iloc[0] == "map", lost
    again = work[(work["task"] == lost["task"].iloc[0]) & (work["attempt"] > lost["attempt"].iloc[0])]
    assert list(again["status"]) == ["ok"] and again["start"].iloc[0] >= lost["end"].iloc[0], "run again after it was lost"
    maps = work[work["phase"] == "map"]
    assert set(maps[maps["status"] == "ok"]["task"]) == set(range(8)), "every map task ended ok despite the stopped worker"
    baseline = tasks[tasks["run_id"] == fault["baseline_run_id"]]
    assert len(baseline) and (baseline["status"] == "ok").all(), "the baseline lost nothing"
    assert any("stopped" in line for line in fault["launcher_said"]), fault["launcher_said"]


def test_the_fault_text_says_which_attempt_was_lost_when_it_ran_again_and_what_it_cost(swept):
    fault, runs, tasks = ecs_fault.load_fault(swept.path)
    text = ecs_fault.fault_text(fault, runs, tasks, swept.runs, stand_in=True)
    assert text.startswith("**Failure recovery (measured):** in a run at M = 8, W = 2 on 64 MiB, one worker task was stopped")
    assert "through the stand-in's ECS API" in text and "while every worker held a map task and " in text
    assert "The launcher noticed the stopped task and started a replacement worker." in text
    lost = ecs_fault.lost_attempts(fault, tasks).iloc[0]
    assert f"The attempt lost: map task {int(lost['task'])}'s attempt 1 ended with its worker after " in text
    assert "; attempt 2 started " in text and " later on another worker and finished " in text
    assert "The job still finished, in " in text and " than the same job without a fault (" in text
    assert ecs_fault.load_fault(swept.path / "nowhere") is None


def test_a_fault_run_that_stopped_no_worker_says_nothing_was_measured():
    fault = {"n_map": 16, "workers": 2, "stopped_task": None}
    text = ecs_fault.fault_text(fault, pd.DataFrame(), pd.DataFrame(), pd.DataFrame())
    assert text.startswith("**Failure recovery (not measured):**") and "M = 16, W = 2" in text
    assert "no worker was stopped and no recovery happened" in text


def _shown_markdown(monkeypatch, show):
    shown = []
    monkeypatch.setattr(notebook_show, "show", lambda *objs: shown.extend(objs))
    show()
    return "\n\n".join(o.data for o in shown if type(o).__name__ == "Markdown")


def test_the_ecs_discussion_answers_its_three_questions_from_the_runs(swept, monkeypatch):
    text = _shown_markdown(monkeypatch, lambda: display.show_ecs_discussion(swept, [swept]))
    assert "### Verification" in text and "2 of 2 runs equal, key for key" in text
    assert "### The ECS assignment's discussion questions, from data" in text
    assert "**Failure recovery (measured):**" in text
    assert "**Scaling to" in text  # a prediction, or the sentence saying why there is none
    assert "**What the toolkit coordinated that the assignment does by hand:** over 2 runs" in text
    assert "started 5 tasks (a master and the workers)" in text  # M = W = 1 and 2: 2 + 3 tasks


def test_without_a_fault_run_the_discussion_says_how_to_make_one(swept, monkeypatch, tmp_path):
    alone = nr.SweepResult(swept.config, tmp_path, swept.runs, swept.tasks, swept.meta)
    text = _shown_markdown(monkeypatch, lambda: display.show_ecs_discussion(alone, [alone]))
    assert "no fault-injected run is stored with this sweep" in text

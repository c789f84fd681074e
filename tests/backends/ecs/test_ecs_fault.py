"""experiments/sweeps/ecs_fault.py and the report's ECS discussion (display.show_ecs_discussion), on the stand-in.

Here rather than in tests/experiments/ for this folder's moto server. One fault-injected run on the
local stand-in (a worker task stopped through the ECS API mid-job, as the report does) feeds every test.
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
    """A quick mappers_ecs sweep on the stand-in and its fault-injected run at M = W = 2, as the report makes them."""
    up(make_config(SETTINGS, source="test"), new_aws())
    base = tmp_path_factory.mktemp("fault")
    settings = base / "ecs.yaml"
    settings.write_text("".join(f"{k}: {v}\n" for k, v in SETTINGS.items()))
    options = {"settings": str(settings), "stand_in": True, "poll_s": 0.2, "verify": True}
    cfg = sw.load_sweep("mappers_ecs", quick=True, backend_options=options, results_dir=str(base / "results"))
    out = sw.run_sweep(cfg, progress=False, scratch=str(base))
    ecs_fault.fault_run(cfg, out, n_map=2)
    runs, tasks, meta = results.load_results(out)
    return nr.SweepResult(cfg, out, runs, tasks, meta)


def test_the_fault_run_stops_a_worker_mid_job_and_the_job_still_finishes(swept):
    fault, runs, tasks = ecs_fault.load_fault(swept.path)
    assert fault["stopped_task"] and fault["stopped_after_s"] > 0 and fault["error"] is None, fault
    assert fault == json.loads((swept.path / "fault" / "fault.json").read_text())
    assert list(runs["n_map"]) == [2] and list(runs["sweep"]) == ["mappers_ecs-fault"]
    work = tasks[tasks["phase"] == "map"]
    assert set(work[work["status"] == "ok"]["task"]) == {0, 1}, "every map task ended ok despite the stopped worker"
    assert any("stopped" in line for line in fault["launcher_said"]), fault["launcher_said"]


def test_the_fault_text_says_what_was_stopped_and_what_it_cost(swept):
    text = ecs_fault.fault_text(*ecs_fault.load_fault(swept.path), swept.runs)
    assert text.startswith("**Failure recovery (measured):** in a run at M = W = 2 on 64 MiB, one worker task was stopped")
    assert "The job still finished:" in text
    assert ecs_fault.load_fault(swept.path / "nowhere") is None


def test_a_fault_run_that_stopped_no_worker_says_nothing_was_measured():
    fault = {"n_map": 16, "stopped_task": None}
    text = ecs_fault.fault_text(fault, pd.DataFrame(), pd.DataFrame(), pd.DataFrame())
    assert text.startswith("**Failure recovery (not measured):**") and "M = W = 16" in text
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

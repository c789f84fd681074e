"""What the report says about the ECS fault run, from its recorded fault.json and task records."""

import numpy as np
import pandas as pd

from mrkit.experiments.sweeps import ecs_fault

FAULT = {  # as fault_run writes it: the fault job and its baseline (the same job without a fault) by run id
    "n_map": 2,
    "workers": 2,
    "input_bytes": 64 * 2**20,
    "run_id": "f",
    "baseline_run_id": "b",
    "stopped_task": "arn:task/1",
    "stopped_after_s": 5.5,
    "task_timeout": 10.0,
    "status_when_stopped": {"map_in_progress": 2, "workers": 2},
    "launcher_said": ["worker task 1 stopped: fault injected", "started a replacement worker (1 so far)"],
}
RUNS = pd.DataFrame(
    [
        dict(run_id="b", n_map=2, workers=2, input_bytes=64 * 2**20, end_to_end_s=6.1),
        dict(run_id="f", n_map=2, workers=2, input_bytes=64 * 2**20, end_to_end_s=8.4),
    ]
)
SWEEP = pd.DataFrame([dict(run_id="s", n_map=2, workers=2, input_bytes=64 * 2**20, end_to_end_s=5.0)])


def attempt(task, number, status, start, end, cpu_s, worker):
    return dict(
        run_id="f",
        phase="map",
        task=task,
        attempt=number,
        status=status,
        start=start,
        end=end,
        duration_s=end - start,
        cpu_s=cpu_s,
        worker=worker,
    )


def test_a_lost_attempt_is_measured_with_when_it_reran_and_what_the_job_took():
    tasks = pd.DataFrame(
        [
            attempt(0, 1, "ok", 0.0, 3.0, 2.9, "w1"),
            attempt(1, 1, "failed", 0.0, 2.0, np.nan, "w2"),
            attempt(1, 2, "ok", 2.5, 5.0, 2.4, "w1"),
        ]
    )
    text = ecs_fault.fault_text(FAULT, RUNS, tasks, SWEEP, stand_in=True)
    assert text.startswith("**Failure recovery (measured):**")
    assert "map task 1's attempt 1 ended with its worker after 2 s of work" in text
    assert "attempt 2 started 0.5 s later on another worker and finished in 2.5 s" in text
    assert "finished, in 8.4 s end to end, 2.3 s more than the same job without a fault (6.1 s)" in text
    assert "the stand-in's ECS API" in text and "while every worker held a map task" in text


def test_an_older_fault_run_without_a_baseline_is_compared_with_the_sweep_s_runs_of_its_configuration():
    old = {k: v for k, v in FAULT.items() if k not in ("run_id", "baseline_run_id")}
    tasks = pd.DataFrame([attempt(1, 1, "failed", 0.0, 2.0, np.nan, "w2"), attempt(1, 2, "ok", 2.5, 5.0, 2.4, "w1")])
    text = ecs_fault.fault_text(old, RUNS[RUNS["run_id"] == "f"], tasks, SWEEP)
    assert "3.4 s more than the sweep's runs of this configuration (5 s)" in text


def test_a_stop_that_lost_no_attempt_is_not_called_measured():
    # issue 25: "measured", though the stopped worker held no task and 16 of 16 map tasks ran once
    tasks = pd.DataFrame([attempt(0, 1, "ok", 0.0, 3.0, 2.9, "w1"), attempt(1, 1, "ok", 0.0, 2.0, 1.9, "w2")])
    text = ecs_fault.fault_text({**FAULT, "status_when_stopped": None}, RUNS, tasks, SWEEP)
    assert text.startswith("**Failure recovery (not measured):**") and "shows no recovery" in text
    assert "(measured)" not in text
    none = ecs_fault.fault_text({**FAULT, "stopped_task": None}, RUNS, tasks, SWEEP)
    assert none.startswith("**Failure recovery (not measured):**")

"""What the report says about the ECS fault run, from its recorded fault.json and task records."""

import numpy as np
import pandas as pd

from mrkit.experiments.sweeps import ecs_fault

FAULT = {
    "n_map": 2,
    "input_bytes": 64 * 2**20,
    "stopped_task": "arn:task/1",
    "stopped_after_s": 5.5,
    "task_timeout": 10.0,
    "status_when_stopped": {"map_in_progress": 2, "workers": 2},
    "launcher_said": ["worker task 1 stopped: fault injected", "started a replacement worker (1 so far)"],
}
RUNS = pd.DataFrame([dict(n_map=2, input_bytes=64 * 2**20, end_to_end_s=8.4)])
SWEEP = pd.DataFrame([dict(n_map=2, input_bytes=64 * 2**20, end_to_end_s=6.1)])


def attempt(task, number, status, start, end, cpu_s):
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
    )


def test_a_lost_attempt_is_measured_with_when_it_reran_and_what_the_job_took():
    tasks = pd.DataFrame(
        [attempt(0, 1, "ok", 0.0, 3.0, 2.9), attempt(1, 1, "failed", 0.0, 2.0, np.nan), attempt(1, 2, "ok", 2.5, 5.0, 2.4)]
    )
    text = ecs_fault.fault_text(FAULT, RUNS, tasks, SWEEP, stand_in=True)
    assert text.startswith("**Failure recovery (measured):**")
    assert "map task 1's attempt 1 ended with its worker after 2 s of work" in text
    assert "attempt 2 started 0.5 s later on another worker and finished" in text
    assert "8.4 s end to end" in text and "against 6.1 s without a fault" in text
    assert "local ECS stand-in" in text and "while every worker held a map task" in text


def test_a_stop_that_lost_no_attempt_is_not_called_measured():
    # issue 25: "measured", though the stopped worker held no task and 16 of 16 map tasks ran once
    tasks = pd.DataFrame([attempt(0, 1, "ok", 0.0, 3.0, 2.9), attempt(1, 1, "ok", 0.0, 2.0, 1.9)])
    text = ecs_fault.fault_text({**FAULT, "status_when_stopped": None}, RUNS, tasks, SWEEP)
    assert text.startswith("**Failure recovery (not measured):**") and "shows no recovery" in text
    assert "(measured)" not in text
    none = ecs_fault.fault_text({**FAULT, "stopped_task": None}, RUNS, tasks, SWEEP)
    assert none.startswith("**Failure recovery (not measured):**")

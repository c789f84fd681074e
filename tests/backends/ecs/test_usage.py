"""ECS lifecycle times from DescribeTasks go into the task records of the worker task they ran in."""

from mrkit.backends.ecs.usage import TaskUse, add_lifecycle
from mrkit.experiments.model.whatif import measured_start_latency


def test_attempts_get_their_worker_tasks_lifecycle_by_private_ip():
    uses = [
        TaskUse("arn:1", "worker", 0.0, lifecycle={"ecs_created_at": 100.0, "ecs_started_at": 150.0}, ip="10.0.1.23"),
        TaskUse("arn:2", "master", 0.0, lifecycle={"ecs_created_at": 1.0}, ip="10.0.1.9"),
    ]
    records = [
        {"host": "ip-10-0-1-23.ec2.internal", "phase": "map"},
        {"host": "laptop", "phase": "map"},
        {"host": "ip-10-0-1-9", "phase": "split"},
    ]
    add_lifecycle(records, uses)
    assert records[0]["ecs_started_at"] - records[0]["ecs_created_at"] == 50.0
    assert "ecs_created_at" not in records[1] and "ecs_created_at" not in records[2]  # stand-in; the master


def test_the_model_takes_measured_start_latency_from_those_columns():
    import pandas as pd

    tasks = pd.DataFrame({"ecs_created_at": [0.0, 10.0, None], "ecs_started_at": [40.0, 60.0, None]})
    assert measured_start_latency(tasks) == 45.0
    assert measured_start_latency(pd.DataFrame({"cpu_s": [1.0]})) == 0.0

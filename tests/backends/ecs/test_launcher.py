"""The launcher against moto's ECS with no task ever running: a thread in the test plays the master.

What is checked here is the launcher's own part: what it asks ECS for
(batches, client tokens, overrides without the token), that it follows the
status object and collects the run record, that a RunTask failure is
reported, and that every task it started is stopped whatever happens.
"""

import json
import threading
import time

import pytest

from mrkit import timing
from mrkit.backends.ecs import EcsError, TaskLaunchError
from mrkit.backends.ecs.bootstrap import up
from mrkit.backends.ecs.config import make_config
from mrkit.backends.ecs.launcher import Launcher
from mrkit.backends.ecs.usage import BILLED_MINIMUM_S
from mrkit.errors import JobFailed
from mrkit.storage.s3 import S3Storage

REGION = "us-east-1"


@pytest.fixture(scope="module")
def stack(new_aws):
    aws = new_aws()
    config = make_config({"stack": "launch", "region": REGION, "cpu": 512, "memory": 1024}, source="test")
    return config, up(config, aws), aws


@pytest.fixture
def inputs(tmp_path):
    paths = []
    for i in range(3):
        path = tmp_path / f"in{i}.txt"
        path.write_text(f"alpha beta {i}\n" * 50)
        paths.append(str(path))
    return paths


class FakeMaster(threading.Thread):
    """Reads the master task's overrides like a container would, then publishes status and run record.

    `finish` decides how the job ends once `workers` worker tasks exist:
    "done", "failed", or None (never: the launcher must be interrupted).
    """

    def __init__(self, aws, stack, workers, finish="done"):
        super().__init__(daemon=True)
        self.aws, self.stack, self.workers, self.finish = aws, stack, workers, finish
        self.error = None

    def _tasks(self):
        arns = self.aws.list_tasks(self.stack.cluster_arn)
        return self.aws.describe_tasks(self.stack.cluster_arn, arns) if arns else []

    def run(self):
        try:
            self._play()
        except Exception as exc:  # surfaced by the test
            self.error = exc

    def _play(self):
        deadline = time.monotonic() + 30
        while True:
            masters = [t for t in self._tasks() if _role(t) == "master"]
            if masters:
                break
            assert time.monotonic() < deadline, "no master task"
            time.sleep(0.05)
        args = masters[0]["overrides"]["containerOverrides"][0]["command"]
        storage_url, run_id = args[args.index("--storage") + 1], args[args.index("--run-id") + 1]
        bucket, _, prefix = storage_url[len("s3://") :].partition("/")
        storage = S3Storage(bucket, prefix)
        status = {
            "run_id": run_id,
            "phase": "map",
            "map": {"total": 3, "done": 0},
            "reduce": {"total": 1, "done": 0},
            "workers": 0,
            "failure": None,
        }
        storage.write_bytes("mr-status.json", json.dumps(status).encode())
        while len([t for t in self._tasks() if _role(t) == "worker"]) < self.workers:
            assert time.monotonic() < deadline, "workers never came"
            time.sleep(0.05)
        if self.finish is None:
            return
        now = timing.now()
        records = [timing.task_record(run_id, "map", m, 1, "w0", 1, "h", now, now + 0.1) for m in range(3)]
        summary = timing.summarize(
            records,
            run_id=run_id,
            app="",
            backend="master",
            n_map=3,
            n_reduce=1,
            workers=self.workers,
            input_bytes=10,
            launched_at=now - 1,
            finished_at=now + 1,
        )
        storage.write_bytes("mr-run.json", json.dumps({"run": summary, "tasks": records}).encode())
        failure = "map task 1 (input x) failed 4 times; last error: boom" if self.finish == "failed" else None
        storage.write_bytes(
            "mr-status.json", json.dumps({**status, "phase": self.finish, "failure": failure, "workers": self.workers}).encode()
        )


def _role(task):
    return {t["key"]: t["value"] for t in task.get("tags", [])}.get("mrkit:role")


def _run_task_calls(aws):
    sent = []
    aws.client("ecs").meta.events.register("provide-client-params.ecs.RunTask", lambda params, **_: sent.append(dict(params)))
    return sent


def _all_stopped(aws, stack):
    assert aws.list_tasks(stack.cluster_arn, desired_status="RUNNING") == []


def test_25_workers_go_out_in_3_run_task_calls_and_every_task_is_stopped(stack, inputs):
    config, made, aws = stack
    sent = _run_task_calls(aws)
    fake = FakeMaster(aws, made, workers=25)
    fake.start()
    lines = []
    result = Launcher(config, aws, say=lines.append, poll_s=0.05).run("wc", inputs, n_reduce=1, workers=25)
    fake.join(5)
    assert fake.error is None
    assert [p["count"] for p in sent] == [1, 10, 10, 5]
    tokens = [p["clientToken"] for p in sent]
    assert len(set(tokens)) == 4 and all(t.startswith(result.summary["run_id"]) for t in tokens)
    assert all(
        p["launchType"] == "FARGATE"
        and p["networkConfiguration"]["awsvpcConfiguration"]["securityGroups"] == [made.security_group]
        for p in sent
    )
    # The token lives in the bucket, read by the tasks' role; never in overrides, which describe_tasks shows.
    token = S3Storage(made.bucket, f"jobs/{result.summary['run_id']}").read_bytes("mr-token").decode()
    described = aws.describe_tasks(made.cluster_arn, [t.arn for t in result.tasks])
    assert len(token) >= 32 and token not in json.dumps(described, default=str)
    worker_args = described[-1]["overrides"]["containerOverrides"][0]["command"]
    assert worker_args[:2] == ["worker", "wc"] and worker_args[worker_args.index("--master") + 1].endswith(":8765")
    _all_stopped(aws, made)
    assert result.summary["backend"] == "ecs" and result.summary["workers"] == 25
    assert len(result.records) == 3
    assert result.usage.tasks == 26
    assert result.usage.vcpu_s == 26 * BILLED_MINIMUM_S * 0.5 and result.usage.gb_s == 26 * BILLED_MINIMUM_S * 1.0
    assert any(line.startswith("done: map") for line in lines)


def test_a_run_task_failure_is_reported_and_what_started_is_stopped(stack, inputs):
    config, made, aws = stack
    calls = []

    def fail_second_worker_batch(parsed, **_):
        calls.append(1)
        if len(calls) == 3:  # master, workers 1-10, then this batch
            parsed["failures"] = [{"arn": "x", "reason": "RESOURCE:MEMORY", "detail": "no capacity"}]

    aws.client("ecs").meta.events.register("after-call.ecs.RunTask", fail_second_worker_batch)
    fake = FakeMaster(aws, made, workers=10, finish=None)
    fake.start()
    with pytest.raises(TaskLaunchError, match=r"1 task\(s\) not started: RESOURCE:MEMORY \(no capacity\)"):
        Launcher(config, aws, poll_s=0.05).run("wc", inputs, n_reduce=1, workers=25)
    aws.client("ecs").meta.events.unregister("after-call.ecs.RunTask", fail_second_worker_batch)
    fake.join(5)
    _all_stopped(aws, made)


def test_a_failed_job_raises_with_the_masters_message_and_stops_everything(stack, inputs):
    config, made, aws = stack
    fake = FakeMaster(aws, made, workers=2, finish="failed")
    fake.start()
    lines = []
    launcher = Launcher(config, aws, say=lines.append, poll_s=0.05)
    with pytest.raises(JobFailed, match="map task 1 .* failed 4 times; last error: boom"):
        launcher.run("wc", inputs, n_reduce=1, workers=2)
    fake.join(5)
    _all_stopped(aws, made)
    assert launcher.usage.tasks == 3, "the cost is known even when the job failed"
    assert any(line.startswith("master task") for line in lines), "the master's state and log are reported"


def test_interrupting_stops_every_task(stack, inputs):
    config, made, aws = stack
    fake = FakeMaster(aws, made, workers=3, finish=None)
    fake.start()
    launcher = Launcher(config, aws, poll_s=0.05)

    def interrupt_when_workers_run():
        while len([u for u in launcher.started.values() if u.role == "worker"]) < 3:
            time.sleep(0.02)
        launcher.interrupt()

    threading.Thread(target=interrupt_when_workers_run, daemon=True).start()
    with pytest.raises(KeyboardInterrupt):
        launcher.run("wc", inputs, n_reduce=1, workers=3)
    _all_stopped(aws, made)
    assert len(launcher.started) == 4


@pytest.mark.parametrize("app", ["tests/apps/slowwc.py", "my_app.py"])
def test_apps_must_come_from_the_image(stack, inputs, app):
    config, _, aws = stack
    with pytest.raises(EcsError, match="cannot run on ECS: tasks load apps from the image"):
        Launcher(config, aws).run(app, inputs)


@pytest.mark.slow
def test_workers_that_keep_stopping_fail_the_job_once_the_replacement_budget_is_spent(stack, inputs):
    # The master never finishes and never fails: only the launcher's budget can end this job.
    config, made, aws = stack
    fake = FakeMaster(aws, made, workers=2, finish=None)
    fake.start()
    launcher = Launcher(config, aws, poll_s=0.05)
    killed, done = set(), threading.Event()

    def kill_every_worker():
        deadline = time.monotonic() + 60  # only on a launcher that never gives up
        while not done.is_set():
            for use in list(launcher.started.values()):
                if use.role == "worker" and use.arn not in killed:
                    killed.add(use.arn)
                    aws.stop_task(made.cluster_arn, use.arn, "Essential container in task exited (exit code 1)")
            if time.monotonic() > deadline:
                launcher.interrupt()
                return
            time.sleep(0.02)

    killer = threading.Thread(target=kill_every_worker, daemon=True)
    killer.start()
    try:
        with pytest.raises(
            JobFailed,
            match=r"^worker tasks stopped 7 times, more than the replacement budget "
            r"of 6 \(2 x 2 workers \+ 2\): stopping the job$",
        ):
            launcher.run("wc", inputs, n_reduce=1, workers=2)
    finally:
        done.set()
        killer.join(5)
        fake.join(5)
    assert [u.role for u in launcher.started.values()] == ["master"] + ["worker"] * (2 + 6)
    _all_stopped(aws, made)
    described = aws.describe_tasks(made.cluster_arn, list(launcher.started))
    assert {t["lastStatus"] for t in described} == {"STOPPED"} and len(described) == 9

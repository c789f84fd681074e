"""`mrkit ecs run --stand-in`: the launcher as a real process, its tasks as local processes, S3 and ECS on moto.

The launcher code is the one real Fargate gets; only starting a task differs
(the stand-in runs the command the task definition and overrides give).
"""

import json
import os
import pathlib
import signal
import subprocess
import threading
import time

import pytest
from conftest import MRKIT, TEST_APPS, mrkit, sorted_outputs

from mrkit.backends.ecs.bootstrap import up
from mrkit.backends.ecs.config import make_config

REGION = "us-east-1"
SETTINGS = {"stack": "local", "region": REGION, "cpu": 256, "memory": 512}

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]  # ECS jobs on the stand-in: seconds each


@pytest.fixture(scope="module")
def stack(new_aws):
    aws = new_aws()
    return up(make_config(SETTINGS, source="test"), aws), aws


@pytest.fixture
def settings(tmp_path):
    path = tmp_path / "ecs.yaml"
    path.write_text("".join(f"{k}: {v}\n" for k, v in SETTINGS.items()))
    return path


class Launch:
    """`mrkit ecs run ... --stand-in DIR` as a process; stderr lines collected as they come."""

    def __init__(self, tmp_path, settings, *args):
        self.standin = tmp_path / "standin"
        # The "image" has the test apps installed, and the mrkit under test (a worktree's, not the editable one).
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(TEST_APPS), os.environ.get("PYTHONPATH")]))}
        self.process = subprocess.Popen(
            [*MRKIT, "ecs", "run", *map(str, args), "--config", settings, "--stand-in", self.standin, "--poll", "0.2", "--json"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.process.stderr:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, text, timeout=60):
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.lines):
            assert self.process.poll() is None or self._reader.is_alive(), f"exited: {self.stderr}"
            assert time.monotonic() < deadline, f"no {text!r} in: {self.stderr}"
            time.sleep(0.05)

    def finish(self, timeout=120):
        out = self.process.stdout.read()
        code = self.process.wait(timeout)
        self._reader.join(5)
        return code, out

    @property
    def stderr(self):
        return "\n".join(self.lines)

    def pids(self, role):
        """Local pids of the tasks whose command is `mrkit <role> ...`, alive or not."""
        found = []
        for pid_file in self.standin.glob("*.pid"):
            pid = int(pid_file.read_text())
            log = pid_file.with_suffix(".log")
            try:
                cmdline = pathlib.Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except FileNotFoundError:
                cmdline = []
            if role.encode() in cmdline[3:4] or (not cmdline and log.exists() and role in log.read_text()):
                found.append(pid)
        return found


def _alive(pid):
    try:
        state = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def _tasks(aws, stack, status):
    return aws.list_tasks(stack.cluster_arn, desired_status=status)


def test_word_count_over_s3_equals_the_sequential_output(stack, settings, corpus, tmp_path):
    made, aws = stack
    (tmp_path / "ref").mkdir()
    mrkit("sequential", "wc", *corpus[:4], cwd=tmp_path / "ref", check=True)
    launch = Launch(tmp_path, settings, "wc", *corpus[:4], "-m", "6", "-r", "3", "-w", "2", "--verify")
    code, out = launch.finish()
    assert code == 0, launch.stderr
    summary = json.loads(out)
    assert (summary["backend"], summary["n_map"], summary["n_reduce"], summary["workers"]) == ("ecs", 6, 3, 2)
    assert "missing 0, extra 0, different 0: equal to the sequential run" in launch.stderr
    # And independently of --verify: the objects in S3, sorted, are the reference's lines.
    s3 = aws.client("s3")
    prefix = f"jobs/{summary['run_id']}/"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=made.bucket, Prefix=prefix + "mr-out-")["Contents"]]
    lines = sorted(
        line for key in keys for line in s3.get_object(Bucket=made.bucket, Key=key)["Body"].read().decode().splitlines()
    )
    assert len(keys) == 3 and lines == sorted_outputs(tmp_path / "ref")
    assert "Fargate: 3 tasks, 45 vCPU-seconds, 90 GB-seconds" in launch.stderr  # 0.25 vCPU, 0.5 GB, 60 s minimum
    assert _tasks(aws, made, "RUNNING") == []
    assert not list(tmp_path.glob("mr-*")), "nothing of the job is written locally"


def test_a_killed_worker_task_is_replaced_and_the_output_is_still_exact(stack, settings, corpus, tmp_path):
    made, aws = stack
    (tmp_path / "ref").mkdir()
    mrkit("sequential", "wc", *corpus[:4], cwd=tmp_path / "ref", check=True)
    launch = Launch(
        tmp_path, settings, "slowwc", *corpus[:4], "-m", "12", "-r", "2", "-w", "2", "--task-timeout", "2", "--verify"
    )
    launch.wait_for("started 2 worker task(s)")
    # Both workers have asked for work, and each of the 12 map calls takes 0.5 s: the workers are mid-task.
    launch.wait_for("2 worker(s) seen")
    victim = launch.pids("worker")[0]
    os.kill(victim, signal.SIGKILL)
    code, out = launch.finish()
    assert code == 0, launch.stderr
    assert "stopped: Essential container in task exited (exit code 137)" in launch.stderr
    assert "started a replacement worker (1 so far)" in launch.stderr
    assert "equal to the sequential run" in launch.stderr
    assert json.loads(out)["retries"] >= 1, "the killed worker's task was run again"
    assert _tasks(aws, made, "RUNNING") == []


def test_ctrl_c_stops_every_task_the_launcher_started(stack, settings, corpus, tmp_path):
    made, aws = stack
    before = set(_tasks(aws, made, "STOPPED"))
    launch = Launch(tmp_path, settings, "slowwc", *corpus[:4], "-m", "12", "-w", "2")
    launch.wait_for("started 2 worker task(s)")
    pids = launch.pids("master") + launch.pids("worker")
    assert len(pids) == 3 and all(map(_alive, pids))
    launch.process.send_signal(signal.SIGINT)
    code, _ = launch.finish()
    assert code == 130, launch.stderr
    assert "stopping 3 task(s)" in launch.stderr
    assert _tasks(aws, made, "RUNNING") == []
    assert len(set(_tasks(aws, made, "STOPPED")) - before) == 3
    assert not any(map(_alive, pids)), "the local processes of the stopped tasks are gone"


def test_a_failing_app_reports_stop_reasons_and_log_tails(stack, settings, tmp_path):
    made, aws = stack
    (tmp_path / "bad.txt").write_text("x\n")
    launch = Launch(tmp_path, settings, "failing", tmp_path / "bad.txt", "-r", "1", "-w", "1")
    code, _ = launch.finish()
    assert code == 1, launch.stderr
    assert "job failed: map task 0" in launch.stderr and "ValueError: cannot digest" in launch.stderr
    assert "master task" in launch.stderr and "| mrkit master: serving http://127.0.0.1:" in launch.stderr
    assert "Fargate: 2 tasks" in launch.stderr
    assert _tasks(aws, made, "RUNNING") == []


def test_without_a_stack_it_says_to_run_up(moto_endpoint, settings, corpus, tmp_path):
    result = mrkit("ecs", "run", "wc", corpus[0], "--config", settings, "--stack", "nothere", cwd=tmp_path)
    assert result.returncode == 2 and "mrkit ecs up" in result.stderr
    assert "Traceback" not in result.stderr


def _all_tasks_stopped(aws, stack, before):
    """Every task of this test is STOPPED in ECS; returns how many it started."""
    assert _tasks(aws, stack, "RUNNING") == []
    mine = set(_tasks(aws, stack, "STOPPED")) - before
    assert {t["lastStatus"] for t in aws.describe_tasks(stack.cluster_arn, list(mine))} == {"STOPPED"}
    return len(mine)


def test_workers_dying_at_start_fail_the_job_when_the_replacement_budget_is_spent(stack, settings, tmp_path):
    # No attempt ever reaches the master, so it can neither time out nor fail anything: the budget must.
    made, aws = stack
    before = set(_tasks(aws, made, "STOPPED"))
    (tmp_path / "in.txt").write_text("a b\n")
    launch = Launch(tmp_path, settings, "dies_at_start", tmp_path / "in.txt", "-r", "1", "-w", "1")
    code, _ = launch.finish(timeout=150)
    assert code == 1, launch.stderr
    assert "started a replacement worker (4 so far)" in launch.stderr
    assert "replacement worker (5 so far)" not in launch.stderr
    assert launch.lines[-1].endswith(
        "job failed: worker tasks stopped 5 times, more than the replacement budget of 4 (2 x 1 workers + 2): stopping the job"
    ), launch.stderr
    assert "(2 earlier worker task(s) also exited non-zero)" in launch.stderr, "3 log tails of 5, not all"
    assert _all_tasks_stopped(aws, made, before) == 1 + 5


def test_a_map_that_kills_every_worker_ends_the_job_non_zero_and_stops_every_task(stack, settings, tmp_path):
    # Whatever ends it first (the launcher's budget, or a master that counts dead workers' attempts),
    # the job fails and nothing is left running or billing.
    made, aws = stack
    before = set(_tasks(aws, made, "STOPPED"))
    (tmp_path / "in.txt").write_text("a b\n")
    launch = Launch(tmp_path, settings, "dies_in_map", tmp_path / "in.txt", "-r", "1", "-w", "1", "--task-timeout", "1")
    code, _ = launch.finish(timeout=150)
    assert code == 1, launch.stderr
    assert "job failed: " in launch.lines[-1] and "stopped: Essential container in task exited (exit code 3)" in launch.stderr
    assert 2 <= _all_tasks_stopped(aws, made, before) <= 1 + 5


def test_containers_without_a_stand_in_is_a_usage_error(moto_endpoint, settings, corpus, tmp_path):
    result = mrkit("ecs", "run", "wc", corpus[0], "--config", settings, "--containers", cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.strip().endswith(
        "--containers runs the stand-in's tasks as containers: give --stand-in DIR too"
    ), result.stderr


@pytest.mark.parametrize(
    "option, message",
    [
        (["--endpoint-url", "notaurl"], "--endpoint-url takes an http(s) URL such as http://127.0.0.1:5000, got 'notaurl'"),
        (["--poll", "0"], "--poll must be a number of seconds above 0, got 0"),
        (["--start-timeout", "-1"], "--start-timeout must be a number of seconds above 0, got -1"),
        (["--start-timeout", "inf"], "--start-timeout must be a number of seconds above 0, got inf"),
        (["-w", "1001"], "--workers must be at most 1,000, got 1,001"),  # the stand-in's are this machine's processes
    ],
)
def test_launcher_option_mistakes_are_one_line_before_any_aws_call(moto_endpoint, settings, corpus, tmp_path, option, message):
    """A bad endpoint was botocore's traceback; a zero start timeout started (and had billed) a master task first."""
    result = mrkit("ecs", "run", "wc", corpus[0], "--config", settings, "--stand-in", tmp_path / "standin", *option, cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.strip() == f"mrkit ecs: error: {message}", result.stderr
    assert not (tmp_path / "standin").exists(), "nothing was started"


def test_a_stand_in_directory_with_a_file_in_its_way_is_one_line(moto_endpoint, settings, corpus, tmp_path):
    (tmp_path / "a-file").write_text("mine\n")
    result = mrkit("ecs", "run", "wc", corpus[0], "--config", settings, "--stand-in", "a-file", cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.strip().endswith("(--stand-in)"), result.stderr
    assert "\n" not in result.stderr.strip() and (tmp_path / "a-file").read_text() == "mine\n"


def test_with_the_launcher_killed_the_master_task_ends_in_bounded_time(stack, settings, corpus, tmp_path):
    """Issue 22 D5: the launcher SIGKILLed 4 s in; its master task ran on with no workers (on Fargate, billed)."""
    launch = Launch(
        tmp_path, settings, "crash", *corpus[:4], "-m", "8", "-w", "2", "--task-timeout", "2", "--start-timeout", "10"
    )
    launch.wait_for("started 2 worker task(s)")
    master, workers = launch.pids("master"), launch.pids("worker")
    launch.process.kill()
    launch.process.wait()
    deadline = time.monotonic() + 120
    while any(map(_alive, master + workers)):
        assert time.monotonic() < deadline, "a task outlived its launcher by 120 s"
        time.sleep(0.2)
    (log,) = [p.with_suffix(".log") for p in launch.standin.glob("*.pid") if int(p.read_text()) in master]
    last = log.read_text().strip().splitlines()[-1]
    # Its workers die (the crash app) and none replaces them: the master fails the job ("no worker has been
    # connected for 10 s", or a task's attempts spent); in a rare run the two workers finish the job instead.
    assert last.startswith("mrkit master: job failed: ") or last.startswith("mrkit master: serving"), last

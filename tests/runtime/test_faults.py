"""Every way a task can fail ends in bounded time with a clear outcome (issue 9), with real processes.

Each scenario runs the CLI in a fresh directory. A deterministic fault must
fail the job with one line that names the task, its input and how its
attempts ended; a merely slow task must finish; an attempt that is no
longer wanted must never touch a job's files.
"""

import json
import pathlib
import signal
import time

import pytest
from conftest import _post, app_path, mrkit, mrkit_popen, sorted_outputs, wait_until

FAULTY = app_path("faulty")


def _words(directory, text="the quick brown fox jumps over the lazy dog\n", name="a.txt"):
    path = pathlib.Path(directory) / name
    path.write_text(text * 50)
    return path.name


def _expected_wc(directory, *inputs):
    ref = pathlib.Path(directory) / "reference"
    ref.mkdir(exist_ok=True)
    mrkit("sequential", "wc", *[pathlib.Path(directory) / i for i in inputs], cwd=ref, check=True)
    return sorted_outputs(ref)


def _one_line_failure(result):
    assert result.returncode == 1, result.stderr
    line = result.stderr.strip()
    assert "\n" not in line and "Traceback" not in line, line
    return line


@pytest.mark.timeout(120)
def test_a_map_slower_than_the_timeout_still_finishes(tmp_path):
    """First finished attempt wins: revoked attempts keep running and one of them completes the task."""
    name = _words(tmp_path)
    result = mrkit(
        "run",
        FAULTY,
        "--app-opt",
        "fault=slow",
        "--app-opt",
        "seconds=2.5",
        "--task-timeout",
        "1",
        "-r",
        "2",
        "-w",
        "2",
        "--json",
        name,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert sorted_outputs(tmp_path) == _expected_wc(tmp_path, name)
    run = json.loads(result.stdout)
    assert run["retries"] >= 1, "the slow attempts were revoked at their deadline"


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    "fault, how",
    [
        ("exit", r"10 attempts: 10 worker died \(exit 1\)"),
        ("sysexit", r"10 attempts: 10 failed \(the app called sys.exit\(3\)\)"),
        ("reduce_exit", r"reduce task \d+ \(input intermediate files mr-\*-\d+\): 10 attempts: 10 worker died \(exit 1\)"),
    ],
)
def test_a_deterministic_crash_fails_the_job_in_seconds(tmp_path, fault, how):
    name = _words(tmp_path)
    result = mrkit("run", FAULTY, "--app-opt", f"fault={fault}", "-r", "1", "-w", "2", name, cwd=tmp_path, timeout=60)
    line = _one_line_failure(result)
    assert pytest.importorskip("re").search(how, line), line
    if fault != "reduce_exit":
        assert "map task 0 (input a.txt)" in line
    assert not list(tmp_path.glob("mr-out-*")), "a failed job leaves no output"


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_a_map_that_never_returns_fails_the_job_after_its_timeouts(tmp_path):
    name = _words(tmp_path)
    result = mrkit(
        "run", FAULTY, "--app-opt", "fault=loop", "--task-timeout", "1", "-r", "1", "-w", "1", name, cwd=tmp_path, timeout=60
    )
    line = _one_line_failure(result)
    assert "map task 0 (input a.txt)" in line and "timed out after 1 s" in line and "raise --task-timeout" in line


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_the_lab_worker_command_also_gives_up_on_a_deterministic_crash(tmp_path):
    """`mrkit worker` processes restarted in a loop (the lab's script): deaths are seen on the connection."""
    name = _words(tmp_path)
    master = mrkit_popen("master", "-r", "1", name, cwd=tmp_path)
    while master.poll() is None:
        mrkit("worker", FAULTY, "--app-opt", "fault=exit", cwd=tmp_path, timeout=60)
    assert master.returncode == 1
    err = master.stderr.read()
    assert "map task 0 (input a.txt): 10 attempts: 10 worker died (connection lost)" in err, err
    assert not (tmp_path / "mr-master.json").exists()


@pytest.mark.slow
@pytest.mark.timeout(150)
def test_a_stopped_attempt_woken_after_the_next_job_changes_nothing(tmp_path):
    """SIGSTOP a worker mid-reduce; another finishes job 1; job 2 runs here; the woken worker must not write."""
    first = _words(tmp_path, "alpha beta\n", "one.txt")
    master = mrkit_popen("master", "-r", "1", "--task-timeout", "1", first, cwd=tmp_path)
    wait_until(lambda: (tmp_path / "mr-master.json").exists(), "mr-master.json")
    sleeper = mrkit_popen(
        "worker", FAULTY, "--app-opt", "fault=pause", "--app-opt", "seconds=2", "--master-timeout", "2", cwd=tmp_path
    )
    wait_until(lambda: list(tmp_path.glob("paused-*")), "the worker entered its reduce")
    sleeper.send_signal(signal.SIGSTOP)
    try:
        helper = mrkit_popen("worker", "wc", cwd=tmp_path)
        assert master.wait(timeout=60) == 0, master.stderr.read()
        helper.wait(timeout=30)
        second = _words(tmp_path, "gamma delta\n", "two.txt")
        mrkit("run", "wc", "-r", "1", second, cwd=tmp_path, check=True)
        job2 = sorted_outputs(tmp_path)
        assert job2 == _expected_wc(tmp_path, second)
    finally:
        sleeper.send_signal(signal.SIGCONT)
    assert sleeper.wait(timeout=30) == 1, "its master is gone, and no run record of its job says it is over"
    assert "cannot reach the master" in sleeper.stderr.read()
    assert sorted_outputs(tmp_path) == job2, "the stale attempt must not replace job 2's output"
    assert not list(tmp_path.glob(".mr-*.tmp")), "and it removes its attempt's files"


@pytest.mark.timeout(60)
def test_a_second_master_in_the_same_directory_is_refused(tmp_path):
    name = _words(tmp_path)
    first = mrkit_popen("master", name, cwd=tmp_path)
    wait_until(lambda: (tmp_path / "mr-master.json").exists(), "mr-master.json")
    try:
        second = mrkit("master", name, cwd=tmp_path)
        assert second.returncode == 2
        assert second.stderr.count("\n") == 1 and f"another master (pid {first.pid})" in second.stderr
        assert json.loads((tmp_path / "mr-master.json").read_text())["pid"] == first.pid, "the first is untouched"
        run = mrkit("run", "wc", name, cwd=tmp_path)
        assert run.returncode == 2 and "another master" in run.stderr
    finally:
        first.kill()
        first.wait()
    # a killed master's lock goes with its process: the next job runs
    assert mrkit("run", "wc", name, cwd=tmp_path).returncode == 0


@pytest.mark.timeout(60)
def test_a_run_record_that_cannot_be_written_is_reported_after_the_job_s_failure(tmp_path):
    name = _words(tmp_path, "poison\n", "bad.txt")
    master = mrkit_popen("master", "-r", "1", "--max-attempts", "2", name, cwd=tmp_path)
    wait_until(lambda: (tmp_path / "mr-master.json").exists(), "mr-master.json")
    (tmp_path / "mr-run.json").mkdir()  # nothing can be written there
    worker = mrkit_popen("worker", app_path("failing"), cwd=tmp_path)
    assert master.wait(timeout=60) == 1
    worker.wait(timeout=30)
    lines = master.stderr.read().strip().splitlines()
    assert "job failed: map task 0 (input bad.txt): 2 attempts: 2 failed (ValueError" in lines[-2]
    assert "cannot write the run record" in lines[-1] and "Traceback" not in "".join(lines)
    assert not (tmp_path / "mr-master.json").exists()


def _alive(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            return "\nState:\tZ" not in f.read()
    except FileNotFoundError:
        return False


@pytest.mark.timeout(90)
@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL, signal.SIGINT])
def test_no_worker_outlives_mrkit_run(tmp_path, how):
    for i in range(4):
        _words(tmp_path, name=f"in{i}.txt")
    run = mrkit_popen(
        "run",
        FAULTY,
        "--app-opt",
        "fault=slow",
        "--app-opt",
        "seconds=30",
        "-w",
        "2",
        *[f"in{i}.txt" for i in range(4)],
        cwd=tmp_path,
    )
    wait_until(lambda: len(list(tmp_path.glob("pid-*"))) == 2, "both workers are mapping")
    workers = [int(p.name[4:]) for p in tmp_path.glob("pid-*")]
    run.send_signal(how)
    run.wait(timeout=30)
    wait_until(lambda: not any(map(_alive, workers)), "the workers are gone", limit=10)
    assert not list(tmp_path.glob("mr-*")) and not list(tmp_path.glob(".mr-*.tmp")), "they wrote nothing"
    if how is not signal.SIGKILL:
        assert run.returncode in (130, 143) and "Traceback" not in run.stderr.read()


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "what, line",
    [
        (
            "key",
            "map task 0 (input a.txt): 10 attempts: 10 failed (map returned key 3 (int) for input a.txt: "
            "keys and values must be str)",
        ),
        ("reduce", "10 failed (reduce returned 3 (int) for key 'x': it must return str)"),
    ],
)
def test_keys_and_values_that_are_not_strings_blame_the_app_in_a_distributed_run(tmp_path, what, line):
    name = _words(tmp_path)
    result = mrkit("run", app_path("badtypes"), "--app-opt", f"what={what}", "-r", "1", name, cwd=tmp_path)
    assert line in _one_line_failure(result)


# ---- a storage outage of a few seconds (issue 22 D11) ------------------------------------------------------


class _RestartableMoto:
    """moto's S3 on one port of 127.0.0.1 that can be stopped and started again (its objects stay: moto
    keeps them in this process)."""

    def __init__(self):
        import socket

        moto_server = pytest.importorskip("moto.server", reason="moto[s3] is not installed (a dev dependency)")
        self._make = moto_server.ThreadedMotoServer
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.start()

    def start(self):
        self.server = self._make(ip_address="127.0.0.1", port=self.port, verbose=False)
        self.server.start()

    def stop(self):
        self.server.stop()


@pytest.fixture
def outage_s3(aws_env):
    import boto3

    moto = _RestartableMoto()
    client = boto3.client("s3", endpoint_url=moto.url, region_name="us-east-1")
    client.create_bucket(Bucket="outage")
    yield moto, client
    moto.stop()
    moto.start()
    _post(f"{moto.url}/moto-api/reset")  # moto's objects live in this process: leave none for other tests
    moto.stop()


def _s3_run(tmp_path, moto, corpus, *args):
    env = {
        "AWS_ENDPOINT_URL": moto.url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    return mrkit_popen("run", app_path("slowwc"), *args, "--storage", "s3://outage/job", *corpus, cwd=tmp_path, env=env)


def _keys(client, prefix="job/"):
    return [o["Key"] for o in client.list_objects_v2(Bucket="outage", Prefix=prefix).get("Contents", ())]


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_a_storage_outage_of_4_s_mid_map_does_not_fail_the_job(tmp_path, outage_s3, corpus):
    moto, client = outage_s3
    run = _s3_run(tmp_path, moto, corpus[:4], "-m", "8", "-r", "2", "-w", "2")
    wait_until(lambda: any(k.startswith("job/mr-0-") for k in _keys(client)), "the first map's output is committed")
    moto.stop()
    time.sleep(4)  # the outage
    moto.start()
    _, err = run.communicate(timeout=150)
    assert run.returncode == 0, err
    lines = sorted(
        line
        for key in _keys(client, "job/mr-out-")
        for line in client.get_object(Bucket="outage", Key=key)["Body"].read().decode().splitlines()
    )
    assert lines == _expected_wc(tmp_path, *corpus[:4])


@pytest.mark.timeout(180)
def test_a_job_failed_by_a_storage_that_stays_down_says_so_before_its_clean_up_warnings(tmp_path, outage_s3, corpus):
    moto, client = outage_s3
    run = _s3_run(tmp_path, moto, corpus[:4], "-m", "8", "-r", "2", "-w", "2", "--max-attempts", "3")
    wait_until(lambda: any(k.startswith("job/mr-0-") for k in _keys(client)), "the first map's output is committed")
    moto.stop()
    _, err = run.communicate(timeout=150)
    lines = err.strip().splitlines()
    assert run.returncode == 1 and lines[0].startswith("mrkit run: job failed: map task "), err
    assert "cannot reach S3" in lines[0] and "Traceback" not in err

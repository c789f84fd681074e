"""One job per storage location: real masters in different directories sharing one directory or S3 prefix."""

import json
import os
import signal
import time

import pytest
from conftest import BUCKET, mrkit, mrkit_popen, sorted_outputs

from mrkit.runtime.lock import LEASE


@pytest.fixture
def aws_process_env(s3_client, moto_endpoint):
    return {
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }


def _start_master(directory, *args, env=None):
    """A `mrkit master` (no workers: it holds its job open) that has announced itself in `directory`."""
    directory.mkdir(exist_ok=True)
    master = mrkit_popen("master", *args, cwd=directory, env=env)
    deadline = time.monotonic() + 60
    while not (directory / "mr-master.json").exists():
        assert master.poll() is None, master.communicate()
        assert time.monotonic() < deadline, "the master did not announce itself"
        time.sleep(0.05)
    return master


def _stop(master):
    if master.poll() is None:
        master.send_signal(signal.SIGTERM)
    master.communicate(timeout=30)


def _refused(result, where):
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and "another master" in lines[0] and where in lines[0], result.stderr


@pytest.mark.timeout(120)
def test_a_second_job_on_one_s3_prefix_is_refused_while_the_first_renews_its_lease(corpus, tmp_path, s3_client, aws_process_env):
    url = f"s3://{BUCKET}/shared"
    first = _start_master(tmp_path / "x", "--storage", url, "-r", "2", *corpus[:2], env={**aws_process_env, "MRKIT_LEASE_S": "3"})
    try:
        # the lease is renewed while the job runs: wait until it has been twice (> its 3 s time to live)
        deadline = time.monotonic() + 60
        while json.loads(s3_client.get_object(Bucket=BUCKET, Key=f"shared/{LEASE}")["Body"].read())["renewals"] < 2:
            assert time.monotonic() < deadline and first.poll() is None
            time.sleep(0.2)
        (tmp_path / "y").mkdir()
        second = mrkit("run", "wc", "-r", "3", "--storage", url, *corpus[2:4], cwd=tmp_path / "y", env=aws_process_env)
        _refused(second, url)
        outputs = s3_client.list_objects_v2(Bucket=BUCKET, Prefix="shared/mr-").get("Contents", [])
        assert outputs == [], "the refused job wrote nothing"
    finally:
        _stop(first)
    listed = s3_client.list_objects_v2(Bucket=BUCKET, Prefix=f"shared/{LEASE}").get("KeyCount")
    assert listed == 0, "a master that exits gives its lease back"


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_a_dead_masters_lease_expires(corpus, tmp_path, s3_client, aws_process_env):
    url = f"s3://{BUCKET}/shared"
    (tmp_path / "ref").mkdir()
    mrkit("sequential", "wc", *corpus[:2], cwd=tmp_path / "ref", check=True)
    dead = _start_master(tmp_path / "x", "--storage", url, "-r", "2", *corpus[:2], env={**aws_process_env, "MRKIT_LEASE_S": "2"})
    dead.send_signal(signal.SIGKILL)
    dead.communicate(timeout=30)
    (tmp_path / "y").mkdir()
    deadline = time.monotonic() + 120
    while True:  # refused while the lease is fresh, then taken over
        result = mrkit("run", "wc", "-r", "2", "--storage", url, *corpus[:2], cwd=tmp_path / "y", env=aws_process_env)
        if result.returncode == 0:
            break
        _refused(result, url)
        assert time.monotonic() < deadline, "a dead master's lease never expired"
        time.sleep(0.5)
    lines = []
    for item in s3_client.list_objects_v2(Bucket=BUCKET, Prefix="shared/mr-out-")["Contents"]:
        lines += s3_client.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read().decode().splitlines()
    assert sorted(lines) == sorted_outputs(tmp_path / "ref")


@pytest.mark.timeout(120)
@pytest.mark.parametrize("command", ["master", "run"])
def test_one_storage_directory_from_two_working_directories(corpus, tmp_path, command):
    shared = tmp_path / "shared"
    first = _start_master(tmp_path / "x", "--storage", shared, "-r", "2", *corpus[:2])
    try:
        (tmp_path / "y").mkdir()
        args = ["master", "-r", "2"] if command == "master" else ["run", "wc", "-r", "2"]
        second = mrkit(*args, "--storage", shared, *corpus[2:4], cwd=tmp_path / "y", timeout=60)
        _refused(second, str(shared))
        assert not os.path.exists(tmp_path / "y" / "mr-master.json")
    finally:
        _stop(first)

"""Jobs whose files live in S3 (moto on 127.0.0.1): same output as the sequential reference."""

import json
import os
import time

import pytest
from conftest import BUCKET, mrkit, mrkit_popen, sorted_outputs


def _s3_outputs(client, prefix):
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", ())]
    lines = []
    for key in keys:
        if key.startswith(prefix + "mr-out-"):
            lines.extend(client.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode().splitlines())
    return sorted(lines), keys


@pytest.fixture
def aws_process_env(s3_client, moto_endpoint):
    """What a worker process needs to reach moto: the endpoint and dummy credentials."""
    return {
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }


@pytest.mark.timeout(120)
@pytest.mark.parametrize("extra", [[], ["-m", "5"]])
def test_run_with_s3_storage_equals_sequential(corpus, tmp_path, s3_client, aws_process_env, extra):
    (tmp_path / "ref").mkdir()
    mrkit("sequential", "wc", *corpus[:3], cwd=tmp_path / "ref", check=True)
    result = mrkit(
        "run",
        "wc",
        *extra,
        "-r",
        "3",
        "--storage",
        f"s3://{BUCKET}/job",
        "--json",
        *corpus[:3],
        cwd=tmp_path,
        env=aws_process_env,
        check=True,
    )
    lines, keys = _s3_outputs(s3_client, "job/")
    assert lines == sorted_outputs(tmp_path / "ref")
    assert sum(k.startswith("job/inputs/") for k in keys) == 3, "local inputs are uploaded once"
    assert not list(tmp_path.glob("mr-*")), "nothing is written locally"
    assert json.loads(result.stdout)["n_map"] == (5 if extra else 3)


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_remote_master_and_workers_share_only_the_bucket(corpus, tmp_path, s3_client, aws_process_env):
    """Workers in other directories get the master URL and the token by environment, the files from S3."""
    (tmp_path / "ref").mkdir()
    mrkit("sequential", "indexer", *corpus[:4], cwd=tmp_path / "ref", check=True)
    (tmp_path / "master").mkdir()
    master = mrkit_popen(
        "master",
        "--storage",
        f"s3://{BUCKET}/remote",
        "--listen",
        "127.0.0.1:0",
        "-r",
        "2",
        *corpus[:4],
        cwd=tmp_path / "master",
        env=aws_process_env,
    )
    info_path = tmp_path / "master" / "mr-master.json"
    deadline = time.monotonic() + 30
    while not info_path.exists():
        assert master.poll() is None and time.monotonic() < deadline, master.communicate()
        time.sleep(0.05)
    info = json.loads(info_path.read_text())
    workers = []
    for i in range(2):
        (tmp_path / f"w{i}").mkdir()
        workers.append(
            mrkit_popen(
                "worker",
                "indexer",
                "--master",
                info["url"],
                cwd=tmp_path / f"w{i}",
                env={**aws_process_env, "MRKIT_TOKEN": info["token"]},
            )
        )
    assert master.wait(timeout=90) == 0, master.stderr.read()
    assert [w.wait(timeout=30) for w in workers] == [0, 0]
    assert info["token"] not in " ".join(map(str, workers[0].args)), "the token never goes on a command line"
    lines, _ = _s3_outputs(s3_client, "remote/")
    assert lines == sorted_outputs(tmp_path / "ref")
    for i in range(2):
        assert not [n for n in os.listdir(tmp_path / f"w{i}") if n.startswith("mr-")]


def test_s3_input_outside_the_job_bucket_is_refused(corpus, tmp_path, s3_client, aws_process_env):
    result = mrkit("run", "wc", "--storage", f"s3://{BUCKET}/job", "s3://elsewhere/a.txt", cwd=tmp_path, env=aws_process_env)
    assert result.returncode == 2 and "not in the job's storage" in result.stderr

"""The stand-in's own AWS: a moto server started for one command, and `mrkit report --stand-in` on it with no AWS set-up."""

import os
import re
import subprocess
import urllib.error
import urllib.request

import pytest
from conftest import MRKIT

from mrkit.experiments.sweeps.sweep_config import REPO_ROOT

pytest.importorskip("moto.server", reason="moto[server] is not installed (a dev dependency)")

EXECUTION_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"


def without_aws():
    return {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}


@pytest.mark.timeout(120)
def test_local_aws_serves_on_the_loopback_with_managed_policies_and_restores_the_environment(monkeypatch):
    import boto3

    from mrkit.backends.ecs.local_aws import local_aws

    for var in [v for v in os.environ if v.startswith("AWS_")]:
        monkeypatch.delenv(var)
    with local_aws() as endpoint:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", endpoint) and os.environ["AWS_ENDPOINT_URL"] == endpoint
        session = boto3.session.Session()
        s3 = session.client("s3")  # no endpoint given: the environment points it at the local server
        s3.create_bucket(Bucket="probe")
        assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["probe"]
        assert session.client("iam").get_policy(PolicyArn=EXECUTION_POLICY)["Policy"]["PolicyName"]
    assert "AWS_ENDPOINT_URL" not in os.environ and "AWS_ACCESS_KEY_ID" not in os.environ
    with pytest.raises(urllib.error.URLError):  # the server is gone with the context
        urllib.request.build_opener(urllib.request.ProxyHandler({})).open(f"{endpoint}/moto-api/", timeout=5)


@pytest.mark.notebook
@pytest.mark.timeout(600)
def test_a_stand_in_report_needs_no_aws_set_up_and_has_the_ecs_section_with_its_verification(tmp_path):
    out = tmp_path / "report.html"
    # A clean environment: no AWS variable (the ECS tests' own server may be running), so the report starts its own.
    done = subprocess.run(
        [*MRKIT, "report", "--quick", "--stand-in", "--no-checks", "--no-progress", "--out", str(out)],
        cwd=REPO_ROOT,
        env=without_aws(),
        capture_output=True,
        text=True,
        timeout=560,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    html = out.read_text(encoding="utf-8")
    assert "The ECS assignment" in html and "Verification" in html
    assert re.search(r"\d+ of \d+ runs? equal, key for key", html), "every ECS run's output was verified"
    runs = next((tmp_path / "mappers_ecs").glob("*/runs.csv")).read_text()
    assert "verify_expected" in runs.splitlines()[0]

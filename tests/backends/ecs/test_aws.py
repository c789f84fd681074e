"""The seam's calls for the launcher (run/describe/stop tasks, task IPs, logs) and its error handling."""

import subprocess
import sys
import time

import pytest
from botocore.stub import Stubber

from mrkit.backends.ecs import AwsError, TaskLaunchError
from mrkit.backends.ecs.aws import Aws

CLUSTER = "mrkit-seam"


@pytest.fixture
def aws(aws_no_iam):
    """These tests make no IAM role: moto without AWS managed policies starts faster."""
    return aws_no_iam


@pytest.fixture
def cluster(aws):
    """A cluster and a Fargate task definition made straight through the seam (no IAM: fast)."""
    aws.create_cluster(CLUSTER, {"mrkit:stack": "seam"})
    td = aws.register_task_definition(
        {
            "family": "mrkit-seam",
            "requiresCompatibilities": ["FARGATE"],
            "networkMode": "awsvpc",
            "cpu": "256",
            "memory": "512",
            "containerDefinitions": [{"name": "mrkit", "image": "mrkit:latest", "memory": 512}],
        },
        {"mrkit:stack": "seam"},
    )
    vpc = aws.default_vpc()
    subnet = aws.subnets(vpc_id=vpc)[0]["SubnetId"]
    group = aws.create_security_group("seam", "seam", vpc, {"mrkit:stack": "seam"})
    aws.calls.clear()
    return {"td": td["taskDefinitionArn"], "subnets": [subnet], "groups": [group]}


def _run(aws, cluster, count, **kwargs):
    return aws.run_tasks(CLUSTER, cluster["td"], count, subnets=cluster["subnets"], security_groups=cluster["groups"], **kwargs)


def test_run_tasks_starts_them_in_batches_of_ten_with_a_token_each(aws, cluster):
    sent = []
    aws.client("ecs").meta.events.register("provide-client-params.ecs.RunTask", lambda params, **_: sent.append(dict(params)))
    tasks = _run(
        aws,
        cluster,
        12,
        command=["worker", "wc"],
        environment={"MRKIT_TOKEN_FILE": "/run/t"},
        started_by="mrkit-run-1",
        client_token="run-1",
    )
    assert len(tasks) == 12
    assert [p["count"] for p in sent] == [10, 2]
    assert [p["clientToken"] for p in sent] == ["run-1-0", "run-1-1"]
    assert sent[0]["networkConfiguration"]["awsvpcConfiguration"]["securityGroups"] == cluster["groups"]
    assert sent[0]["launchType"] == "FARGATE"
    # describe_tasks echoes the overrides: a local stand-in reads the command and environment there.
    described = aws.describe_tasks(CLUSTER, [t["taskArn"] for t in tasks])
    override = described[0]["overrides"]["containerOverrides"][0]
    assert override["name"] == "mrkit" and override["command"] == ["worker", "wc"]
    assert override["environment"] == [{"name": "MRKIT_TOKEN_FILE", "value": "/run/t"}]
    assert set(aws.list_tasks(CLUSTER, started_by="mrkit-run-1")) == {t["taskArn"] for t in tasks}


def test_task_ip_state_and_stop(aws, cluster):
    [task] = _run(aws, cluster, 1)
    [task] = aws.describe_tasks(CLUSTER, [task["taskArn"]])
    assert task["lastStatus"] == "RUNNING"  # pinned by the fixture: tasks do not stop by themselves
    ip = Aws.task_private_ip(task)
    assert ip and ip.count(".") == 3
    aws.stop_task(CLUSTER, task["taskArn"], "job over")
    [task] = aws.describe_tasks(CLUSTER, [task["taskArn"]])
    assert (task["lastStatus"], task["stoppedReason"]) == ("STOPPED", "job over")
    assert Aws.task_private_ip({"attachments": []}) is None


def test_a_failed_launch_reports_the_tasks_that_did_start(aws, cluster):
    ecs = aws.client("ecs")
    arn = "arn:aws:ecs:us-east-1:123456789012:task/mrkit-seam/"
    with Stubber(ecs) as stub:
        stub.add_response("run_task", {"tasks": [{"taskArn": arn + str(i)} for i in range(10)], "failures": []})
        stub.add_response(
            "run_task",
            {"tasks": [{"taskArn": arn + "10"}], "failures": [{"reason": "RESOURCE:ENI", "detail": "no ENI left"}] * 4},
        )
        with pytest.raises(TaskLaunchError) as err:
            _run(aws, cluster, 25)
        stub.assert_no_pending_responses()  # the third batch was never sent
    assert len(err.value.started) == 11 and len(err.value.failures) == 4
    assert str(err.value) == (
        "ecs.RunTask: failures: 4 task(s) not started: RESOURCE:ENI (no ENI left); "
        "RESOURCE:ENI (no ENI left); RESOURCE:ENI (no ENI left) and 1 more"
    )


def test_log_tail_and_stream_names(aws):
    logs = aws.client("logs")
    stream = Aws.log_stream("mrkit", "mrkit", "arn:aws:ecs:us-east-1:123456789012:task/mrkit-seam/abc123")
    assert stream == "mrkit/mrkit/abc123"
    logs.create_log_group(logGroupName="/ecs/seam")
    assert aws.tail_log("/ecs/seam", stream) == []  # no stream yet: the task has not logged
    logs.create_log_stream(logGroupName="/ecs/seam", logStreamName=stream)
    now = int(time.time() * 1000)  # CloudWatch drops events older than 14 days
    logs.put_log_events(
        logGroupName="/ecs/seam",
        logStreamName=stream,
        logEvents=[{"timestamp": now + i, "message": f"line {i}"} for i in range(30)],
    )
    assert aws.tail_log("/ecs/seam", stream, lines=3) == ["line 27", "line 28", "line 29"]


def test_errors_are_one_line_aws_errors_and_missing_things_are_none(aws):
    assert aws.find_cluster("nope") is None
    assert aws.find_repository("nope") is None
    assert aws.find_role("nope") is None
    assert aws.find_log_group("/nope") is None
    assert aws.task_definition("nope") is None
    assert aws.bucket_tags("nope-bucket") is None
    with pytest.raises(AwsError) as err:
        aws.describe_tasks("nope", ["arn:aws:ecs:us-east-1:123456789012:task/nope/1"])
    assert err.value.code == "ClusterNotFoundException" and str(err.value).startswith("ecs.DescribeTasks: ")
    assert "\n" not in str(err.value)


def test_missing_credentials_say_what_to_set(monkeypatch, moto_endpoint):
    import boto3

    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(var)
    aws = Aws("us-east-1", endpoint_url=moto_endpoint, session=boto3.session.Session())
    with pytest.raises(AwsError, match="no AWS credentials found: set AWS_PROFILE"):
        aws.account_id()


def test_the_package_imports_boto3_only_in_the_seam():
    code = (
        "import sys, mrkit.backends.ecs, mrkit.backends.ecs.config, mrkit.backends.ecs.bootstrap, "
        "mrkit.backends.ecs.image; print('boto3' in sys.modules, 'botocore' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]

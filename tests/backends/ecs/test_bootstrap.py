"""`mrkit ecs up` / `down` against moto: complete, idempotent, and touching only the stack's own resources."""

import dataclasses

import pytest

from mrkit.backends.ecs import TAG_KEY, AwsError, StackConflict, StackNotReady
from mrkit.backends.ecs.bootstrap import _patiently, describe, down, up

pytestmark = pytest.mark.slow  # a stack on moto per test: seconds each


def inventory(aws):
    """Everything of the kinds `up` makes, by name: what must be equal before `up` and after `down`."""
    ecs, iam = aws.client("ecs"), aws.client("iam")
    return {
        "buckets": sorted(b["Name"] for b in aws.client("s3").list_buckets()["Buckets"]),
        "repositories": sorted(r["repositoryName"] for r in aws.client("ecr").describe_repositories()["repositories"]),
        "clusters": sorted(
            c["clusterName"]
            for c in ecs.describe_clusters(clusters=ecs.list_clusters()["clusterArns"])["clusters"]
            if c["status"] == "ACTIVE"
        )
        if ecs.list_clusters()["clusterArns"]
        else [],
        "log groups": sorted(g["logGroupName"] for g in aws.client("logs").describe_log_groups()["logGroups"]),
        "roles": sorted(r["RoleName"] for r in iam.list_roles()["Roles"]),
        "security groups": sorted(g["GroupId"] for g in aws.client("ec2").describe_security_groups()["SecurityGroups"]),
        "task definitions": sorted(ecs.list_task_definitions(status="ACTIVE")["taskDefinitionArns"]),
    }


def test_up_then_down_leaves_nothing_behind(aws, config):
    before = inventory(aws)
    stack = up(config, aws)
    during = inventory(aws)
    for kind in before:
        assert len(during[kind]) > len(before[kind]), f"up made no {kind}"
    assert stack.bucket == "mrkit-t1-123456789012-us-east-1" and stack.bucket_owned
    aws.client("s3").put_object(Bucket=stack.bucket, Key="job/mr-out-0", Body=b"a 1\n")  # down empties it first

    removed, kept = down(config, aws)
    assert inventory(aws) == before
    assert kept == []
    assert len(removed) == 8  # cluster, task definition, log group, security group, 2 roles, repository, bucket
    # Deregistered revisions are deleted too, not left INACTIVE.
    assert aws.client("ecs").list_task_definitions(status="INACTIVE")["taskDefinitionArns"] == []


def test_a_second_up_changes_nothing(aws, config):
    first = up(config, aws)
    assert first.changes
    aws.calls.clear()
    second = up(config, aws)
    assert aws.mutating_calls == []
    assert second.changes == []
    assert dataclasses.replace(second, changes=first.changes) == first


def test_down_keeps_what_up_did_not_make(aws, config):
    s3, iam = aws.client("s3"), aws.client("iam")
    mine = "mrkit-t1-123456789012-us-east-1"  # the stack's default bucket name, made by the user beforehand
    s3.create_bucket(Bucket=mine)
    s3.put_object(Bucket=mine, Key="data/input.txt", Body=b"keep me")
    s3.create_bucket(Bucket="unrelated")
    iam.create_role(RoleName="someone-elses", AssumeRolePolicyDocument="{}")

    aws.calls.clear()
    stack = up(config, aws)
    assert not stack.bucket_owned  # used as it is, not tagged
    assert not [c for c in aws.mutating_calls if c.startswith("s3:")]  # not tagged, not changed

    removed, kept = down(config, aws)
    assert kept == [f"bucket {mine} (not made by `mrkit ecs up` for stack 't1')"]
    assert s3.get_object(Bucket=mine, Key="data/input.txt")["Body"].read() == b"keep me"
    assert {b["Name"] for b in s3.list_buckets()["Buckets"]} == {mine, "unrelated"}
    assert [r["RoleName"] for r in iam.list_roles()["Roles"]] == ["someone-elses"]


def test_up_refuses_a_same_named_resource_it_did_not_make(aws, config):
    aws.client("iam").create_role(RoleName=config.task_role, AssumeRolePolicyDocument="{}")
    aws.calls.clear()
    with pytest.raises(StackConflict) as err:
        up(config, aws)
    message = str(err.value)
    assert "\n" not in message and config.task_role in message and f"no {TAG_KEY} tag" in message
    assert aws.mutating_calls == []  # everything is looked up before anything is made
    # ... and down does not delete that role.
    removed, kept = down(config, aws)
    assert removed == []
    assert kept == [f"IAM role {config.task_role} (not made by `mrkit ecs up` for stack 't1')"]
    assert aws.find_role(config.task_role) is not None
    assert aws.find_cluster(config.cluster) is None


def test_down_is_tolerant_of_partial_stacks_and_repeats(aws, config):
    assert down(config, aws) == ([], [])  # nothing there: nothing to do
    up(config, aws)
    aws.client("ecs").delete_cluster(cluster=config.cluster)  # half torn down by hand
    aws.delete_role(config.execution_role)
    removed, _ = down(config, aws)
    assert len(removed) == 6
    assert down(config, aws) == ([], [])


def test_stacks_are_separate(aws, config):
    other = dataclasses.replace(config, stack="t2")
    one, two = up(config, aws), up(other, aws)
    assert one.bucket != two.bucket and one.security_group != two.security_group
    down(config, aws)
    assert describe(other, aws) == dataclasses.replace(two, changes=[])
    with pytest.raises(StackNotReady, match="missing: bucket, ECR repository, ECS cluster"):
        describe(config, aws)


def test_up_fixes_drift_and_keeps_one_active_revision(aws, config):
    first = up(config, aws)
    moved = dataclasses.replace(config, master_port=9000, memory=2048)
    second = up(moved, aws)
    assert second.task_definition_arn.endswith(":2") and first.task_definition_arn.endswith(":1")
    assert aws.task_definition_arns(config.family) == [second.task_definition_arn]
    rules = aws.security_groups(name=config.security_group)[0]["IpPermissions"]
    assert [(r["FromPort"], r["ToPort"]) for r in rules] == [(9000, 9000)]
    assert any("set ingress" in line for line in second.changes)


def test_down_stops_the_stacks_running_tasks(aws, config):
    stack = up(config, aws)
    tasks = aws.run_tasks(
        stack.cluster_arn,
        stack.task_definition_arn,
        2,
        subnets=stack.subnets,
        security_groups=[stack.security_group],
        command=["worker", "wc"],
    )
    removed, _ = down(config, aws)
    assert f"ECS cluster {config.cluster}" in removed
    stopped = aws.describe_tasks(stack.cluster_arn, [t["taskArn"] for t in tasks])
    assert {t["lastStatus"] for t in stopped} == {"STOPPED"}


def test_describe_returns_what_up_made(aws, config):
    with pytest.raises(StackNotReady, match="run `mrkit ecs up`"):
        describe(config, aws)
    stack = up(config, aws)
    aws.calls.clear()
    assert describe(config, aws) == dataclasses.replace(stack, changes=[])
    assert aws.mutating_calls == []


def test_settling_errors_are_retried_until_the_deadline():
    attempts, naps = [], []

    def flaky():
        attempts.append(1)
        if len(attempts) < 3:
            raise AwsError("ec2.DeleteSecurityGroup", "DependencyViolation", "resource has a dependent object")
        return "gone"

    assert _patiently(flaky, ("DependencyViolation",), wait=60, sleep=naps.append) == "gone"
    assert len(attempts) == 3 and naps == [5.0, 5.0]

    def always(code):
        def action():
            raise AwsError("ec2.DeleteSecurityGroup", code, "no")

        return action

    with pytest.raises(AwsError, match="DependencyViolation"):  # past the deadline: the error stands
        _patiently(always("DependencyViolation"), ("DependencyViolation",), wait=0, sleep=pytest.fail)
    with pytest.raises(AwsError, match="AccessDenied"):  # other errors are not retried
        _patiently(always("AccessDenied"), ("DependencyViolation",), wait=60, sleep=pytest.fail)


def test_a_bucket_name_taken_elsewhere_stops_up_before_it_makes_anything(aws, config, monkeypatch):
    def forbidden(bucket):
        raise AwsError("s3.HeadBucket", "403", "Forbidden")

    monkeypatch.setattr(aws, "bucket_tags", forbidden)  # moto shares buckets across accounts; AWS answers 403
    aws.calls.clear()
    with pytest.raises(StackConflict, match="bucket mrkit-t1-123456789012-us-east-1 exists in another account"):
        up(config, aws)
    assert aws.mutating_calls == []

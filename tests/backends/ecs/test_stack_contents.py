"""What `up` puts in each resource: what Fargate requires, least privilege, and the stack's tag everywhere.

One stack is brought up for the whole module (it is only read here).
"""

import pytest

from mrkit.backends.ecs import TAG_KEY
from mrkit.backends.ecs.bootstrap import up
from mrkit.backends.ecs.config import make_config

PORT = 8765
REGION = "us-east-1"


@pytest.fixture(scope="module")
def made(new_aws):
    aws = new_aws()
    config = make_config({"stack": "lab", "region": REGION, "cpu": 1024, "memory": 3072, "tags": {"course": "ds"}})
    return config, aws, up(config, aws)


def test_the_task_definition_carries_what_fargate_requires(made):
    config, aws, stack = made
    td = aws.task_definition(stack.task_definition_arn)
    assert td["requiresCompatibilities"] == ["FARGATE"]
    assert td["networkMode"] == "awsvpc"
    assert (td["cpu"], td["memory"]) == ("1024", "3072")  # strings, as the API wants
    assert td["runtimePlatform"] == {"cpuArchitecture": "X86_64", "operatingSystemFamily": "LINUX"}
    assert td["executionRoleArn"] == stack.execution_role_arn
    assert td["taskRoleArn"] == stack.task_role_arn
    [container] = td["containerDefinitions"]
    assert container["name"] == "mrkit"
    assert container["image"] == stack.image == f"{stack.repository_uri}:latest"
    assert container["memory"] == 3072  # container-level memory: moto's run_task needs it
    assert container["essential"] is True
    assert container["portMappings"] == [{"containerPort": PORT, "protocol": "tcp"}]
    assert container["logConfiguration"] == {
        "logDriver": "awslogs",
        "options": {"awslogs-group": "/ecs/mrkit-lab", "awslogs-region": REGION, "awslogs-stream-prefix": "mrkit"},
    }
    assert "command" not in container  # the launcher gives the arguments per task, in overrides
    assert container["entryPoint"] == ["mrkit"]  # the image's ENTRYPOINT, said so the stand-in can read it


def test_the_task_role_may_only_use_the_job_bucket(made):
    config, aws, stack = made
    role = aws.find_role(config.task_role)
    assert role["attached"] == [] and role["inline"] == ["mrkit-job-bucket"]
    statements = aws.role_policy(config.task_role, "mrkit-job-bucket")["Statement"]
    resources = {s["Resource"] for s in statements}
    assert resources == {f"arn:aws:s3:::{stack.bucket}", f"arn:aws:s3:::{stack.bucket}/*"}
    assert all(s["Effect"] == "Allow" and "*" not in str(s["Action"]) for s in statements)
    actions = {(a, s["Resource"]) for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert ("s3:ListBucket", f"arn:aws:s3:::{stack.bucket}") in actions
    for action in ("s3:GetObject", "s3:PutObject", "s3:DeleteObject"):
        assert (action, f"arn:aws:s3:::{stack.bucket}/*") in actions
    trust = role["AssumeRolePolicyDocument"]["Statement"][0]
    assert trust["Principal"] == {"Service": "ecs-tasks.amazonaws.com"}
    assert trust["Condition"]["StringEquals"] == {"aws:SourceAccount": stack.account}


def test_the_execution_role_has_the_managed_policy_only(made):
    config, aws, _ = made
    role = aws.find_role(config.execution_role)
    assert role["attached"] == ["arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"]
    assert role["inline"] == []


def test_the_security_group_admits_the_master_port_from_itself_only(made):
    _, aws, stack = made
    [group] = aws.security_groups(tags={TAG_KEY: "lab"})
    assert group["GroupId"] == stack.security_group and group["VpcId"] == stack.vpc
    [rule] = group["IpPermissions"]
    assert (rule["IpProtocol"], rule["FromPort"], rule["ToPort"]) == ("tcp", PORT, PORT)
    assert [pair["GroupId"] for pair in rule["UserIdGroupPairs"]] == [stack.security_group]
    assert rule["IpRanges"] == [] and rule["Ipv6Ranges"] == [] and rule["PrefixListIds"] == []


def test_subnets_default_to_the_default_vpc(made):
    _, aws, stack = made
    vpc = aws.default_vpc()
    assert stack.vpc == vpc
    assert stack.subnets == sorted(s["SubnetId"] for s in aws.subnets(vpc_id=vpc)) and stack.subnets


def test_every_resource_carries_the_stack_tag(made):
    config, aws, stack = made
    wanted = {TAG_KEY: "lab", "course": "ds"}
    found = {
        "bucket": aws.bucket_tags(stack.bucket),
        "repository": aws.find_repository(config.repository)["tags"],
        "cluster": aws.find_cluster(config.cluster)["tags"],
        "log group": aws.find_log_group(config.log_group)["tags"],
        "execution role": aws.find_role(config.execution_role)["tags"],
        "task role": aws.find_role(config.task_role)["tags"],
        "security group": {t["Key"]: t["Value"] for t in aws.security_groups(tags={TAG_KEY: "lab"})[0]["Tags"]},
        "task definition": aws.ecs_tags(stack.task_definition_arn),
    }
    for kind, tags in found.items():
        assert wanted.items() <= tags.items(), kind


def test_the_bucket_is_private_and_logs_expire(made):
    config, aws, stack = made
    block = aws.client("s3").get_public_access_block(Bucket=stack.bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values()) and len(block) == 4
    assert aws.find_log_group(config.log_group)["retentionInDays"] == 7

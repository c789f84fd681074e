"""What the ECS stack's resources contain: IAM trust and bucket policies, the security group's rule, the task definition.

Pure functions of the settings, so tests can check every document, and `up`
(bootstrap.py) can compare what is with what should be before it changes anything.
"""

from mrkit.backends.ecs.config import CONTAINER

LOG_PREFIX = "mrkit"  # awslogs-stream-prefix: streams are mrkit/mrkit/<task id>


def trust_policy(account, region, condition):
    """Lets ECS tasks assume the role; `condition` limits it to this account's ECS (confused deputy)."""
    statement = {"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}
    if condition:
        statement["Condition"] = {
            "ArnLike": {"aws:SourceArn": f"arn:{partition_of(region)}:ecs:{region}:{account}:*"},
            "StringEquals": {"aws:SourceAccount": account},
        }
    return {"Version": "2012-10-17", "Statement": [statement]}


def bucket_policy(bucket, partition="aws"):
    """The task role's only permissions: objects in the job bucket, and listing it."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            # AbortMultipartUpload: boto3 aborts a failed multipart upload; denied, its parts would linger.
            {
                "Sid": "JobObjects",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
                "Resource": f"arn:{partition}:s3:::{bucket}/*",
            },
            {"Sid": "ListJobBucket", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:{partition}:s3:::{bucket}"},
        ],
    }


def ingress(group_id, port):
    """The security group's only ingress rule: the master port, from members of the group itself."""
    return [
        {
            "IpProtocol": "tcp",
            "FromPort": port,
            "ToPort": port,
            "UserIdGroupPairs": [{"GroupId": group_id, "Description": "mrkit master, from the stack's tasks"}],
        }
    ]


def task_definition_spec(config, image, execution_role_arn, task_role_arn):
    """RegisterTaskDefinition's parameters: one Fargate container running `mrkit`, its arguments from run_task overrides."""
    return {
        "family": config.family,
        "requiresCompatibilities": ["FARGATE"],
        "networkMode": "awsvpc",
        "cpu": str(config.cpu),
        "memory": str(config.memory),
        "runtimePlatform": {"cpuArchitecture": config.cpu_architecture, "operatingSystemFamily": "LINUX"},
        "executionRoleArn": execution_role_arn,
        "taskRoleArn": task_role_arn,
        "containerDefinitions": [
            {
                "name": CONTAINER,
                "image": image,
                # The Dockerfile's ENTRYPOINT too, said here so the task definition alone tells
                # what runs (the local stand-in reads it): overrides give only the arguments.
                "entryPoint": ["mrkit"],
                "essential": True,
                # A container-level limit equal to the task's: Fargate does not need it, but
                # moto's run_task fails without one, and it costs nothing here.
                "memory": config.memory,
                "portMappings": [{"containerPort": config.master_port, "protocol": "tcp"}],
                "logConfiguration": {
                    "logDriver": "awslogs",
                    "options": {
                        "awslogs-group": config.log_group,
                        "awslogs-region": config.region,
                        "awslogs-stream-prefix": LOG_PREFIX,
                    },
                },
            }
        ],
    }


def comparable_rules(permissions):
    """Ingress rules in a comparable form (descriptions and ordering ignored)."""
    return sorted(
        (
            p.get("IpProtocol"),
            p.get("FromPort"),
            p.get("ToPort"),
            tuple(sorted(g["GroupId"] for g in p.get("UserIdGroupPairs", []))),
            tuple(sorted(r["CidrIp"] for r in p.get("IpRanges", []))),
            tuple(sorted(r["CidrIpv6"] for r in p.get("Ipv6Ranges", []))),
            tuple(sorted(r["PrefixListId"] for r in p.get("PrefixListIds", []))),
        )
        for p in permissions
    )


def partition_of(region):
    """The ARN partition a region belongs to."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"

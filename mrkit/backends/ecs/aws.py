"""The seam between mrkit and AWS: every boto3 call the ECS backend makes, in one place.

Use `Aws(region, endpoint_url=None)` wherever the ECS backend needs AWS:
`bootstrap` (up/down), `image` (the ECR login token) and the job launcher
(run_task, describe_tasks, stop_task, task IPs, log tails). Nothing else in
mrkit imports boto3 for ECS, so a test can point this class at moto, and a
local stand-in can read back what a launcher asked for (run_task overrides
are echoed by describe_tasks).

Conventions, so callers stay simple:
- tags are plain dicts here; each service's tag format is converted inside;
- `find_*` return None when the thing does not exist, instead of raising;
- every other AWS failure becomes an `AwsError` with the operation and error
  code (one line, no traceback); missing credentials and an unreachable
  endpoint say what to set;
- `calls` lists every API operation made ("ecs:CreateCluster"), which is how
  the tests prove a second `up` changes nothing.

The endpoint is `endpoint_url` when given, otherwise whatever boto3 finds
itself ($AWS_ENDPOINT_URL, per-service variables, the profile).
"""

import base64
import json

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from mrkit.backends.ecs import AwsError, TaskLaunchError
from mrkit.storage.s3 import boto_failure, error_code

RUN_TASK_BATCH = 10  # RunTask starts at most 10 tasks per call
DESCRIBE_TASKS_BATCH = 100
READ_ONLY = ("Describe", "List", "Get", "Head")  # operation-name prefixes that change nothing


class Aws:
    """boto3 clients for one region (and endpoint), with the few calls mrkit uses.

    `session` is a boto3 Session to build clients from (default: a new one,
    which reads credentials the usual way); sharing one saves reloading
    service models.
    """

    def __init__(self, region, endpoint_url=None, session=None):
        self.region = region
        self.endpoint_url = endpoint_url
        self.calls = []  # "service:Operation" for every API call made, in order
        self._session = session or boto3.session.Session(region_name=region)
        self._clients = {}

    # ---- plumbing ---------------------------------------------------------------

    def client(self, service):
        """The (cached) boto3 client for `service`; records each call in `self.calls`."""
        if service not in self._clients:
            client = self._session.client(
                service,
                region_name=self.region,
                endpoint_url=self.endpoint_url,
                config=Config(retries={"mode": "standard", "max_attempts": 4}, user_agent_extra="mrkit"),
            )
            client.meta.events.register("before-call.*.*", self._record)
            self._clients[service] = client
        return self._clients[service]

    def credentials(self):
        """The session's credentials as AWS_* variables: what the task role gives a task's container."""
        found = self._session.get_credentials()
        if found is None:
            return {}
        frozen = found.get_frozen_credentials()
        variables = {"AWS_ACCESS_KEY_ID": frozen.access_key, "AWS_SECRET_ACCESS_KEY": frozen.secret_key}
        if frozen.token:
            variables["AWS_SESSION_TOKEN"] = frozen.token
        return variables

    def _record(self, model, **_):
        self.calls.append(f"{model.service_model.service_name}:{model.name}")

    @property
    def mutating_calls(self):
        """The calls so far that may have changed something (not Describe/List/Get/Head)."""
        return [c for c in self.calls if not c.partition(":")[2].startswith(READ_ONLY)]

    def _call(self, service, operation, missing=(), **params):
        """client.operation(**params); None when the error code is in `missing`; else AwsError."""
        try:
            return getattr(self.client(service), operation)(**params)
        except (ClientError, BotoCoreError) as exc:
            if isinstance(exc, ClientError) and error_code(exc) in missing:
                return None
            raise _aws_error(service, operation, exc) from None

    def _items(self, service, operation, key, **params):
        """Every item under `key` across all pages of a paginated list/describe call."""
        for page in self._pages(service, operation, **params):
            yield from page.get(key, [])

    def _pages(self, service, operation, **params):
        """The pages of a paginated call, with errors as AwsError."""
        try:
            yield from self.client(service).get_paginator(operation).paginate(**params)
        except (ClientError, BotoCoreError) as exc:
            raise _aws_error(service, operation, exc) from None

    # ---- identity and network ---------------------------------------------------

    def account_id(self):
        """The 12-digit id of the account the credentials belong to."""
        return self._call("sts", "get_caller_identity")["Account"]

    def default_vpc(self):
        """The id of the region's default VPC, or None when it has none."""
        vpcs = self._call("ec2", "describe_vpcs", Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
        return vpcs[0]["VpcId"] if vpcs else None

    def subnets(self, vpc_id=None, subnet_ids=None):
        """Subnets of a VPC, or the given ones: [{"SubnetId", "VpcId", "AvailabilityZone", ...}]."""
        params = {"SubnetIds": list(subnet_ids)} if subnet_ids else {"Filters": [{"Name": "vpc-id", "Values": [vpc_id]}]}
        return list(self._items("ec2", "describe_subnets", "Subnets", **params))

    def security_groups(self, tags=None, vpc_id=None, name=None):
        """Security groups matching every filter given (tags: {key: value}), each with "tags" as a dict."""
        filters = [{"Name": f"tag:{k}", "Values": [v]} for k, v in (tags or {}).items()]
        if vpc_id:
            filters.append({"Name": "vpc-id", "Values": [vpc_id]})
        if name:
            filters.append({"Name": "group-name", "Values": [name]})
        return [
            {**group, "tags": _tag_dict(group.get("Tags", []))}
            for group in self._items("ec2", "describe_security_groups", "SecurityGroups", Filters=filters)
        ]

    def create_security_group(self, name, description, vpc_id, tags):
        """A new security group (default egress: everything); returns its id."""
        return self._call(
            "ec2",
            "create_security_group",
            GroupName=name,
            Description=description,
            VpcId=vpc_id,
            TagSpecifications=[{"ResourceType": "security-group", "Tags": _tag_list(tags)}],
        )["GroupId"]

    def set_ingress(self, group_id, current, wanted):
        """Replace a group's ingress rules `current` (as described) by `wanted` (IpPermissions)."""
        if current:
            self._call("ec2", "revoke_security_group_ingress", GroupId=group_id, IpPermissions=current)
        if wanted:
            self._call("ec2", "authorize_security_group_ingress", GroupId=group_id, IpPermissions=wanted)

    def delete_security_group(self, group_id):
        self._call("ec2", "delete_security_group", missing=("InvalidGroup.NotFound",), GroupId=group_id)

    # ---- S3 ---------------------------------------------------------------------

    def bucket_tags(self, bucket):
        """The bucket's tags ({} when untagged), or None when it does not exist. AwsError when not ours (403)."""
        if self._call("s3", "head_bucket", missing=("404", "NoSuchBucket", "NotFound"), Bucket=bucket) is None:
            return None
        result = self._call("s3", "get_bucket_tagging", missing=("NoSuchTagSet",), Bucket=bucket)
        return _tag_dict(result["TagSet"]) if result else {}

    def create_bucket(self, bucket, tags):
        """A new private bucket in this region, tagged."""
        params = {} if self.region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": self.region}}
        self._call("s3", "create_bucket", Bucket=bucket, **params)
        self._call("s3", "put_bucket_tagging", Bucket=bucket, Tagging={"TagSet": _tag_list(tags)})
        self._call(
            "s3",
            "put_public_access_block",
            Bucket=bucket,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
        )

    def delete_bucket(self, bucket):
        """Delete every object (and version) in the bucket, then the bucket."""
        keys = []
        for page in self._pages("s3", "list_object_versions", Bucket=bucket):
            # Unversioned buckets list every object as a version with VersionId "null".
            keys += [
                {"Key": v["Key"], "VersionId": v["VersionId"]} for v in page.get("Versions", []) + page.get("DeleteMarkers", [])
            ]
        for start in range(0, len(keys), 1000):  # DeleteObjects takes at most 1000 keys
            self._call("s3", "delete_objects", Bucket=bucket, Delete={"Objects": keys[start : start + 1000], "Quiet": True})
        self._call("s3", "delete_bucket", missing=("NoSuchBucket",), Bucket=bucket)

    # ---- ECR --------------------------------------------------------------------

    def find_repository(self, name):
        """{"repositoryArn", "repositoryUri", "tags", ...} or None."""
        found = self._call("ecr", "describe_repositories", missing=("RepositoryNotFoundException",), repositoryNames=[name])
        if not found:
            return None
        repo = found["repositories"][0]
        tags = self._call("ecr", "list_tags_for_resource", resourceArn=repo["repositoryArn"])["tags"]
        return {**repo, "tags": _tag_dict(tags)}

    def create_repository(self, name, tags):
        repo = self._call("ecr", "create_repository", repositoryName=name, tags=_tag_list(tags), imageTagMutability="MUTABLE")[
            "repository"
        ]
        return {**repo, "tags": dict(tags)}

    def delete_repository(self, name):
        """Delete the repository and every image in it."""
        self._call("ecr", "delete_repository", missing=("RepositoryNotFoundException",), repositoryName=name, force=True)

    def ecr_login(self):
        """(username, password) for `docker login` to this account's registry; keep the password off argv."""
        data = self._call("ecr", "get_authorization_token")["authorizationData"][0]
        user, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
        return user, password

    # ---- CloudWatch Logs --------------------------------------------------------

    def find_log_group(self, name):
        """{"logGroupName", "retentionInDays", "tags", ...} or None."""
        for group in self._items("logs", "describe_log_groups", "logGroups", logGroupNamePrefix=name):
            if group["logGroupName"] == name:
                arn = group.get("logGroupArn") or group["arn"].removesuffix(":*")
                tags = self._call("logs", "list_tags_for_resource", resourceArn=arn)["tags"]
                return {**group, "tags": tags}
        return None

    def create_log_group(self, name, tags):
        self._call("logs", "create_log_group", logGroupName=name, tags=dict(tags))

    def set_log_retention(self, name, days):
        self._call("logs", "put_retention_policy", logGroupName=name, retentionInDays=days)

    def delete_log_group(self, name):
        self._call("logs", "delete_log_group", missing=("ResourceNotFoundException",), logGroupName=name)

    def tail_log(self, group, stream, lines=50):
        """The last `lines` messages of a log stream (oldest first); [] when the stream does not exist yet."""
        found = self._call(
            "logs",
            "get_log_events",
            missing=("ResourceNotFoundException",),
            logGroupName=group,
            logStreamName=stream,
            startFromHead=False,
            limit=lines,
        )
        return [event["message"] for event in (found or {}).get("events", [])]

    def put_log_lines(self, group, stream, lines, timestamp_ms):
        """Append lines to a log stream, creating it if needed (the local stand-in's awslogs)."""
        self._call(
            "logs", "create_log_stream", missing=("ResourceAlreadyExistsException",), logGroupName=group, logStreamName=stream
        )
        for start in range(0, len(lines), 1000):  # PutLogEvents takes at most 10,000 events and 1 MB
            events = [{"timestamp": timestamp_ms, "message": line or " "} for line in lines[start : start + 1000]]
            self._call("logs", "put_log_events", logGroupName=group, logStreamName=stream, logEvents=events)

    @staticmethod
    def log_stream(prefix, container, task_arn):
        """The stream awslogs writes a task's container output to: <prefix>/<container>/<task id>."""
        return f"{prefix}/{container}/{task_arn.rsplit('/', 1)[-1]}"

    # ---- IAM --------------------------------------------------------------------

    def find_role(self, name):
        """{"Arn", "AssumeRolePolicyDocument" (a dict), "tags", "attached", "inline"} or None."""
        found = self._call("iam", "get_role", missing=("NoSuchEntity",), RoleName=name)
        if not found:
            return None
        role = found["Role"]
        tags = _tag_dict(role.get("Tags", []))  # GetRole returns the role's tags
        attached = [p["PolicyArn"] for p in self._items("iam", "list_attached_role_policies", "AttachedPolicies", RoleName=name)]
        inline = list(self._items("iam", "list_role_policies", "PolicyNames", RoleName=name))
        return {**role, "tags": tags, "attached": attached, "inline": inline}

    def create_role(self, name, trust_policy, description, tags):
        return self._call(
            "iam",
            "create_role",
            RoleName=name,
            AssumeRolePolicyDocument=json.dumps(trust_policy),
            Description=description,
            Tags=_tag_list(tags),
        )["Role"]

    def set_trust_policy(self, name, trust_policy):
        self._call("iam", "update_assume_role_policy", RoleName=name, PolicyDocument=json.dumps(trust_policy))

    def attach_role_policy(self, name, policy_arn):
        self._call("iam", "attach_role_policy", RoleName=name, PolicyArn=policy_arn)

    def role_policy(self, name, policy_name):
        """An inline policy's document (a dict), or None."""
        found = self._call("iam", "get_role_policy", missing=("NoSuchEntity",), RoleName=name, PolicyName=policy_name)
        return found["PolicyDocument"] if found else None

    def put_role_policy(self, name, policy_name, document):
        self._call("iam", "put_role_policy", RoleName=name, PolicyName=policy_name, PolicyDocument=json.dumps(document))

    def delete_role(self, name):
        """Detach and delete the role's policies (IAM requires it), then the role."""
        role = self.find_role(name)
        if role is None:
            return
        for arn in role["attached"]:
            self._call("iam", "detach_role_policy", RoleName=name, PolicyArn=arn)
        for policy in role["inline"]:
            self._call("iam", "delete_role_policy", RoleName=name, PolicyName=policy)
        self._call("iam", "delete_role", missing=("NoSuchEntity",), RoleName=name)

    # ---- ECS: cluster and task definitions --------------------------------------

    def find_cluster(self, name):
        """{"clusterArn", "status": "ACTIVE", "tags", ...} or None (deleted clusters linger as INACTIVE)."""
        found = self._call("ecs", "describe_clusters", clusters=[name], include=["TAGS"])["clusters"]
        active = [c for c in found if c.get("status") == "ACTIVE"]
        return {**active[0], "tags": _tag_dict(active[0].get("tags", []))} if active else None

    def create_cluster(self, name, tags):
        return self._call("ecs", "create_cluster", clusterName=name, tags=_tag_list(tags, lower=True))["cluster"]

    def delete_cluster(self, name):
        self._call("ecs", "delete_cluster", missing=("ClusterNotFoundException",), cluster=name)

    def task_definition(self, name):
        """A task definition (family = its latest ACTIVE revision, or family:revision, or ARN) with "tags"; or None."""
        # ECS answers an unknown task definition with the generic ClientException.
        found = self._call("ecs", "describe_task_definition", missing=("ClientException",), taskDefinition=name, include=["TAGS"])
        if not found:
            return None
        return {**found["taskDefinition"], "tags": _tag_dict(found.get("tags", []))}

    def task_definition_arns(self, family, status="ACTIVE"):
        return list(self._items("ecs", "list_task_definitions", "taskDefinitionArns", familyPrefix=family, status=status))

    def register_task_definition(self, spec, tags):
        """Register a new revision of spec["family"]; returns it."""
        return self._call("ecs", "register_task_definition", **spec, tags=_tag_list(tags, lower=True))["taskDefinition"]

    def ecs_tags(self, arn):
        return _tag_dict(self._call("ecs", "list_tags_for_resource", resourceArn=arn)["tags"])

    def deregister_task_definition(self, arn):
        self._call("ecs", "deregister_task_definition", taskDefinition=arn)

    def delete_task_definitions(self, arns):
        """Delete INACTIVE revisions for good (AWS keeps them listed otherwise)."""
        for start in range(0, len(arns), 10):  # DeleteTaskDefinitions takes at most 10
            self._call("ecs", "delete_task_definitions", taskDefinitions=arns[start : start + 10])

    # ---- ECS: tasks (the launcher's part) ---------------------------------------

    def run_tasks(
        self,
        cluster,
        task_definition,
        count,
        *,
        subnets,
        security_groups,
        assign_public_ip=True,
        command=None,
        environment=None,
        cpu=None,
        memory=None,
        container="mrkit",
        started_by=None,
        tags=None,
        client_token=None,
    ):
        """Start `count` Fargate tasks (in batches of 10, RunTask's limit); returns the task dicts.

        command/environment go in containerOverrides (the task definition has
        none), cpu/memory in task-level overrides. With `client_token`, batch i
        sends "<token>-<i>", so retrying the same launch starts no extra tasks.
        Raises TaskLaunchError when any task fails to start; its `started`
        holds the tasks that did start, so the caller can stop them.
        """
        override = {"name": container}
        if command is not None:
            override["command"] = list(command)
        if environment:
            override["environment"] = [{"name": k, "value": str(v)} for k, v in environment.items()]
        overrides = {"containerOverrides": [override]}
        if cpu is not None:
            overrides["cpu"] = str(cpu)
        if memory is not None:
            overrides["memory"] = str(memory)
        network = {
            "awsvpcConfiguration": {
                "subnets": list(subnets),
                "securityGroups": list(security_groups),
                "assignPublicIp": "ENABLED" if assign_public_ip else "DISABLED",
            }
        }
        started, failures = [], []
        for batch, first in enumerate(range(0, count, RUN_TASK_BATCH)):
            params = dict(
                cluster=cluster,
                taskDefinition=task_definition,
                count=min(RUN_TASK_BATCH, count - first),
                launchType="FARGATE",
                networkConfiguration=network,
                overrides=overrides,
            )
            if started_by:
                params["startedBy"] = started_by
            if tags:
                params["tags"] = _tag_list(tags, lower=True)
            if client_token:
                params["clientToken"] = f"{client_token}-{batch}"[:64]
            result = self._call("ecs", "run_task", **params)
            started.extend(result.get("tasks", []))
            failures.extend(result.get("failures", []))
            if failures:  # don't start more after a failure: capacity or config will not get better
                break
        if failures:
            raise TaskLaunchError(failures, started)
        return started

    def describe_tasks(self, cluster, task_arns):
        """The tasks' current state (lastStatus, overrides, attachments, containers...), in batches of 100."""
        tasks = []
        for start in range(0, len(task_arns), DESCRIBE_TASKS_BATCH):
            tasks.extend(
                self._call(
                    "ecs",
                    "describe_tasks",
                    cluster=cluster,
                    include=["TAGS"],
                    tasks=task_arns[start : start + DESCRIBE_TASKS_BATCH],
                )["tasks"]
            )
        return tasks

    def list_tasks(self, cluster, desired_status="RUNNING", started_by=None):
        params = {"cluster": cluster, "desiredStatus": desired_status}
        if started_by:
            params["startedBy"] = started_by
        return list(self._items("ecs", "list_tasks", "taskArns", **params))

    def stop_task(self, cluster, task_arn, reason):
        """Ask ECS to stop a task; a task that is already gone is not an error."""
        self._call(
            "ecs", "stop_task", missing=("InvalidParameterException",), cluster=cluster, task=task_arn, reason=reason[:255]
        )

    @staticmethod
    def task_private_ip(task):
        """The private IPv4 address of a Fargate task's ENI, or None while it has none yet."""
        for attachment in task.get("attachments", []):
            if attachment.get("type") == "ElasticNetworkInterface":
                for detail in attachment.get("details", []):
                    if detail.get("name") == "privateIPv4Address":
                        return detail.get("value")
        return None


# ---- helpers ---------------------------------------------------------------------


def _aws_error(service, operation, exc):
    """One-line AwsError for a boto3 failure (storage.s3.boto_failure reads it); credentials and endpoints say what to set."""
    name = f"{service}.{''.join(part.title() for part in operation.split('_'))}"
    _, code, message = boto_failure(exc)
    return AwsError(name, code, message)


def _tag_list(tags, lower=False):
    # ECS spells tags {"key", "value"}; S3, ECR, IAM and EC2 {"Key", "Value"}.
    k, v = ("key", "value") if lower else ("Key", "Value")
    return [{k: key, v: value} for key, value in tags.items()]


def _tag_dict(tags):
    return {t.get("Key", t.get("key")): t.get("Value", t.get("value")) for t in tags}

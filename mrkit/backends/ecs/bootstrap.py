"""Create and remove the AWS resources an ECS job needs: `mrkit ecs up` / `mrkit ecs down`.

Use `up(config, aws)` once before running jobs (and again after changing
params/ecs.yaml), `describe(config, aws)` when a command needs the stack as it
is (the launcher), and `down(config, aws)` to remove it all. The stack is:

- an S3 bucket (private) for inputs, intermediate files and outputs;
- an ECR repository for the mrkit image (`mrkit ecs image` pushes to it);
- an ECS cluster and a CloudWatch log group the tasks log to (awslogs);
- a task execution role (pull the image, write logs) and a task role that may
  only read, write, delete and list objects in the job bucket;
- a security group admitting the master's port only from itself, so only the
  stack's own tasks reach the master;
- one Fargate task definition (awsvpc, validated cpu/memory, no command: the
  launcher passes the command per task in run_task overrides).

Every resource is tagged `mrkit:stack=<stack>` and named `mrkit-<stack>...`.
`up` looks everything up before it creates anything, so a second `up`
changes nothing; a resource with the stack's name but not its tag is someone
else's, and `up` stops with a one-line error (having made nothing) rather
than adopting it -- except the bucket: a bucket that already exists untagged
is used as it is, and `down` leaves it.
`down` removes only resources carrying the stack's tag, in dependency order,
and tolerates a partial stack (after a failed `up`, or a second `down`).
"""

import dataclasses
import hashlib
import json
import time

from mrkit.backends.ecs import TAG_KEY, AwsError, ConfigError, StackConflict, StackNotReady
from mrkit.backends.ecs.config import bucket_problem
from mrkit.backends.ecs.documents import (
    bucket_policy,
    comparable_rules,
    ingress,
    partition_of,
    task_definition_spec,
    trust_policy,
)

EXECUTION_POLICY = "arn:{partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
TASK_POLICY_NAME = "mrkit-job-bucket"
SPEC_TAG = "mrkit:spec"  # hash of the task definition we registered; equal hash = nothing to change


@dataclasses.dataclass
class Stack:
    """What `up` made (or found): the ids a launcher needs to run tasks."""

    stack: str
    region: str
    account: str
    bucket: str
    bucket_owned: bool  # False: an existing bucket used as it is; `down` keeps it
    repository_uri: str
    cluster_arn: str
    log_group: str
    execution_role_arn: str
    task_role_arn: str
    security_group: str
    vpc: str
    subnets: list
    task_definition_arn: str
    image: str
    master_port: int
    assign_public_ip: bool
    changes: list = dataclasses.field(default_factory=list)  # what this `up` did; [] when nothing

    def to_dict(self):
        return dataclasses.asdict(self)


def resolve(config, aws, account=None):
    """`config` with the account-dependent defaults filled: the bucket name and the default VPC's subnets."""
    account = account or aws.account_id()
    bucket = config.bucket or config.default_bucket(account)
    if problem := bucket_problem(bucket):
        raise ConfigError(f"{problem}; set bucket: in params/ecs.yaml")
    subnets = config.subnets
    if not subnets:
        vpc = aws.default_vpc()
        if vpc is None:
            raise ConfigError(f"region {config.region} has no default VPC: list subnet ids under subnets: in params/ecs.yaml")
        subnets = tuple(sorted(s["SubnetId"] for s in aws.subnets(vpc_id=vpc)))
        if not subnets:
            raise ConfigError(f"the default VPC {vpc} has no subnets: list subnet ids under subnets: in params/ecs.yaml")
    return dataclasses.replace(config, bucket=bucket, subnets=subnets)


# ---- up ---------------------------------------------------------------------------


def up(config, aws, say=None):
    """Create whatever of the stack is missing and fix what drifted; returns the Stack.

    Everything is looked up first, so a name taken by someone else stops
    `up` before it creates anything. Idempotent: run twice, the second run
    makes only read calls and returns `changes == []`. `say` receives one
    line per change made.
    """
    changes = []

    def did(line):
        changes.append(line)
        if say:
            say(line)

    account = aws.account_id()
    config = resolve(config, aws, account)
    partition = partition_of(config.region)
    vpc = _vpc_of(config, aws)
    tags = config.stack_tags
    found = _find(config, aws, vpc)

    bucket_owned = found["bucket"] is None or TAG_KEY in found["bucket"]
    if found["bucket"] is None:
        aws.create_bucket(config.bucket, tags)
        did(f"created bucket {config.bucket}")

    repo = found["ECR repository"]
    if repo is None:
        repo = aws.create_repository(config.repository, tags)
        did(f"created ECR repository {config.repository}")

    cluster = found["ECS cluster"]
    if cluster is None:
        cluster = aws.create_cluster(config.cluster, tags)
        did(f"created ECS cluster {config.cluster}")

    group = found["log group"]
    if group is None:
        aws.create_log_group(config.log_group, tags)
        did(f"created log group {config.log_group}")
    if (group or {}).get("retentionInDays") != config.log_retention_days:
        aws.set_log_retention(config.log_group, config.log_retention_days)
        if group is not None:
            did(f"set log retention of {config.log_group} to {config.log_retention_days} days")

    execution_arn = _ensure_role(
        config,
        aws,
        did,
        found["execution role"],
        config.execution_role,
        "mrkit tasks: pull the image and write logs",
        trust_policy(account, config.region, condition=False),
        managed=EXECUTION_POLICY.format(partition=partition),
    )
    task_arn = _ensure_role(
        config,
        aws,
        did,
        found["task role"],
        config.task_role,
        "mrkit tasks: read and write the job bucket only",
        trust_policy(account, config.region, condition=True),
        inline=bucket_policy(config.bucket, partition),
    )

    sg = _ensure_security_group(config, aws, did, found["security group"], vpc)

    image = config.image or f"{repo['repositoryUri']}:latest"
    spec = task_definition_spec(config, image, execution_arn, task_arn)
    task_def = _ensure_task_definition(config, aws, did, found["task definition"], spec)

    return Stack(
        stack=config.stack,
        region=config.region,
        account=account,
        bucket=config.bucket,
        bucket_owned=bucket_owned,
        repository_uri=repo["repositoryUri"],
        cluster_arn=cluster["clusterArn"],
        log_group=config.log_group,
        execution_role_arn=execution_arn,
        task_role_arn=task_arn,
        security_group=sg,
        vpc=vpc,
        subnets=list(config.subnets),
        task_definition_arn=task_def,
        image=image,
        master_port=config.master_port,
        assign_public_ip=config.assign_public_ip,
        changes=changes,
    )


def _find(config, aws, vpc):
    """The stack's resources as they are: {kind: what find_* returned, or None}.

    StackConflict for any that exists under the stack's name without its tag
    -- except the bucket, whose tags are returned as they are ({} = the
    user's own bucket, used but never changed).
    """
    try:
        bucket = aws.bucket_tags(config.bucket)
    except AwsError as exc:
        if exc.code in ("403", "AccessDenied", "Forbidden"):
            raise StackConflict(
                f"bucket {config.bucket} exists in another account or is not yours to use; set another bucket: in params/ecs.yaml"
            ) from None
        raise
    if bucket and TAG_KEY in bucket:
        _check_owner("bucket", config.bucket, bucket, config)
    groups = aws.security_groups(vpc_id=vpc, name=config.security_group)
    task_def = aws.task_definition(config.family)
    found = {
        "ECR repository": aws.find_repository(config.repository),
        "ECS cluster": aws.find_cluster(config.cluster),
        "log group": aws.find_log_group(config.log_group),
        "execution role": aws.find_role(config.execution_role),
        "task role": aws.find_role(config.task_role),
        "security group": groups[0] if groups else None,
        "task definition": task_def if task_def and task_def.get("status") == "ACTIVE" else None,
    }
    names = {
        "ECR repository": config.repository,
        "ECS cluster": config.cluster,
        "log group": config.log_group,
        "execution role": config.execution_role,
        "task role": config.task_role,
        "security group": config.security_group,
        "task definition": config.family,
    }
    for kind, resource in found.items():
        if resource is not None:
            _check_owner(kind, names[kind], resource["tags"], config)
    return {"bucket": bucket, **found}


def _ensure_role(config, aws, did, role, name, description, trust, managed=None, inline=None):
    if role is None:
        role = aws.create_role(name, trust, description, config.stack_tags)
        role.update(attached=[], inline=[])
        did(f"created IAM role {name}")
    elif role["AssumeRolePolicyDocument"] != trust:
        aws.set_trust_policy(name, trust)
        did(f"updated the trust policy of IAM role {name}")
    if managed and managed not in role["attached"]:
        aws.attach_role_policy(name, managed)
        did(f"attached {managed.rsplit('/', 1)[-1]} to {name}")
    if inline and (TASK_POLICY_NAME not in role["inline"] or aws.role_policy(name, TASK_POLICY_NAME) != inline):
        aws.put_role_policy(name, TASK_POLICY_NAME, inline)
        did(f"set the bucket policy of {name} to {config.bucket}")
    return role["Arn"]


def _ensure_security_group(config, aws, did, group, vpc):
    if group is not None:
        group_id, current = group["GroupId"], group.get("IpPermissions", [])
    else:
        group_id = aws.create_security_group(
            config.security_group, f"mrkit {config.stack}: the master port, from this group only", vpc, config.stack_tags
        )
        did(f"created security group {config.security_group} ({group_id}) in {vpc}")
        current = []
    wanted = ingress(group_id, config.master_port)
    if comparable_rules(current) != comparable_rules(wanted):
        aws.set_ingress(group_id, current, wanted)
        did(f"set ingress of {group_id}: tcp {config.master_port} from {group_id} only")
    return group_id


def _ensure_task_definition(config, aws, did, latest, spec):
    # The hash of what we registered rides along as a tag: comparing it is exact, whatever
    # defaults ECS adds to the stored definition (cpu 0, empty lists, ...).
    digest = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]
    if latest is not None and latest["tags"].get(SPEC_TAG) == digest:
        return latest["taskDefinitionArn"]
    registered = aws.register_task_definition(spec, {**config.stack_tags, SPEC_TAG: digest})
    arn = registered["taskDefinitionArn"]
    did(f"registered task definition {arn.rsplit('/', 1)[-1]}")
    for old in aws.task_definition_arns(config.family):
        if old != arn:  # one ACTIVE revision: the launcher may run the family name
            aws.deregister_task_definition(old)
    return arn


# ---- describe (read only) ----------------------------------------------------------


def describe(config, aws):
    """The Stack as it is, for commands that need it (the launcher); StackNotReady when parts are missing.

    Makes only read calls and changes nothing, so it cannot fix drift: that is `up`'s job.
    """
    account = aws.account_id()
    config = resolve(config, aws, account)
    found = _find(config, aws, _vpc_of(config, aws))
    missing = [kind for kind, resource in found.items() if resource is None]
    if missing:
        raise StackNotReady(f"stack {config.stack!r} in {config.region} is missing: {', '.join(missing)}; run `mrkit ecs up`")
    group, task_def = found["security group"], found["task definition"]
    container = task_def["containerDefinitions"][0]
    return Stack(
        stack=config.stack,
        region=config.region,
        account=account,
        bucket=config.bucket,
        bucket_owned=TAG_KEY in found["bucket"],
        repository_uri=found["ECR repository"]["repositoryUri"],
        cluster_arn=found["ECS cluster"]["clusterArn"],
        log_group=config.log_group,
        execution_role_arn=found["execution role"]["Arn"],
        task_role_arn=found["task role"]["Arn"],
        security_group=group["GroupId"],
        vpc=group["VpcId"],
        subnets=list(config.subnets),
        task_definition_arn=task_def["taskDefinitionArn"],
        image=container["image"],
        master_port=container["portMappings"][0]["containerPort"],
        assign_public_ip=config.assign_public_ip,
    )


# ---- down ---------------------------------------------------------------------------


def down(config, aws, say=None, wait=300.0, sleep=time.sleep):
    """Remove every resource tagged for the stack; returns (removed, kept) lists of lines.

    Untagged resources with the stack's names are kept and reported, never
    deleted. Running tasks in the stack's cluster are stopped first; a
    security group still held by a stopping task's network interface is
    retried for up to `wait` seconds.
    """
    removed, kept = [], []

    def note(lines, line):
        lines.append(line)
        if say:
            say(("removed " if lines is removed else "kept ") + line)

    def ours(tags):
        return (tags or {}).get(TAG_KEY) == config.stack

    account = aws.account_id()
    bucket = config.bucket or config.default_bucket(account)

    cluster = aws.find_cluster(config.cluster)
    if cluster and ours(cluster["tags"]):
        for task in aws.list_tasks(config.cluster):
            aws.stop_task(config.cluster, task, "mrkit ecs down")
        _patiently(lambda: aws.delete_cluster(config.cluster), ("ClusterContainsTasksException",), wait, sleep)
        note(removed, f"ECS cluster {config.cluster}")
    elif cluster:
        note(kept, f"ECS cluster {config.cluster} (not made by `mrkit ecs up` for stack {config.stack!r})")

    active = [a for a in aws.task_definition_arns(config.family) if ours(aws.ecs_tags(a))]
    for arn in active:
        aws.deregister_task_definition(arn)
    inactive = [a for a in aws.task_definition_arns(config.family, "INACTIVE") if ours(aws.ecs_tags(a))]
    if inactive:
        aws.delete_task_definitions(inactive)
        note(removed, f"task definition {config.family} ({len(inactive)} revision(s))")

    for sg in aws.security_groups(tags={TAG_KEY: config.stack}):
        # ENIs of just-stopped tasks hold the group for a while (DependencyViolation).
        _patiently(lambda sg=sg: aws.delete_security_group(sg["GroupId"]), ("DependencyViolation",), wait, sleep)
        note(removed, f"security group {sg['GroupName']} ({sg['GroupId']})")

    # (what, name, find -> dict with "tags" or None, delete, what `removed` says besides the name)
    named = [
        ("log group", config.log_group, aws.find_log_group, aws.delete_log_group, ""),
        ("IAM role", config.execution_role, aws.find_role, aws.delete_role, ""),
        ("IAM role", config.task_role, aws.find_role, aws.delete_role, ""),
        ("ECR repository", config.repository, aws.find_repository, aws.delete_repository, " and its images"),
        ("bucket", bucket, lambda b: _tagged(aws.bucket_tags(b)), aws.delete_bucket, " and its objects"),
    ]
    for kind, name, find, delete, extra in named:
        found = find(name)
        if found and ours(found["tags"]):
            delete(name)
            note(removed, f"{kind} {name}{extra}")
        elif found:
            note(kept, f"{kind} {name} (not made by `mrkit ecs up` for stack {config.stack!r})")
    return removed, kept


# ---- helpers ------------------------------------------------------------------------


def _tagged(tags):
    """A bucket's tags in the shape find_* return (None stays None: no bucket)."""
    return None if tags is None else {"tags": tags}


def _check_owner(kind, name, tags, config):
    """StackConflict unless `tags` mark the resource as this stack's."""
    value = tags.get(TAG_KEY)
    if value == config.stack:
        return
    why = f"it is tagged for stack {value!r}" if value else f"it has no {TAG_KEY} tag"
    raise StackConflict(
        f"{kind} {name} exists but was not made by `mrkit ecs up` for stack {config.stack!r} "
        f"({why}); remove it, or choose another stack name"
    )


def _vpc_of(config, aws):
    subnets = aws.subnets(subnet_ids=config.subnets)
    vpcs = {s["VpcId"] for s in subnets}
    if len(vpcs) != 1:
        raise ConfigError(f"subnets {', '.join(config.subnets)} must all be in one VPC (found {len(vpcs)})")
    return vpcs.pop()


def _patiently(action, codes, wait, sleep, interval=5.0):
    """Run `action`, retrying while it fails with one of `codes` (AWS settling), for up to `wait` s."""
    deadline = time.monotonic() + wait
    while True:
        try:
            return action()
        except AwsError as exc:
            if exc.code not in codes or time.monotonic() >= deadline:
                raise
            sleep(interval)

"""Starting tasks on real ECS Fargate: the launcher's default task starter.

A task starter has `start(stack, count, command, *, started_by, tags,
client_token)` returning RunTask's task dicts, and `close()`. The launcher
does everything else through the AWS API, so this is the one step the local
stand-in (`standin.LocalFargate`, a subclass) replaces; the caller chooses
which (`run.run_on_ecs`).
"""

from mrkit.backends.ecs.config import CONTAINER


class Fargate:
    """Tasks on real ECS Fargate: RunTask does everything."""

    def __init__(self, aws):
        self.aws = aws

    def start(self, stack, count, command, *, started_by, tags, client_token):
        return self.aws.run_tasks(
            stack.cluster_arn,
            stack.task_definition_arn,
            count,
            subnets=stack.subnets,
            security_groups=[stack.security_group],
            assign_public_ip=stack.assign_public_ip,
            command=command,
            container=CONTAINER,
            started_by=started_by,
            tags=tags,
            client_token=client_token,
        )

    def close(self):
        """Nothing runs here; the launcher has asked ECS to stop every task."""

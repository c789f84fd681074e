"""What a job's ECS tasks were and what they cost: each task's use, the bill in Fargate units, lifecycle times for attempts."""

from dataclasses import dataclass, field

BILLED_MINIMUM_S = 60  # Fargate bills per second, with a one-minute minimum per task


@dataclass
class TaskUse:
    """One task the launcher started: what it was for and when it ran."""

    arn: str
    role: str  # "master" or "worker"
    launched: float  # epoch seconds, when RunTask returned it
    stopped: float | None = None
    reason: str = ""  # stoppedReason (+ the container's exit code), once stopped
    exit_code: int | None = None
    billed_s: float = 0.0
    lifecycle: dict = field(default_factory=dict)  # ecs_created_at, ... (epoch seconds) from DescribeTasks
    ip: str | None = None


@dataclass
class Usage:
    """What the job's tasks cost in Fargate units (billed: per second, one-minute minimum per task)."""

    tasks: int
    vcpu_s: float
    gb_s: float

    def line(self):
        return (
            f"Fargate: {self.tasks} tasks, {self.vcpu_s:,.0f} vCPU-seconds, {self.gb_s:,.0f} GB-seconds "
            f"(billed per second, {BILLED_MINIMUM_S} s minimum per task)"
        )


def add_lifecycle(records, uses):
    """Give each attempt the lifecycle of the worker task it ran in, matched by the task's private IP.

    A Fargate task's hostname is ip-A-B-C-D...: its private IPv4 address. An
    attempt whose host matches no task (the local stand-in) keeps blank times.
    """
    by_host = {"ip-" + use.ip.replace(".", "-"): use.lifecycle for use in uses if use.ip and use.role == "worker"}
    for record in records:
        lifecycle = by_host.get(str(record.get("host", "")).split(".")[0])
        if lifecycle:
            record.update(lifecycle)

"""ECS what-if for the cost model: task start latency and the Fargate bill.

On Fargate every worker is a task with its own vCPU(s) (no core sharing),
and each becomes ready only after ECS has provisioned it and pulled the
image. The model takes that start latency from the task records when the ECS
launcher recorded lifecycle times (`ecs_created_at`, `ecs_started_at`: the
median of started - created), else this documented default:

FARGATE_START_LATENCY_S = 56 s: the median of ten measured Fargate launches,
createdAt -> startedAt, 53-62 s, for a 413 MB image pulled without SOCI in a
private subnet behind NAT (ElasticScale, "Reduce AWS Fargate pull times with
SOCI", benchmark of 2024-04-10,
https://elasticscale.com/blog/reduce-aws-fargate-pull-times-with-soci).
A smaller image or SOCI starts faster; measured values override it.

Prices (On-Demand, us-east-1, per hour; billed per second with a one-minute
minimum per task): Linux/x86 $0.04048 per vCPU and $0.004445 per GB,
Linux/ARM $0.03238 and $0.00356 (Vantage, "AWS Fargate Pricing Explained",
https://www.vantage.sh/blog/fargate-pricing; the x86 rates confirmed as of
June 2026 by https://www.factualminds.com/blog/amazon-fargate-ecs-task-pricing-2026/).
Other regions cost 10-30% more; check the AWS Fargate pricing page.
"""

from __future__ import annotations

from mrkit import timing

FARGATE_START_LATENCY_S = 56.0
PRICES_USD_PER_HOUR = {  # cpu_architecture -> (per vCPU, per GB)
    "X86_64": (0.04048, 0.004445),
    "ARM64": (0.03238, 0.00356),
}
PRICES_SOURCE = "us-east-1 On-Demand, https://www.vantage.sh/blog/fargate-pricing (x86 confirmed June 2026)"
LIFECYCLE_COLUMNS = timing.ECS_LIFECYCLE_COLUMNS


def measured_start_latency(tasks) -> float:
    """Median started - created of the ECS task records that have both, else 0 (the local stand-in)."""
    if tasks is None or not all(c in tasks for c in ("ecs_created_at", "ecs_started_at")):
        return 0.0
    latency = (tasks["ecs_started_at"] - tasks["ecs_created_at"]).dropna()
    latency = latency[latency >= 0]
    return float(latency.median()) if len(latency) else 0.0


def _settings(cfg):
    from mrkit.backends.ecs.config import load_config

    return load_config((cfg.backend_options or {}).get("settings"), environ={})


def task_vcpus(cfg) -> float:
    return _settings(cfg).cpu / 1024


def fargate_bill(prediction, workers, cfg) -> dict:
    """What one predicted ECS run costs: launcher time and Fargate units and dollars.

    The launcher starts the master task, waits until it serves, then starts
    the W workers: the job's time as the user waits for it adds the master's
    start latency. Every task is billed from its start to the job's end, at
    least a minute.
    """
    from mrkit.backends.ecs.usage import BILLED_MINIMUM_S

    settings = _settings(cfg)
    latency = prediction.sim.attempts and prediction.startup_s or 0.0
    master_s = max(BILLED_MINIMUM_S, prediction.end_to_end_s + latency)
    worker_s = max(BILLED_MINIMUM_S, prediction.end_to_end_s)
    task_s = master_s + workers * worker_s
    vcpu, gb = settings.cpu / 1024, settings.memory / 1024
    per_vcpu, per_gb = PRICES_USD_PER_HOUR.get(settings.cpu_architecture, PRICES_USD_PER_HOUR["X86_64"])
    return {
        "launcher_s": prediction.end_to_end_s + latency,
        "task_s": task_s,
        "vcpu_s": task_s * vcpu,
        "gb_s": task_s * gb,
        "usd": task_s * (vcpu * per_vcpu + gb * per_gb) / 3600,
    }

"""Where a sweep's runs ran, in the words every heading, figure title and sentence about them uses.

An ECS sweep ran either on the local stand-in (moto's ECS and S3 plus local
processes or containers; meta.json's backend_options say `stand_in`, and `containers`
names the engine when its tasks ran as containers) or on AWS Fargate. The
report must never call a stand-in run "Fargate": `where` names the place,
`relabel` rewrites a text written for Fargate (a sweep file's description, a
lab heading) to say "stand-in" when the runs used it, and `ecs_provenance` is the
sentence under an ECS section's heading.
"""

from __future__ import annotations

import re

_FARGATE_WORDS = re.compile(r"\b(?:on )?(?:AWS )?(?:ECS )?Fargate\b")


def backend_options(meta: dict | None) -> dict:
    return ((meta or {}).get("parameters") or {}).get("backend_options") or {}


def is_stand_in(meta: dict | None) -> bool:
    """True when the sweep's runs used the local stand-in (meta.json records it in backend_options)."""
    return bool(backend_options(meta).get("stand_in")) or bool((meta or {}).get("stand_in"))


def is_ecs(meta: dict | None) -> bool:
    return ((meta or {}).get("parameters") or {}).get("backend") == "ecs"


def fargate_place(options: dict | None) -> str:
    """'ECS Fargate (region R, image I)', from the settings file an ECS sweep's backend options name."""
    from mrkit.backends.ecs.config import load_config

    try:
        config = load_config((options or {}).get("settings"))
    except Exception:  # a settings file gone since the run: say what is known
        return "ECS Fargate"
    return f"ECS Fargate (region {config.region}, image {config.image or 'the stack ECR repository, tag latest'})"


def stand_in_tasks(options: dict | None) -> str:
    """What the stand-in ran each task as, from the backend options a sweep recorded: processes or containers."""
    engine = (options or {}).get("containers")
    if not engine:
        return "local processes"
    return f"{engine if isinstance(engine, str) else 'local'} containers of the stack's image"


def where(meta: dict | None) -> str:
    """Where an ECS sweep's runs ran: the stand-in (with processes or containers), or Fargate with its region and image."""
    if is_stand_in(meta):
        return f"the local ECS stand-in (moto's ECS and S3 with {stand_in_tasks(backend_options(meta))}, not Fargate)"
    return fargate_place(backend_options(meta))


def relabel(text: str, meta: dict | None) -> str:
    """`text` with "Fargate" (and "on ECS Fargate") replaced by "the local ECS stand-in" when the runs used it."""
    if not text or not is_stand_in(meta):
        return text
    return _FARGATE_WORDS.sub(lambda m: ("on " if m.group(0).startswith("on ") else "") + "the local ECS stand-in", text)


def ecs_provenance(backend_options) -> str:
    """Where an ECS sweep's tasks ran, from the backend options its meta.json records: Fargate, or the
    local stand-in with each task a local process or a container of the stack's image."""
    options = backend_options or {}
    if not options.get("stand_in"):
        return (
            f"Where these ran: AWS {fargate_place(options)}, each task a container of the stack's "
            "image; times include Fargate's task start-up.\n"
        )
    engine = options.get("containers")
    how = f"a {engine if isinstance(engine, str) else 'local'} container of the stack's image" if engine else "a local process"
    what = "a local container's" if options.get("containers") else "a process's"
    return (
        f"Where these ran: the local ECS stand-in, not Fargate (moto on 127.0.0.1 for ECS and S3, each task "
        f"{how}), so start-up times are {what}, not a Fargate task's.\n"
    )

"""Where a sweep's runs ran, in the words every heading, figure title and sentence about them uses.

An ECS sweep ran either on the local stand-in (moto's ECS and S3 plus local
processes; meta.json's backend_options say `stand_in`) or on AWS Fargate. The
report must never call a stand-in run "Fargate": `where` names the place,
`relabel` rewrites a text written for Fargate (a sweep file's description, a
lab heading) to say "stand-in" when the runs used it.
"""

from __future__ import annotations

import re

STAND_IN = "the local ECS stand-in (moto's ECS and S3 with local processes, not Fargate)"
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


def where(meta: dict | None) -> str:
    """Where an ECS sweep's runs ran: the stand-in, or Fargate with its region and image."""
    return STAND_IN if is_stand_in(meta) else fargate_place(backend_options(meta))


def relabel(text: str, meta: dict | None) -> str:
    """`text` with "Fargate" (and "on ECS Fargate") replaced by "the local ECS stand-in" when the runs used it."""
    if not text or not is_stand_in(meta):
        return text
    return _FARGATE_WORDS.sub(lambda m: ("on " if m.group(0).startswith("on ") else "") + "the local ECS stand-in", text)

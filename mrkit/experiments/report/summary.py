"""The report's first screen: each lab question's answer with one line of why, the ECS checklist, the contents.

A pure function of the sweeps' recorded runs and tasks (`summary_markdown`): the
answer is the fastest measured configuration with its 95% interval, the why is
the stage (split, map, reduce, overhead) whose measured time changes most
between the fastest and the slowest configuration, and the ECS assignment's
items are ticked only when the runs hold what each asks for.
"""

from __future__ import annotations

import pandas as pd

from mrkit.experiments import analysis, meaning
from mrkit.experiments.formatting import config_text, num, plural
from mrkit.experiments.report import engines, markdown, provenance
from mrkit.experiments.sweeps import ecs_fault
from mrkit.experiments.sweeps.scratch import RAM_FILESYSTEMS

STAGE_WHY = {
    "split": "cutting the input into map tasks",
    "map": "the map stage",
    "reduce": "the reduce stage",
    "overhead": "overhead (start-up, scheduling, commits)",
}


CALIBRATION_HEADING = "The cost model's calibration"
STRAGGLERS_HEADING = "Stragglers: one slow worker, with and without backup tasks"
APPENDIX_HEADING = "Appendix: the stages of every configuration"
MEASURED_HEADING = "How the runs were measured"
CHECK_HEADINGS = ("Correctness", "Fault tolerance")  # the checks' sections (checks.py), when the report has them


def section_heading(result) -> str:
    """The heading a sweep's section gets in the report (display.show_sweep writes it)."""
    about = meaning.sweep_meaning(result.config.name)
    special = {"calibration": CALIBRATION_HEADING, "stragglers": STRAGGLERS_HEADING, "engines": engines.HEADING}
    if about.section in special:
        return special[about.section]
    if about.heading:
        return provenance.relabel(about.heading, result.meta)
    question = meaning.QUESTIONS[meaning.question_of(result.config.name, result.runs)]
    apps = ", ".join(sorted(map(str, result.runs["app"].unique())))
    return f"{question.title} ({apps})"


def anchor(heading: str) -> str:
    """The id nbconvert gives a heading in the HTML (its text, spaces as dashes)."""
    return heading.replace(" ", "-")


def _interval(row) -> str:
    if row["n"] < 2 or row["hi"] != row["hi"]:
        return f"{plural(int(row['n']), 'run')}, no interval"
    return f"95% interval {num(row['lo'])}–{num(row['hi'])} s, {int(row['n'])} runs"


def why_line(runs) -> str:
    """The stage whose measured mean time changes most from the fastest configuration to the slowest."""
    ci = analysis.center_interval(runs, by=analysis.CONFIG_BY)
    if len(ci) < 2:
        return ""
    fast, slow = ci.loc[ci["center"].idxmin()], ci.loc[ci["center"].idxmax()]
    stages = analysis.stage_breakdown(runs, by=analysis.CONFIG_BY)
    at = {}
    for name, row in (("fast", fast), ("slow", slow)):
        mine = stages[(stages[analysis.CONFIG_BY] == row[analysis.CONFIG_BY].to_numpy()).all(axis=1)]
        at[name] = dict(zip(mine["stage"].astype(str), mine["seconds"]))
    stage = max(at["slow"], key=lambda s: at["slow"][s] - at["fast"].get(s, 0.0))
    return (
        f"the slowest, {config_text(slow)} at {num(slow['center'])} s, spends {num(at['slow'][stage])} s in "
        f"{STAGE_WHY[stage]} against {num(at['fast'][stage])} s at the fastest"
    )


def question_line(result) -> str:
    """'**Question 1** … fastest …; why: …' for one lab question's sweep."""
    runs = result.runs
    ci = analysis.center_interval(runs, by=analysis.CONFIG_BY)
    broken = markdown.broken_points(runs)
    bad = set(map(tuple, broken[analysis.CONFIG_BY].to_numpy())) if len(broken) else set()
    sound = ci[[tuple(r) not in bad for r in ci[analysis.CONFIG_BY].to_numpy()]]
    best = (sound if len(sound) else ci).loc[(sound if len(sound) else ci)["center"].idxmin()]
    heading = section_heading(result)
    name, _, question = heading.partition(": ")
    text = (
        f"- **[{name}](#{anchor(heading)}):** {question} — fastest measured: "
        f"{config_text(best)} at {num(best['center'])} s ({_interval(best)})"
    )
    why = why_line(runs)
    if why:
        text += f"; why: {why}"
    if len(broken):
        text += f"; {plural(len(broken), 'broken measurement')} flagged in the section"
    return text + "."


def recovery_item(loaded) -> str:
    """The checklist's failure-recovery item: ticked when the fault run lost an attempt, else why it is not."""
    if loaded is None:
        return "☐ Failure recovery: not measured (no fault-injected run is stored)"
    fault, _, tasks = loaded
    if fault.get("stopped_task") is None:
        return "☐ Failure recovery: not measured (no worker task was stopped)"
    if not len(tasks) or not len(ecs_fault.lost_attempts(fault, tasks)):
        return "☐ Failure recovery: not measured (the stopped worker held no task: no attempt was lost)"
    return "☑ Failure recovery: a worker holding a task was stopped and its task re-run (measured)"


def ecs_checklist(result) -> list[str]:
    """The ECS assignment's items, each ticked only when these runs hold it."""
    runs, meta = result.runs, result.meta
    counts = sorted(int(m) for m in runs["n_map"].unique())
    verified = runs.dropna(subset=["verify_found"]) if "verify_found" in runs else runs.iloc[:0]
    equal = (
        verified[
            (verified.get("verify_missing", 0) == 0)
            & (verified.get("verify_extra", 0) == 0)
            & (verified.get("verify_different", 0) == 0)
        ]
        if len(verified)
        else verified
    )
    mark = lambda ok: "☑" if ok else "☐"  # noqa: E731
    return [
        f"{mark(True)} Ran on {provenance.where(meta)}",
        f"{mark(len(counts) > 1)} Mapper counts measured: M = W = {', '.join(map(str, counts))}",
        f"{mark(True)} Per mapper count: split, map serial sum, map max, map wall, map speedup (appendix table)",
        f"{mark(len(verified) > 0 and len(equal) == len(verified))} Output against the sequential run: "
        + (f"{len(equal)} of {plural(len(verified), 'run')} equal" if len(verified) else "not verified"),
        recovery_item(ecs_fault.load_fault(result.path)),
        f"{mark(False)} Scaling to 100 mappers: model output only, not measured",
    ]


def summary_markdown(results, before=(), after=()) -> str:
    """'## Summary' (per lab question, the ECS checklist) then '## Contents', from the sweeps' records.

    The contents list `before`, each sweep's section, then `after` (headings of sections outside the sweeps)."""
    lines = ["## Summary", ""]
    questions = [r for r in results if (meaning.sweep_meaning(r.config.name).heading or "").startswith("Question")]
    lines += [question_line(r) for r in questions] or ["No lab question was measured in this report."]
    for r in results:
        if provenance.is_ecs(r.meta):
            lines += ["", f"**{section_heading(r)}**, item by item:", ""]
            lines += [f"- {item}" for item in ecs_checklist(r)]
    headings = [*before, *(section_heading(r) for r in results), *after]
    lines += ["", "## Contents", ""]
    lines += [f"{i}. [{h.partition(': ')[0]}](#{anchor(h)})" for i, h in enumerate(headings, 1)]  # the full: its heading
    return "\n".join(lines) + "\n"


def load_text(results) -> str:
    """What other programs took of the CPUs during the runs, how the speed probe moved and where their files were,
    when recorded."""
    # a run two sweeps share (sweeps/interleave.py) is in both their runs.csv: count it once
    runs = pd.concat([r.runs for r in results], ignore_index=True).drop_duplicates("run_id")
    parts = []
    if "others_cpu_s" in runs and runs["others_cpu_s"].notna().any():
        timed = runs.dropna(subset=["others_cpu_s", "end_to_end_s"])
        cores = float(timed["cores"].max()) if "cores" in timed and timed["cores"].notna().any() else float("nan")
        share = timed["others_cpu_s"].sum() / timed["end_to_end_s"].sum()
        parts.append(f"Other programs took {num(share)} of the runs' {num(cores)} CPUs on average while they ran")
    if "probe_cpu_s" in runs and runs["probe_cpu_s"].notna().any():
        probe = runs["probe_cpu_s"].dropna()
        parts.append(
            f"the speed probe (a fixed piece of work) took {num(probe.min())}–{num(probe.max())} s "
            "over the report (slower: a slower machine)"
        )
    if "scratch_fs" in runs and runs["scratch_fs"].notna().any():
        kinds = sorted(runs["scratch_fs"].dropna().unique())
        where = " and ".join(f"{kind} (in memory)" if kind in RAM_FILESYSTEMS else kind for kind in kinds)
        parts.append(f"their job files were on {where}")
    # a shared run's re-runs are listed by each of its sweeps, with the run's position: counted once
    listed = [(i, e) for i, r in enumerate(results) for e in r.meta.get("loaded_reruns") or []]
    reruns = len({(e["position"], e["others_share"]) if "position" in e else (i, n) for n, (i, e) in enumerate(listed)})
    limits = {r.meta.get("parameters", {}).get("max_others_share") for r in results} - {None}
    if limits:
        parts.append(
            f"{plural(reruns, 'run')} {'was' if reruns == 1 else 'were'} run again because other programs "
            f"took more than {'/'.join(f'{v:.0%}' for v in sorted(limits))} of its CPUs (at most "
            f"{max(r.meta.get('parameters', {}).get('loaded_reruns', 2) for r in results)} times each)"
        )
    return ("; ".join(parts) + ". ") if parts else ""

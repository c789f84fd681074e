"""The straggler study's numbers and sentences: tail time saved against the extra work spent.

A pure function of a straggler sweep's runs and tasks frames (`params/
stragglers.yaml`): for each (W, slowdown F, policy) the median end-to-end
time, the share of the no-backup time it saved, and what the policy spent
that did not count (attempts that lost and their CPU seconds), as the
MapReduce paper states its backup-task result: time saved against extra
resources. The table and the text come from one frame (`study_table`), so
they cannot disagree.
"""

from __future__ import annotations

import pandas as pd

from mrkit.experiments.formatting import num

POLICY_ORDER = ("none", "paper", "spark", "late")


def _wasted(tasks: pd.DataFrame) -> pd.DataFrame:
    """Per run: attempts that did not win (excluding the split) and their CPU seconds."""
    work = tasks[tasks["phase"] != "split"]
    lost = work[work["status"] != "ok"]
    # An attempt stopped when the job ended reported no CPU time: counted, but its CPU is unknown.
    lost = lost.assign(unmeasured=lost["cpu_s"].isna())
    per_run = lost.groupby("run_id").agg(
        lost_attempts=("attempt", "size"), lost_cpu_s=("cpu_s", "sum"), unmeasured=("unmeasured", "sum")
    )
    backups = work[work["backup"].astype(str).str.lower() == "true"].groupby("run_id").size().rename("backups")
    return per_run.join(backups, how="outer").fillna(0)


def study_table(runs: pd.DataFrame, tasks: pd.DataFrame) -> pd.DataFrame:
    """One row per (workers, slowdown, policy): medians over repeats, and the saving vs no backups."""
    runs = runs.assign(backup_tasks=runs["backup_tasks"].fillna("none").astype(str))
    runs = runs.join(_wasted(tasks), on="run_id").fillna({"lost_attempts": 0, "lost_cpu_s": 0.0, "backups": 0, "unmeasured": 0})
    rows = (
        runs.groupby(["workers", "slowdown", "backup_tasks"])
        .agg(
            repeats=("end_to_end_s", "size"),
            end_to_end_s=("end_to_end_s", "median"),
            backups=("backups", "median"),
            lost_attempts=("lost_attempts", "median"),
            lost_cpu_s=("lost_cpu_s", "median"),
            unmeasured=("unmeasured", "median"),
            cpu_s=("run_id", lambda ids: _cpu(tasks, ids)),
        )
        .reset_index()
    )
    base = rows[rows["backup_tasks"] == "none"].set_index(["workers", "slowdown"])["end_to_end_s"]
    rows["baseline_s"] = [base.get((w, f)) for w, f in zip(rows["workers"], rows["slowdown"])]
    rows["saved_pct"] = 100 * (1 - rows["end_to_end_s"] / rows["baseline_s"])
    rows["extra_cpu_pct"] = 100 * rows["lost_cpu_s"] / rows["cpu_s"].where(rows["cpu_s"] > 0)
    order = {p: i for i, p in enumerate(POLICY_ORDER)}
    return rows.sort_values(
        ["workers", "slowdown", "backup_tasks"], key=lambda c: c.map(order) if c.name == "backup_tasks" else c
    ).reset_index(drop=True)


def _cpu(tasks, run_ids):
    """Median over runs of all the CPU seconds the run's attempts used."""
    mine = tasks[tasks["run_id"].isin(run_ids) & (tasks["phase"] != "split")]
    return float(mine.groupby("run_id")["cpu_s"].sum().median()) if len(mine) else 0.0


def _saved(pct):
    """'40% saved', or '3% slower' when a policy cost time instead of saving it."""
    return f"{num(pct)}% saved" if pct >= 0 else f"{num(-pct)}% slower"


# What the report's prose calls each backup policy (mrkit.runtime.backups.POLICIES), for readers, not the CLI.
POLICY_NAMES = {"paper": "the paper's backup policy", "spark": "Spark's speculation", "late": "LATE"}


def policy_name(policy) -> str:
    return POLICY_NAMES.get(policy, str(policy))


def study_text(table: pd.DataFrame) -> str:
    """The study's result in the paper's terms, per case (workers, slowdown): best policy, time saved, work spent.

    A Markdown table, not a sentence per case: the numbers are the reader's to scan, not prose to read.
    """
    rows, unmeasured = [], False
    for (w, f), group in table.groupby(["workers", "slowdown"]):
        base = group[group["backup_tasks"] == "none"]
        others = group[group["backup_tasks"] != "none"]
        if base.empty or others.empty:
            continue
        best = others.loc[others["end_to_end_s"].idxmin()]
        mark = "*" if round(best["unmeasured"]) else ""
        unmeasured = unmeasured or bool(mark)
        rows.append(
            f"| {int(w)} | {num(f)}x | {num(base['end_to_end_s'].iloc[0])} | {policy_name(best['backup_tasks'])} | "
            f"{num(best['end_to_end_s'])} | {_saved(best['saved_pct'])} | "
            f"{num(best['lost_cpu_s'])}{mark} |"
        )
    if not rows:
        return "The straggler study has no run without backups to compare with."
    footnote = "\n\n\\* An attempt was still running at the end: its CPU is not measured." if unmeasured else ""
    return (
        "The best backup policy per case, the tail time it saved and the work it spent (the MapReduce paper's "
        "sort took 44% longer without backups; every policy: the next table):\n\n"
        "| workers | one worker slower by | without backups (s) | best policy | with it (s) | time | CPU s lost |\n"
        "|---:|---:|---:|---|---:|---|---:|\n" + "\n".join(rows) + footnote
    )

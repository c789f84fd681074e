"""The checks' text: a job's output against its reference, and what a crash run's failed attempts cost.

Pure functions of the outputs (dicts, Series or directories of mr-out-* files)
and of the tasks frame, so they are tested without running a job; checks.py
runs the jobs and shows these sections, and the answers quote `endings_text`.
"""

from __future__ import annotations

import pathlib

import numpy as np
import pandas as pd

from mrkit.experiments import analysis
from mrkit.experiments.formatting import num, plural
from mrkit.verify import output_pairs


def correctness_section(expected, actual, reference="the sequential reference") -> str:
    """Compare a job's output with the reference: unique keys, missing, extra, different, duplicated.

    `expected` and `actual` are dicts/Series of key -> value or directories of mr-out-* files.
    """
    c = analysis.correctness(_as_output(expected), _as_output(actual))
    if c.exact:  # the counts are all zero: one sentence says so
        text = f"## Correctness\n\nThe output is exact: the same {c.actual_keys} unique keys and values as {reference}."
    else:
        text = (
            f"## Correctness\n\nThe job's output has {c.actual_keys} unique keys; {reference} has "
            f"{c.expected_keys}. Missing: {c.missing}, extra: {c.extra}, with a different value: "
            f"{c.different}, emitted twice: {c.duplicate}. The output is **not** exact."
        )
    if c.missing and c.extra:
        text += (
            " Missing keys together with extra ones are the signature of words cut at chunk "
            "borders: the word disappears and its pieces appear as new keys."
        )
    for kind, keys in c.examples.items():
        text += f" {kind.capitalize()}, e.g.: {', '.join(f'“{k}”' for k in keys)}."
    return text + "\n"


def read_output(directory) -> pd.Series:
    """key -> value from every mr-out-* in a directory (split at the first space; duplicates kept)."""
    pairs = list(output_pairs(directory))
    return pd.Series([v for _, v in pairs], index=[k for k, _ in pairs], dtype=object)


def _as_output(obj):
    return read_output(obj) if isinstance(obj, (str, pathlib.Path)) else obj


# How an attempt that did not count ended, from its task record: a worker that reported its failure sent its CPU
# seconds (the app raised); one that never reported has none (it died, or was stopped with the job).
ENDINGS = {
    "died": "failed (the worker died)",
    "raised": "failed (the app raised)",
    "timed_out": "timed out",
    "superseded": "superseded (finished after being reassigned)",
}


def attempt_endings(tasks: pd.DataFrame) -> pd.Series:
    """Per attempt that did not end ok, how it ended: a key of ENDINGS."""
    bad = tasks[tasks["status"] != "ok"]
    reported = bad["cpu_s"].notna() if "cpu_s" in bad else pd.Series(True, index=bad.index)
    failed = bad["status"] == "failed"
    return bad["status"].where(~failed, np.where(reported, "raised", "died"))


def endings_text(tasks: pd.DataFrame) -> str:
    """'2 the worker died, 1 timed out': the attempts that did not count, by how they ended."""
    counts = attempt_endings(tasks).value_counts()
    return ", ".join(f"{int(counts[k])} {name}" for k, name in ENDINGS.items() if counts.get(k, 0))


def fault_tolerance_section(tasks: pd.DataFrame, exact: bool | analysis.Correctness | None = None) -> str:
    """What the crash app's run(s) cost: attempts by how they ended, reassignments, and exactness."""
    t = tasks[tasks["phase"].isin(["map", "reduce"])]
    n_tasks = t.groupby(["run_id", "phase"])["task"].nunique()
    per_task = t.groupby(["run_id", "phase", "task"]).size()
    lost = t.loc[t["status"] != "ok", "duration_s"].sum()
    phases = " and ".join(
        f"{int(n_tasks.xs(p, level='phase').sum())} {p}"
        for p in ("map", "reduce")
        if p in n_tasks.index.get_level_values("phase")
    )
    ended = endings_text(t)
    text = (
        f"## Fault tolerance\n\nOver {plural(t['run_id'].nunique(), 'run')}, {phases} tasks took {len(t)} attempts: "
        f"{int((t['status'] == 'ok').sum())} ok{', ' + ended if ended else ''}. "
        f"{int((per_task > 1).sum())} of {len(per_task)} tasks needed more than one attempt "
        f"({int(len(t) - len(per_task))} reassignments, at most {int(per_task.max())} attempts for one task); "
        f"attempts that did not count took {num(lost)} s of worker time. "
        f"{t['pid'].nunique() if 'pid' in t else '?'} worker processes took part. "
    )
    if isinstance(exact, analysis.Correctness):
        exact = exact.exact
    text += {
        True: "The output is still exact: it matches the reference key for key.",
        False: "The output does **not** match the reference.",
        None: "The output was not checked against a reference.",
    }[exact]
    return text + "\n"

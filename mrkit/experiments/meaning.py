"""What each sweep means: the question it answers, its figures and the heading its report section gets.

The one registry of it: the report text (`report.markdown`), the notebook's
display, the checks and the export read these tables instead of naming sweeps
themselves. A sweep not listed (a user's own YAML) answers the question its
runs' varying parameters point to (`question_of`) and gets no lab heading.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from mrkit.experiments.analysis import CONFIG_BY


@dataclass(frozen=True)
class Question:
    """A report question: its section title, the variable it sweeps, and its figures (names in plots.FIGURES)."""

    title: str
    x: str | None
    figures: tuple[str, ...]


QUESTIONS = {
    "map_sweep": Question("Map sweep: end-to-end time vs map tasks M", "n_map", ("time_vs_map", "speedup", "stages", "timeline")),
    "reduce_sweep": Question("Reduce sweep: end-to-end time vs reduce tasks R", "n_reduce", ("time_vs_reduce", "stages")),
    "pairs": Question("(M, R) pairs", None, ("heatmap", "time_vs_map", "stages")),
    "mappers": Question("Mappers: speedup vs M = W mappers", "n_map", ("speedup", "map_speedup", "estimated_time", "timeline")),
}


@dataclass(frozen=True)
class Sweep:
    """What one named sweep (params/<name>.yaml) is for in the report."""

    question: str | None = None  # a key of QUESTIONS; None: the one its runs point to
    heading: str | None = None  # the lab's question, which heads its section
    section: str = "question"  # how the notebook shows it: "question", "calibration", "stragglers" or "engines"
    checked: bool = True  # a correctness case: the report's checks run its app on its inputs


CALIBRATION_SWEEP = "calibrate"  # the cost model's calibration runs
SWEEPS = {
    "map_sweep": Sweep("map_sweep", "Question 1: how does the number of map tasks M change the time? (R = 5)"),
    "reduce_sweep": Sweep("reduce_sweep", "Question 2: how does the number of reduce tasks R change the time? (M = 10)"),
    "pairs_wc": Sweep("pairs", "Question 3: which (M, R) pair is fastest for word count?"),
    "pairs_indexer": Sweep("pairs", "Question 4: which (M, R) pair is fastest for the indexer?"),
    "mappers": Sweep("mappers", "Mappers: map-stage speedup with M = W mappers"),
    "mappers_ecs": Sweep(heading="The ECS assignment: mappers on Fargate"),
    # Calibration mixes apps and the straggler study slows a worker on purpose: neither is a correctness case.
    CALIBRATION_SWEEP: Sweep(section="calibration", checked=False),
    "stragglers": Sweep(section="stragglers", checked=False),
    # The same jobs on local, dask and dask-tasks, with crash-app runs: a comparison, not a correctness case.
    "engines": Sweep(section="engines", checked=False),
}


def sweep_meaning(name: str) -> Sweep:
    """The registry's entry for a sweep name; a sweep it does not list is a plain question, checked."""
    return SWEEPS.get(name, Sweep())


def infer_question(runs: pd.DataFrame) -> str:
    """Which question a set of runs answers, from what varies in it."""
    varies = {c for c in CONFIG_BY if runs[c].nunique() > 1}
    if {"n_map", "n_reduce"} <= varies:
        return "pairs"
    if "n_map" in varies:
        return "mappers" if (runs["n_map"] == runs["workers"]).all() and runs["n_map"].min() == 1 else "map_sweep"
    return "reduce_sweep" if "n_reduce" in varies else "map_sweep"


def question_of(name: str, runs: pd.DataFrame) -> str:
    """The question a sweep's runs answer: the registry's, else the one what varies points to."""
    return sweep_meaning(name).question or infer_question(runs)

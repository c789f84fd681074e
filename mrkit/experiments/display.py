"""What the sweep notebook shows: each sweep's report text, table and figures, and the report's header.

The notebook calls these through `notebook_report` (`nr.show_header`,
`nr.show_sweep`). Every number comes from the runs/tasks frames via `report`,
`analysis` and `plots`, which are imported when first shown, so importing
this module stays cheap.
"""

from __future__ import annotations

import os
import pathlib
import platform

REPORT_TITLE = "MapReduce scaling report"


def _display(*objs):
    from IPython.display import display

    display(*objs)


def _markdown(text):
    from IPython.display import Markdown

    _display(Markdown(text))


def _styled(table):
    """A table for display: no row numbers, 3 decimals, a dash for what one run cannot give (CI, CV)."""
    return table.style.hide(axis="index").format(precision=3, na_rep="–")


def _question(result):
    from mrkit.experiments import report

    return report.SWEEP_QUESTION.get(result.config.name) or report.infer_question(result.runs)


def config_table(runs):
    """Per configuration: runs, mean end-to-end time with its 95% CI, stage times, map speedup, retries."""
    from mrkit.experiments import analysis

    s = analysis.summarize(runs, by=analysis.CONFIG_BY).set_index(analysis.CONFIG_BY)
    stages = runs.groupby(analysis.CONFIG_BY)[["map_wall_s", "reduce_wall_s", "map_speedup", "startup_s", "retries"]].mean()
    table = s[["n", "mean", "ci95", "cv"]].join(stages).reset_index()
    table.columns = ["M", "R", "W", "runs", "end-to-end (s)", "± 95% CI (s)", "CV", "map wall (s)",
                     "reduce wall (s)", "map speedup", "start-up (s)", "retries"]
    return table.round(3)


# Figures per report question (names in plots.FIGURES); a question not listed gets every figure that applies.
FIGURES_FOR = {
    "map_sweep": ("time_vs_map", "speedup", "stages", "timeline"),
    "reduce_sweep": ("time_vs_reduce", "stages"),
    "mappers": ("speedup", "map_speedup", "estimated_time", "timeline"),
    "pairs": ("heatmap", "time_vs_map", "stages"),
}


def sweep_figures(result) -> dict:
    """{name: Figure} for one sweep: those of its question that apply to its runs."""
    from mrkit.experiments import plots

    names = FIGURES_FOR.get(_question(result), tuple(plots.FIGURES))
    run_id = plots.typical_run(result.runs)
    return {name: plots.FIGURES[name][1](result.runs, result.tasks, run_id)
            for name in names if plots.FIGURES[name][0](result.runs)}


def _shown_path(path):
    """A path relative to the cwd (the repo root, for the report) when it is inside it."""
    path, here = pathlib.Path(path).resolve(), pathlib.Path.cwd().resolve()
    return str(path.relative_to(here)) if path.is_relative_to(here) else str(path)


def show_header(results, title=REPORT_TITLE):
    """The report's title, where and when it was measured, and what each sweep ran."""
    import pandas as pd

    from mrkit.experiments import analysis

    meta = results[0].meta
    versions = meta.get("versions", {})
    commit = str(meta.get("git_commit") or "unknown")[:10] + (" (with local changes)" if meta.get("git_dirty") else "")
    _markdown(f"# {title}\n\nMeasured on {meta.get('host', platform.node())} with {meta.get('cpu_count', os.cpu_count())} "
              f"CPUs ({meta.get('platform', platform.platform())}), Python {versions.get('python', '?')}, "
              f"mrkit {versions.get('mrkit', '?')} at commit {commit}, started {meta.get('start', '?')}. "
              "Each configuration ran once unrecorded to warm up, then the recorded repeats; every run used a "
              "fresh working directory. Times are wall-clock seconds; ± is a 95% confidence interval over repeats. "
              "Other processes on the machine share its cores, so read small differences with care.")
    rows = []
    for r in results:
        p = r.meta.get("parameters", {})
        rows.append({"sweep": r.config.name, "app": ", ".join(sorted(map(str, r.runs["app"].unique()))),
                     "configurations": r.runs.groupby(analysis.CONFIG_BY).ngroups, "runs": len(r.runs),
                     "repeats": p.get("repeats"), "input (MiB)": r.meta.get("input_bytes", 0) / 2**20,
                     "files": len(r.meta.get("inputs", [])),
                     "sweep time (s)": r.seconds,
                     "results": _shown_path(r.path)})
    _display(_styled(pd.DataFrame(rows)).format({"input (MiB)": "{:.1f}", "sweep time (s)": "{:.0f}"}, na_rep="–"))


def show_sweep(result, dpi=100):
    """One sweep: its report section (trend, best, limits, Amdahl, noise), its table, its figures."""
    from mrkit.experiments import plots, report

    _markdown(report.question_section(result.runs, result.tasks, _question(result)))
    if result.config.description:
        _markdown(f"*{result.config.description}.* Per configuration:")
    _display(_styled(config_table(result.runs)))
    for fig in sweep_figures(result).values():
        _display(plots.figure_image(fig, dpi))

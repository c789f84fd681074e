"""What the sweep notebook shows: each sweep's report text, table and figures, and the report's header.

The sweep notebook calls these (`display.show_header`,
`display.show_sweep`). Every number comes from the runs/tasks frames via `report`,
`analysis` and `plots`; IPython is imported when something is first shown.
"""

from __future__ import annotations

import os
import pathlib
import platform

import pandas as pd
from matplotlib.figure import Figure

from mrkit.experiments import analysis, formatting, meaning
from mrkit.experiments.model import calibration, prediction, whatif
from mrkit.experiments.report import (
    answers,
    evidence,
    markdown,
    plots,
    provenance,
    run_order,
    show,
    special_sections,
    summary,
)
from mrkit.experiments.sweeps import ecs_fault, sweep_config
from mrkit.verify import VERIFY_COLUMNS

REPORT_TITLE = "MapReduce scaling report"


def _question(result):
    return meaning.question_of(result.config.name, result.runs)


def _with_map_max(runs, tasks):
    """runs plus map_max_s, the slowest successful map task of each run (the ECS assignment's "map max"), and
    straggler_x, its slowest task over the median one of that phase."""
    ok = tasks[(tasks["phase"] == "map") & (tasks["status"] == "ok")] if len(tasks) else tasks
    if not len(ok):
        return runs
    longest = ok.groupby("run_id")["duration_s"].max().rename("map_max_s")
    return runs.join(longest, on="run_id").join(analysis.straggler_ratio(tasks), on="run_id")


def config_table(runs):
    """Per configuration: runs, end-to-end time with its 95% interval (center_interval), CV, stages, retries.

    The split, the map tasks' serial sum and the slowest map task are there because the
    ECS assignment asks for them; map speedup is serial sum / map wall.
    """
    ci = analysis.center_interval(runs, by=analysis.CONFIG_BY).set_index(analysis.CONFIG_BY)
    cv = analysis.summarize(runs, by=analysis.CONFIG_BY).set_index(analysis.CONFIG_BY)["cv"]
    cols = ["split_s", "map_serial_sum_s", "map_max_s", "map_wall_s", "reduce_wall_s", "map_speedup", "startup_s", "retries"]
    stages = runs.groupby(analysis.CONFIG_BY)[[c for c in cols if c in runs]].mean()
    if "straggler_x" in runs:  # the median run's: one straggler-free run and one slow one are not a 1.5x ratio
        stages = stages.join(runs.groupby(analysis.CONFIG_BY)["straggler_x"].median())
    table = ci[["n", "center", "lo", "hi"]].join(cv).join(stages).reset_index()
    names = {
        "n": "runs",
        "center": "end-to-end (s)",
        "lo": "95% low (s)",
        "hi": "95% high (s)",
        "cv": "CV",
        "split_s": "split (s)",
        "map_serial_sum_s": "map serial sum (s)",
        "map_max_s": "map max (s)",
        "map_wall_s": "map wall (s)",
        "reduce_wall_s": "reduce wall (s)",
        "map_speedup": "map speedup",
        "startup_s": "start-up (s)",
        "retries": "retries",
        "straggler_x": "slowest ÷ median task",
        "n_map": "M",
        "n_reduce": "R",
        "workers": "W",
    }
    return table.rename(columns=names).round(3)


NARROW_COLUMNS = ["M", "R", "W", "runs", "end-to-end (s)", "95% low (s)", "95% high (s)", "CV"]


def show_appendix(results):
    """Every question sweep's full per-configuration table (stages, map max, retries), out of the sections' way."""
    shown = [r for r in results if meaning.sweep_meaning(r.config.name).section == "question"]
    if not shown:
        return
    show.show_markdown(f"## {summary.APPENDIX_HEADING}")
    for r in shown:
        show.show_markdown(f"### {summary.section_heading(r).partition(': ')[0]}")  # the full one: in the contents
        show.show(show.styled(config_table(_with_map_max(r.runs, r.tasks))))


def sweep_figures(result) -> dict:
    """{name: Figure} for one sweep: those of its question that apply to its runs."""
    question = meaning.QUESTIONS.get(_question(result))
    names = question.figures if question else tuple(plots.FIGURES)
    run_id = plots.typical_run(result.runs)
    figures = {
        name: plots.FIGURES[name][1](result.runs, result.tasks, run_id) for name in names if plots.FIGURES[name][0](result.runs)
    }
    for fig in figures.values():
        _say_where(fig, result.meta)
    return figures


def _say_where(fig, meta):
    """An ECS sweep's figure titles end with where its runs ran (place_label); a local sweep's stay as they are."""
    place = place_label(meta)
    for ax in fig.axes if place else ():
        if ax.get_title():
            ax.set_title(f"{ax.get_title()}\n({place})")  # a line of its own: a long title would be cut


def place_label(meta) -> str | None:
    """'local ECS stand-in' or 'ECS Fargate' for an ECS sweep's figures, None for local runs (their header says)."""
    if not provenance.is_ecs(meta):
        return None
    return "local ECS stand-in" if provenance.is_stand_in(meta) else "ECS Fargate"


def _shown_path(path):
    """A path relative to the cwd (the repo root, for the report) when it is inside it."""
    path, here = pathlib.Path(path).resolve(), pathlib.Path.cwd().resolve()
    return str(path.relative_to(here)) if path.is_relative_to(here) else str(path)


def _warmup_text(results):
    """What the runs did before their recorded repeats, as meta.json says (not what a default would be)."""
    warm = {r.config.name: r.meta.get("warmup", "none") != "none" for r in results}
    if all(warm.values()):
        return "Each configuration ran once unrecorded to warm up, then the recorded repeats."
    if not any(warm.values()):
        return "No run was an unrecorded warm-up (to stay within 20 minutes): the first of each configuration counts."
    return (
        "Configurations of " + ", ".join(n for n, w in warm.items() if w) + " ran once unrecorded to warm up; "
        "the others (" + ", ".join(n for n, w in warm.items() if not w) + ") had no warm-up."
    )


def _smaller_text(results):
    """Which sweeps ran smaller than their file in params/ says (fewer repeats, a smaller corpus), and how.

    Read from each sweep's own configuration against its file, so the header states exactly what a
    plan cut; a sweep from a YAML outside params/ has nothing to be compared with and is not named.
    """
    quick, cut = [], []
    for r in results:
        try:
            full, small = sweep_config.load_sweep(r.config.name), sweep_config.load_sweep(r.config.name, quick=True)
        except sweep_config.SweepError:
            continue
        ran = r.config
        if (ran.repeats, ran.corpus) == (small.repeats, small.corpus) != (full.repeats, full.corpus):
            quick.append(ran.name)
            continue
        parts = []
        if ran.repeats < full.repeats:
            parts.append(f"{formatting.plural(ran.repeats, 'run')} per configuration, not {full.repeats}")
        if ran.corpus and full.corpus and ran.corpus.files * ran.corpus.size < full.corpus.files * full.corpus.size:
            parts.append(
                f"{ran.corpus.files} files of {ran.corpus.size / 2**20:g} MiB, "
                f"not {full.corpus.files} of {full.corpus.size / 2**20:g} MiB"
            )
        if parts:
            cut.append(f"{ran.name} ({'; '.join(parts)})")
    text = ""
    if quick:
        its = "its" if len(quick) == 1 else "their"
        text += f" A quick look: {', '.join(quick)} ran {its} quick variant (small corpus, few repeats), not the full sweep."
    if cut:
        text += f" Smaller than their sweep file says, to keep the report short: {', '.join(cut)}."
    return text


def show_header(results, title=REPORT_TITLE, checks=False):
    """The report's title, its Summary and contents, where and when it was measured, and what each sweep ran.

    `checks`: the report ends with the correctness and fault-tolerance checks (the contents list them).
    """
    meta = results[0].meta
    versions = meta.get("versions", {})
    commit = str(meta.get("git_commit") or "unknown")[:10] + (" (with local changes)" if meta.get("git_dirty") else "")
    after = (*(summary.CHECK_HEADINGS if checks else ()), summary.APPENDIX_HEADING)
    contents = summary.summary_markdown(results, (summary.MEASURED_HEADING,), after)
    show.show_markdown(f"# {title}\n\n{contents}")
    show.show_markdown(
        f"## {summary.MEASURED_HEADING}\n\nMeasured on {meta.get('host', platform.node())} with "
        f"{meta.get('cpu_count', os.cpu_count())} CPUs ({meta.get('platform', platform.platform())}), "
        f"Python {versions.get('python', '?')}, "
        f"mrkit {versions.get('mrkit', '?')} at commit {commit}, started {meta.get('start', '?')}. "
        f"{_warmup_text(results)}{_smaller_text(results)} Every run used a "
        "fresh working directory. Times are wall-clock seconds: the mean with a Student-t 95% interval under 6 "
        f"repeats, else the median with an order-statistic 95% interval. {summary.load_text(results)}"
        f"{run_order.order_text(results)}"
    )
    rows = []
    for r in results:
        p = r.meta.get("parameters", {})
        rows.append(
            {
                "sweep": r.config.name,
                "app": ", ".join(sorted(map(str, r.runs["app"].unique()))),
                "configurations": r.runs.groupby(analysis.CONFIG_BY).ngroups,
                "runs": len(r.runs),
                "repeats": p.get("repeats"),
                "input (MiB)": r.meta.get("input_bytes", 0) / 2**20,
                "files": len(r.meta.get("inputs", [])),
                "sweep time (s)": None if r.meta.get("order") else r.seconds,  # interleaved: the text says the time
                "results": _shown_path(r.path),
            }
        )
    show.show(show.styled(pd.DataFrame(rows), {"input (MiB)": "{:.1f}", "sweep time (s)": "{:.0f}"}))


def verification_table(runs):
    """Per mapper count: the verified runs' unique keys expected and found, and missing/extra/different keys.

    None when the runs were not verified (the sweep's backend_options lack verify: true).
    """
    if not set(VERIFY_COLUMNS) <= set(runs.columns) or runs[VERIFY_COLUMNS].isna().all().all():
        return None
    v = runs.dropna(subset=VERIFY_COLUMNS).astype({c: int for c in VERIFY_COLUMNS})
    v = v.assign(equal=(v[VERIFY_COLUMNS[2:]].sum(axis=1) == 0) & (v["verify_expected"] == v["verify_found"]))
    table = (
        v.groupby("n_map")
        .agg(
            runs=("run_id", "size"),
            expected=("verify_expected", "max"),
            found_min=("verify_found", "min"),
            found_max=("verify_found", "max"),
            missing=("verify_missing", "sum"),
            extra=("verify_extra", "sum"),
            different=("verify_different", "sum"),
            twice=("verify_duplicate", "sum"),
            equal=("equal", "sum"),
        )
        .reset_index()
    )
    table["found"] = [f"{a:,}" if a == b else f"{a:,}–{b:,}" for a, b in zip(table["found_min"], table["found_max"])]
    table["expected"] = [f"{a:,}" for a in table["expected"]]
    return table.rename(
        columns={
            "n_map": "M = W",
            "expected": "unique words expected",
            "found": "unique words found",
            "missing": "missing (all runs)",
            "extra": "extra (all runs)",
            "different": "different counts (all runs)",
            "twice": "emitted twice (all runs)",
            "equal": "runs equal to sequential",
        }
    )[
        [
            "M = W",
            "runs",
            "unique words expected",
            "unique words found",
            "missing (all runs)",
            "extra (all runs)",
            "different counts (all runs)",
            "emitted twice (all runs)",
            "runs equal to sequential",
        ]
    ]


# Where the default start latency comes from (model/whatif.py's docstring gives the details).
START_LATENCY_SOURCE = (
    "ElasticScale's ten Fargate launches of a 413 MB image without SOCI, 2024-04-10, "
    "https://elasticscale.com/blog/reduce-aws-fargate-pull-times-with-soci"
)


def start_latency_text(cal) -> str:
    """The task start latency the model used, with where it comes from: measured in these runs, or an assumption."""
    if cal.task_start_latency_s:
        return f"a task start latency of {formatting.num(cal.task_start_latency_s)} s (measured in these runs)"
    return (
        f"an assumed task start latency of {formatting.num(whatif.FARGATE_START_LATENCY_S)} s, not measured in "
        f"this report (the median of {START_LATENCY_SOURCE})"
    )


def show_ecs_discussion(result, results):
    """The ECS assignment's three discussion questions, each answered from data: a fault-injected run,
    the model's what-if at 1..100 mappers, and what the toolkit coordinated that the student did by hand."""
    verified = verification_table(result.runs)
    if verified is not None:
        equal = int(verified["runs equal to sequential"].sum())
        show.show_markdown(
            f"### Verification\n\nEach run's output in S3 against the app run sequentially on the same input: "
            f"{equal} of {formatting.plural(len(result.runs), 'run')} equal, key for key."
        )
        show.show(show.styled(verified))
    parts = ["### The ECS assignment's discussion questions, from data"]
    loaded = ecs_fault.load_fault(result.path)
    if loaded is None:
        parts.append(
            "**Failure recovery:** no fault-injected run is stored with this sweep "
            "(`mrkit report --sweep mappers_ecs` makes one after the sweep)."
        )
    else:
        parts.append(ecs_fault.fault_text(*loaded, result.runs, stand_in=provenance.is_stand_in(result.meta)))
    cal = special_sections.calibration_for([r for r in results if r.config.backend == "local"] or [result])
    try:
        cfg = sweep_config.load_sweep(
            result.config.name,
            what_if=True,
            **({"backend_options": result.config.backend_options} if result.config.backend_options else {}),
        )
        frame = prediction.predict_sweep(cal, cfg, [1]) if cal is not None else pd.DataFrame()
    except (calibration.ModelError, sweep_config.SweepError, ValueError):
        frame = pd.DataFrame()
    if len(frame):
        best = frame.loc[frame["predicted_end_to_end_s"].idxmin()]
        top = frame.loc[frame["n_map"].idxmax()]
        parts.append(
            f"**Scaling to {int(top['n_map'])} mappers (model output, not measured):** with "
            f"{start_latency_text(cal)}, the model predicts {formatting.num(top['predicted_end_to_end_s'])} s "
            f"and ${top['usd']:.3f} at M = {int(top['n_map'])}; the fastest is M = {int(best['n_map'])} at "
            f"{formatting.num(best['predicted_end_to_end_s'])} s (${best['usd']:.3f}). Past that, each extra task "
            "costs its start latency and a billed minute while its share of the input shrinks. Prices are assumed, "
            f"not billed ({whatif.PRICES_SOURCE})."
        )
        shown = frame[["n_map", "predicted_end_to_end_s", "usd"]].rename(
            columns={
                "n_map": "M = W",
                "predicted_end_to_end_s": "predicted end-to-end (s)",
                "usd": "Fargate cost at assumed prices ($)",
            }
        )
        parts_table = show.styled(shown.round(3))
    else:
        parts.append(
            "**Scaling to 100 mappers:** the cost model could not be calibrated on these results, so no prediction is given."
        )
        parts_table = None
    t = result.tasks[result.tasks["phase"].isin(["map", "reduce"])]
    runs = result.runs
    parts.append(
        f"**What the toolkit coordinated that the assignment does by hand:** over "
        f"{formatting.plural(len(runs), 'run')} it split and uploaded the input, started "
        f"{int((runs['workers'] + 1).sum())} tasks (a master and the workers), handed out "
        f"{len(t)} task attempts ({int((t.groupby(['run_id', 'phase', 'task']).size() > 1).sum())} re-executed), "
        "waited at the map barrier, replaced stopped workers, recorded every task's timing and stopped every "
        "task at the end."
    )
    show.show_markdown("\n\n".join(parts))
    if parts_table is not None:
        show.show(parts_table)


def question_parts(result, results=None) -> list:
    """A question sweep's section, in order: Markdown texts, a table (Styler) and Figures.

    Its heading, its answer, then the evidence (trend, limits, Amdahl, noise), its table and figures.
    `results` (every sweep of the report) supplies the calibration sweep the answer's model comes from.
    """
    about = meaning.sweep_meaning(result.config.name)
    section = markdown.question_section(result.runs, result.tasks, _question(result), markdown.EVIDENCE)
    head, body = section.split("\n\n", 1)
    heading = provenance.relabel(about.heading, result.meta)
    if heading:
        head = "## " + heading
    if provenance.is_ecs(result.meta):
        head += "\n\n" + provenance.ecs_provenance(provenance.backend_options(result.meta)).rstrip()
    cal = special_sections.calibration_for(results or [result]) if result.config.backend == "local" else None
    error = prediction.agreement(cal, result.runs, task_timeout=result.config.task_timeout) if cal is not None else None
    ans = answers.compute(result.runs, result.tasks, result.config, cal, error)
    ans["where"] = place_label(result.meta)
    parts = [head + "\n\n" + answers.answer_text(ans) + "\n#### The evidence\n\n" + body]
    # The sweep file's description would repeat the heading and the figures' titles: the table says it all.
    parts.append(f"Per configuration (its stages: [appendix](#{summary.anchor(summary.APPENDIX_HEADING)})):")
    parts.append(show.styled(config_table(result.runs)[NARROW_COLUMNS]))
    parts.extend(sweep_figures(result).values())
    why = evidence.evidence_plot(result.runs, result.tasks)
    if why is not None:
        _say_where(why, result.meta)
        parts.append(why)
    if ans["model_within_noise"]:  # without the model's curves it would repeat the time figure above
        parts.append(answers.answer_figure(ans))
    return parts


def show_sweep(result, results=None, dpi=100):
    """One sweep's section: a question's (question_parts), else its special section (calibration, stragglers)."""
    about = meaning.sweep_meaning(result.config.name)
    if about.section != "question":
        return special_sections.SPECIAL_SECTIONS[about.section](result, dpi)
    for part in question_parts(result, results):
        if isinstance(part, str):
            show.show_markdown(part)
        elif isinstance(part, Figure):
            show.show(plots.figure_image(part, dpi))
        else:
            show.show(part)
    if result.config.backend != "local":
        show_ecs_discussion(result, results or [result])

"""The sweep notebook's helpers, and `make report`: that notebook through papermill into one HTML file.

Two halves, one idea. The first half is what `notebooks/sweep.ipynb` calls,
so the notebook stays a few lines: `sweep_plan` turns its parameters into
SweepConfigs, `run_sweeps` runs (or reloads) them, and `show_*` display each
sweep's report text, table and figures, then the correctness and
fault-tolerance checks. The second half, `build_report`, runs that notebook
with papermill and exports it with nbconvert, without code, figures embedded,
and no external script, so `results/report.html` opens offline as one file.

Every number shown comes from the runs/tasks frames (via `report`, `analysis`
and `plots`); nothing here computes statistics of its own.
"""

from __future__ import annotations

import io
import os
import pathlib
import platform
import tempfile
import time
from dataclasses import dataclass

from mrkit.backends.local import default_workers
from mrkit.errors import MrkitError
from mrkit.experiments import sweep as sweeps
from mrkit.experiments.sweep import REPO_ROOT, SweepConfig
from mrkit.storage.local import write_atomic

SWEEP_NOTEBOOK = REPO_ROOT / "notebooks" / "sweep.ipynb"
DEFAULT_SWEEP = {"indexer": "pairs_indexer"}  # any other app: map_sweep
REPORT_TITLE = "MapReduce scaling report"

# The report's sweeps, chosen to answer the lab's questions in a few minutes on 2 cores:
# the YAML grids minus their slowest points (M=100 with R=50 and the like), an 8 MiB corpus
# instead of 16, and 3 repeats (with 2, a 95% CI uses t = 12.7 and every ranking is "noise").
# (app, sweep, overrides for the full report; the quick report uses each YAML's quick block.)
REPORT_PLAN = (
    ("wc", "map_sweep", {"n_map": [5, 10, 20, 50, 100]}),
    ("wc", "reduce_sweep", {"n_reduce": [5, 10, 20, 50]}),
    ("wc", "mappers", {"n_map": [1, 2, 3, 4, 6, 8]}),
    ("indexer", "pairs_indexer", {"pairs": [[1, 1], [5, 1], [1, 5], [5, 5], [20, 5], [5, 20],
                                            [20, 20], [50, 20], [50, 50]]}),
)
REPORT_SETTINGS = {"repeats": 3, "corpus": {"files": 8, "size": "1MB", "seed": 0}}
# The crash app's run: one map task per file for the first 4 inputs (as in the lab: a map
# task with several pieces calls map, and may crash, once per piece), the lab's R = 10 (its
# four keys land in four reduce tasks), spare workers (stalled ones sleep, they use no core)
# and a 1 s task timeout, so a crash costs about a second instead of 10: 10-25 s on 2 cores.
CRASH_CHECK = {"files": 4, "n_reduce": 10, "workers": 12, "task_timeout": 1.0}


class ReportError(MrkitError):
    """The report notebook failed: which cell, what it raised, and where the executed notebook is."""


# ------------------------------------------------------------ notebook side


def work_from_repo_root():
    """chdir to the repo root when a kernel started in notebooks/ (JupyterLab does that).

    The notebooks' relative paths (results/, params/) mean the repo root, which
    is where papermill runs them from.
    """
    if pathlib.Path.cwd().resolve() == SWEEP_NOTEBOOK.parent.resolve():
        os.chdir(REPO_ROOT)


def _expand_inputs(inputs):
    """A path or list of paths (directories expanded to their files) -> list of paths, or None."""
    if inputs is None:
        return None
    from mrkit.job import resolve_inputs

    given = [inputs] if isinstance(inputs, (str, os.PathLike)) else list(inputs)
    return [item.path for item in resolve_inputs(given)]


def _named_like(description):
    """The params/ sweep whose description this is (a `-f params/X.yaml` run keeps X's name), else "custom"."""
    import yaml

    for path in sorted(sweeps.PARAMS_DIR.glob("*.yaml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        if isinstance(doc, dict) and description and doc.get("description") == description:
            return path.stem
    return "custom"


def sweep_plan(app=None, sweep=None, *, plan=None, quick=False, **overrides) -> list[SweepConfig]:
    """The notebook's parameters as SweepConfigs, one per sweep to run.

    `sweep` is a name in params/ or a YAML path, or a list of them; None means
    the app's usual sweep (DEFAULT_SWEEP, else map_sweep), unless `overrides`
    define a grid themselves (n_map, n_reduce or pairs: what `papermill -f
    params/X.yaml` injects), which then runs as given. `app` None keeps each
    YAML's app. `plan` (a list of {"sweep": ..., "app": ..., other keys}) lists
    the sweeps explicitly, each with its own overrides, for several apps in one
    report. `overrides` (repeats, inputs, workers, backend, results_dir, any
    SweepConfig key) apply to every sweep; None values are ignored, so a
    parameter left at None keeps the YAML's value. `quick` is a sweep's quick
    variant when True; a dict (a sweep file's `quick:` block, injected by -f) is ignored.
    """
    quick = quick is True
    common = {k: v for k, v in overrides.items() if v is not None}
    if "inputs" in common:
        common["inputs"] = _expand_inputs(common["inputs"])
    if plan is None and sweep is None and {"n_map", "n_reduce", "pairs"} & set(common):
        values = {**common, **({"app": app} if app is not None else {})}
        return [SweepConfig.from_dict({"name": _named_like(common.get("description")), **values})]
    if plan is None:
        names = sweep if sweep is not None else DEFAULT_SWEEP.get(app, "map_sweep")
        names = [names] if isinstance(names, (str, os.PathLike)) else list(names)
        plan = [{"sweep": str(name), **({"app": app} if app is not None else {})} for name in names]
    configs = []
    for item in plan:
        item = dict(item)
        name = item.pop("sweep")
        configs.append(sweeps.load_sweep(name, quick=quick, **{**common, **item}))
    return configs


@dataclass
class SweepResult:
    """One sweep's frames, where they are stored, and how long running it took (None: reloaded)."""

    config: SweepConfig
    path: pathlib.Path
    runs: pd.DataFrame  # noqa: F821
    tasks: pd.DataFrame  # noqa: F821
    meta: dict
    seconds: float | None = None


def run_sweeps(configs, reload=None, progress=False) -> list[SweepResult]:
    """Run each sweep (or reload stored results) and load its frames.

    `reload`: None runs every sweep into a new results directory; "latest"
    reloads each sweep's newest results under its results_dir; a path (or a
    list of paths, one per sweep) reloads those directories.
    """
    if reload is not None and not isinstance(reload, str) and len(reload) != len(configs):
        raise sweeps.SweepError(f"reload lists {len(reload)} directories for {len(configs)} sweeps")
    out = []
    for i, cfg in enumerate(configs):
        began, seconds = time.perf_counter(), None
        if reload is None:
            path = sweeps.run_sweep(cfg, progress=progress)
            seconds = time.perf_counter() - began
        elif reload == "latest":
            path = sweeps.latest(cfg.results_dir, cfg.name)
        else:
            path = pathlib.Path(reload if isinstance(reload, str) else reload[i])
        runs, tasks, meta = sweeps.load_results(path)
        if runs.empty:
            raise sweeps.SweepError(f"{path} holds no runs")
        out.append(SweepResult(cfg, path, runs, tasks, meta, seconds))
    return out


def frames(results):
    """(runs, tasks) of every sweep in one pair of DataFrames, for your own analysis."""
    import pandas as pd

    return (pd.concat([r.runs for r in results], ignore_index=True),
            pd.concat([r.tasks for r in results], ignore_index=True))


def _display(*objs):
    from IPython.display import display

    display(*objs)


def _markdown(text):
    from IPython.display import Markdown

    _display(Markdown(text))


def figure_image(fig, dpi=100):
    """A matplotlib Figure as an IPython PNG image (embedded whatever the notebook's backend)."""
    from IPython.display import Image

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    width_in = fig.get_size_inches()[0]
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    # A wide figure (the timeline) carries its width, which the report's CSS gives a whole row;
    # the title becomes the image's alt text in the report.
    return Image(data=buffer.getvalue(), format="png", width=round(width_in * dpi) if width_in > 7 else None,
                 metadata={"alt": titles[0]} if titles else None)


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
    from mrkit.experiments import report

    _markdown(report.question_section(result.runs, result.tasks, _question(result)))
    if result.config.description:
        _markdown(f"*{result.config.description}.* Per configuration:")
    _display(_styled(config_table(result.runs)))
    for fig in sweep_figures(result).values():
        _display(figure_image(fig, dpi))


# ------------------------------------------------------------------ checks


def _largest_split(result):
    """The configuration with the most map tasks (most chunk borders): the hardest correctness case."""
    row = result.runs.sort_values(["n_map", "n_reduce"]).iloc[-1]
    return int(row["n_map"]), int(row["n_reduce"])


def correctness_check(app, inputs, n_map, n_reduce, workers, scratch) -> str:
    """Run `app` through the runtime and sequentially on the same inputs; the report's section."""
    from mrkit.app import load_app
    from mrkit.backends.local import run_job
    from mrkit.experiments import report
    from mrkit.job import resolve_inputs
    from mrkit.sequential import run_sequential

    scratch = pathlib.Path(scratch)
    job_dir, ref_dir = scratch / f"{app}-job", scratch / f"{app}-sequential"
    ref_dir.mkdir(parents=True)
    run_job(app, inputs, n_map=n_map, n_reduce=n_reduce, workers=workers, workdir=job_dir)
    run_sequential(load_app(app), resolve_inputs(inputs), ref_dir)
    text = report.correctness_section(ref_dir, job_dir, reference="`mrkit sequential` on the same inputs")
    return text.replace("## Correctness", f"## Correctness: {app} at M={n_map} R={n_reduce} against the sequential reference", 1)


def fault_tolerance_check(inputs, scratch, files, n_reduce, workers, task_timeout) -> str:
    """The crash app on the first `files` inputs, checked against nocrash through the runtime.

    The reference is nocrash with the same M and R, not `mrkit sequential`: the
    output depends on M (key `c` lists the sizes each map call saw).
    """
    import pandas as pd

    from mrkit.backends.local import run_job
    from mrkit.experiments import analysis, report

    scratch, inputs = pathlib.Path(scratch), list(inputs)[:files]
    options = dict(n_reduce=n_reduce, workers=workers)  # n_map None: one map task per input file
    reference, _ = run_job("nocrash", inputs, workdir=scratch / "nocrash", **options)
    summary, records = run_job("crash", inputs, workdir=scratch / "crash", task_timeout=task_timeout, **options)
    check = analysis.correctness(report.read_output(scratch / "nocrash"), report.read_output(scratch / "crash"))
    text = report.fault_tolerance_section(pd.DataFrame(records), exact=check)
    intro = (f"The `crash` app kills its worker in a third of map and reduce calls and stalls up to 10 s in "
             f"another third; the local backend starts a new worker for each one that dies. It ran on "
             f"{len(inputs)} of the input files (one map task each) with R={n_reduce} and W={workers}, and a task "
             f"timeout of {task_timeout:g} s (the lab uses 10 s; a shorter one keeps this report short). It took "
             f"{report.num(summary['end_to_end_s'])} s against {report.num(reference['end_to_end_s'])} s for "
             f"`nocrash`, the same job without faults, run through the runtime with the same M and R as the "
             f"reference (this job's output depends on M). ")
    return text.replace("## Fault tolerance\n\n", "## Fault tolerance\n\n" + intro, 1)


def show_checks(results, fault_tolerance=True, crash=CRASH_CHECK):
    """Correctness of each app's job against `mrkit sequential`, then the crash app's fault tolerance."""
    seen = {}
    for r in results:
        app = str(r.config.app)
        if app not in seen:  # one check per app, on that app's first sweep's inputs
            seen[app] = r
    with tempfile.TemporaryDirectory(prefix="mrkit-checks-") as scratch:
        for app, r in seen.items():
            n_map, n_reduce = _largest_split(r)
            workers = default_workers(n_map, n_reduce)
            _markdown(correctness_check(app, r.config.input_paths(), n_map, n_reduce, workers,
                                        pathlib.Path(scratch) / "correctness"))
        if fault_tolerance:
            _markdown(fault_tolerance_check(results[0].config.input_paths(), pathlib.Path(scratch) / "faults", **crash))


# --------------------------------------------------------------- the report


def report_plan(apps=("wc", "indexer"), quick=False, sweeps=None) -> list[dict]:
    """The sweep notebook's `plan` for a report: REPORT_PLAN's sweeps of `apps` (or `sweeps`, names)."""
    chosen = [(app, name, over) for app, name, over in REPORT_PLAN
              if (app in apps if sweeps is None else name in sweeps)]
    if sweeps is not None:  # others run as their YAML says (e.g. mappers_ecs: its own corpus, on ECS)
        known = {name for _, name, _ in chosen}
        chosen += [(None, name, None) for name in sweeps if name not in known]
    if not chosen:
        raise MrkitError(f"no report sweeps for apps {list(apps)}; REPORT_PLAN has "
                         f"{sorted({a for a, _, _ in REPORT_PLAN})}")
    plan = []
    for app, name, overrides in chosen:
        item = {"sweep": name, **({"app": app} if app else {})}
        if not quick and overrides is not None:
            item.update(REPORT_SETTINGS)
            item.update(overrides)
        plan.append(item)
    return plan


def _report_template():
    """The lab template without its CDN scripts (require.js, MathJax, mermaid, widgets).

    Figures get alt text and readable widths.
    """
    import jinja2

    return jinja2.DictLoader({"mrkit_report.html.j2": """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{% block jupyter_widgets %}{% endblock jupyter_widgets %}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{% block data_png scoped %}
<div class="jp-RenderedImage jp-OutputArea-output {{ extra_class }}">
<img src="data:image/png;base64,{{ output.data['image/png'] | escape_html }}"
{%- set width = output | get_metadata('width', 'image/png') %}
{%- if width is not none %} width="{{ width | escape_html }}"{% endif %}
{%- set alt = output | get_metadata('alt', 'image/png') %}
{%- if alt is not none %} alt="{{ alt | escape_html }}"{% endif %}>
</div>
{%- endblock data_png %}
{% block extra_css %}<style type="text/css">
body.jp-Notebook { max-width: 1060px; margin: 0 auto; padding: 1.5em 2em; }
.jp-RenderedMarkdown p { font-size: 15px; line-height: 1.55; }
.jp-RenderedImage img { max-width: 100%; height: auto; }
/* figures two to a row */
.jp-OutputArea-child:has(.jp-RenderedImage) { display: inline-block; width: 49.5%; vertical-align: top; }
.jp-OutputArea-child:has(img[width]) { display: block; width: 100%; }
.jp-RenderedHTMLCommon table { font-size: 12px; }
</style>{% endblock extra_css %}
"""})


def export_html(notebook, title=REPORT_TITLE) -> str:
    """Executed notebook (path or NotebookNode) -> self-contained HTML: no code, PNGs inline, no external script."""
    import re

    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(str(notebook), as_version=4) if isinstance(notebook, (str, os.PathLike)) else notebook
    nb.metadata["title"] = title
    nb.metadata.pop("widgets", None)  # widget views need CDN JavaScript: leave them out
    from traitlets.config import Config

    config = Config()
    config.TagRemovePreprocessor.enabled = True
    config.TagRemovePreprocessor.remove_cell_tags = {"notebook-only"}  # usage notes, not report
    exporter = HTMLExporter(config=config, template_name="lab", extra_loaders=[_report_template()],
                            template_file="mrkit_report.html.j2", exclude_input=True,
                            exclude_input_prompt=True, exclude_output_prompt=True)
    html, _ = exporter.from_notebook_node(nb)
    external = re.findall(r"<script[^>]*\bsrc=[\"']?(?:https?:)?//[^>]*>", html)
    if external:
        raise ReportError(f"the exported HTML still loads external scripts: {external[:3]}")
    return html


def build_report(out="results/report.html", quick=False, apps=("wc", "indexer"), sweeps=None,
                 results_dir=None, kernel_name="python3", progress=True, log=print, checks=True) -> pathlib.Path:
    """Run the sweep notebook for the report's sweeps and export `out` (HTML); returns its path.

    The executed notebook is saved next to it (same name, .ipynb), and the
    sweeps' runs.csv/tasks.csv under `results_dir` (default: out's directory).
    `quick` uses each sweep's quick variant (seconds, for tests). `checks`
    adds the (local) correctness and fault-tolerance sections.
    """
    try:
        import nbconvert  # noqa: F401
        import papermill
    except ImportError as exc:
        raise ReportError(f"the report needs {exc.name}: pip install -e '.[notebooks]' (make setup does)") from None

    out = pathlib.Path(out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    executed = out.with_suffix(".ipynb")
    parameters = {"plan": report_plan(apps, quick, sweeps), "quick": quick, "checks": checks,
                  "results_dir": str(pathlib.Path(results_dir or out.parent).resolve()),
                  "progress": False, "title": REPORT_TITLE + (" (quick settings)" if quick else "")}
    began = time.perf_counter()
    try:
        papermill.execute_notebook(str(SWEEP_NOTEBOOK), str(executed), parameters=parameters,
                                   kernel_name=kernel_name, progress_bar=progress, cwd=str(REPO_ROOT))
    except papermill.PapermillExecutionError as exc:
        raise ReportError(f"report notebook failed in cell {exc.cell_index}: {exc.ename}: {exc.evalue} "
                          f"(executed notebook: {executed})") from None
    ran = time.perf_counter() - began
    html = export_html(executed, title=parameters["title"])
    write_atomic(out, html)
    if log:
        log(f"wrote {out} ({len(html) / 2**20:.1f} MiB) and {executed.name}: notebook {ran:.0f} s, "
            f"export {time.perf_counter() - began - ran:.1f} s")
    return out

"""`make report` / `mrkit report`: the sweep notebook through papermill into one HTML file.

`build_report` runs `notebooks/sweep.ipynb` with the report's plan
(`report_plan`: REPORT_PLAN's sweeps at REPORT_SETTINGS) and exports it with
nbconvert, without code, figures embedded, and no external script, so
`results/report.html` opens offline as one file.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import time
from importlib import resources

import yaml

from mrkit import extras
from mrkit.errors import MrkitError
from mrkit.experiments.meaning import CALIBRATION_SWEEP
from mrkit.experiments.report.display import REPORT_TITLE
from mrkit.experiments.report.notebook_report import SWEEP_NOTEBOOK, sweep_plan
from mrkit.experiments.sweeps import ecs_fault, interleave, results, sweep
from mrkit.experiments.sweeps.sweep_config import REPO_ROOT, SweepError, load_sweep
from mrkit.storage.local import write_atomic

# Package data, read with importlib.resources.
PLAN_FILE = resources.files("mrkit.experiments.report") / "report_plan.yaml"


def _load_plan():
    """(REPORT_PLAN: (app, sweep, overrides) per sweep, REPORT_SETTINGS) from report_plan.yaml.

    An entry without an app (the calibration sweep: every app) keeps its YAML's apps.
    """
    document = yaml.safe_load(PLAN_FILE.read_text(encoding="utf-8"))
    plan = tuple((item.get("app"), item["sweep"], item.get("overrides") or {}) for item in document["sweeps"])
    stand_in = frozenset(item["sweep"] for item in document["sweeps"] if item.get("stand_in"))
    return plan, document.get("settings") or {}, stand_in, frozenset(document.get("interleave") or ())


# STAND_IN_SWEEPS: the plan's ECS sweeps, in the full report only when it runs them on the local stand-in.
# INTERLEAVED_SWEEPS: those whose runs are made in one randomized, interleaved order (sweeps/interleave.py).
REPORT_PLAN, REPORT_SETTINGS, STAND_IN_SWEEPS, INTERLEAVED_SWEEPS = _load_plan()


class ReportError(MrkitError):
    """The report notebook failed: which cell, what it raised, and where the executed notebook is."""


def report_plan(apps=("wc", "indexer"), quick=False, sweeps=None, stand_in=False) -> list[dict]:
    """The sweep notebook's `plan` for a report: REPORT_PLAN's sweeps of `apps` (or `sweeps`, names).

    Without `sweeps`, the ECS sweeps (STAND_IN_SWEEPS) are in it only with `stand_in`.
    """
    chosen = [
        (app, name, over)
        for app, name, over in REPORT_PLAN
        if ((app is None or app in apps) and (stand_in or name not in STAND_IN_SWEEPS) if sweeps is None else name in sweeps)
    ]
    if sweeps is not None:  # others run as their YAML says (e.g. mappers_ecs: its own corpus, on ECS)
        known = {name for _, name, _ in chosen}
        chosen += [(None, name, None) for name in sweeps if name not in known]
        if any(_backend(name) != "local" for name in sweeps) and CALIBRATION_SWEEP not in sweeps:
            # The ECS section's what-if needs the cost model: calibrate it locally, as the full report does.
            chosen += [(app, name, over) for app, name, over in REPORT_PLAN if name == CALIBRATION_SWEEP]
    if not chosen:
        raise MrkitError(f"no report sweeps for apps {list(apps)}; REPORT_PLAN has {sorted({a for a, _, _ in REPORT_PLAN})}")
    plan = []
    for app, name, overrides in chosen:
        item = {"sweep": name, **({"app": app} if app else {})}
        if not quick and overrides is not None:
            item.update(REPORT_SETTINGS)
            item.update(overrides)
        plan.append(item)
    return plan


def _resumable(cfg):
    """The newest earlier results directory of `cfg` that it can resume (same parameters), else None."""
    base = pathlib.Path(cfg.results_dir) / cfg.name
    for path in sorted((p for p in base.glob("*") if (p / "meta.json").is_file()), reverse=True) if base.is_dir() else ():
        try:
            results.check_resumable(json.loads((path / "meta.json").read_text(encoding="utf-8")), cfg, path)
        except (SweepError, ValueError):
            continue
        return path
    return None


def _interleaved(cfg) -> bool:
    return cfg.name in INTERLEAVED_SWEEPS and cfg.backend == "local" and not cfg.backends


def run_report_sweeps(configs, resume=False, progress=True, log=print, seed=None) -> list[pathlib.Path]:
    """Run the report's sweeps here, before the notebook renders them, under one bar of runs done / total.

    The INTERLEAVED_SWEEPS among `configs` first, as one experiment (interleave.run_interleaved: one
    randomized order from `seed`, None: a new one, or the one a resumed directory recorded; a
    configuration they share measured once), then the others one after another. `resume` continues
    each sweep's newest earlier results directory with the same parameters (finished runs are kept,
    only missing ones run); otherwise every sweep starts a new directory. Returns the directories, one per config.
    """
    dirs = [_resumable(cfg) if resume else None for cfg in configs]
    mixed = [i for i, cfg in enumerate(configs) if _interleaved(cfg)]
    alone = [i for i in range(len(configs)) if i not in mixed]
    together = [configs[i] for i in mixed]
    total = interleave.planned_runs(together) + sum(len(configs[i].configurations()) * configs[i].repeats for i in alone)
    done = interleave.measured_runs(together, [dirs[i] for i in mixed])
    for i in alone:
        if dirs[i] is not None:  # only the runs this plan asks for (an earlier report may have had more repeats)
            wanted = {(rc.config_id, k) for rc in configs[i].configurations() for k in range(configs[i].repeats)}
            done += len(results.done_and_clean(dirs[i]) & wanted)
    if log and resume:
        log(
            f"resuming: {done} of {total} runs already measured "
            f"({sum(d is not None for d in dirs)} of {len(configs)} sweeps have earlier results)"
        )
    bar = sweep.runs_bar(total, min(done, total), desc="report", disable=not progress)
    out = list(dirs)
    try:
        if together:
            ran = interleave.run_interleaved(together, [dirs[i] for i in mixed], seed=seed, progress=bar)
            for i, path in zip(mixed, ran):
                out[i] = path
        for i in alone:
            out[i] = sweep.run_sweep(configs[i], dirs[i], progress=bar)
        return out
    finally:
        bar.close()


def _backend(name):
    return load_sweep(name).backend


def _with_backend_options(item, options):
    """A plan item of a sweep on another backend than local, `options` over its file's own; a local one as it is."""
    cfg = load_sweep(item["sweep"])
    return item if cfg.backend == "local" else {**item, "backend_options": {**cfg.backend_options, **options}}


def _report_template():
    """The lab template without its CDN scripts (require.js, MathJax, mermaid, widgets).

    Figures get alt text and readable widths.
    """
    import jinja2

    return jinja2.DictLoader(
        {
            "mrkit_report.html.j2": """{%- extends 'lab/index.html.j2' -%}
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
"""
        }
    )


def export_html(notebook, title=REPORT_TITLE) -> str:
    """Executed notebook (path or NotebookNode) -> self-contained HTML: no code, PNGs inline, no external script."""
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(str(notebook), as_version=4) if isinstance(notebook, (str, os.PathLike)) else notebook
    nb.metadata["title"] = title
    nb.metadata.pop("widgets", None)  # widget views need CDN JavaScript: leave them out
    from traitlets.config import Config

    config = Config()
    config.TagRemovePreprocessor.enabled = True
    config.TagRemovePreprocessor.remove_cell_tags = {"notebook-only"}  # usage notes, not report
    exporter = HTMLExporter(
        config=config,
        template_name="lab",
        extra_loaders=[_report_template()],
        template_file="mrkit_report.html.j2",
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    html, _ = exporter.from_notebook_node(nb)
    external = re.findall(r"<script[^>]*\bsrc=[\"']?(?:https?:)?//[^>]*>", html)
    if external:
        raise ReportError(f"the exported HTML still loads external scripts: {external[:3]}")
    return html


def execute_notebook(source, executed, parameters, kernel_name="python3", cwd=None):
    """papermill's run of notebook `source` into `executed`, its kernel reached over local sockets.

    Over TCP (jupyter's default) the kernel warns on the report's terminal that its traffic is
    unencrypted and open to eavesdropping; Unix-domain sockets (transport "ipc") are neither
    reachable from the network nor warned about. Windows has none: it keeps TCP on loopback.
    """
    import papermill

    engine = {"kernel_manager_class": _local_socket_kernels()} if os.name == "posix" else {}
    return papermill.execute_notebook(
        str(source), str(executed), parameters=parameters, kernel_name=kernel_name, progress_bar=False, cwd=str(cwd), **engine
    )


def _local_socket_kernels():
    from jupyter_client.manager import KernelManager
    from traitlets import default

    class LocalSocketKernelManager(KernelManager):
        @default("transport")
        def _transport_default(self):
            return "ipc"

    return LocalSocketKernelManager


def build_report(
    out="results/report.html",
    quick=False,
    apps=("wc", "indexer"),
    sweeps=None,
    results_dir=None,
    kernel_name="python3",
    progress=True,
    log=print,
    checks=True,
    resume=False,
    backend_options=None,
    seed=None,
) -> pathlib.Path:
    """Run the report's sweeps, render them with the sweep notebook and export `out` (HTML); returns its path.

    The sweeps run here first (`run_report_sweeps`: one terminal bar of runs
    done / total, the configuration running and the time left; `resume` reuses
    finished runs of earlier results directories), then papermill renders the
    stored results, which takes seconds. The executed notebook is saved next
    to `out` (same name, .ipynb), the sweeps' runs.csv/tasks.csv under
    `results_dir` (default: out's directory). `quick` uses each sweep's quick
    variant (seconds, for tests). `checks` adds the (local) correctness and
    fault-tolerance sections. `backend_options` (e.g. {"stand_in": True}) go
    to every sweep of another backend than local. `seed`: the interleaved order's (run_report_sweeps).
    """
    extras.require("notebooks")
    import papermill

    out = pathlib.Path(out).resolve()
    plan = report_plan(apps, quick, sweeps, stand_in=bool((backend_options or {}).get("stand_in")))
    out.parent.mkdir(parents=True, exist_ok=True)  # after the plan's checks: a mistaken --sweep makes nothing
    executed = out.with_suffix(".ipynb")
    results_dir = str(pathlib.Path(results_dir or out.parent).resolve())
    if backend_options:
        plan = [_with_backend_options(item, backend_options) for item in plan]
    began = time.perf_counter()
    configs = sweep_plan(plan=plan, quick=quick, results_dir=results_dir)
    dirs = run_report_sweeps(configs, resume=resume, progress=progress, log=log, seed=seed)
    for cfg, d in zip(configs, dirs):
        if cfg.backend != "local" and (not resume or not (d / "fault" / "fault.json").is_file()):
            if log:
                log(f"{cfg.name}: one more run with a worker task stopped mid-job (the failure-recovery question)")
            ecs_fault.fault_run(cfg, d)
    swept = time.perf_counter() - began
    parameters = {
        "plan": plan,
        "quick": quick,
        "checks": checks,
        "results_dir": results_dir,
        "reload": [str(d) for d in dirs],
        "progress": False,
        "title": REPORT_TITLE + (" (quick settings)" if quick else ""),
    }
    if log:
        log(f"sweeps done in {swept:.0f} s; rendering the report (papermill)")
    try:
        execute_notebook(SWEEP_NOTEBOOK, executed, parameters, kernel_name=kernel_name, cwd=REPO_ROOT or os.getcwd())
    except papermill.PapermillExecutionError as exc:
        raise ReportError(
            f"report notebook failed in cell {exc.cell_index}: {exc.ename}: {exc.evalue} (executed notebook: {executed})"
        ) from None
    ran = time.perf_counter() - began
    html = export_html(executed, title=parameters["title"])
    write_atomic(out, html)
    if log:
        log(
            f"wrote {out} ({len(html) / 2**20:.1f} MiB) and {executed.name}: sweeps {swept:.0f} s, "
            f"notebook {ran - swept:.0f} s, export {time.perf_counter() - began - ran:.1f} s"
        )
    return out

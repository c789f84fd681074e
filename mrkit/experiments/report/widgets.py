"""The interactive lab: pick an app and M, R, W, press Run, watch the job, compare runs.

`InteractiveLab` is what `notebooks/interactive.ipynb` shows (the notebook is
three lines). A run goes in a background thread, so the kernel stays free
while it runs: the progress bar is fed by `run_job`'s on_status callback (the
master's /status counts, every 0.2 s), and the Run button is disabled until
the run ends. When it ends come the run's timings, its task timeline (Gantt
chart, `plots.timeline_plot`) and a speedup plot over every run so far.
Every run is recorded as a sweep's are: its files in
`<results_dir>/interactive/<run id>/`, its rows appended to
`<results_dir>/interactive/runs.csv` and `tasks.csv`; `runs_table` shows
them (their timing columns: every column would pass pandas' 20 in a notebook,
which then elides the middle ones) and is redrawn after each run, so a cell
that displays it stays current.

Widgets are updated from the run's thread: ipywidgets sends the change
messages from there. An Output's content is set on its `outputs` trait
rather than with `with output:`, which would attribute the display to
whichever cell the kernel is running at that moment.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import tempfile
import threading

import ipywidgets as w
import pandas as pd
import seaborn as sns
from IPython.core.formatters import format_display_data
from IPython.display import display

from mrkit import timing
from mrkit.backends.local import run_job
from mrkit.corpus import corpus_dir
from mrkit.experiments import analysis
from mrkit.experiments.report import plots
from mrkit.experiments.sweeps import results
from mrkit.experiments.sweeps.sweep_config import RunConfig

APPS = ("wc", "indexer")
TIMING_COLUMNS = [
    "app",
    "n_map",
    "n_reduce",
    "workers",
    "end_to_end_s",
    "split_s",
    "map_wall_s",
    "map_serial_sum_s",
    "map_speedup",
    "reduce_wall_s",
    "startup_s",
    "retries",
]
DEFAULT_CORPUS = {"files": 8, "size": 2**20, "seed": 0}  # 8 MiB: a run takes seconds on 2 cores
RECORDS = "interactive"  # <results_dir>/interactive/: the lab's runs, as a sweep's results directory holds them


def status_text(status: dict) -> str:
    """One line from the master's /status: phase, tasks done and running per phase, workers, elapsed."""

    def phase(name):
        c = status[name]
        return f"{name} {c['done']}/{c['total']} done, {c['in_progress']} running"

    return f"{status['phase']}: {phase('map')}; {phase('reduce')}; {status['workers']} workers; {status['elapsed_s']:.1f} s"


def speedup_figure(runs: pd.DataFrame):
    """Speedup vs W for every (app, M, R) tried at two or more W; time vs W for the others.

    Speedup is over the smallest W tried for that (app, M, R) (analysis.speedup), so
    each run that adds a W to a configuration adds a point.
    """
    sp = analysis.speedup(runs, x="workers", by=["app", "n_map", "n_reduce"])
    sp["configuration"] = [f"{a} M={m} R={r}" for a, m, r in zip(sp["app"], sp["n_map"], sp["n_reduce"])]
    fig, ax = plots.new_figure(6.4, 4.0, integer_x=False)
    sns.lineplot(sp, x="workers", y="speedup", hue="configuration", marker="o", ax=ax)
    top = max(sp["workers"].max(), 2)
    ax.plot([1, top], [1, top], linestyle="--", color="grey", label="ideal (from W=1)")
    cores = analysis.cores_of(runs)  # the CPUs the runs could use, as the report's speedup plot reads them
    if cores:
        ax.axhline(cores, linestyle=":", color="firebrick", label=f"CPU ceiling ({cores} cores)")
    ax.set(
        xlabel="workers W",
        ylabel="speedup (time at smallest W / time)",
        title=f"Speedup vs workers over {len(runs)} run{'s' if len(runs) != 1 else ''}",
        ylim=(0, max(cores or 0, sp["speedup"].max()) * 1.15),
    )
    ax.legend(fontsize=7)
    return fig


class InteractiveLab:
    """App dropdown, M/R/W sliders, a Run button, live progress, then timings, Gantt and speedup plots.

    `inputs`: files or directories; None makes (once) the built-in corpus under
    `results_dir`/corpus. Every run's summary accumulates in `runs` and its task
    attempts in `tasks` (the runs.csv / tasks.csv columns), and both are appended
    to `records` (`<results_dir>/interactive/`); `runs_table` shows `runs`' timing columns, live.
    """

    def __init__(self, inputs=None, results_dir="results", apps=APPS, n_map=8, n_reduce=4, workers=2):
        if inputs is None:
            inputs = corpus_dir(pathlib.Path(results_dir) / "corpus", **DEFAULT_CORPUS)
        self.inputs = [inputs] if isinstance(inputs, (str, os.PathLike)) else list(inputs)
        self.records = pathlib.Path(results_dir) / RECORDS
        self.runs = pd.DataFrame(columns=timing.RUN_COLUMNS)
        self.tasks = pd.DataFrame(columns=timing.TASK_COLUMNS)
        self.error = None
        self._thread = None

        style = {"description_width": "150px"}
        wide = w.Layout(width="520px")
        self.app = w.Dropdown(options=list(apps), value=apps[0], description="app", style=style)
        self.n_map = w.IntSlider(n_map, min=1, max=100, description="M (map tasks)", style=style, layout=wide)
        self.n_reduce = w.IntSlider(n_reduce, min=1, max=50, description="R (reduce tasks)", style=style, layout=wide)
        self.workers = w.IntSlider(workers, min=1, max=32, description="W (worker processes)", style=style, layout=wide)
        self.button = w.Button(
            description="Run job", button_style="primary", icon="play", tooltip="run the job with these settings"
        )
        self.progress = w.IntProgress(value=0, min=0, max=1, description="idle", style=style, layout=wide)
        self.status = w.Label("", layout=w.Layout(margin="0 0 0 155px"))  # under the bar, not beside it
        self.timings = w.Output()
        self.gantt = w.Output()
        self.speedup = w.Output()
        self.runs_table = w.Output()
        self._replace(self.runs_table, "no run yet: press Run job")
        self.button.on_click(lambda _: self.start())
        self.widget = w.VBox(
            [
                w.HBox([self.app, self.button]),
                self.n_map,
                self.n_reduce,
                self.workers,
                self.progress,
                self.status,
                w.HTML("<b>Timings of the last run</b> (seconds)"),
                self.timings,
                w.HTML("<b>Task timeline of the last run</b>"),
                self.gantt,
                w.HTML("<b>Speedup over every run so far</b>"),
                self.speedup,
            ]
        )

    def display(self):
        """Show the lab in the notebook."""
        display(self.widget)

    def _ipython_display_(self):
        self.display()

    # ---- a run ---------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self):
        """Start a run with the current settings in a background thread (what the button does)."""
        if self.running:
            return
        settings = dict(app=self.app.value, n_map=self.n_map.value, n_reduce=self.n_reduce.value, workers=self.workers.value)
        self.button.disabled = True
        self.progress.value, self.progress.max = 0, settings["n_map"] + settings["n_reduce"]
        self.progress.bar_style, self.progress.description = "info", "starting"
        self.status.value = (
            f"{settings['app']} with M={settings['n_map']} R={settings['n_reduce']} W={settings['workers']}: starting workers"
        )
        self._thread = threading.Thread(target=self._run, kwargs=settings, daemon=True, name="mrkit-lab-run")
        self._thread.start()

    def wait(self, timeout=None) -> bool:
        """Block until the current run (if any) is over; True if it is."""
        if self._thread is not None:
            self._thread.join(timeout)
        return not self.running

    def _on_status(self, status):
        # Called from the run's thread every 0.2 s with the master's /status.
        self.progress.max = status["map"]["total"] + status["reduce"]["total"]
        self.progress.value = status["map"]["done"] + status["reduce"]["done"]
        self.progress.description = status["phase"]
        self.status.value = status_text(status)

    def _run(self, app, n_map, n_reduce, workers):
        self.error = None
        try:
            self.records.mkdir(parents=True, exist_ok=True)
            # Named for its run once the run is over; a failed run's files go with it.
            workdir = pathlib.Path(tempfile.mkdtemp(prefix=".running-", dir=self.records))
            try:
                summary, records = run_job(
                    app, self.inputs, n_map=n_map, n_reduce=n_reduce, workers=workers, workdir=workdir, on_status=self._on_status
                )
            except BaseException:
                shutil.rmtree(workdir, ignore_errors=True)
                raise
            workdir.rename(self.records / summary["run_id"])
            self._record(summary, records, RunConfig(n_map, n_reduce, workers, app=app).config_id)
            self.progress.bar_style, self.progress.description = "success", "done"
            self.status.value = (
                f"done: {app} M={n_map} R={n_reduce} W={workers} in {summary['end_to_end_s']:.2f} s (run {summary['run_id']})"
            )
            self._show(summary["run_id"])
        except Exception as exc:  # shown in the lab rather than lost in a thread
            self.error = exc
            self.progress.bar_style, self.progress.description = "danger", "failed"
            self.status.value = f"the run failed: {type(exc).__name__}: {exc}"
        finally:
            self.button.disabled = False

    def _record(self, summary, records, config_id):
        results.record_run(self.records, RECORDS, config_id, 0, summary, records)
        run = pd.DataFrame([summary], columns=timing.RUN_COLUMNS)
        tasks = pd.DataFrame(records, columns=timing.TASK_COLUMNS)
        self.runs = run if self.runs.empty else pd.concat([self.runs, run], ignore_index=True)
        self.tasks = tasks if self.tasks.empty else pd.concat([self.tasks, tasks], ignore_index=True)

    def _show(self, run_id):
        last = self.runs[self.runs["run_id"] == run_id][TIMING_COLUMNS]
        table = last.T.rename(columns=lambda _: "value")
        self._replace(self.timings, table.style.format(lambda v: f"{v:.3f}" if isinstance(v, float) else v))
        self._replace(self.gantt, plots.figure_image(plots.timeline_plot(self.tasks, run_id), dpi=90))
        self._replace(self.speedup, plots.figure_image(speedup_figure(self.runs), dpi=90))
        self._replace(self.runs_table, self.runs[["run_id", *TIMING_COLUMNS]])

    @staticmethod
    def _replace(output, obj):
        """Set an Output's content from any thread (no `with output:`, no clear_output message)."""
        data, metadata = format_display_data(obj)
        output.outputs = ({"output_type": "display_data", "data": data, "metadata": metadata},)

"""Write sweep.ipynb and interactive.ipynb from the cells below (run: python notebooks/build.py).

The notebooks are generated so that they stay thin and reviewable: every
cell is a few lines calling mrkit, outputs are empty, and the first code cell
of each is tagged `parameters` for papermill. Cells tagged `notebook-only`
are left out of the exported HTML report, and also of a plain
`jupyter nbconvert --no-input` export: their markdown carries nbconvert's
`transient.remove_source`, and the notebook-only code shows no output.
"""

import pathlib

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = pathlib.Path(__file__).resolve().parent
# The notebooks are package data (mrkit/notebooks/, read with importlib.resources); notebooks/*.ipynb link there.
OUT = HERE.parent / "mrkit" / "notebooks"
KERNEL = {
    "kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"},
    "language_info": {"name": "python"},
}

SWEEP_INTRO = """\
# Sweep: run (or reload) a MapReduce sweep, then its tables, figures and report text

Run it from the repo root with papermill, e.g.
`papermill notebooks/sweep.ipynb out.ipynb -p app indexer -p quick True`, or
`-p sweep reduce_sweep`, or `-f params/map_sweep.yaml` (a sweep file runs as it is written).
`make report` runs it for the report's sweeps and exports `results/report.html`.
Everything below calls `mrkit.experiments.report`; the numbers come from `runs.csv` / `tasks.csv`."""

SWEEP_PARAMETERS = """\
# Parameters (papermill: -p NAME VALUE, or -f FILE.yaml)
app = None            # "wc", "indexer", ...; None: each sweep's own app
sweep = None          # params/ name (map_sweep, reduce_sweep, mappers, mappers_ecs, pairs_wc, pairs_indexer),
                      # a YAML path, or a list; None: the app's usual sweep (indexer: pairs_indexer, else map_sweep)
repeats = None        # recorded runs per configuration; None: as the sweep says
inputs = None         # a file, a directory or a list of them; None: the built-in generated corpus
workers = None        # fix W (a number or a list); None: W is max(M, R)
backend = None        # "local" or "ecs" (ECS Fargate: see the README's ECS section); None: as the sweep says
backend_options = None  # e.g. {"settings": "params/ecs.yaml"}, or {"stand_in": True} for local stand-in tasks
results_dir = "results"   # runs.csv and tasks.csv go to <results_dir>/<sweep>/<stamp>/
quick = False         # the sweep's quick variant: a tiny corpus and one repeat (seconds)
reload = None         # "latest" or a results directory (or a list, one per sweep): show stored results, run nothing
checks = True         # correctness against `mrkit sequential`, and the crash app's fault tolerance
plan = None           # [{"sweep": ..., "app": ..., other keys}, ...]: several sweeps, each with its own settings
progress = "terminal"  # a bar of runs on the terminal papermill runs in, not in the notebook; True: in it
title = "MapReduce scaling report"
# Sweep-file keys (as in params/*.yaml; -f params/X.yaml sets them): override the sweep's own
n_map = None
n_reduce = None
pairs = None
corpus = None         # e.g. {"files": 8, "size": "1MB"}
max_workers = None
task_timeout = None
description = None"""

SWEEP_RUN = """\
from mrkit.experiments.report import notebook_report as nr
from mrkit.experiments.report.checks import show_checks
from mrkit.experiments.report.display import show_appendix, show_header, show_sweep

nr.work_from_repo_root()  # relative paths mean the repo root, also when Jupyter starts the kernel in notebooks/
configs = nr.sweep_plan(app, sweep, plan=plan, quick=quick, repeats=repeats, inputs=inputs, workers=workers,
                        backend=backend, backend_options=backend_options, results_dir=results_dir,
                        n_map=n_map, n_reduce=n_reduce, pairs=pairs,
                        corpus=corpus, max_workers=max_workers, task_timeout=task_timeout, description=description)
results = nr.run_sweeps(configs, reload=reload, progress=progress)"""

# nbconvert's templates skip a markdown cell whose metadata says transient.remove_source.
NOTEBOOK_ONLY = {"tags": ["notebook-only"], "transient": {"remove_source": True}}

SWEEP_CELLS = [
    new_markdown_cell(SWEEP_INTRO, metadata=NOTEBOOK_ONLY),
    new_code_cell(SWEEP_PARAMETERS, metadata={"tags": ["parameters"]}),
    new_code_cell(SWEEP_RUN),
    new_code_cell("show_header(results, title, checks)"),
    new_code_cell("for result in results:\n    show_sweep(result, results)"),
    new_code_cell("if checks:\n    show_checks(results)"),
    new_code_cell("show_appendix(results)"),
    new_markdown_cell(
        "All runs and task attempts as two DataFrames, for your own analysis "
        "(`runs.tail()` in a cell of your own shows the last runs):",
        metadata=NOTEBOOK_ONLY,
    ),
    new_code_cell("runs, tasks = nr.frames(results)", metadata={"tags": ["notebook-only"]}),
]

INTERACTIVE_INTRO = """\
# Interactive lab: run one job at a time and watch it

Pick an app and M (map tasks), R (reduce tasks), W (worker processes), then press **Run job**.
The bar follows the master's `/status` while the job runs (in a background thread: the kernel stays free),
then come the run's timings, its task timeline (one row per worker) and a speedup plot that grows with each run."""

INTERACTIVE_PARAMETERS = """\
# Parameters
inputs = None   # files or a directory; None: the built-in corpus (8 files, 1 MiB each)
results_dir = "results"
"""

INTERACTIVE_RUN = """\
from mrkit.experiments.report.notebook_report import work_from_repo_root
from mrkit.experiments.report.widgets import InteractiveLab

work_from_repo_root()  # relative paths mean the repo root, also when Jupyter starts the kernel in notebooks/
lab = InteractiveLab(inputs=inputs, results_dir=results_dir)
lab.display()"""

INTERACTIVE_CELLS = [
    new_markdown_cell(INTERACTIVE_INTRO),
    new_code_cell(INTERACTIVE_PARAMETERS, metadata={"tags": ["parameters"]}),
    new_code_cell(INTERACTIVE_RUN),
    new_markdown_cell(
        "Every run so far, one row each (the columns of `runs.csv`), redrawn after each run. They are "
        "also appended to `results/interactive/runs.csv` and `tasks.csv`, each run's files in "
        "`results/interactive/<run id>/`; `lab.runs` and `lab.tasks` are the DataFrames:"
    ),
    new_code_cell("lab.runs_table"),
]


NOTEBOOKS = {"sweep.ipynb": SWEEP_CELLS, "interactive.ipynb": INTERACTIVE_CELLS}


def write(name, cells, directory=OUT):
    nb = new_notebook(cells=cells, metadata=KERNEL)
    for i, cell in enumerate(nb.cells):  # stable ids: rebuilding changes nothing that did not change
        cell.id = f"{pathlib.Path(name).stem}-{i}"
    nbformat.validate(nb)
    nbformat.write(nb, pathlib.Path(directory) / name)


def build(directory=OUT):
    """Write every notebook into `directory` (the test builds into a scratch one and compares)."""
    for name, cells in NOTEBOOKS.items():
        write(name, cells, directory)


if __name__ == "__main__":
    build()

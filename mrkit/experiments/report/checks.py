"""The report's checks: each app's output against `mrkit sequential`, and the crash app's fault tolerance.

Both run real jobs through the local runtime in a scratch directory and
return (or show) a Markdown section built by `report`.
"""

from __future__ import annotations

import pathlib
import tempfile

import pandas as pd

from mrkit.app import load_app
from mrkit.backends.local import default_workers, run_job
from mrkit.errors import JobFailed
from mrkit.experiments import analysis, formatting
from mrkit.experiments.meaning import sweep_meaning
from mrkit.experiments.report import check_sections
from mrkit.experiments.report.show import show_markdown
from mrkit.job import MAX_ATTEMPTS, N_REDUCE, resolve_inputs
from mrkit.sequential import run_sequential

# The crash app's run: one map task per file for the first 4 inputs (as in the lab: a map
# task with several pieces calls map, and may crash, once per piece), the lab's R = 10 (its
# four keys land in four reduce tasks), spare workers (stalled ones sleep, they use no core)
# and a 1 s task timeout, so a stall costs about a second instead of 10: 10-25 s on 2 cores.
# A stall of up to 10 s spans up to 10 such timeouts, so the attempt limit is raised to 30
# (15 timeouts): the lab's own 10 attempts assume its 10 s timeout.
CRASH_CHECK = {"files": 4, "n_reduce": N_REDUCE, "workers": 12, "task_timeout": 1.0, "max_attempts": 30}


def _largest_split(result):
    """The configuration with the most map tasks (most chunk borders): the hardest correctness case."""
    row = result.runs.sort_values(["n_map", "n_reduce"]).iloc[-1]
    return int(row["n_map"]), int(row["n_reduce"])


def correctness_check(app, inputs, n_map, n_reduce, workers, scratch) -> str:
    """Run `app` through the runtime and sequentially on the same inputs; the report's section."""
    scratch = pathlib.Path(scratch)
    job_dir, ref_dir = scratch / f"{app}-job", scratch / f"{app}-sequential"
    ref_dir.mkdir(parents=True)
    run_job(app, inputs, n_map=n_map, n_reduce=n_reduce, workers=workers, workdir=job_dir)
    run_sequential(load_app(app), resolve_inputs(inputs), ref_dir)
    text = check_sections.correctness_section(ref_dir, job_dir, reference="`mrkit sequential` on the same inputs")
    return text.replace("## Correctness", f"### {app} at M={n_map} R={n_reduce} against the sequential reference", 1)


def fault_tolerance_check(inputs, scratch, files, n_reduce, workers, task_timeout, max_attempts=MAX_ATTEMPTS) -> str:
    """The crash app on the first `files` inputs, checked against nocrash through the runtime.

    The reference is nocrash with the same M and R, not `mrkit sequential`: the
    output depends on M (key `c` lists the sizes each map call saw).
    """
    scratch, inputs = pathlib.Path(scratch), list(inputs)[:files]
    options = dict(n_reduce=n_reduce, workers=workers)  # n_map None: one map task per input file
    reference, _ = run_job("nocrash", inputs, workdir=scratch / "nocrash", **options)
    try:
        summary, records = run_job(
            "crash", inputs, workdir=scratch / "crash", task_timeout=task_timeout, max_attempts=max_attempts, **options
        )
    except JobFailed as exc:
        # On an overloaded machine a task can use up its attempts (deaths plus 1 s timeouts): a result to report,
        # not a reason to lose the whole report.
        return (
            f"## Fault tolerance\n\nThe crash app (it kills its worker in a third of map and reduce calls and "
            f"stalls up to 10 s in another third) ran on {len(inputs)} input files with R={n_reduce}, W={workers} "
            f"and a task timeout of {task_timeout:g} s, and this time the job failed: {exc}. A task that dies or "
            "times out on every one of its attempts fails the job by design, and a machine whose other programs "
            "leave the workers little CPU makes 1 s timeouts likely; the lab's 10 s timeout would not.\n"
        )
    check = analysis.correctness(check_sections.read_output(scratch / "nocrash"), check_sections.read_output(scratch / "crash"))
    text = check_sections.fault_tolerance_section(pd.DataFrame(records), exact=check)
    intro = (
        f"The crash app kills its worker in a third of map and reduce calls and stalls up to 10 s in "
        f"another third. It ran on {len(inputs)} input files with R={n_reduce}, W={workers}, a task "
        f"timeout of {task_timeout:g} s (the lab's 10 s would make the report long) and {max_attempts} attempts "
        f"a task (one stall can outlast several). It took "
        f"{formatting.num(summary['end_to_end_s'])} s against {formatting.num(reference['end_to_end_s'])} s for "
        f"the same job without faults (the nocrash app). "
    )
    return text.replace("## Fault tolerance\n\n", "## Fault tolerance\n\n" + intro, 1)


def show_checks(results, fault_tolerance=True, crash=CRASH_CHECK):
    """Correctness of each app's job against `mrkit sequential`, then the crash app's fault tolerance."""
    seen = {}
    results = [r for r in results if sweep_meaning(r.config.name).checked and isinstance(r.config.app, str)]
    if not results:
        return
    for r in results:
        app = str(r.config.app)
        if app not in seen:  # one check per app, on that app's first sweep's inputs
            seen[app] = r
    with tempfile.TemporaryDirectory(prefix="mrkit-checks-") as scratch:
        show_markdown("## Correctness")
        for app, r in seen.items():
            n_map, n_reduce = _largest_split(r)
            workers = default_workers(n_map, n_reduce)
            show_markdown(
                correctness_check(app, r.config.input_paths(), n_map, n_reduce, workers, pathlib.Path(scratch) / "correctness")
            )
        if fault_tolerance:
            show_markdown(fault_tolerance_check(results[0].config.input_paths(), pathlib.Path(scratch) / "faults", **crash))

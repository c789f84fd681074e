"""The ECS assignment's failure-recovery question, answered from a run: one worker task stopped mid-task.

`fault_run` runs one ECS job (on Fargate, or the local stand-in) twice at the
same M and W on the sweep's full corpus: once as it is (the baseline), then
again stopping one worker task through the ECS API (StopTask) while it runs a
map task, as a crashed or reclaimed Fargate task would end: the attempt it held
is lost and re-run elsewhere. W is smaller than M, so a worker that finishes a
task takes the next one while tasks wait: the stop is sent once every worker
holds a map task and at least as many wait, and lands on a task however long
the stop takes to arrive. (With M = W, a worker that finished its one task
holds nothing: the stop often came after the fastest had finished.) The
launcher's own words (it notices the stopped task and starts a replacement) and
both jobs' task records are kept in `<dir>/fault/` (runs.csv, tasks.csv,
fault.json), next to the sweep they belong to, so the report can say which
attempt was lost, when it ran again and what it cost (`fault_text`). Needs the
same environment as the sweep (endpoint, credentials).
"""

from __future__ import annotations

import json
import pathlib
import tempfile
import time

import pandas as pd

from mrkit.experiments.formatting import num
from mrkit.experiments.sweeps import results
from mrkit.experiments.sweeps.sweep_config import RunConfig, load_sweep

FAULT_DIR = "fault"
FAULT_WORKERS = 2  # fewer than the map tasks: see the module docstring
MIN_MAP_TASKS = 8  # tasks enough to wait while both workers hold one (a quick sweep's largest M is 2)
STATUS_EVERY_S = 0.2  # the master's status, published often: the stop follows a busy status closely
WORK_PHASES = ("map", "reduce")


def every_worker_busy(status, workers) -> bool:
    """True when the master's status shows `workers` registered, each holding a map task, and as many waiting."""
    if status.get("phase") != "map":
        return False
    seen, counts = status.get("workers", 0), status["map"]
    return seen == workers and counts.get("in_progress", 0) >= seen and counts.get("idle", 0) >= seen


def fault_run(cfg, out_dir, n_map=None, workers=FAULT_WORKERS) -> pathlib.Path:
    """Run `cfg`'s app at M = `n_map` (default: its largest M, at least MIN_MAP_TASKS) and W = `workers` on its
    ECS settings twice: a baseline, then a run that stops one worker task while it runs a map task."""
    from mrkit.backends.ecs import ROLE_TAG_KEY
    from mrkit.backends.ecs.aws import Aws
    from mrkit.backends.ecs.config import load_config
    from mrkit.backends.ecs.run import run_on_ecs

    options = dict(cfg.backend_options or {})
    config = load_config(options.get("settings"))
    aws = Aws(config.region, endpoint_url=options.get("endpoint_url"))
    n_map = n_map or max(MIN_MAP_TASKS, *(rc.n_map for rc in cfg.configurations()))
    out = pathlib.Path(out_dir) / FAULT_DIR
    out.mkdir(parents=True, exist_ok=True)
    for old in ("fault.json", "runs.csv", "tasks.csv"):  # an earlier fault run's: never mixed with this one's
        (out / old).unlink(missing_ok=True)

    # The sweep's full corpus even for a quick report: on a tiny input the job ends before a worker can be stopped.
    inputs = load_sweep(cfg.name, results_dir=cfg.results_dir).input_paths()
    stand_in = options.get("stand_in")
    config_id = RunConfig(n_map, 1, workers).config_id
    state = {"stopped": None, "stopped_at": None, "holding": None, "began": None}

    def stop_a_busy_worker(status):
        """Stop a worker task once every worker holds a map task and as many tasks wait.

        One stopped then holds a task: the one it ran, or, had it finished that one before the
        stop arrived, the next one it took.
        """
        if state["stopped"] is not None or not every_worker_busy(status, workers):
            return
        running = aws.list_tasks(config.cluster)
        busy = [
            t
            for t in (aws.describe_tasks(config.cluster, running) if running else [])
            if {"key": ROLE_TAG_KEY, "value": "worker"} in t.get("tags", []) and t["lastStatus"] == "RUNNING"
        ]
        if len(busy) != workers:
            return
        state["stopped"] = busy[0]["taskArn"]
        state["holding"] = {"map_in_progress": status["map"]["in_progress"], "map_idle": status["map"]["idle"]}
        aws.stop_task(config.cluster, state["stopped"], "mrkit report: fault injected (a worker task stopped mid-task)")
        state["stopped_at"] = time.monotonic() - state["began"]

    def job(name, on_status, said):
        """One job at (n_map, 1, workers), recorded under `name`; its run id, or the error that ended it."""
        state["began"] = time.monotonic()
        try:
            with tempfile.TemporaryDirectory(prefix="mrkit-fault-") as workdir:
                run = run_on_ecs(
                    config,
                    aws,
                    cfg.app,
                    inputs,
                    stand_in=workdir if stand_in is True else stand_in,
                    containers=options.get("containers", False),
                    say=said.append,
                    on_usage=said.append,
                    poll_s=0.2,
                    status_every_s=STATUS_EVERY_S,
                    n_map=n_map,
                    n_reduce=1,
                    workers=workers,
                    task_timeout=cfg.task_timeout,
                    repeat=0,
                    on_status=on_status,
                )
        except Exception as exc:  # the report says what happened instead
            return None, f"{type(exc).__name__}: {exc}"
        results.record_run(out, name, config_id, 0, run.summary, run.records)
        return run.summary["run_id"], None

    # The launcher's start timeout and the master's task timeout bound each job: it ends, with or without the stop.
    baseline_id, baseline_error = job(f"{cfg.name}-baseline", None, [])
    said = []
    run_id, error = job(f"{cfg.name}-fault", stop_a_busy_worker, said)
    fault = {
        "n_map": n_map,
        "workers": workers,
        "input_bytes": sum(pathlib.Path(p).stat().st_size for p in inputs),
        "tasks_ran_as": (options.get("containers") or "processes") if stand_in else "Fargate tasks",
        "run_id": run_id,
        "baseline_run_id": baseline_id,
        "baseline_error": baseline_error,
        "stopped_task": state["stopped"],
        "stopped_after_s": state["stopped_at"],
        "task_timeout": cfg.task_timeout,
        "status_when_stopped": state["holding"],
        "launcher_said": said,
        "error": error,
    }
    results.replace_text(out / "fault.json", json.dumps(fault, indent=2) + "\n")  # last: it marks the run whole
    return out


def load_fault(sweep_dir):
    """(fault.json dict, runs, tasks) of a sweep directory's fault run, or None when it has none."""
    path = pathlib.Path(sweep_dir) / FAULT_DIR
    if not (path / "fault.json").is_file():
        return None
    fault = json.loads((path / "fault.json").read_text(encoding="utf-8"))
    runs = pd.read_csv(path / "runs.csv") if (path / "runs.csv").is_file() else pd.DataFrame()
    tasks = pd.read_csv(path / "tasks.csv") if (path / "tasks.csv").is_file() else pd.DataFrame()
    return fault, runs, tasks


def _fault_rows(fault, frame):
    """The rows of `frame` (runs or tasks) of the fault-injected job: its run id's, or all (older fault runs)."""
    run_id = fault.get("run_id")
    return frame[frame["run_id"] == run_id] if run_id is not None and len(frame) else frame


def _work(tasks):
    return tasks[tasks["phase"].isin(WORK_PHASES)] if len(tasks) else tasks


def fault_job(fault, runs, tasks):
    """(the fault-injected job's runs.csv rows, its map and reduce attempts)."""
    return _fault_rows(fault, runs), _work(_fault_rows(fault, tasks))


def lost_attempts(fault, tasks):
    """The fault-injected job's map and reduce attempts that did not end ok: what the stop cost."""
    work = _work(_fault_rows(fault, tasks))
    return work[work["status"] != "ok"] if len(work) else work


def _baseline(fault, runs, sweep_runs):
    """(end-to-end seconds of the same job without a fault, where it comes from), or None."""
    if fault.get("baseline_run_id") is not None and len(runs):
        same = runs[runs["run_id"] == fault["baseline_run_id"]]
        return (float(same["end_to_end_s"].mean()), "the same job without a fault") if len(same) else None
    m, size = fault["n_map"], fault.get("input_bytes")
    same = sweep_runs[(sweep_runs["n_map"] == m) & (sweep_runs["workers"] == fault.get("workers", m))] if len(sweep_runs) else []
    if size is not None and len(same):
        same = same[same["input_bytes"] == size]
    return (float(same["end_to_end_s"].mean()), "the sweep's runs of this configuration") if len(same) else None


def _attempt_text(attempt, work):
    """ "map task 3's attempt 1 ended with its worker after 0.8 s of work; attempt 2 started 0.01 s later ..."."""
    died = attempt["status"] == "failed" and pd.isna(attempt.get("cpu_s"))
    how = {"timed_out": "timed out", "superseded": "was superseded"}.get(
        attempt["status"], "ended with its worker" if died else "failed"
    )
    rerun = work[
        (work["phase"] == attempt["phase"]) & (work["task"] == attempt["task"]) & (work["attempt"] > attempt["attempt"])
    ].sort_values("start")
    text = (
        f"{attempt['phase']} task {int(attempt['task'])}'s attempt {int(attempt['attempt'])} {how} after "
        f"{num(attempt['duration_s'])} s of work"
    )
    if not len(rerun):
        return text + "; it was not run again"
    again = rerun.iloc[0]
    where = "another worker" if again["worker"] != attempt["worker"] else "the same worker"
    ended = "finished" if (rerun["status"] == "ok").any() else "did not finish"
    return text + (
        f"; attempt {int(again['attempt'])} started {num(again['start'] - attempt['end'])} s later on {where} "
        f"and {ended} in {num(again['duration_s'])} s"
    )


def fault_text(fault, runs, tasks, sweep_runs, stand_in=False) -> str:
    """What happened when a worker task was stopped: the attempt it lost, when that task ran again and what
    the recovery cost against the same job without a fault. "measured" only when an attempt was lost.

    `stand_in`: the run used the local ECS stand-in, and the text says so instead of "Fargate".
    """
    m = fault["n_map"]
    setting = f"M = {m}, W = {fault['workers']}" if "workers" in fault else f"M = W = {m}"
    if fault.get("stopped_task") is None:
        return (
            f"**Failure recovery (not measured):** the fault-injected run at {setting} never showed every worker "
            "holding a task, so no worker was stopped and no recovery happened."
        )
    said = fault["launcher_said"]
    size = f"{num(fault.get('input_bytes', 0) / 2**20)} MiB"
    where = "the stand-in's ECS API" if stand_in else "the ECS API"
    job_runs, work = fault_job(fault, runs, tasks)
    lost = lost_attempts(fault, tasks)
    held = fault.get("status_when_stopped") or {}
    waiting = f" and {held['map_idle']} waited" if "map_idle" in held else ""
    text = (
        f"**Failure recovery ({'measured' if len(lost) else 'not measured'}):** in a run at {setting} on {size}, "
        f"one worker task was stopped through {where} (as a crashed or reclaimed Fargate task ends) "
        f"{num(fault['stopped_after_s'])} s after the launch"
        + (f", while every worker held a map task{waiting}. " if held else ". ")
    )
    if any("replacement" in line for line in said):
        text += "The launcher noticed the stopped task and started a replacement worker. "
    if fault.get("error") or job_runs.empty:
        return text + f"The job did not finish: {fault.get('error') or 'no run was recorded'}."
    t = float(job_runs["end_to_end_s"].iloc[0])
    base = _baseline(fault, runs, sweep_runs)
    more = t - base[0] if base else 0.0
    cost = f", {num(abs(more))} s {'more' if more >= 0 else 'less'} than {base[1]} ({num(base[0])} s)" if base else ""
    if not len(lost):
        return text + (
            f"The job finished in {num(t)} s{cost}, but no attempt was lost: the stopped worker held "
            "no unfinished task by then, so this run shows no recovery."
        )
    parts = [_attempt_text(attempt, work) for _, attempt in lost.sort_values("start").iterrows()]
    return text + f"The attempt lost: {'; '.join(parts)}. The job still finished, in {num(t)} s end to end{cost}."

"""The ECS assignment's failure-recovery question, answered from a run: one worker task stopped mid-job.

`fault_run` runs one ECS job (on Fargate, or the local stand-in) and, as soon
as the master's published status shows every worker holding a map task, stops
one worker task through the ECS API (StopTask), as a crashed or reclaimed
Fargate task would end: the attempt it held is lost and re-run elsewhere. The launcher's own words (it notices the
stopped task and starts a replacement) and the job's task records are kept
in `<dir>/fault/` (runs.csv, tasks.csv, fault.json), next to the sweep they
belong to, so the report can say what the launcher did and what it cost
(`fault_text`). Needs the same environment as the sweep (endpoint, credentials).
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


def fault_run(cfg, out_dir, n_map=None) -> pathlib.Path:
    """Run `cfg`'s app at M = W = `n_map` (default: its largest M) on its ECS settings, stopping one worker."""
    from mrkit.backends.ecs import ROLE_TAG_KEY
    from mrkit.backends.ecs.aws import Aws
    from mrkit.backends.ecs.config import load_config
    from mrkit.backends.ecs.run import run_on_ecs

    options = dict(cfg.backend_options or {})
    config = load_config(options.get("settings"))
    aws = Aws(config.region, endpoint_url=options.get("endpoint_url"))
    n_map = n_map or max(rc.n_map for rc in cfg.configurations())
    said, outcome = [], {}
    out = pathlib.Path(out_dir) / FAULT_DIR
    out.mkdir(parents=True, exist_ok=True)

    # The sweep's full corpus even for a quick report: on a tiny input the job ends before a worker can be stopped.
    inputs = load_sweep(cfg.name, results_dir=cfg.results_dir).input_paths()
    stand_in = options.get("stand_in")

    state = {"stopped": None, "stopped_at": None, "holding": None}
    began = time.monotonic()

    def stop_a_busy_worker(status):
        """Stop a worker task once the master's status shows every registered worker holding a map task.

        With M = W each worker takes one map task when it registers, so while the map phase has as
        many tasks in progress as workers registered, and ECS runs exactly that many worker tasks,
        the one stopped holds a task: its attempt is lost and must be re-run elsewhere.
        """
        if state["stopped"] is not None or status.get("phase") != "map":
            return
        busy, seen = status["map"].get("in_progress", 0), status.get("workers", 0)
        if seen < n_map or busy < seen:
            return
        running = aws.list_tasks(config.cluster)
        workers = [
            t
            for t in (aws.describe_tasks(config.cluster, running) if running else [])
            if {"key": ROLE_TAG_KEY, "value": "worker"} in t.get("tags", []) and t["lastStatus"] == "RUNNING"
        ]
        if len(workers) != seen:
            return
        state["stopped"] = workers[0]["taskArn"]
        state["holding"] = {"map_in_progress": busy, "workers": seen}
        aws.stop_task(config.cluster, state["stopped"], "mrkit report: fault injected (a worker task stopped mid-job)")
        state["stopped_at"] = time.monotonic() - began

    def job(workdir):
        try:
            run = run_on_ecs(
                config,
                aws,
                cfg.app,
                inputs,
                stand_in=workdir if stand_in is True else stand_in,
                containers=options.get("containers", False),
                say=said.append,
                on_usage=said.append,
                poll_s=0.5,
                n_map=n_map,
                n_reduce=1,
                workers=n_map,
                task_timeout=cfg.task_timeout,
                repeat=0,
                on_status=stop_a_busy_worker,
            )
            outcome["result"] = (run.summary, run.records)
        except Exception as exc:  # the report says what happened instead
            outcome["error"] = f"{type(exc).__name__}: {exc}"

    # The launcher's start timeout and the master's task timeout bound the job: it ends, with or without the stop.
    with tempfile.TemporaryDirectory(prefix="mrkit-fault-") as workdir:
        job(workdir)
    stopped, stopped_at = state["stopped"], state["stopped_at"]
    fault = {
        "n_map": n_map,
        "input_bytes": sum(pathlib.Path(p).stat().st_size for p in inputs),
        "stopped_task": stopped,
        "stopped_after_s": stopped_at,
        "task_timeout": cfg.task_timeout,
        "status_when_stopped": state["holding"],
        "launcher_said": said,
        "error": outcome.get("error"),
    }
    if "result" in outcome:
        summary, records = outcome["result"]
        results.record_run(out, f"{cfg.name}-fault", RunConfig(n_map, 1, n_map).config_id, 0, summary, records)
    results.replace_text(out / "fault.json", json.dumps(fault, indent=2) + "\n")
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


def fault_text(fault, runs, tasks, sweep_runs, stand_in=False) -> str:
    """What happened when a worker task was stopped: the attempt it lost, when that task ran again and what
    the recovery cost, against the same M without a fault. "measured" only when an attempt was lost.

    `stand_in`: the run used the local ECS stand-in, and the text says so instead of "Fargate".
    """
    m = fault["n_map"]
    if fault.get("stopped_task") is None:
        return (
            f"**Failure recovery (not measured):** the fault-injected run at M = W = {m} never showed every worker "
            "holding a task, so no worker was stopped and no recovery happened."
        )
    said = [line for line in fault["launcher_said"] if "stopped" in line or "replacement" in line]
    size = f"{num(fault.get('input_bytes', 0) / 2**20)} MiB"
    where = (
        "the local ECS stand-in's ECS API, as a crashed or reclaimed Fargate task would end"
        if stand_in
        else "the ECS API, as a crashed or reclaimed Fargate task ends"
    )
    work = tasks[tasks["phase"].isin(["map", "reduce"])] if len(tasks) else tasks
    lost = work[work["status"] != "ok"] if len(work) else work
    label = "measured" if len(lost) else "not measured"
    text = (
        f"**Failure recovery ({label}):** in a run at M = W = {m} on {size}, one worker task was stopped through "
        f"{where}, {num(fault['stopped_after_s'])} s after the launch"
        + (", while every worker held a map task. " if fault.get("status_when_stopped") else ". ")
    )
    if said:
        text += "The launcher said: " + "; ".join(f"“{line}”" for line in said[:4]) + ". "
    if fault.get("error") or runs.empty:
        return text + f"The job did not finish: {fault.get('error') or 'no run was recorded'}."
    t = float(runs["end_to_end_s"].iloc[0])
    same = sweep_runs[(sweep_runs["n_map"] == m) & (sweep_runs["input_bytes"] == runs["input_bytes"].iloc[0])]
    baseline = f", against {num(same['end_to_end_s'].mean())} s without a fault" if len(same) else ""
    if not len(lost):
        return text + (
            f"The job finished in {num(t)} s{baseline}, but no attempt was lost: the stopped worker held "
            "no unfinished task by then, so this run shows no recovery."
        )
    parts = []
    for _, attempt in lost.sort_values("start").iterrows():
        died = attempt["status"] == "failed" and pd.isna(attempt.get("cpu_s"))
        how = {"timed_out": "timed out", "superseded": "was superseded"}.get(
            attempt["status"], "ended with its worker" if died else "failed"
        )
        rerun = work[
            (work["phase"] == attempt["phase"]) & (work["task"] == attempt["task"]) & (work["attempt"] > attempt["attempt"])
        ].sort_values("start")
        when = (
            f"; attempt {int(rerun['attempt'].iloc[0])} started {num(rerun['start'].iloc[0] - attempt['end'])} s "
            f"later on another worker and {'finished' if (rerun['status'] == 'ok').any() else 'did not finish'}"
            if len(rerun)
            else "; it was not run again"
        )
        parts.append(
            f"{attempt['phase']} task {int(attempt['task'])}'s attempt {int(attempt['attempt'])} {how} after "
            f"{num(attempt['duration_s'])} s of work{when}"
        )
    return text + (
        "The attempt lost: " + "; ".join(parts) + f". The job still finished: {num(t)} s end to end "
        f"(from the master's start){baseline}."
    )

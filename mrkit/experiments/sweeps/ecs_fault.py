"""The ECS assignment's failure-recovery question, answered from a run: one worker task stopped mid-job.

`fault_run` runs one ECS job (on Fargate, or the local stand-in) in a thread
and, as soon as one of its worker tasks is RUNNING and the master has handed
out work, stops that task through the ECS API (StopTask), as a crashed or
reclaimed Fargate task would end. The launcher's own words (it notices the
stopped task and starts a replacement) and the job's task records are kept
in `<dir>/fault/` (runs.csv, tasks.csv, fault.json), next to the sweep they
belong to, so the report can say what the launcher did and what it cost
(`fault_text`). Needs the same environment as the sweep (endpoint, credentials).
"""

from __future__ import annotations

import json
import pathlib
import tempfile
import threading
import time

import pandas as pd

from mrkit.experiments.formatting import num, plural
from mrkit.experiments.sweeps import results
from mrkit.experiments.sweeps.sweep_config import RunConfig, load_sweep

FAULT_DIR = "fault"


def fault_run(cfg, out_dir, n_map=None, wait_s=120.0) -> pathlib.Path:
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

    def job(workdir):
        try:
            run = run_on_ecs(config, aws, cfg.app, inputs, stand_in=workdir if stand_in is True else stand_in,
                             containers=options.get("containers", False), say=said.append, on_usage=said.append,
                             n_map=n_map, n_reduce=1, workers=n_map,
                             task_timeout=cfg.task_timeout, repeat=0)
            outcome["result"] = (run.summary, run.records)
        except Exception as exc:  # noqa: BLE001 - the report says what happened instead
            outcome["error"] = f"{type(exc).__name__}: {exc}"

    with tempfile.TemporaryDirectory(prefix="mrkit-fault-") as workdir:
        thread = threading.Thread(target=job, args=(workdir,), daemon=True)
        began = time.monotonic()
        thread.start()
        stopped = stopped_at = seen_at = None
        while thread.is_alive() and stopped is None and time.monotonic() - began < wait_s:
            running = aws.list_tasks(config.cluster)
            workers = [t for t in (aws.describe_tasks(config.cluster, running) if running else [])
                       if {"key": ROLE_TAG_KEY, "value": "worker"} in t.get("tags", []) and t["lastStatus"] == "RUNNING"]
            seen_at = seen_at or (time.monotonic() if workers else None)
            # A moment after a worker runs it has registered and holds a map task: stop it then, mid-job.
            if workers and time.monotonic() - seen_at >= 0.5:
                stopped = workers[0]["taskArn"]
                aws.stop_task(config.cluster, stopped, "mrkit report: fault injected (a worker task stopped mid-job)")
                stopped_at = time.monotonic() - began
                break
            time.sleep(0.2)
        thread.join()
    fault = {"n_map": n_map, "input_bytes": sum(pathlib.Path(p).stat().st_size for p in inputs),
             "stopped_task": stopped, "stopped_after_s": stopped_at, "task_timeout": cfg.task_timeout,
             "launcher_said": said, "error": outcome.get("error")}
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


def fault_text(fault, runs, tasks, sweep_runs) -> str:
    """What the launcher did when a worker task was stopped, and what it cost against the same M without a fault."""
    m = fault["n_map"]
    if fault.get("stopped_task") is None:
        return (f"**Failure recovery:** the fault-injected run at M = W = {m} finished before any worker task could "
                "be stopped, so it shows no recovery.")
    said = [line for line in fault["launcher_said"] if "stopped" in line or "replacement" in line]
    size = f"{num(fault.get('input_bytes', 0) / 2**20)} MiB"
    text = (f"**Failure recovery (measured):** in a run at M = W = {m} on {size}, one worker task was stopped through "
            f"the ECS API {num(fault['stopped_after_s'])} s after the launch, as a crashed or reclaimed Fargate task ends. ")
    if said:
        text += "The launcher said: " + "; ".join(f"“{line}”" for line in said[:4]) + ". "
    else:
        text += "The launcher logged nothing about it (the task had no more work by then). "
    if fault.get("error") or runs.empty:
        return text + f"The job did not finish: {fault.get('error') or 'no run was recorded'}."
    work = tasks[tasks["phase"].isin(["map", "reduce"])]
    lost = work[work["status"] != "ok"]
    again = int((work.groupby(["phase", "task"]).size() > 1).sum())
    t = float(runs["end_to_end_s"].iloc[0])
    text += f"The job still finished: {num(t)} s end to end (from the master's start)"
    same = sweep_runs[(sweep_runs["n_map"] == m) & (sweep_runs["input_bytes"] == runs["input_bytes"].iloc[0])]
    if len(same):
        text += f", against {num(same['end_to_end_s'].mean())} s without a fault"
    if not len(lost):
        return text + "; no attempt was lost, so the stopped worker held no unfinished task."
    kinds = lost["status"].value_counts()
    how = (f"once the master's task timeout ({num(float(fault.get('task_timeout', 10)))} s) passed"
           if kinds.get("timed_out", 0) else "as soon as the master saw the stopped worker's attempt fail")
    return text + (f"; {plural(len(lost), 'attempt')} did not count ("
                   + ", ".join(f"{n} {s.replace('_', ' ')}" for s, n in kinds.items())
                   + f") and {plural(again, 'task')} ran again on another worker, {how}.")

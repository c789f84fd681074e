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
import threading
import time

from mrkit.experiments import results
from mrkit.experiments.report import num, plural

FAULT_DIR = "fault"


def fault_run(cfg, out_dir, n_map=None, wait_s=120.0) -> pathlib.Path:
    """Run `cfg`'s app at M = W = `n_map` (default: its largest M) on its ECS settings, stopping one worker."""
    import tempfile

    from mrkit.backends.ecs.aws import Aws
    from mrkit.backends.ecs.config import load_config
    from mrkit.backends.ecs.run import run_job

    options = dict(cfg.backend_options or {})
    config = load_config(options.get("settings"))
    aws = Aws(config.region, endpoint_url=options.get("endpoint_url"))
    n_map = n_map or max(rc.n_map for rc in cfg.configurations())
    said, outcome = [], {}
    out = pathlib.Path(out_dir) / FAULT_DIR
    out.mkdir(parents=True, exist_ok=True)

    def job(workdir):
        try:
            outcome["result"] = run_job(cfg.app, cfg.input_paths(), n_map=n_map, n_reduce=1, workers=n_map,
                                        workdir=workdir, task_timeout=cfg.task_timeout, say=said.append,
                                        **{k: v for k, v in options.items() if k != "settings"},
                                        settings=options.get("settings"))
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
                       if {"key": "mrkit:role", "value": "worker"} in t.get("tags", []) and t["lastStatus"] == "RUNNING"]
            seen_at = seen_at or (time.monotonic() if workers else None)
            # A moment after a worker runs it has registered and holds a map task: stop it then, mid-job.
            if workers and time.monotonic() - seen_at >= 1.0:
                stopped = workers[0]["taskArn"]
                aws.stop_task(config.cluster, stopped, "mrkit report: fault injected (a worker task stopped mid-job)")
                stopped_at = time.monotonic() - began
                break
            time.sleep(0.2)
        thread.join()
    fault = {"n_map": n_map, "stopped_task": stopped, "stopped_after_s": stopped_at, "task_timeout": cfg.task_timeout,
             "launcher_said": said, "error": outcome.get("error")}
    if "result" in outcome:
        summary, records = outcome["result"]
        extra = {"sweep": f"{cfg.name}-fault", "config_id": f"m{n_map}-r1-w{n_map}"}
        results.append_rows(out / "tasks.csv", results.TASK_FILE_COLUMNS, [{**t, **extra, "repeat": 0} for t in records])
        results.append_rows(out / "runs.csv", results.RUN_FILE_COLUMNS, [{**summary, **extra}])
    results.replace_text(out / "fault.json", json.dumps(fault, indent=2) + "\n")
    return out


def load_fault(sweep_dir):
    """(fault.json dict, runs, tasks) of a sweep directory's fault run, or None when it has none."""
    import pandas as pd

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
        return (f"The fault-injected run at M = W = {m} finished before any worker task could be stopped, "
                "so it shows no recovery; a larger input would.")
    lines = [line for line in fault["launcher_said"] if "stopped" in line or "replacement" in line]
    did = "; ".join(lines[:3]) if lines else "it logged nothing about the stopped task"
    text = (f"**Failure recovery (measured):** one worker task of a run at M = W = {m} was stopped through the ECS "
            f"API {num(fault['stopped_after_s'])} s after the launch, as a crashed or reclaimed Fargate task ends. "
            f"The launcher noticed it and said: “{did}”.")
    if fault.get("error") or runs.empty:
        return text + f" The job did not finish: {fault.get('error') or 'no run was recorded'}."
    work = tasks[tasks["phase"].isin(["map", "reduce"])]
    lost = work[work["status"] != "ok"]
    same = sweep_runs[sweep_runs["n_map"] == m]["end_to_end_s"]
    t = float(runs["end_to_end_s"].iloc[0])
    cost = (f" It finished in {num(t)} s against {num(same.mean())} s without a fault at the same M "
            f"({num(t - same.mean())} s more)" if len(same) else f" It finished in {num(t)} s")
    return text + (f"{cost}; {plural(len(lost), 'attempt')} did not count "
                   f"({', '.join(f'{plural(n, s)}' for s, n in lost['status'].value_counts().items()) or 'none'}), "
                   f"and the master re-executed what the stopped worker held once its task timeout "
                   f"({num(float(fault.get('task_timeout', 10)))} s) passed.")

"""Run one job on ECS Fargate: `mrkit ecs run`, and the sweeps' "ecs" backend.

`Launcher(config, aws).run(app, inputs, ...)` (and `run_job`, the sweeps'
backend) does what a user would otherwise do by hand:

1. stage the inputs in the job bucket (uploaded once; unchanged files are
   skipped) and write, under `jobs/<run id>/`, the inputs manifest and a fresh
   token. The token never goes into run_task overrides, where anyone allowed
   to describe tasks would read it; the tasks read it from the bucket with
   their task role;
2. start the master as one Fargate task, wait until it runs, read its private
   IP from the task's ENI attachment, then wait for its first status object
   in S3 (it is listening);
3. start W worker tasks pointed at `http://<master ip>:<port>`, in RunTask
   batches of at most 10 with a client token, failures checked;
4. follow progress through `mr-status.json`, which the master writes to S3:
   nothing connects back to the user's machine. A worker task that stops
   while the job runs is replaced (the master re-runs its task after the
   task timeout), up to 2W + 2 times: one stop more fails the job;
5. collect `mr-run.json` (run summary and task records) when the master is
   done and, on every way out (done, failed, Ctrl-C, an error), stop every
   task it started. When something failed it prints the task's stop reason
   and the tail of its CloudWatch log;
6. total the Fargate vCPU-seconds and GB-seconds the tasks were billed.

Starting tasks is the one step that differs between real Fargate and the
local stand-in: it goes through a `tasks` object (`fargate.Fargate` by
default, `standin.LocalFargate` for tests and users without an account),
which the caller chooses (`run.run_on_ecs`).
"""

import json
import math
import os
import re
import secrets
import signal
import threading
import time
from dataclasses import dataclass, field

from mrkit import timing
from mrkit.app import load_app
from mrkit.backends.ecs import ROLE_TAG_KEY, EcsError, TaskLaunchError
from mrkit.backends.ecs.aws import Aws
from mrkit.backends.ecs.bootstrap import describe
from mrkit.backends.ecs.config import CONTAINER
from mrkit.backends.ecs.documents import LOG_PREFIX
from mrkit.backends.ecs.fargate import Fargate
from mrkit.backends.ecs.usage import BILLED_MINIMUM_S, TaskUse, Usage, add_lifecycle
from mrkit.backends.staging import MANIFEST, stage_inputs, write_manifest
from mrkit.errors import JobFailed
from mrkit.job import MAX_ATTEMPTS, N_REDUCE, TASK_TIMEOUT_S, Input, JobSpec, check_at_least_one, default_workers
from mrkit.runtime.discovery import RUN_FILE, STATUS_FILE
from mrkit.runtime.protocol import ProtocolError, Status

BACKEND = "ecs"
TOKEN_FILE = "mr-token"
MAX_DEFAULT_WORKERS = 10  # the default W = max(M, R) is capped: every worker is a billed task
LOG_LINES = 20
REPORTED_WORKERS = 3  # failed workers whose log tails a failure shows (the last ones)
_EXIT_CODE = re.compile(r"\(exit code (-?\d+)\)")


@dataclass
class EcsRun:
    """What a job on ECS leaves: its runs.csv row, its task records, where its files are, and its cost."""

    summary: dict
    records: list
    storage_url: str
    usage: Usage
    launcher_s: float  # the launcher's own wall time: task start-up included
    tasks: list = field(default_factory=list)


def replacement_budget(workers):
    """How many stopped worker tasks a job replaces before it gives up: a crash loop must not bill forever."""
    return 2 * workers + 2


def _app_spec(app):
    """The app as the tasks will load it: a name or dotted module in the image, never a local file."""
    if not isinstance(app, str) or app.endswith(".py") or os.sep in app:
        raise EcsError(
            f"app {app!r} cannot run on ECS: tasks load apps from the image, so give a built-in name "
            "(wc, indexer, ...) or a dotted module installed in the image"
        )
    return app


class Launcher:
    """One job's tasks on ECS, from start to cleanup; see the module docstring."""

    def __init__(self, config, aws, tasks=None, say=None, poll_s=2.0, start_timeout_s=600.0, status_every_s=1.0):
        self.config, self.aws = config, aws
        self.tasks = tasks or Fargate(aws)
        self.say = say or (lambda line: None)
        self.poll_s, self.start_timeout_s, self.status_every_s = poll_s, start_timeout_s, status_every_s
        self._stop = threading.Event()  # set by interrupt(): wakes every wait
        self.started = {}  # arn -> TaskUse, in launch order
        self.stack = None
        self.usage = None  # set on the way out, failed or not: what the tasks cost
        self._last_line = None

    # ---- the job ---------------------------------------------------------------

    def run(
        self,
        app,
        inputs,
        *,
        n_map=None,
        n_reduce=N_REDUCE,
        workers=None,
        task_timeout=TASK_TIMEOUT_S,
        app_options=None,
        repeat=0,
        on_status=None,
        max_attempts=MAX_ATTEMPTS,
        backup_tasks=None,
    ):
        launched_at = timing.now()
        app_name = _app_spec(app)
        loaded = load_app(app_name, app_options)  # a bad name or option fails here, before anything is billed
        if workers is not None:
            check_at_least_one("--workers", workers)
        self.stack = describe(self.config, self.aws)
        run_id = timing.new_run_id()
        storage, spec = self._stage(run_id, inputs, n_map, n_reduce, task_timeout, max_attempts)
        self.backup_tasks = backup_tasks
        workers = default_workers(spec.map_count, n_reduce, cap=MAX_DEFAULT_WORKERS) if workers is None else workers
        self.run_id, self.storage = run_id, storage
        failed, job_failed = True, False
        try:
            master = self._start_master(spec, storage)
            ip = self._wait_running(master)
            self._wait_status(master)
            url = f"http://{ip}:{self.stack.master_port}"
            options = [a for k, v in (app_options or {}).items() for a in ("--app-opt", f"{k}={v}")]
            self._worker_command = ["worker", app_name, "--master", url, "--token-file", storage.path(TOKEN_FILE), *options]
            self._start_workers(workers, "w")
            self.say(f"started {workers} worker task(s) for master {url}")
            record = self._follow(master, workers, on_status)
            failed = False
        except JobFailed:
            job_failed = True
            raise
        finally:
            self._cleanup(failed)
            if job_failed:  # after the cleanup: stopped tasks have their reasons and logs in place
                self._report_failures()
        add_lifecycle(record["tasks"], self.started.values())
        summary = {**record["run"], "app": loaded.name, "backend": BACKEND, "workers": workers, "repeat": repeat}
        return EcsRun(summary, record["tasks"], storage.url, self.usage, timing.now() - launched_at, list(self.started.values()))

    def interrupt(self):
        """Stop waiting (another thread's Ctrl-C): the run raises KeyboardInterrupt and cleans up."""
        self._stop.set()

    def _wait(self, seconds):
        if self._stop.wait(seconds):
            raise KeyboardInterrupt

    def _stage(self, run_id, inputs, n_map, n_reduce, task_timeout, max_attempts):
        from mrkit.storage.s3 import S3Storage

        root = S3Storage(self.stack.bucket, "", endpoint_url=self.aws.endpoint_url)
        # Inputs live at the bucket's root under inputs/, shared by every run (uploaded once);
        # each run's own files live under jobs/<run id>/.
        staged = tuple(Input(i.path, root.path(i.location), i.size) for i in stage_inputs(inputs, root))
        spec = JobSpec(staged, n_reduce=n_reduce, n_map=n_map, task_timeout=task_timeout, max_attempts=max_attempts)
        storage = S3Storage(self.stack.bucket, f"jobs/{run_id}", endpoint_url=self.aws.endpoint_url)
        write_manifest(staged, storage)
        storage.write_bytes(TOKEN_FILE, secrets.token_urlsafe(32).encode())
        self.say(
            f"run {run_id}: {len(staged)} input(s), {spec.input_bytes / 2**20:.1f} MiB in "
            f"s3://{self.stack.bucket}/inputs/; job files in {storage.url}"
        )
        return storage, spec

    # ---- starting tasks ----------------------------------------------------------

    def _launch(self, role, count, command, client_token):
        tags = {**self.config.stack_tags, "mrkit:run": self.run_id, ROLE_TAG_KEY: role}
        try:
            started = self.tasks.start(
                self.stack, count, command, started_by=f"mrkit-{self.run_id}"[:36], tags=tags, client_token=client_token
            )
        except TaskLaunchError as exc:
            self._track(role, exc.started)
            raise
        self._track(role, started)
        return started

    def _track(self, role, tasks):
        now = time.time()
        for task in tasks:
            self.started[task["taskArn"]] = TaskUse(task["taskArn"], role, now)

    def _start_master(self, spec, storage):
        command = [
            "master",
            "--storage",
            storage.url,
            "--inputs-from",
            MANIFEST,
            "--run-id",
            self.run_id,
            "-r",
            str(spec.n_reduce),
            "--task-timeout",
            str(spec.task_timeout),
            "--max-attempts",
            str(spec.max_attempts),
            "--listen",
            f"0.0.0.0:{self.stack.master_port}",
            "--token-file",
            storage.path(TOKEN_FILE),
            "--status-every",
            str(self.status_every_s),
            # with no worker for as long as a task may take to start (the launcher gone, its workers
            # dead), the master fails the job and its task ends: nothing is billed without end
            "--no-workers-timeout",
            f"{max(3 * spec.task_timeout, self.start_timeout_s):g}",
        ]
        if spec.n_map is not None:
            command += ["-m", str(spec.n_map)]
        if self.backup_tasks:
            command += ["--backup-tasks", self.backup_tasks]
        (master,) = self._launch("master", 1, command, f"{self.run_id}-master")
        self.say(f"started the master task {_short(master['taskArn'])}; waiting for it to run")
        return master["taskArn"]

    def _start_workers(self, count, batch):
        return self._launch("worker", count, self._worker_command, f"{self.run_id}-{batch}")

    # ---- waiting and following ----------------------------------------------------

    def _describe(self, arns):
        return {t["taskArn"]: t for t in self.aws.describe_tasks(self.stack.cluster_arn, list(arns))}

    def _note_stopped(self, task):
        use = self.started[task["taskArn"]]
        if use.stopped is None:
            use.stopped = time.time()
            container = next((c for c in task.get("containers", []) if c.get("name") == CONTAINER), {})
            reason = task.get("stoppedReason") or container.get("reason") or "no reason given"
            if container.get("lastStatus") == "STOPPED" and container.get("exitCode") is not None:
                use.exit_code = container["exitCode"]
                reason += f" (exit code {use.exit_code})"
            elif found := _EXIT_CODE.search(reason):  # the stand-in says it in the reason: moto keeps none
                use.exit_code = int(found.group(1))
            use.reason = reason
        return use

    def _deadline_passed(self, began, what):
        if time.monotonic() - began > self.start_timeout_s:
            raise EcsError(
                f"{what} after {self.start_timeout_s:.0f} s; see the task in the ECS console "
                f"(cluster {self.config.cluster}); if the image only pulls slowly, raise --start-timeout"
            )

    def _wait_running(self, arn):
        """The master's private IP once it runs; raises with its stop reason if it stops first."""
        began = time.monotonic()
        while True:
            task = self._describe([arn])[arn]
            if task["lastStatus"] == "STOPPED":
                raise self._task_failed(self._note_stopped(task), "the master task stopped before it ran")
            ip = Aws.task_private_ip(task)
            if task["lastStatus"] == "RUNNING" and ip:
                self.say(f"master task running at {ip}")
                return ip
            self._deadline_passed(began, "the master task is not running")
            self._wait(self.poll_s)

    def _read_json(self, name):
        try:
            return json.loads(self.storage.read_bytes(name))
        except FileNotFoundError:
            return None

    def _read_status(self):
        """The master's last published protocol.Status, or None before its first."""
        raw = self._read_json(STATUS_FILE)
        try:
            return None if raw is None else Status.parse(raw)
        except ProtocolError as exc:
            raise EcsError(f"the master published a malformed {STATUS_FILE}: {exc}") from None

    def _wait_status(self, arn):
        """Until the master has published its first status: it is listening, workers may connect."""
        began = time.monotonic()
        while self._read_status() is None:
            task = self._describe([arn])[arn]
            if task["lastStatus"] == "STOPPED":
                raise self._task_failed(self._note_stopped(task), "the master task stopped before serving")
            self._deadline_passed(began, "the master has not published its status")
            self._wait(min(self.poll_s, 0.5))

    def _follow(self, master, workers, on_status):
        """Progress until the master is done; replaces stopped workers; returns the run record.

        Replacements are budgeted (2W + 2): workers that keep dying (a crash
        loop, an image that cannot run the app, a master they cannot reach)
        fail the job instead of billing forever; the caller stops every task.
        """
        budget, stops = replacement_budget(workers), 0
        while True:
            status = self._read_status()
            if status is not None:
                if on_status is not None:
                    on_status(status.to_json())
                self._progress(status)
                if status.over:
                    return self._collect(master, status)
            live = [arn for arn, use in self.started.items() if use.stopped is None]
            for arn, task in self._describe(live).items():
                if task["lastStatus"] != "STOPPED":
                    continue
                use = self._note_stopped(task)
                if use.role == "master":  # its final status may have landed since the read above
                    return self._collect(master, self._read_status())
                self.say(f"worker task {_short(arn)} stopped: {use.reason}")
                stops += 1
                if stops > budget:
                    final = self._read_status()  # the job may have ended as its workers left
                    if final is not None and final.over:
                        return self._collect(master, final)
                    raise JobFailed(
                        f"worker tasks stopped {stops} times, more than the replacement budget of "
                        f"{budget} (2 x {workers} workers + 2): stopping the job"
                    )
                self._start_workers(1, f"r{stops}")
                self.say(f"started a replacement worker ({stops} so far)")
            self._wait(self.poll_s)

    def _progress(self, status):
        line = (
            f"{status.phase}: map {status.map['done']}/{status.map['total']}, "
            f"reduce {status.reduce['done']}/{status.reduce['total']}, {status.workers} worker(s) seen"
        )
        if line != self._last_line:
            self._last_line = line
            self.say(line)

    def _collect(self, master, status):
        """The master's run record once its status is final; JobFailed when the job failed.

        The master writes the run record before its final status, so a final
        status means the record is there. A master task that stopped without
        a final status was killed (out of memory, stopped by hand, a bad image).
        """
        if status is None or not status.over:
            raise JobFailed(f"the master task stopped before the job finished: {self.started[master].reason}")
        record = self._read_json(RUN_FILE)
        if status.phase == "failed" or record is None:
            raise JobFailed(status.failure or f"the master published no {RUN_FILE}")
        return record

    # ---- failures, cleanup, cost -----------------------------------------------------

    def _log_tail(self, arn):
        stream = Aws.log_stream(LOG_PREFIX, CONTAINER, arn)
        try:
            return self.aws.tail_log(self.stack.log_group, stream, LOG_LINES)
        except EcsError as exc:
            return [f"(no log: {exc})"]

    def _report_task(self, use):
        state = f"stopped: {use.reason}" if use.stopped is not None else "was asked to stop"
        self.say(f"{use.role} task {_short(use.arn)} {state}")
        lines = self._log_tail(use.arn)
        if lines:
            self.say(f"last {len(lines)} line(s) of its log ({self.stack.log_group}):")
            for line in lines:
                self.say(f"  | {line}")

    def _report_failures(self):
        """Stop reason and log tail of the master and of the last workers that exited non-zero.

        A crash loop leaves up to 2W + 3 dead workers, most with the same log:
        the last few tell the story without burying the job's failure line.
        """
        failed = [use for use in self.started.values() if use.role == "worker" and use.exit_code not in (None, 0)]
        shown = failed[-REPORTED_WORKERS:]
        for use in self.started.values():
            if use.role == "master" or use in shown:
                self._report_task(use)
        if len(failed) > len(shown):
            self.say(f"({len(failed) - len(shown)} earlier worker task(s) also exited non-zero)")

    @staticmethod
    def _task_failed(use, what):
        return JobFailed(f"{what}: {use.reason}")

    def _cleanup(self, failed):
        """Stop every task not known to have stopped; Ctrl-C is held off until they are asked to."""
        previous = None
        if threading.current_thread() is threading.main_thread():
            previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            live = [use for use in self.started.values() if use.stopped is None]
            reason = "mrkit ecs run: job failed or interrupted" if failed else "mrkit ecs run: job over"
            if live:
                self.say(f"stopping {len(live)} task(s)")
            for use in live:
                try:
                    self.aws.stop_task(self.stack.cluster_arn, use.arn, reason)
                except EcsError as exc:
                    self.say(f"could not stop task {_short(use.arn)}: {exc}")
            self.tasks.close()
            self._final_state()
            self.usage = self._usage()
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)

    def _final_state(self):
        """Billing times from ECS (pull start to stop) where it gives them, else what the launcher saw."""
        if not self.started:
            return
        try:
            described = self._describe(self.started)
        except EcsError:
            described = {}
        now = time.time()
        for arn, use in self.started.items():
            task = described.get(arn, {})
            if task.get("lastStatus") == "STOPPED":
                self._note_stopped(task)
            began = task.get("pullStartedAt") or task.get("startedAt") or task.get("createdAt")
            ended = task.get("stoppedAt")
            start = began.timestamp() if began else use.launched
            end = ended.timestamp() if ended else (use.stopped or now)
            use.billed_s = max(BILLED_MINIMUM_S, math.ceil(max(0.0, end - start)))
            use.lifecycle = {column: task[key].timestamp() for column, key in LIFECYCLE.items() if task.get(key)}
            use.ip = Aws.task_private_ip(task) if task else None

    def _usage(self):
        cpu, memory = self.config.cpu / 1024, self.config.memory / 1024
        billed = sum(use.billed_s for use in self.started.values())
        return Usage(len(self.started), billed * cpu, billed * memory)


# DescribeTasks' lifecycle fields -> the task records' columns (timing.TASK_COLUMNS).
LIFECYCLE = {
    "ecs_created_at": "createdAt",
    "ecs_pull_started_at": "pullStartedAt",
    "ecs_pull_stopped_at": "pullStoppedAt",
    "ecs_started_at": "startedAt",
    "ecs_stopped_at": "stoppedAt",
}


def _short(arn):
    return arn.rsplit("/", 1)[-1][:12]

"""The master: a task table with explicit states, served to workers over RPC.

Tasks move idle -> in_progress -> done, and back to idle when an attempt
times out or its app raised. Map tasks all finish before any reduce task is
handed out. A worker asking for work while none is idle waits on a condition
(long poll) instead of spinning. Completions from revoked or duplicate
attempts are recorded but ignored. After `max_failures` failed attempts of one
task the job fails, naming the task, its input and the app's exception.
"""

from collections import deque
from dataclasses import dataclass, field
import enum
import json
import os
import re
import secrets
import socket
import sys
import threading
import time

from mrkit import split, timing
from mrkit.errors import JobFailed, MrkitError
from mrkit.runtime.discovery import STATUS_FILE
from mrkit.runtime.rpc import RpcServer

MAX_FAILURES = 4
_JOB_FILE = re.compile(r"^mr-(out-\d+|\d+-\d+|run\.json|status\.json)$")  # files a new job replaces


class State(enum.Enum):
    IDLE = "idle"
    IN_PROGRESS = "in_progress"
    DONE = "done"


@dataclass
class Task:
    phase: str
    index: int
    payload: dict
    state: State = State.IDLE
    attempts: int = 0
    failures: int = 0
    current: int = 0  # the attempt whose completion counts
    deadline: float = 0.0  # monotonic time at which the current attempt is revoked
    started: dict = field(default_factory=dict)  # attempt -> (worker, epoch start)

    @property
    def label(self):
        return f"{self.phase} task {self.index}"


def _describe_input(task, whole_files):
    if task.phase == "reduce":
        return f"intermediate files mr-*-{task.index}"
    splits = task.payload["splits"]
    pieces = [path if whole_files else f"{path} bytes {start}-{end}" for path, _, start, end in splits]
    return ", ".join(pieces) or "no input"


class Master:
    """Runs one job: split the inputs, then hand out tasks until every output is final."""

    def __init__(self, spec, storage, *, listen=("127.0.0.1", 0), token=None, run_id=None,
                 max_failures=MAX_FAILURES, poll_s=5.0, advertise_storage=False, status_every=None):
        self.spec = spec
        self.storage = storage
        # Workers sharing the master's directory use their cwd; remote ones are
        # told where the job's files live (e.g. s3://bucket/prefix).
        self._storage_url = storage.url if advertise_storage else None
        self.token = token or secrets.token_urlsafe(32)
        self.run_id = run_id or f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}"
        self.max_failures = max_failures
        self.poll_s = poll_s
        self.status_every = status_every  # seconds between mr-status.json writes; None: never
        self._status_thread = None
        self.records = {}  # (phase, task, attempt) -> timing record
        self.failure = None  # the message once the job has failed
        self._cond = threading.Condition()
        self._idle = deque()
        self._maps, self._reduces = [], []
        self._workers = {}  # label -> (pid, host)
        self._polling = 0  # workers currently waiting in a long poll
        self._finished = threading.Event()
        self._started_at = timing.now()
        self._server = RpcServer(listen, self.token, {
            ("POST", "/task"): self._on_task,
            ("POST", "/done"): self._on_done,
            ("POST", "/fail"): self._on_fail,
            ("GET", "/status"): self._on_status,
        })

    @property
    def url(self):
        return self._server.url

    # ---- life cycle -------------------------------------------------------

    def start(self):
        """Clear stale job files, split the inputs, and start serving."""
        for name in self.storage.list("mr-"):
            if _JOB_FILE.match(name):
                self.storage.remove(name)
        began = timing.now()
        plans = split.plan(self.spec.inputs, self.spec.n_map, self.storage)
        ended = timing.now()
        self.records[("split", 0, 1)] = timing.split_record(self.run_id, began, ended, self.spec.input_bytes, len(plans))
        n_reduce = self.spec.n_reduce
        self._maps = [
            Task("map", m, {"task": m, "n_reduce": n_reduce, "splits": [s.as_list() for s in splits]})
            for m, splits in enumerate(plans)
        ]
        self._reduces = [Task("reduce", r, {"task": r, "maps": [], "bytes_in": 0}) for r in range(n_reduce)]
        self._idle.extend(self._maps)
        self._server.serve_in_background()
        threading.Thread(target=self._watchdog, daemon=True, name="mrkit-master-watchdog").start()
        if self.status_every:
            self._status_thread = threading.Thread(target=self._publish_status_loop, daemon=True,
                                                   name="mrkit-master-status")
            self._status_thread.start()
        return self

    def wait(self, timeout=None):
        """Block until the job is over; True when done, raises JobFailed when it failed."""
        finished = self._finished.wait(timeout)
        if self.failure:
            raise JobFailed(self.failure)
        return finished

    def done(self):
        """Whether every output is final (the lab's Done())."""
        with self._cond:
            return bool(self._reduces) and all(t.state is State.DONE for t in self._reduces)

    def shutdown(self, grace_s=1.0):
        """Let waiting workers hear that the job is over, then stop serving.

        Stopping a job that has not finished (Ctrl-C) fails it, so workers
        exit non-zero instead of taking an unfinished job for a done one.
        """
        deadline = time.monotonic() + grace_s
        with self._cond:
            if not self._finished.is_set():
                self.failure = "the master was stopped before the job finished"
            self._finished.set()
            self._cond.notify_all()
            while self._polling and time.monotonic() < deadline:
                self._cond.wait(0.05)
        if self._status_thread is not None:
            # A status written while finishing must land before the caller's final one,
            # which announces the run record: a launcher trusts that order.
            self._status_thread.join()
        self._server.shutdown()
        self._server.server_close()

    def task_records(self):
        with self._cond:
            return sorted(self.records.values(), key=lambda r: (r["start"], r["phase"], r["task"]))

    # ---- the task table ---------------------------------------------------

    def _assign(self, worker):
        """Next idle task for `worker`, waiting up to poll_s; caller holds the lock."""
        deadline = time.monotonic() + self.poll_s
        self._polling += 1
        try:
            while True:
                if self._finished.is_set():
                    return {"action": "exit", "failed": self.failure}
                if self._idle:
                    task = self._idle.popleft()
                    task.state = State.IN_PROGRESS
                    task.attempts += 1
                    task.current = task.attempts
                    task.deadline = time.monotonic() + self.spec.task_timeout
                    task.started[task.current] = (worker, timing.now())
                    reply = {"action": task.phase, "attempt": task.current, "task": task.payload}
                    if self._storage_url:
                        reply["storage"] = self._storage_url
                    return reply
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return {"action": "wait"}
                self._cond.wait(remaining)
        finally:
            self._polling -= 1
            if self._finished.is_set():
                self._cond.notify_all()  # shutdown() waits for the pollers to drain

    def _task(self, phase, index):
        return (self._maps if phase == "map" else self._reduces)[index]

    def _record(self, task, attempt, status, start, end, counters=None):
        worker, _ = task.started.get(attempt, ("?", 0))
        pid, host = self._workers.get(worker, (0, "?"))
        self.records[(task.phase, task.index, attempt)] = timing.task_record(
            self.run_id, task.phase, task.index, attempt, worker, pid, host, start, end, status, **(counters or {})
        )

    def _complete(self, task, body):
        attempt = body["attempt"]
        previous = self.records.get((task.phase, task.index, attempt))
        if previous is not None and previous["status"] == "ok":
            return  # a resent completion
        counts = task.state is State.IN_PROGRESS and attempt == task.current
        self._record(task, attempt, "ok" if counts else "superseded", body["start"], body["end"], body.get("counters"))
        if not counts:
            return
        task.state = State.DONE
        if task.phase == "map":
            for r, size in body.get("partitions", []):
                payload = self._reduces[r].payload
                payload["maps"].append(task.index)
                payload["bytes_in"] += size
            if all(t.state is State.DONE for t in self._maps):
                for reduce_task in self._reduces:
                    reduce_task.payload["maps"].sort()
                self._idle.extend(self._reduces)
        elif all(t.state is State.DONE for t in self._reduces):
            self._finished.set()
        self._cond.notify_all()

    def _fail(self, task, body):
        attempt = body["attempt"]
        self._record(task, attempt, "failed", body["start"], body["end"])
        if not (task.state is State.IN_PROGRESS and attempt == task.current):
            return
        task.failures += 1
        if task.failures >= self.max_failures:
            self.failure = (f"{task.label} (input {_describe_input(task, self.spec.n_map is None)}) failed {task.failures} times; "
                            f"last error: {body.get('error', 'unknown')}")
            self._finished.set()
        else:
            task.state = State.IDLE
            self._idle.appendleft(task)
        self._cond.notify_all()

    def _watchdog(self):
        """Revoke attempts that outlived the task timeout so another worker redoes them."""
        interval = min(0.5, self.spec.task_timeout / 4)
        while not self._finished.wait(interval):
            with self._cond:
                now = time.monotonic()
                for task in self._maps + self._reduces:
                    if task.state is State.IN_PROGRESS and now >= task.deadline:
                        _, began = task.started[task.current]
                        self._record(task, task.current, "timed_out", began, timing.now())
                        task.state = State.IDLE
                        self._idle.appendleft(task)
                        self._cond.notify_all()

    # ---- RPC handlers -----------------------------------------------------

    def _register(self, body):
        worker = body.get("worker")
        if worker not in self._workers:
            worker = f"w{len(self._workers)}"
            self._workers[worker] = (body.get("pid", 0), body.get("host", "?"))
        return worker

    def _on_task(self, body, session):
        with self._cond:
            worker = self._register(body)
            return 200, {"worker": worker, "run_id": self.run_id, **self._assign(worker)}

    def _on_done(self, body, session):
        with self._cond:
            worker = self._register(body)
            self._complete(self._task(body["phase"], body["task"]), body)
            return 200, {"worker": worker, "run_id": self.run_id, **self._assign(worker)}

    def _on_fail(self, body, session):
        with self._cond:
            worker = self._register(body)
            self._fail(self._task(body["phase"], body["task"]), body)
            return 200, {"worker": worker, "run_id": self.run_id, **self._assign(worker)}

    def publish_status(self):
        """Write the status to the job's storage, where a launcher with no route to us reads it.

        A failed write is reported and skipped: progress is advisory, the job goes on.
        """
        try:
            self.storage.write_bytes(STATUS_FILE, json.dumps(self.status()).encode())
        except (OSError, MrkitError) as exc:  # a StorageError is a MrkitError
            print(f"mrkit master: cannot publish {STATUS_FILE}: {exc}", file=sys.stderr)

    def _publish_status_loop(self):
        self.publish_status()  # at once: a launcher takes the first status as "the master is up"
        while not self._finished.wait(self.status_every):
            self.publish_status()

    def _on_status(self, body, session):
        return 200, self.status()

    def status(self):
        """Progress counts for progress bars and notebooks."""
        with self._cond:
            return self._status()

    def _status(self):
        def counts(tasks):
            states = [t.state for t in tasks]
            return {"total": len(tasks), **{s.value: states.count(s) for s in State}}

        maps, reduces = counts(self._maps), counts(self._reduces)
        if self.failure:
            phase = "failed"
        elif self._finished.is_set():
            phase = "done"
        else:
            phase = "map" if maps["done"] < maps["total"] else "reduce"
        return {
            "run_id": self.run_id, "phase": phase, "map": maps, "reduce": reduces,
            "workers": len(self._workers), "elapsed_s": timing.now() - self._started_at,
            "failure": self.failure, "host": socket.gethostname(), "pid": os.getpid(),
        }

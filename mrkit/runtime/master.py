"""The master: a task table served to workers over RPC, as one explicit state machine.

Every change of a task's state goes through the table TRANSITIONS, of an
attempt's outcome through OUTCOMES (tasktable.py); each task keeps its
attempts and how each ended (dask's scheduler keeps such a story per task),
which is what a failed job's message is made of. Requests and replies are
the types of protocol.py. The rules, in the MapReduce paper's terms:

- An attempt that outlives the task timeout is revoked for scheduling (the
  task is handed out again) but keeps running: the first attempt to finish
  wins, later ones are recorded as superseded.
- An attempt writes its files under hidden attempt names; only the master
  renames the winner's files to `mr-*` (`_complete`), so a revoked, losing or
  stale attempt never changes a job's files, nor another job's.
- Attempts that raise, die (the backend or a closed connection says so) or
  time out count; after `max_attempts` of them, or `max_timeouts` timeouts
  without any attempt finishing, the job fails with one line naming the
  task, its input and how its attempts ended.

Map tasks all finish before any reduce task is handed out. A worker asking
for work while none is idle waits on a condition (long poll), or is given a
backup of a straggler when a backup policy (backups.py) says so. The table's
data and rules live in tasktable.py, the job's files in jobfiles.py; this
module adds the locking, the RPC handlers, the watchdog and the commits.
"""

import math
import os
import secrets
import socket
import sys
import threading
import time
from collections import Counter, deque

from mrkit import split, timing
from mrkit.errors import JobCannotSucceed, JobFailed, MrkitError, UsageError
from mrkit.runtime import backups, jobfiles, protocol, tasktable
from mrkit.runtime.lock import JobLock
from mrkit.runtime.protocol import Action, Assignment, ProtocolError, Status, TaskRequest
from mrkit.runtime.rpc import RpcServer
from mrkit.runtime.tasktable import LIVE, NO_WORKERS_ADVICE, Attempt, Outcome, Roster, State, Task

LOST_GRACE_S = 1.0  # a worker whose connection closed and who did not come back by then has died
NO_WORKERS_TIMEOUTS = 3  # task timeouts a master waits with no worker connected before it fails the job
MIN_NO_WORKERS_S = 5.0  # ... but never less: workers take a moment to start
ROUTES = {
    ("POST", "/task"): "_on_task",
    ("POST", "/done"): "_on_done",
    ("POST", "/fail"): "_on_fail",
    ("GET", "/status"): "_on_status",
}


class Master:
    """Runs one job: split the inputs, then hand out tasks until every output is final."""

    def __init__(
        self,
        spec,
        storage,
        *,
        listen=("127.0.0.1", 0),
        token=None,
        run_id=None,
        poll_s=5.0,
        advertise_storage=False,
        lock_dir=None,
        backup_tasks=None,
        no_workers_s=None,
        no_workers_advice=NO_WORKERS_ADVICE,
    ):
        self.spec = spec
        self.storage = storage
        # Workers sharing the master's directory use their cwd; remote ones are
        # told where the job's files live (e.g. s3://bucket/prefix).
        self._storage_url = storage.url if advertise_storage else None
        self.token = token or secrets.token_urlsafe(32)
        self.run_id = timing.check_run_id(run_id) if run_id is not None else timing.new_run_id()
        self.max_attempts = spec.max_attempts
        # Each timeout costs a whole task timeout, so fewer of them are allowed:
        # at the defaults a task that never finishes fails the job after 50 s.
        self.max_timeouts = max(1, (spec.max_attempts + 1) // 2)
        self.poll_s = poll_s
        # A master nobody works for would wait (and on Fargate bill) forever: it fails the job instead.
        self.no_workers_s = no_workers_s or max(MIN_NO_WORKERS_S, NO_WORKERS_TIMEOUTS * spec.task_timeout)
        self.no_workers_advice = no_workers_advice
        try:
            self._backup_policy = backups.get_policy(backup_tasks)
        except ValueError as exc:
            raise UsageError(f"--backup-tasks: {exc}") from None
        self._won = {"map": ([], {}), "reduce": ([], {})}  # phase -> (winning durations, by worker)
        # one job per storage location, and per directory announcing it (mr-master.json)
        self._lock = JobLock(storage, lock_dir, on_lost=self.fail)
        self._raised = None  # the JobFailed wait() raised: clean-up problems become its notes
        self.records = {}  # (phase, task, attempt) -> timing record
        self.failure = None  # the message once the job has failed
        self.fatal = False  # it failed on what no retry can fix (errors.FATAL_TO_JOB): the user must
        self._cond = threading.Condition()
        self._queue = deque()  # tasks to hand out; entries no longer idle are skipped
        self._maps, self._reduces = [], []
        self._done = Counter()  # phase -> tasks done
        self._live = set()  # (phase, index) of tasks with running attempts, for the watchdog
        self._backing_off = set()  # (phase, index) of idle tasks waiting out a storage error before they are queued
        self._roster = Roster()
        self._polling = 0  # workers currently waiting in a long poll
        self._finished = threading.Event()
        self._started_at = timing.now()
        routes = {route: getattr(self, handler) for route, handler in ROUTES.items()}
        self._server = RpcServer(listen, self.token, routes, on_disconnect=self._on_disconnect)

    @property
    def url(self):
        return self._server.url

    # ---- life cycle -------------------------------------------------------

    def start(self, serve=True):
        """Take the directory's lock, clear stale job files, split the inputs, and start serving.

        With serve=False the caller calls `serve()` itself: a backend that
        forks workers does so in between, before any server thread exists.
        """
        try:
            self._lock.acquire()
            jobfiles.clear_stale(self.storage, self.spec.inputs, self.spec.n_reduce)
            began = timing.now()
            plans = split.plan(self.spec.inputs, self.spec.n_map, self.storage)
        except BaseException:
            self._server.server_close()
            self._lock.release()
            raise
        ended = timing.now()
        self.records[("split", 0, 1)] = timing.split_record(self.run_id, began, ended, self.spec.input_bytes, len(plans))
        n_reduce = self.spec.n_reduce
        self._maps = [
            Task("map", m, {"task": m, "n_reduce": n_reduce, "splits": [s.as_list() for s in splits]})
            for m, splits in enumerate(plans)
        ]
        self._reduces = [Task("reduce", r, {"task": r, "maps": [], "bytes_in": 0}) for r in range(n_reduce)]
        self._queue.extend(self._maps)
        if serve:
            self.serve()
        return self

    def serve(self):
        """Start answering workers and revoking late attempts."""
        self._roster.alone_since = time.monotonic()
        self._server.serve_in_background()
        threading.Thread(target=self._watchdog, daemon=True, name="mrkit-master-watchdog").start()

    def wait(self, timeout=None):
        """Block until the job is over; True when done, raises JobFailed when it failed."""
        finished = self._finished.wait(timeout)
        if self.failure:
            self._raised = (JobCannotSucceed if self.fatal else JobFailed)(self.failure)
            raise self._raised
        return finished

    def wait_quietly(self, timeout=None):
        """Like wait(), but a failed job returns True too (it is over) instead of raising."""
        return self._finished.wait(timeout)

    def fail(self, message):
        """End the job as failed with `message` (a backend that cannot go on says why)."""
        with self._cond:
            self._fail_job(message)

    def done(self):
        """Whether every output is final (the lab's Done())."""
        with self._cond:
            return bool(self._reduces) and self._done["reduce"] == len(self._reduces)

    def shutdown(self, grace_s=1.0):
        """Let waiting workers hear that the job is over, then stop serving.

        Stopping a job that has not finished (Ctrl-C) fails it, so workers
        exit non-zero instead of taking an unfinished job for a done one.
        Attempts' leftover files of this run are removed (and, if the job failed, the files it published:
        its outputs and intermediate files) and the lock released.
        """
        deadline = time.monotonic() + grace_s
        with self._cond:
            if not self._finished.is_set():
                self.failure = "the master was stopped before the job finished"
            self._finished.set()
            self._record_unfinished()
            self._cond.notify_all()
            while self._polling and time.monotonic() < deadline:
                self._cond.wait(0.05)
        self._server.shutdown()
        self._server.server_close()
        try:
            jobfiles.sweep_attempts(self.storage, self.run_id)
            if self.failure and self._maps:  # it started: what it published is a part, none may pass for its result
                jobfiles.remove_data(self.storage)
        except (OSError, MrkitError) as exc:  # leftovers are hidden; the next master clears them
            line = f"cannot remove the job's leftover files: {exc}"
            if self._raised is not None:
                self._raised.add_note(line)  # printed after the job's outcome, which comes first
            else:
                print(f"mrkit master: {line}", file=sys.stderr)
        finally:
            self._lock.release()

    def _record_unfinished(self):
        """Attempts still running as the job ends: they lost (their task is done) or were stopped."""
        for task in self._maps + self._reduces:
            for attempt in task.live(Outcome.RUNNING):
                attempt.move("lose" if task.state is State.DONE else "fail", attempt.reason or "stopped: the job was over")
                self._record(task, attempt)

    def task_records(self):
        with self._cond:
            return sorted(self.records.values(), key=lambda r: (r["start"], r["phase"], r["task"]))

    # ---- the task table ---------------------------------------------------

    def _transition(self, task, event):
        """A task's state changes (`Task.move`); an idle one is queued, unless it is backing off."""
        task.move(event)
        if task.state is State.IDLE:
            if task.not_before > time.monotonic():
                self._backing_off.add((task.phase, task.index))  # the watchdog queues it when its wait is over
                return
            self._queue.appendleft(task)  # retried tasks go first: they hold the job back
            self._cond.notify_all()

    def _assign(self, worker):
        """Next idle task for `worker`, waiting up to poll_s; caller holds the lock."""
        deadline = time.monotonic() + self.poll_s
        self._polling += 1
        try:
            while True:
                if self._finished.is_set():
                    return Assignment(Action.EXIT, worker, self.run_id, failed=self.failure, fatal=self.fatal)
                while self._queue and self._queue[0].state is not State.IDLE:
                    self._queue.popleft()  # done, or handed out again, since it was queued
                if self._queue:
                    return self._start_attempt(self._queue.popleft(), worker)
                straggler = self._straggler(worker)
                if straggler is not None:
                    return self._start_attempt(straggler, worker, backup=True)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return Assignment(Action.WAIT, worker, self.run_id)
                # a backup policy's answer changes as attempts age: look again soon
                self._cond.wait(remaining if self._backup_policy is None else min(remaining, 0.1))
        finally:
            self._polling -= 1
            if self._finished.is_set():
                self._cond.notify_all()  # shutdown() waits for the pollers to drain

    def _straggler(self, worker):
        """The running task the backup policy would duplicate on idle `worker`, or None."""
        if self._backup_policy is None or not self._maps:
            return None
        phase = "map" if self._done["map"] < len(self._maps) else "reduce"
        tasks = [self._task(*key) for key in self._live if key[0] == phase]
        return backups.straggler(
            self._backup_policy,
            tasks,
            worker,
            total=len(self._task_list(phase)),
            done=self._done[phase],
            won=self._won[phase],
            workers=len(self._roster.workers),
        )

    def _task_list(self, phase):
        return self._maps if phase == "map" else self._reduces

    def _start_attempt(self, task, worker, backup=False):
        self._transition(task, "back_up" if backup else "assign")
        number = len(task.attempts) + 1
        task.attempts[number] = Attempt(number, worker, timing.now(), time.monotonic() + self.spec.task_timeout, backup=backup)
        task.tick = math.inf
        self._live.add((task.phase, task.index))
        self._roster.workers[worker].attempt = (task, number)
        return Assignment(Action(task.phase), worker, self.run_id, number, task.payload, self._storage_url)

    def _task(self, phase, index):
        return self._task_list(phase)[index]

    def _record(self, task, attempt, report=None):
        """The attempt's timing record: the worker's own account (`report`) when it sent one."""
        worker = self._roster.workers.get(attempt.worker) or tasktable.Worker(0, "?")
        start, end, counters = (
            (attempt.started, timing.now(), None) if report is None else (report.start, report.end, report.counters)
        )
        self.records[(task.phase, task.index, attempt.number)] = timing.task_record(
            self.run_id,
            task.phase,
            task.index,
            attempt.number,
            attempt.worker,
            worker.pid,
            worker.host,
            start,
            end,
            attempt.outcome.record,
            backup=attempt.backup,
            slowdown=worker.slowdown,
            **(counters or {}),
        )

    def _end_attempt(self, task, attempt, event, reason, report=None, storage=False):
        """An attempt ended badly (or went late): count it, re-queue or fail the task.

        `report` is the worker's own account (times, counters) when it sent one;
        `storage` says the storage failed, so the task waits a while before it runs again.
        """
        attempt.move(event, reason)
        if storage:
            task.back_off()
        if attempt.outcome is Outcome.LATE:
            task.timeouts += 1  # its worker still runs it
        else:
            self._roster.release(attempt.worker, task, attempt.number)
        self._record(task, attempt, report)
        if task.state in (State.DONE, State.COMMITTING, State.FAILED):
            return
        if not task.live(Outcome.RUNNING):
            if task.state is State.IN_PROGRESS:
                self._transition(task, "revoke")
            task.tick = time.monotonic() + self.spec.task_timeout if task.live(Outcome.LATE) else math.inf
        if not task.live():
            self._live.discard((task.phase, task.index))
        self._check_limits(task)

    def _check_limits(self, task):
        if task.bad_attempts() < self.max_attempts and task.timeouts < self.max_timeouts:
            return
        self._transition(task, "give_up")
        self._fail_job(tasktable.failure_line(task, self.spec, self.max_timeouts))

    def _fail_job(self, message):
        if self.failure is None:
            self.failure = message
        self._finished.set()
        self._cond.notify_all()

    def _watchdog(self):
        """Revoke attempts that outlived the task timeout; declare workers that vanished dead."""
        interval = min(0.25, self.spec.task_timeout / 4)
        while not self._finished.wait(interval):
            with self._cond:
                now = time.monotonic()
                for key in [k for k in self._backing_off if self._task(*k).not_before <= now]:
                    self._backing_off.discard(key)
                    task = self._task(*key)
                    if task.state is State.IDLE:
                        self._queue.appendleft(task)
                        self._cond.notify_all()
                for key in list(self._live):
                    task = self._task(*key)
                    for attempt in task.live(Outcome.RUNNING):
                        if now >= attempt.deadline:
                            self._end_attempt(task, attempt, "time_out", f"timed out after {self.spec.task_timeout:g} s")
                    if task.state is State.IDLE and now >= task.tick and task.live(Outcome.LATE) and not self._finished.is_set():
                        task.timeouts += 1  # another timeout passed and its late attempts still run
                        task.tick = now + self.spec.task_timeout
                        self._check_limits(task)
                for label in self._roster.lost(now, LOST_GRACE_S):
                    self._worker_died(label, "worker died (connection lost)")
                abandoned = self._roster.abandoned(now, self.no_workers_s, self.no_workers_advice)
                if abandoned:
                    self._fail_job(abandoned)

    def _worker_died(self, label, reason):
        held = self._roster.forget(label)
        if held is not None and held[1].outcome in LIVE:
            self._end_attempt(*held, "die", reason)

    def worker_exited(self, pid, exitcode):
        """A backend saw worker process `pid` exit: its attempt, if any, died (re-queued at once).

        Returns whether the exit is accounted for: the worker held an attempt (a
        death its task is charged with) or it exited cleanly.
        """
        how = f"killed by signal {-exitcode}" if exitcode < 0 else f"exit {exitcode}"
        with self._cond:
            label = self._roster.running(pid)
            if label is not None:
                self._worker_died(label, f"worker died ({how})")
                return True
        return exitcode == 0

    # ---- completions ------------------------------------------------------

    def _attempt_of(self, report):
        """The task and attempt a report speaks of; ProtocolError for one never handed out."""
        task = self._task(report.phase, report.task)
        attempt = task.attempts.get(report.attempt)
        if attempt is None or attempt.worker != report.worker:
            raise ProtocolError(f"attempt {report.attempt} of {task.label} was never given to worker {report.worker!r}")
        return task, attempt

    def _complete(self, report):
        """Commit the first finished attempt's files; later ones are superseded and removed."""
        with self._cond:
            task, attempt = self._attempt_of(report)
            if attempt.outcome not in LIVE:
                return  # a resent report, or one from an attempt already declared dead
            self._roster.release(report.worker, task, attempt.number)
            winner = task.state not in (State.COMMITTING, State.DONE, State.FAILED)
            attempt.move("win" if winner else "lose")
            if winner:
                self._transition(task, "win")
            else:
                self._record(task, attempt, report)
        refused = jobfiles.commit(self.storage, report, self.run_id, winner)
        with self._cond:
            if not winner:
                return
            if refused:
                error, fatal = refused
                task.back_off()  # before the transition, which would queue it at once
                self._transition(task, "commit_failed")
                self._end_attempt(task, attempt, "commit_failed", error)
                if fatal and self.failure is None:
                    self.fatal = True
                    self._fail_job(f"{task.label}: {error}")
                return
            attempt.move("committed")
            self._record(task, attempt, report)
            self._transition(task, "committed")
            self._settle(task, report)

    def _settle(self, task, report):
        """Book a task that is done: feed reduces, open the reduce phase, finish the job.

        Its other attempts still run; each is recorded as superseded when it reports.
        """
        self._live.discard((task.phase, task.index))
        self._done[task.phase] += 1
        durations, by_worker = self._won[task.phase]
        durations.append(report.end - report.start)
        by_worker.setdefault(report.worker, []).append(report.end - report.start)
        if task.phase == "map":
            for r, size in report.partitions:
                payload = self._reduces[r].payload
                payload["maps"].append(task.index)
                payload["bytes_in"] += size
            if self._done["map"] == len(self._maps):
                for reduce_task in self._reduces:
                    reduce_task.payload["maps"].sort()
                self._queue.extend(self._reduces)
        elif self._done["reduce"] == len(self._reduces):
            self._finished.set()
        self._cond.notify_all()

    def _failed(self, report):
        with self._cond:
            task, attempt = self._attempt_of(report)
            if attempt.outcome not in LIVE:
                return
            reason, storage = f"failed ({report.error or 'unknown error'})", report.storage and not report.fatal
            self._end_attempt(task, attempt, "fail", reason, report, storage=storage)
            if report.fatal and self.failure is None:  # a full disk, an input that changed: no retry can help
                self.fatal = True
                self._fail_job(f"{task.label}: {report.error}")

    # ---- RPC handlers -----------------------------------------------------

    def _parse(self, body, failed=False):
        n_tasks = {"map": len(self._maps), "reduce": len(self._reduces)}
        return protocol.parse_report(body, n_tasks, self.spec.n_reduce, failed=failed)

    def _on_task(self, body, session, request=None):
        request = request or TaskRequest.parse(body)
        with self._cond:
            return 200, self._assign(self._roster.register(request, session)).to_json()

    def _on_done(self, body, session):
        report, request = self._parse(body), TaskRequest.parse(body)  # all checked before any state changes
        self._complete(report)
        return self._on_task(body, session, request)

    def _on_fail(self, body, session):
        report, request = self._parse(body, failed=True), TaskRequest.parse(body)
        self._failed(report)
        return self._on_task(body, session, request)

    def _on_disconnect(self, session):
        with self._cond:
            self._roster.disconnect(session, job_over=self._finished.is_set())

    def _on_status(self, body, session):
        return 200, self.status()

    def status(self):
        """Progress counts for progress bars and notebooks: a protocol.Status, as JSON."""
        with self._cond:
            maps, reduces = tasktable.state_counts(self._maps), tasktable.state_counts(self._reduces)
            if self.failure:
                phase = "failed"
            elif self._finished.is_set():
                phase = "done"
            else:
                phase = "map" if maps["done"] < maps["total"] else "reduce"
            workers, elapsed = len(self._roster.workers), timing.now() - self._started_at
            status = Status(self.run_id, phase, maps, reduces, workers, elapsed, self.failure, socket.gethostname(), os.getpid())
            return status.to_json()

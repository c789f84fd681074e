"""The worker: ask the master for a task, run it here, report, repeat.

A worker runs its tasks in its own process with its own working directory.
Each attempt writes its files under hidden attempt names (`AttemptFiles`);
the master renames the winner's, and a worker whose report cannot be
delivered removes its own. Anything the app raises, `sys.exit()` included,
is the app's failure, reported to the master; the worker goes on.

It exits 0 when the master says the job is over (or, once the master has
gone, its run record says so), 1 when the master reports the job failed
(JobFailed), answers in a way it should not (RpcError) or cannot be reached
for `patience_s` (MasterUnreachable: it died, or the network is down), and 2
when the master rejects its token (or JobCannotSucceed: the job stopped on a
full disk, a directory it cannot write, an input that changed). `mrkit
worker` says on stderr why it exits. Its import path stays light: no pandas,
no boto3.
"""

import json
import os
import random
import socket
import sys
import time
from dataclasses import replace

from mrkit import tasks, timing
from mrkit.errors import FATAL_TO_JOB, AuthError, JobCannotSucceed, JobFailed, MrkitError, one_line
from mrkit.runtime.discovery import RUN_FILE, read_master_file
from mrkit.runtime.protocol import Action, Assignment, ProtocolError, Report, TaskRequest, attempt_name
from mrkit.runtime.rpc import MasterGone, RpcClient, RpcError
from mrkit.storage.base import StorageError

RUNNERS = {Action.MAP: tasks.run_map, Action.REDUCE: tasks.run_reduce}
PATIENCE_S = 30.0  # how long a master that cannot be reached is tried again before the worker gives up
_RETRY_S = (0.1, 2.0)  # first and longest pause between tries, doubling, with jitter


class MasterUnreachable(RpcError):
    """The master could not be reached for the worker's whole patience: not a clean end of the job."""


class AttemptFiles:
    """A storage whose job files (`mr-*`) are written under one attempt's hidden names.

    Everything else (reads, temporary files) goes to the storage as it is.
    `written` lists what the attempt wrote, so it can be removed if the
    attempt does not get to report.
    """

    def __init__(self, storage, run_id, attempt):
        self._storage, self._run_id, self._attempt = storage, run_id, attempt
        self.written = []

    def _name(self, name):
        if not name.rpartition("/")[2].startswith("mr-"):
            return name
        name = attempt_name(name, self._run_id, self._attempt)
        self.written.append(name)
        return name

    def write_bytes(self, name, data):
        self._storage.write_bytes(self._name(name), data)

    def atomic_writer(self, name):
        return self._storage.atomic_writer(self._name(name))

    def discard(self):
        for name in self.written:
            try:
                self._storage.remove(name)
            except (OSError, MrkitError):
                pass  # hidden leftovers; the master's sweep or the next master removes them
        self.written.clear()

    def __getattr__(self, attribute):
        return getattr(self._storage, attribute)


def _job_over(storage, run_id):
    """The exit the job's run record announces (the master writes it as it exits), for `run_id` if known;
    None when there is none. A failed job's record says so: a worker mid-task as it failed exits non-zero."""
    try:
        record = json.loads(storage.read_bytes(RUN_FILE))
        if run_id is not None and record["run"]["run_id"] != run_id:
            return None
        failed = record.get("failed")
        return Assignment(Action.EXIT, failed=failed if isinstance(failed, str) else None, fatal=record.get("fatal") is True)
    except (OSError, MrkitError, ValueError, KeyError, TypeError, AttributeError):
        return None


class _Calls:
    """The worker's calls to the master, tried again while it cannot be reached, for up to `patience_s`.

    Between tries the job's storage is looked at: a master that has finished
    wrote its run record there, so a worker that missed the last reply still
    tells "the job is over" from "the master is gone". So is `told_over()`,
    where the worker's launcher has another way to say it (a Dask loop's
    driver removes its token from the cluster).
    """

    def __init__(self, client, patience_s, told_over=None):
        self.client, self.patience_s, self.told_over = client, patience_s, told_over
        self.storage, self.run_id = None, None
        self.over = None  # the exit the run record announced, when the master could no longer answer
        self.told = False  # that exit came from told_over()

    def __call__(self, path, body):
        """The master's Assignment in answer to `body` (a TaskRequest, with a Report for /done and /fail)."""
        began, pause = time.monotonic(), _RETRY_S[0]
        while True:
            try:
                reply = self.client.call("POST", path, body)
            except MasterGone as exc:
                over = _job_over(self.storage, self.run_id) if self.storage is not None else None
                if over is None and self.told_over is not None and self.told_over():
                    over, self.told = Assignment(Action.EXIT), True
                if over is not None:
                    self.over = over
                    return over
                waited = time.monotonic() - began
                if waited >= self.patience_s:
                    raise MasterUnreachable(
                        f"cannot reach the master for {waited:.0f} s ({exc}): it died or the network is down"
                    ) from None
            else:
                try:
                    return Assignment.parse(reply)
                except ProtocolError as exc:
                    raise RpcError(f"the master's answer to POST {path} is not an assignment: {exc}") from None
            time.sleep(min(pause * random.uniform(0.5, 1.0), max(0.0, began + self.patience_s - time.monotonic())))
            pause = min(_RETRY_S[1], 2 * pause)


def _end_if_forked(worker_pid):
    """End a copy of the worker that the app forked (os.fork() in map, both going on) as it comes back here.

    Only the worker talks to the master: a copy would share its connection
    and report the same attempt again, and the master would wait out timeouts.
    """
    if os.getpid() != worker_pid:
        os._exit(0)


def work(app, client, storage, open_storage=None, slowdown=1.0, patience_s=PATIENCE_S, say=None, told_over=None):
    """Serve tasks until the job is over; returns the exit code, raises JobFailed or MasterUnreachable.

    When the master names the job's storage (remote workers, S3), the worker
    switches to it through `open_storage(url)`. A `slowdown` F > 1 makes this
    worker a straggler for studies: it sleeps (F - 1) x each task's own time
    before reporting it. `say(line)`, when given, hears why a clean end is one.
    `told_over()`, when given, says whether the job is over once the master
    cannot be reached (_Calls).
    """
    request = TaskRequest(os.getpid(), socket.gethostname(), slowdown)
    opened = {}
    call = _Calls(client, patience_s, told_over)
    call.storage = storage
    try:
        reply = call("/task", request.to_json())
        while True:
            if reply.action is Action.EXIT:
                if reply.failed:
                    raise (JobCannotSucceed if reply.fatal else JobFailed)(reply.failed)
                if say is not None:
                    say(
                        "the job is over (its launcher says so)"
                        if reply is call.over and call.told
                        else "the master has finished the job (its run record is written)"
                        if reply is call.over
                        else "the master says the job is done"
                    )
                return 0
            request, call.run_id = replace(request, worker=reply.worker), reply.run_id
            if reply.action is Action.WAIT:
                reply = call("/task", request.to_json())
                continue
            files = None
            start, began, cpu = timing.now(), time.monotonic(), timing.process_cpu_s()
            try:
                if reply.storage and open_storage is not None:  # part of the attempt: it may find S3 down
                    storage = call.storage = opened.get(reply.storage) or opened.setdefault(
                        reply.storage, open_storage(reply.storage)
                    )
                files = AttemptFiles(storage, reply.run_id, reply.attempt)
                result = RUNNERS[reply.action](app, reply.task, files)
            except (Exception, SystemExit) as exc:  # the app's bug: the master retries, then fails the job
                _end_if_forked(request.pid)
                if files is not None:
                    files.discard()
                report = Report(
                    reply.worker,
                    reply.phase,
                    reply.task["task"],
                    reply.attempt,
                    start,
                    timing.now(),
                    {"cpu_s": timing.process_cpu_s() - cpu},
                    error=one_line(exc),
                    fatal=isinstance(exc, FATAL_TO_JOB),  # a full disk, a changed input: not the app's
                    storage=isinstance(exc, StorageError),
                )  # the master backs these off
                reply = call("/fail", {**report.to_json(), **request.to_json()})
                continue
            _end_if_forked(request.pid)
            cpu = timing.process_cpu_s() - cpu
            if slowdown > 1:
                # monotonic: a wall clock stepped back would make the sleep negative and kill the worker
                time.sleep((slowdown - 1) * (time.monotonic() - began))
            partitions = tuple(map(tuple, result.pop("partitions", ())))
            report = Report(
                reply.worker,
                reply.phase,
                reply.task["task"],
                reply.attempt,
                start,
                timing.now(),
                {**result, "cpu_s": cpu},
                partitions,
            )
            try:
                reply = call("/done", {**report.to_json(), **request.to_json()})
            except BaseException:
                files.discard()  # no master took the files: they must not linger
                raise
    finally:
        client.close()


def find_master(directory=".", wait_s=5.0):
    """The master's url and token from mr-master.json, waiting briefly for it to appear.

    Returns None when there is none but the master's run record is there (the
    job is over); raises when there is no sign of a master at all.
    """
    deadline = time.monotonic() + wait_s
    while True:
        info = read_master_file(directory)
        if info is not None:
            return info
        if os.path.exists(os.path.join(directory, RUN_FILE)):
            return None
        if time.monotonic() >= deadline:
            raise MrkitError(
                f"no master found: {os.path.abspath(directory)}/mr-master.json does not exist; "
                "start `mrkit master` in this directory first or pass --master URL"
            )
        time.sleep(0.1)


def resolve_token(token_file=None, info=None):
    """The token from --token-file (a path or an s3:// URL), then $MRKIT_TOKEN, then mr-master.json."""
    if token_file:
        from mrkit.storage import read_url  # a token file may be local or s3://bucket/key

        try:
            token = read_url(token_file).decode("utf-8", "replace").strip()
        except FileNotFoundError:
            raise MrkitError(f"cannot read token file {token_file!r}: it does not exist") from None
        except OSError as exc:
            raise MrkitError(f"cannot read token file {token_file!r}: {exc.strerror or exc}") from None
        if not token:
            raise MrkitError(f"token file {token_file!r} is empty")
        return token
    if os.environ.get("MRKIT_TOKEN"):
        return os.environ["MRKIT_TOKEN"]
    if info:
        return info["token"]
    raise MrkitError("no token: set $MRKIT_TOKEN, pass --token-file, or run the worker in the master's directory")


def _say(line):
    print(f"mrkit worker: {line}", file=sys.stderr)


def _stale(info):
    """Why mr-master.json names a master that is not running on this host, or None."""
    pid, host = info.get("pid"), info.get("host")
    if host != socket.gethostname() or not isinstance(pid, int):
        return None  # written elsewhere (a shared file system): only the connection can tell
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return (
            f"mr-master.json is stale: its master (pid {pid}) is not running and left no run record; start `mrkit master` again"
        )
    except PermissionError:
        pass  # alive, another user's
    return None


def run_worker(app, storage, master_url=None, token_file=None, wait_s=5.0, open_storage=None, patience_s=PATIENCE_S):
    """The `mrkit worker` process: find the master, then work. Returns the exit code, saying why on stderr."""
    info = None
    if master_url is None:
        info = find_master(".", wait_s)
        if info is None:
            _say("the job is over: mr-run.json is here and no master runs")
            return 0
        if (stale := _stale(info)) is not None:
            _say(stale)
            return 1
        master_url = info["url"]
    client = RpcClient(master_url, resolve_token(token_file, info))
    try:
        return work(app, client, storage, open_storage, patience_s=patience_s, say=_say)
    except AuthError as exc:
        _say(str(exc))
        return 2
    except RpcError as exc:  # unreachable, or there but answering what it should not: not a clean end
        _say(str(exc))
        return 1

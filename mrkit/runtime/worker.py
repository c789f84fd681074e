"""The worker: ask the master for a task, run it here, report, repeat.

A worker runs its tasks in its own process with its own working directory.
Each attempt writes its files under hidden attempt names (`AttemptFiles`);
the master renames the winner's, and a worker whose report cannot be
delivered removes its own. Anything the app raises, `sys.exit()` included,
is the app's failure, reported to the master; the worker goes on.

It exits 0 when the master says the job is over or can no longer be reached
(the job finished, or the master died), 1 when the master reports the job
failed (JobFailed) or answers in a way it should not (RpcError), and 2 when
the master rejects its token (or JobCannotSucceed: the job stopped on a full
disk, a directory it cannot write, an input that changed). Its import path
stays light: no pandas, no boto3.
"""

import os
import socket
import sys
import time

from mrkit import tasks, timing
from mrkit.errors import FATAL_TO_JOB, AuthError, JobCannotSucceed, JobFailed, MrkitError
from mrkit.runtime.discovery import RUN_FILE, read_master_file
from mrkit.runtime.protocol import attempt_name
from mrkit.runtime.rpc import MasterGone, RpcClient, RpcError

RUNNERS = {"map": tasks.run_map, "reduce": tasks.run_reduce}


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




def _one_line(exc):
    """The app's exception and where it was raised, on one line for the master's message."""
    import traceback  # here, not at the top: only a failing task needs it

    if isinstance(exc, SystemExit):
        return f"the app called sys.exit({exc.code!r})"
    if isinstance(exc, MrkitError):  # e.g. the app broke its contract: the line already says where
        return str(exc).replace("\n", " ")
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {os.path.basename(frames[-1].filename)}:{frames[-1].lineno} in {frames[-1].name}" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}".replace("\n", " ")


def _end_if_forked(worker_pid):
    """End a copy of the worker that the app forked (os.fork() in map, both going on) as it comes back here.

    Only the worker talks to the master: a copy would share its connection
    and report the same attempt again, and the master would wait out timeouts.
    """
    if os.getpid() != worker_pid:
        os._exit(0)


def work(app, client, storage, open_storage=None, slowdown=1.0):
    """Serve tasks until the job is over; returns the exit code, raises JobFailed.

    When the master names the job's storage (remote workers, S3), the worker
    switches to it through `open_storage(url)`. A `slowdown` F > 1 makes this
    worker a straggler for studies: it sleeps (F - 1) x each task's own time
    before reporting it.
    """
    identity = {"pid": os.getpid(), "host": socket.gethostname(), "slowdown": slowdown}
    opened = {}
    try:
        reply = client.call("POST", "/task", identity)
        while True:
            identity["worker"] = reply["worker"]
            action = reply["action"]
            if action == "exit":
                if reply.get("failed"):
                    raise (JobCannotSucceed if reply.get("fatal") else JobFailed)(reply["failed"])
                return 0
            if action == "wait":
                reply = client.call("POST", "/task", identity)
                continue
            task = reply["task"]
            if reply.get("storage") and open_storage is not None:
                url = reply["storage"]
                storage = opened.get(url) or opened.setdefault(url, open_storage(url))
            report = {**identity, "phase": action, "task": task["task"], "attempt": reply["attempt"]}
            files = AttemptFiles(storage, reply["run_id"], reply["attempt"])
            start, began, cpu = timing.now(), time.monotonic(), timing.process_cpu_s()
            try:
                result = RUNNERS[action](app, task, files)
            except (Exception, SystemExit) as exc:  # the app's bug: the master retries, then fails the job
                _end_if_forked(identity["pid"])
                files.discard()
                report.update(start=start, end=timing.now(), error=_one_line(exc),
                              fatal=isinstance(exc, FATAL_TO_JOB),  # a full disk, a changed input: not the app's
                              counters={"cpu_s": timing.process_cpu_s() - cpu})
                reply = client.call("POST", "/fail", report)
                continue
            _end_if_forked(identity["pid"])
            cpu = timing.process_cpu_s() - cpu
            if slowdown > 1:
                # monotonic: a wall clock stepped back would make the sleep negative and kill the worker
                time.sleep((slowdown - 1) * (time.monotonic() - began))
            end = timing.now()
            partitions = result.pop("partitions", None)
            report.update(start=start, end=end, counters={**result, "cpu_s": cpu})
            if partitions is not None:
                report["partitions"] = partitions
            try:
                reply = client.call("POST", "/done", report)
            except BaseException:
                files.discard()  # no master took the files: they must not linger
                raise
    except MasterGone:
        return 0
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


def run_worker(app, storage, master_url=None, token_file=None, wait_s=5.0, open_storage=None):
    """The `mrkit worker` process: find the master, then work. Returns the exit code."""
    info = None
    if master_url is None:
        info = find_master(".", wait_s)
        if info is None:
            return 0
        master_url = info["url"]
    client = RpcClient(master_url, resolve_token(token_file, info))
    try:
        return work(app, client, storage, open_storage)
    except AuthError as exc:
        print(f"mrkit worker: {exc}", file=sys.stderr)
        return 2
    except RpcError as exc:  # the master is there but answers what it should not: not a clean end
        print(f"mrkit worker: {exc}", file=sys.stderr)
        return 1

"""The `dask-tasks` backend: Dask's scheduler runs each map and reduce attempt as a Dask task.

mrkit's master still owns the job (the split, the map barrier, the commit
rule, attempt limits, backups past the task timeout, the records): this
process drives it over its RPC, on loopback, through W proxies. A proxy
takes a task from the master as a worker would, submits the attempt as one
Dask task (`remote.run_attempt`, one key per attempt, not pure), waits for
it and reports it. So Dask decides where each attempt runs, and mrkit
decides what counts. The master's token never leaves this process. There are
no more proxies than the cluster had threads when the job started: W above
that would only queue attempts in Dask while their task timeouts ran.

A Dask worker that dies under an attempt ends its future in an error
(KilledWorker, at once on a LocalCluster of ours, see cluster.py): the proxy
reports the attempt failed and the master hands the task out again. A
scheduler that goes away for good (the client's reconnect gives up) fails the
job in one line: no attempt could run. The records name the Dask worker, host
and pid that ran each attempt.
"""

import os
import socket
import threading
import time

from distributed.scheduler import KilledWorker

from mrkit import timing
from mrkit.backends.dask import remote
from mrkit.backends.dask.cluster import cancel, threads
from mrkit.backends.dask.job import options_of, run_on_dask
from mrkit.runtime.rpc import MasterGone, RpcClient


def _one_line(exc):
    if isinstance(exc, KilledWorker):  # Dask's own message is a paragraph
        return f"its Dask worker died ({getattr(exc.last_worker, 'address', '?')})"
    return f"{type(exc).__name__}: {exc}".replace("\n", " ")


class DaskAttempts:
    BACKEND = "dask-tasks"
    # Its "workers" are proxy threads of this process: they connect at once and leave only when the job is over.
    NO_WORKERS_ADVICE = "the job's proxies (threads of this process) stopped before it was over"

    @staticmethod
    def listen_host(client, own):
        return "127.0.0.1"  # only this process's proxies talk to the master

    def __init__(self, client, master, app, storage_ref, workers):
        self.client, self.master, self.app, self.storage_ref, self.count = client, master, app, storage_ref, workers
        self._lock = threading.Lock()
        self._futures = set()  # attempts running on the cluster
        self._stopping = False
        self._placed = {}  # (phase, task, attempt) -> (Dask worker, host, pid)
        self._proxies = []
        self.address = client.scheduler.address

    def _scheduler_lost(self):
        """Whether the client lost its scheduler for good: distributed cancels every future when the connection
        drops and reconnects for its timeout (10 s for an address, cluster.connect) before it gives up."""
        while self.client.status == "connecting" and not self._stopping:
            time.sleep(0.1)
        return self.client.status not in ("running", "newly-created")

    def start(self):
        # No more attempts in flight than the cluster has threads (at the job's start): an attempt the master had
        # handed out and Dask had queued waited for a thread while the master's task timeout ran, and was handed
        # out again as a backup though it had not started. A cluster of our own has W threads.
        for n in range(max(1, min(self.count, threads(self.client)))):
            proxy = threading.Thread(target=self._proxy, daemon=True, name=f"mrkit-dask-proxy-{n}")
            proxy.start()
            self._proxies.append(proxy)

    def _proxy(self):
        rpc = RpcClient(self.master.url, self.master.token)
        identity = {"pid": os.getpid(), "host": socket.gethostname()}
        try:
            reply = rpc.call("POST", "/task", identity)
            while reply["action"] != "exit":
                identity["worker"] = reply["worker"]
                if reply["action"] == "wait":
                    reply = rpc.call("POST", "/task", identity)
                    continue
                outcome = self._attempt(reply)
                if outcome is None:
                    return  # stopped: the master records the attempt as the job's end left it
                report = {**identity, **outcome}
                reply = rpc.call("POST", "/fail" if "error" in report else "/done", report)
        except MasterGone:
            pass  # the job is over
        except Exception as exc:  # e.g. the master refused a report: end the job, never hang it
            self.master.fail(f"a dask-tasks proxy stopped: {type(exc).__name__}: {exc}".replace("\n", " "))
        finally:
            rpc.close()

    def _attempt(self, reply):
        """Run one attempt on the cluster; the report's phase, task, attempt, times, counters (or error).

        None once the job is being stopped: a cancelled attempt did not fail.
        """
        phase, task, attempt = reply["action"], reply["task"], reply["attempt"]
        ids = {"phase": phase, "task": task["task"], "attempt": attempt}
        submitted = timing.now()
        with self._lock:
            if self._stopping:
                return None
            future = self.client.submit(
                remote.run_attempt,
                self.app,
                phase,
                task,
                self.storage_ref,
                reply["run_id"],
                attempt,
                key=f"mrkit-{reply['run_id']}-{phase}-{task['task']}-a{attempt}",
                pure=False,
            )
            self._futures.add(future)
        try:
            result = future.result()
        except BaseException as exc:  # its worker died (KilledWorker), it was cancelled, ...
            if self._stopping:
                return None
            if self._scheduler_lost():  # every attempt would end so: the job, in one line, now
                self.master.fail(
                    f"lost the Dask scheduler at {self.address}: it did not answer again within the client's "
                    "reconnect window; start it again and rerun the job"
                )
                return None
            return {**ids, "start": submitted, "end": timing.now(), "error": f"on Dask: {_one_line(exc)}"}
        finally:
            with self._lock:
                self._futures.discard(future)
        self._placed[(phase, task["task"], attempt)] = (result.pop("dask_worker"), result.pop("host"), result.pop("pid"))
        return {**ids, **result}

    def cancel(self):
        with self._lock:
            self._stopping = True
            futures = list(self._futures)
        cancel(self.client, futures)

    def join(self):
        for proxy in self._proxies:
            proxy.join(5.0)

    def records(self, records):
        """The master's records, naming the Dask worker, host and pid that ran each attempt."""
        for record in records:
            placed = self._placed.get((record["phase"], record["task"], record["attempt"]))
            if placed is not None:
                record["worker"], record["host"], record["pid"] = placed
            elif record["phase"] != "split":
                record["worker"], record["host"], record["pid"] = "?", "?", 0  # it died before it could say where
        return records


def run(app, inputs, **options):
    """The `dask-tasks` backend (mrkit.backends.BACKENDS): job.run_on_dask with each attempt a Dask task."""
    return run_on_dask(DaskAttempts, app, inputs, **options)


run.__signature__ = options_of(run_on_dask)  # what it takes: a sweep checks its backend_options against it

"""The `dask` backend: mrkit's master schedules; its W workers are long-running tasks on a Dask cluster.

Each worker is `remote.worker_loop`, one Dask task (one key, not pure),
spread over the cluster's workers. The master's token reaches them in a
worker plugin. A loop that ends while the job runs (its Dask worker died:
the crash app, a SIGKILL) is replaced, within a budget, as `local` replaces
its processes; the master charges the attempt it held from the closed
connection. When the job is over the loops hear it from the master (or find
it gone) and return; anything still queued is cancelled.
"""

import threading

from distributed import as_completed
from distributed.scheduler import KilledWorker

from mrkit.backends.dask import checks, remote
from mrkit.backends.dask.cluster import cancel
from mrkit.backends.dask.job import options_of, run_on_dask


def _loopback(address):
    host = address.split("://")[-1].rsplit(":", 1)[0].strip("[]")
    return host in ("127.0.0.1", "localhost", "::1")


class WorkerLoops:
    BACKEND = "dask"
    # Its workers are Dask tasks: none connected means none of them got a thread on the cluster.
    NO_WORKERS_ADVICE = (
        "mrkit's worker loops did not start on the Dask cluster: its workers are busy with other work or gone "
        "(see the scheduler's dashboard); run the job when it has free threads, or add workers"
    )

    @staticmethod
    def listen_host(client, own):
        """Where the master listens: loopback for a cluster on this host, else the address that routes to it."""
        address = client.scheduler.address
        if own or _loopback(address):
            return "127.0.0.1"
        from distributed.utils import get_ip

        return get_ip(address.split("://")[-1].rsplit(":", 1)[0].strip("[]"))

    def __init__(self, client, master, app, storage_ref, workers):
        self.client, self.master, self.app, self.storage_ref, self.count = client, master, app, storage_ref, workers
        self.plugin = f"mrkit-token-{master.run_id}"
        self.futures = as_completed()
        self._submitted = []  # every loop's future, for cancel(): as_completed keeps only pending ones
        self._started = 0
        self._failures = self._deaths = 0
        self._budget = 2 * workers + 2
        # deaths under an attempt are bounded by the master (max attempts); this bounds the others
        spec = master.spec
        self._death_budget = self._budget + spec.max_attempts * (spec.map_count + spec.n_reduce)
        self._lock = threading.Lock()
        self._stopping = False
        self._watcher = None

    def start(self):
        host, port = self.master.url.split("://")[1].rsplit(":", 1)
        checks.master_reachable(self.client, host, int(port))
        self.client.register_plugin(remote.Token(self.master.token), name=self.plugin)
        for _ in range(self.count):
            self._submit()
        self._watcher = threading.Thread(target=self._watch, daemon=True, name="mrkit-dask-loops")
        self._watcher.start()

    def _submit(self):
        with self._lock:
            if self._stopping:
                return
            n = self._started
            self._started += 1
            # No placement hint: a hint naming a worker that has since died (its restart gets a new
            # address) can leave the loop waiting for it; Dask spreads W loops over W free threads itself.
            future = self.client.submit(
                remote.worker_loop,
                self.app,
                self.master.url,
                self.plugin,
                self.storage_ref,
                key=f"mrkit-{self.master.run_id}-worker-{n}",
                pure=False,
            )
            self._submitted.append(future)
            self.futures.add(future)

    def _watch(self):
        try:
            self._replace_ended_loops()
        except Exception as exc:  # without the watcher nothing replaces a dead loop: end the job
            self.master.fail(f"the dask backend's watcher stopped: {type(exc).__name__}: {exc}".replace("\n", " "))

    def _replace_ended_loops(self):
        for future in self.futures:
            if self._stopping or self.master.wait_quietly(0) or future.status == "cancelled":
                return
            why = future.exception() if future.status == "error" else None
            if isinstance(why, KilledWorker):
                # Its Dask worker died: the master charges the attempt it held, if any, and bounds those.
                self._deaths += 1
                budget, ended = self._death_budget, self._deaths
            else:  # the loop could not run (no app, no master) or returned early: it would again
                self._failures += 1
                budget, ended = self._budget, self._failures
            if ended > budget:
                last = f"{type(why).__name__}: {why}" if why is not None else f"it returned {future.result()}"
                self.master.fail(
                    f"mrkit's workers on Dask ended {ended} times before the job was over (last: {last})".replace("\n", " ")
                )
                return
            self._submit()

    def cancel(self):
        with self._lock:
            self._stopping = True
            futures = list(self._submitted)
        cancel(self.client, futures)

    def join(self):
        if self._watcher is not None:
            self._watcher.join(5.0)
        if self.client.status != "running":  # a scheduler that went away holds no plugin: waiting on it would take
            return  # the client's whole reconnect window
        try:
            self.client.unregister_worker_plugin(self.plugin)
        except Exception:  # a cluster that went away has no plugin to remove either
            pass

    def records(self, records):
        return records


def run(app, inputs, **options):
    """The `dask` backend (mrkit.backends.BACKENDS): job.run_on_dask with mrkit's workers as Dask tasks."""
    return run_on_dask(WorkerLoops, app, inputs, **options)


run.__signature__ = options_of(run_on_dask)  # what it takes: a sweep checks its backend_options against it

"""The LocalCluster a dask job starts for itself: its nannies restart their dead workers for as long as the job runs.

Dask's SpecCluster closes a nanny whose worker has not registered again within
`distributed.deploy.lost-worker-timeout` (15 s) of a death. On a loaded
machine a restart takes longer than that, or the restarted worker dies again
while the first death's timer runs (the crash app); the nanny was then closed
for good, and once every nanny was, the master failed the job with "no worker
has been connected for 30 s". Here a timeout shorter than any restart makes
that certain on quiet cores too.
"""

import json
import os
import signal

import pytest
from conftest import app_path, mrkit, mrkit_popen, sorted_outputs, wait_until

pytestmark = pytest.mark.slow  # a LocalCluster whose worker is killed and restarted: seconds


@pytest.mark.timeout(300)
@pytest.mark.parametrize("backend", ["dask", "dask-tasks"])
def test_a_worker_restarting_slower_than_the_lost_worker_timeout_is_waited_for(corpus, tmp_path, backend):
    markers = tmp_path / "markers"
    markers.mkdir()
    job_dir = tmp_path / "job"
    job_dir.mkdir()
    job = mrkit_popen(
        "run",
        app_path("marked"),
        *corpus[:6],
        "--app-opt",
        f"marker_dir={markers}",
        "--backend",
        backend,
        "--workers",
        "1",
        "-r",
        "2",
        "--task-timeout",
        "2",
        "--json",
        cwd=job_dir,
        env={"DASK_DISTRIBUTED__DEPLOY__LOST_WORKER_TIMEOUT": "50ms"},
    )
    try:
        marker = wait_until(lambda: sorted(markers.glob("started-*")), "a map to start")[0]
        os.kill(int(marker.name.split("-")[1]), signal.SIGKILL)  # the cluster's only worker process
        out, err = job.communicate(timeout=240)
    finally:
        job.kill()
    assert job.returncode == 0, err
    assert json.loads(out)["retries"] >= 1, "the killed attempt is recorded"
    reference = tmp_path / "ref"
    reference.mkdir()
    mrkit("sequential", "wc", *corpus[:6], cwd=reference, check=True)
    assert sorted_outputs(job_dir) == sorted_outputs(reference)


def _preload(tmp_path, name, body):
    """A worker preload file (`distributed.worker.preload`): each worker of the cluster imports it as it starts."""
    path = tmp_path / f"{name}.py"
    path.write_text(body)
    return str(path)


@pytest.mark.timeout(300)
def test_a_caller_with_threads_of_its_own_gets_workers_that_do_not_inherit_their_locks(corpus, tmp_path, monkeypatch):
    """A fork copies the locks other threads hold at that instant. Here one of the caller's threads is importing
    the module every worker imports as it starts, when the workers are made: a worker forked from the caller
    waits for ever on that module's import lock (CI's report test once hung so before its first worker
    registered); one made by a forkserver imports it afresh."""
    import builtins
    import importlib
    import multiprocessing
    import sys
    import threading

    import dask

    import mrkit

    name = f"mrkit_import_in_progress_{os.getpid()}"
    preload = _preload(
        tmp_path,
        name,
        "import builtins, threading\n"
        "gate = getattr(builtins, 'mrkit_test_gate', None)\n"
        "if gate is not None and threading.current_thread().name == 'importer':\n"
        "    gate.wait()  # the caller's import stays in progress until a worker process exists\n",
    )
    gate = threading.Event()
    monkeypatch.setattr(builtins, "mrkit_test_gate", gate, raising=False)
    monkeypatch.syspath_prepend(str(tmp_path))
    importer = threading.Thread(target=importlib.import_module, args=(name,), name="importer", daemon=True)
    importer.start()
    wait_until(lambda: name in sys.modules, "the caller's thread to be importing the module")
    opener = threading.Thread(
        target=lambda: (wait_until(multiprocessing.active_children, "a worker process", limit=240), gate.set()),
        daemon=True,
    )
    opener.start()
    try:
        with dask.config.set({"distributed.worker.preload": [preload]}):
            summary, _ = mrkit.run("wc", corpus[:2], backend="dask", workers=1, n_reduce=1, workdir=tmp_path / "job")
    finally:
        gate.set()
        importer.join()
        sys.modules.pop(name, None)
    assert summary["backend"] == "dask"


@pytest.mark.timeout(300)
def test_workers_that_never_start_end_the_job_in_bounded_time_with_one_line_and_no_process_left(corpus, tmp_path, monkeypatch):
    import multiprocessing

    import dask

    import mrkit
    from mrkit.backends.dask import cluster
    from mrkit.errors import JobFailed

    monkeypatch.setattr(cluster, "WORKER_START_TIMEOUT_S", 3)  # the bound under test; these workers never start
    preload = _preload(tmp_path, "never_starts", "import threading\n\ndef dask_setup(worker):\n    threading.Event().wait()\n")
    with dask.config.set({"distributed.worker.preload": [preload]}), pytest.raises(JobFailed) as failed:
        mrkit.run("wc", corpus[:2], backend="dask", workers=2, n_reduce=1, workdir=tmp_path / "job")
    message = str(failed.value)
    assert "did not start within 3 s" in message and "\n" not in message
    assert multiprocessing.active_children() == []


@pytest.mark.timeout(300)
def test_a_script_without_a_main_guard_and_with_threads_runs_its_jobs_once(corpus, tmp_path):
    """A forkserver's worker runs the caller's script again (multiprocessing's spawn rule): a script that calls
    mrkit.run at its top level, with a thread of its own, must not start its jobs again in each worker."""
    import subprocess
    import sys

    runs = tmp_path / "top-level-runs.txt"
    script = tmp_path / "unguarded.py"
    script.write_text(
        "import sys, threading\n"
        "import mrkit\n"
        f"open({str(runs)!r}, 'a').write('ran\\n')\n"
        "threading.Thread(target=threading.Event().wait, daemon=True).start()  # a thread of its own\n"
        "for job in ('a', 'b'):\n"
        f"    workdir = {str(tmp_path)!r} + '/' + job\n"
        "    summary, _ = mrkit.run('wc', sys.argv[1:], backend='dask', workers=2, n_reduce=1, workdir=workdir)\n"
        "    print(summary['backend'])\n"
    )
    done = subprocess.run([sys.executable, str(script), *corpus[:2]], capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["dask", "dask"]
    assert runs.read_text() == "ran\n", "the script's top level ran once, not again in a worker"


@pytest.mark.timeout(300)
def test_the_workers_of_a_cluster_of_our_own_run_without_the_statistical_profiler():
    """The profiler interrupts the task thread every 10 ms; a cluster a job starts for itself leaves it off."""
    from mrkit.backends.dask.cluster import connect

    with connect(None, 2) as (client, own):
        profiling = client.run(lambda dask_worker: "profile" in dask_worker.periodic_callbacks)
    assert own and len(profiling) == 2 and not any(profiling.values())


@pytest.mark.timeout(300)
def test_the_event_loops_of_a_cluster_of_our_own_wake_once_a_second_not_every_20_ms():
    """A wake-up takes the GIL from the task thread: the lag tick and the memory monitor run each second."""
    from mrkit.backends.dask.cluster import connect

    def intervals(dask_worker):
        return {name: float(dask_worker.periodic_callbacks[name].callback_time) for name in ("tick", "memory_monitor")}

    with connect(None, 2) as (client, own):
        workers = client.run(intervals)
        scheduler_tick = client.run_on_scheduler(
            lambda dask_scheduler: float(dask_scheduler.periodic_callbacks["tick"].callback_time)
        )
    assert own and len(workers) == 2
    assert all(found == {"tick": 1000.0, "memory_monitor": 1000.0} for found in workers.values()) and scheduler_tick == 1000.0


@pytest.mark.timeout(300)
def test_a_cluster_of_our_own_serves_no_http_routes():
    """Nothing reads its metrics or health pages, and serving them costs imports at every job's start."""
    import urllib.error
    import urllib.request

    from mrkit.backends.dask.cluster import connect

    with connect(None, 1) as (client, own):
        port = client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.http_server.port)
        for page in ("health", "metrics"):
            with pytest.raises(urllib.error.HTTPError) as answer:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/{page}", timeout=30)
            assert answer.value.code == 404, page
    assert own


@pytest.mark.timeout(300)
def test_the_workers_of_a_cluster_of_our_own_inherit_the_package_versions_read_before_they_fork(tmp_path):
    """Each worker sends its packages' versions when it registers; read once in the process the workers fork from,
    they are found in distributed's per-process cache (hits), not read from disk again in each worker (misses)."""
    hits = _printed_by_script(
        tmp_path,
        "from distributed.versions import _version_cached\n"
        "if __name__ == '__main__':\n"
        "    with connect(None, 2) as (client, own):\n"
        "        found = client.run(lambda: _version_cached.cache_info().hits)\n"
        "    print(json.dumps(sorted(found.values())))\n",
    )
    assert len(hits) == 2 and all(n > 0 for n in hits), hits


@pytest.mark.timeout(300)
def test_the_workers_of_a_cluster_of_our_own_leave_the_heap_they_inherit_out_of_their_collections(tmp_path):
    """A script's heap, inherited by workers forked from it, is not walked by their full collections (local's rule)."""
    (walked,) = _printed_by_script(
        tmp_path,
        "import gc\n"
        "if __name__ == '__main__':\n"
        "    inherited = [[i] for i in range(1_000_000)]  # lists: always tracked\n"
        "    with connect(None, 1) as (client, own):\n"
        "        found = client.run(lambda: (gc.collect(), len(gc.get_objects()))[1])\n"
        "    print(json.dumps(list(found.values())))\n",
    )
    assert walked < 250_000, f"a worker's collections walked {walked} objects"


def _printed_by_script(tmp_path, body):
    """What a script (one thread: its workers fork from it) printed as JSON; `json` and `connect` are imported."""
    import subprocess
    import sys

    script = tmp_path / "script.py"
    script.write_text("import json\nfrom mrkit.backends.dask.cluster import connect\n" + body)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.parametrize("backend", ["dask", "dask-tasks"])
def test_a_local_cluster_of_more_workers_than_one_machine_holds_is_refused_before_it_starts(corpus, tmp_path, backend):
    """`-w 100000` went to LocalCluster(n_workers=100000) on 2 cores; `local` stops at 1,000."""
    import multiprocessing

    import mrkit
    from mrkit.errors import UsageError

    with pytest.raises(UsageError, match=r"^--workers must be at most 1,000, got 100,000$"):
        mrkit.run("wc", corpus[:1], backend=backend, workers=100_000, workdir=tmp_path / "job")
    assert multiprocessing.active_children() == []

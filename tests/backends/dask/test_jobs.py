"""The dask and dask-tasks backends end to end, on a real `dask scheduler` with two `dask worker`s and on
the LocalCluster default: outputs equal to `mrkit sequential`, crashes, a SIGKILLed worker, a deterministic
failure, Ctrl-C, S3 storage. Each case runs `mrkit run` as its own process, as a user would.
"""

import json
import os
import pathlib
import signal
import time

import psutil
import pytest
from conftest import BUCKET, app_path, mrkit, mrkit_popen, sorted_outputs, wait_until

pytestmark = pytest.mark.slow  # jobs on real Dask clusters (LocalCluster, scheduler + workers): seconds each

BACKENDS = ("dask", "dask-tasks")
CLUSTERS = ("scheduler", "local")


@pytest.fixture(params=CLUSTERS)
def cluster(request):
    """CLI options naming the cluster: the package's real scheduler, or none (a LocalCluster for the job)."""
    if request.param == "local":
        return []
    request.getfixturevalue("dask_client")  # both workers up
    return ["--scheduler", request.getfixturevalue("dask_scheduler")]


def _reference(app, inputs, tmp_path):
    ref = tmp_path / f"ref-{app}"
    ref.mkdir()
    mrkit("sequential", app, *inputs, cwd=ref, check=True)
    return sorted_outputs(ref)


def _run(app, inputs, backend, cluster, cwd, *extra, env=None, timeout=180):
    return mrkit(
        "run", app, *inputs, "--backend", backend, *cluster, "-r", "3", "--json", *extra, cwd=cwd, env=env, timeout=timeout
    )


@pytest.mark.timeout(300)
@pytest.mark.parametrize("backend", BACKENDS)
def test_wc_and_indexer_equal_sequential(corpus, tmp_path, backend, cluster):
    for app in ("wc", "indexer"):
        out = tmp_path / app
        out.mkdir()
        result = _run(app, corpus[:4], backend, cluster, out, "-m", "6")
        assert result.returncode == 0, result.stderr
        assert sorted_outputs(out) == _reference(app, corpus[:4], tmp_path)
        summary = json.loads(result.stdout)
        assert (summary["backend"], summary["n_map"], summary["n_reduce"], summary["retries"]) == (backend, 6, 3, 0)
        assert summary["workers_cpu_s"] > 0, "the Dask workers' CPU is recorded"
        assert not [p.name for p in out.iterdir() if p.name.startswith(".mr-") and p.name != ".mr-master.lock"]


@pytest.mark.timeout(300)
def test_attempts_beyond_the_cluster_s_threads_do_not_wait_in_dask_s_queue_on_the_task_timeout(
    corpus, tmp_path, dask_scheduler, dask_client
):
    """dask-tasks with W = 8 on 2 threads: an attempt the master handed out waited for a thread while its timeout
    ran (the last ones 6 s), and timed-out attempts were handed out again (backups) though they had not started.
    Only as many are in flight as the cluster has threads: each runs its 2 s well inside the 5 s timeout."""
    markers = tmp_path / "markers"
    markers.mkdir()
    done = _run(
        app_path("marked"),
        corpus[:8],
        "dask-tasks",
        ["--scheduler", dask_scheduler],
        tmp_path,
        "-w",
        "8",
        "--task-timeout",
        "5",
        "--app-opt",
        f"marker_dir={markers}",
        "--app-opt",
        "sleep=2",
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["workers"] == 8 and summary["retries"] == 0
    assert len(list(markers.iterdir())) <= 2 and sum(len(m.read_text().split()) for m in markers.iterdir()) == 8, (
        "each map (one file each) ran once, on the two Dask workers"
    )


@pytest.mark.timeout(120)
def test_a_worker_loop_whose_master_is_gone_ends_at_once_when_its_job_s_token_is_removed(tmp_path, dask_client):
    """As a job ends (Ctrl-C on a cluster you bring) its driver removes the token's plugin: a loop that finds the
    master gone returns at once, its thread free, instead of trying it for LOOP_PATIENCE_S and failing."""
    import socket
    import threading

    from mrkit.backends.dask import remote

    listener = socket.create_server(("127.0.0.1", 0))
    called = threading.Event()

    def master_that_goes():
        conn, _ = listener.accept()
        called.set()
        listener.close()
        conn.close()

    threading.Thread(target=master_that_goes, daemon=True).start()
    plugin = f"mrkit-token-test-{os.getpid()}"
    dask_client.register_plugin(remote.Token("t"), name=plugin)
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    loop = dask_client.submit(remote.worker_loop, ("wc", ()), url, plugin, str(tmp_path), pure=False)
    assert called.wait(60), "the loop called its master"
    dask_client.unregister_worker_plugin(plugin)
    assert loop.result(timeout=60) == 0


@pytest.mark.timeout(300)
@pytest.mark.parametrize("backend", BACKENDS)
def test_crash_app_output_equals_nocrash(corpus, tmp_path, backend, cluster):
    """A third of calls kill their Dask worker process (os._exit): each costs an attempt, never the job.

    As in test_local: a short task timeout, so stalls are backed up soon, and attempts to spare, for an
    attempt also dies when it waits on a worker that dies, and times out while a loaded machine restarts one.
    """
    inputs = corpus[:3]
    (tmp_path / "nocrash").mkdir()
    mrkit("run", "nocrash", *inputs, "-r", "2", cwd=tmp_path / "nocrash", check=True)
    (tmp_path / "crash").mkdir()
    result = mrkit(
        "run",
        "crash",
        *inputs,
        "--backend",
        backend,
        *cluster,
        "-r",
        "2",
        "--json",
        "--task-timeout",
        "2",
        "--max-attempts",
        "40",
        cwd=tmp_path / "crash",
        timeout=280,
    )
    assert result.returncode == 0, result.stderr
    assert sorted_outputs(tmp_path / "crash") == sorted_outputs(tmp_path / "nocrash")


@pytest.mark.timeout(300)
@pytest.mark.parametrize("backend", BACKENDS)
def test_worker_sigkilled_mid_map_costs_an_attempt(corpus, tmp_path, backend, cluster):
    markers = tmp_path / "markers"
    markers.mkdir()
    (tmp_path / "job").mkdir()
    inputs = corpus[:4]
    job = mrkit_popen(
        "run",
        app_path("marked"),
        *inputs,
        "--app-opt",
        f"marker_dir={markers}",
        "--backend",
        backend,
        *cluster,
        "-r",
        "3",
        "--json",
        cwd=tmp_path / "job",
    )
    try:
        marker = wait_until(lambda: sorted(markers.glob("started-*")), "a map to start")[0]
        victim = int(marker.name.split("-")[1])  # the Dask worker process running that map
        os.kill(victim, signal.SIGKILL)
        out, err = job.communicate(timeout=240)
    finally:
        job.kill()
    assert job.returncode == 0, err
    if not (backend == "dask-tasks" and cluster):
        assert json.loads(out)["retries"] >= 1, "the killed attempt is recorded"
    # else a scheduler we did not start re-runs the task itself first (distributed.scheduler.allowed-failures)
    assert sorted_outputs(tmp_path / "job") == _reference("wc", inputs, tmp_path)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("backend", BACKENDS)
def test_deterministic_failure_ends_in_one_line(corpus, tmp_path, backend, cluster):
    bad = tmp_path / "bad.txt"
    bad.write_text("words words\n")
    (tmp_path / "job").mkdir()
    started = time.monotonic()
    result = _run(app_path("failing"), [corpus[0], bad], backend, cluster, tmp_path / "job", "--max-attempts", "2", timeout=120)
    assert result.returncode == 1, result.stderr
    failed = [line for line in result.stderr.splitlines() if "job failed" in line]
    assert len(failed) == 1 and "bad.txt" in failed[0] and "ValueError: cannot digest" in failed[0], result.stderr
    assert "Traceback" not in result.stderr
    assert time.monotonic() - started < 110
    assert not list((tmp_path / "job").glob("mr-out-*"))


def _job_tasks(client):
    return client.run_on_scheduler(lambda dask_scheduler: sorted(k for k in dask_scheduler.tasks if str(k).startswith("mrkit-")))


@pytest.mark.timeout(300)
@pytest.mark.parametrize("backend", BACKENDS)
def test_ctrl_c_leaves_nothing_running(corpus, tmp_path, backend, cluster):
    _interrupt(corpus, tmp_path, backend, cluster, signal.SIGINT, 130)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("backend", BACKENDS)
def test_sigterm_to_a_job_on_its_own_cluster_leaves_nothing_running(corpus, tmp_path, backend):
    _interrupt(corpus, tmp_path, backend, [], signal.SIGTERM, 143)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("backend", BACKENDS)
def test_ctrl_c_on_a_terminal_is_one_line_from_a_job_on_its_own_cluster(corpus, tmp_path, backend):
    """A terminal's Ctrl-C reaches every process of its group, the LocalCluster's workers too: each printed
    a Dask worker's traceback (34 lines a worker) under the job's one line."""
    err = _interrupt(corpus, tmp_path, backend, [], signal.SIGINT, 130, whole_group=True)
    assert len(err.strip().splitlines()) == 1, err


def _interrupt(corpus, tmp_path, backend, cluster, signum, code, whole_group=False):
    """The job's stderr after `signum` mid-map (to its process group with `whole_group`, as a terminal sends
    Ctrl-C); asserts it ends with `code` and leaves nothing running."""
    markers = tmp_path / "markers"
    markers.mkdir()
    (tmp_path / "job").mkdir()
    job = mrkit_popen(
        "run",
        app_path("marked"),
        *corpus[:4],
        "--app-opt",
        f"marker_dir={markers}",
        "--app-opt",
        "sleep=3",
        "--backend",
        backend,
        *cluster,
        "-r",
        "3",
        cwd=tmp_path / "job",
        start_new_session=whole_group,
    )
    try:
        wait_until(lambda: list(markers.glob("started-*")), "a map to start")
        started = psutil.Process(job.pid).children(recursive=True)  # a LocalCluster's processes, if ours
        pids = {job.pid} | {p.pid for p in started}
        listening = {c.laddr.ip for c in psutil.net_connections("tcp") if c.status == "LISTEN" and c.pid in pids}
        assert listening <= {"127.0.0.1"}, f"listening beyond loopback: {listening}"
        os.killpg(job.pid, signum) if whole_group else job.send_signal(signum)
        _, err = job.communicate(timeout=60)
    finally:
        job.kill()
    assert job.returncode == code, err
    if signum == signal.SIGINT:
        assert err.strip().splitlines()[-1].endswith("interrupted")
    gone, alive = psutil.wait_procs(started, timeout=30)
    assert not alive, f"still running after Ctrl-C: {alive}"
    if cluster:
        from distributed import Client

        with Client(cluster[1], timeout="30s") as client:
            wait_until(lambda: not _job_tasks(client), "the job's tasks to leave the scheduler", 30)
            # a running attempt cannot be stopped inside Python: it ends within its own run time (sleep=3)
            wait_until(
                lambda: not any(client.run(lambda dask_worker: dask_worker.state.executing_count).values()),
                "the workers to be idle",
                30,
            )
            assert not any(client.run(lambda dask_worker: [p for p in dask_worker.plugins if p.startswith("mrkit-")]).values())
    return err


@pytest.mark.timeout(300)
@pytest.mark.parametrize("backend", BACKENDS)
def test_s3_storage_on_moto(corpus, tmp_path, backend, cluster, s3_client, dask_env):
    inputs = corpus[:3]
    result = _run("wc", inputs, backend, cluster, tmp_path, "--storage", f"s3://{BUCKET}/{backend}", env=dask_env)
    assert result.returncode == 0, result.stderr
    keys = [o["Key"] for o in s3_client.list_objects_v2(Bucket=BUCKET, Prefix=f"{backend}/")["Contents"]]
    lines = sorted(
        line
        for key in keys
        if key.startswith(f"{backend}/mr-out-")
        for line in s3_client.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode().splitlines()
    )
    assert lines == _reference("wc", inputs, tmp_path)
    assert sum(k.startswith(f"{backend}/inputs/") for k in keys) == 3, "local inputs are staged as for ECS"
    assert not list(tmp_path.glob("mr-*"))


@pytest.mark.timeout(180)
@pytest.mark.parametrize("backend", BACKENDS)
def test_mrkit_run_takes_a_client_and_functions_from_a_notebook(corpus, tmp_path, backend, dask_client):
    """In a notebook: mrkit.run(..., backend=, scheduler=Client), with functions defined there (sent by value)."""
    import mrkit

    def mapper(filename, contents):
        return [(word.lower(), "1") for word in contents.split() if word.isalpha()]

    def reducer(key, values):
        return str(len(values))

    result = mrkit.run(
        {"map": mapper, "reduce": reducer}, corpus[:3], backend=backend, scheduler=dask_client, workdir=tmp_path, n_reduce=2
    )
    assert result.summary["backend"] == backend and result.summary["workers"] == 2
    expected = {}
    for path in corpus[:3]:
        with open(path, encoding="utf-8") as f:
            for word in f.read().split():
                if word.isalpha():
                    expected[word.lower()] = expected.get(word.lower(), 0) + 1
    assert {k: int(v) for k, v in (line.split(" ") for line in sorted_outputs(tmp_path))} == expected
    tasks = result.tasks[result.tasks.phase != "split"]
    dask_pids = set(dask_client.run(os.getpid).values())
    assert set(tasks.pid) <= dask_pids, "every attempt ran in a Dask worker process"
    if backend == "dask-tasks":
        assert set(tasks.worker) <= {"dw0", "dw1"}, "records name the Dask worker"
    assert tasks.cpu_s.notna().all() and (tasks.status == "ok").all()
    # the workers' CPU over the job: no less than their attempts', which ran one at a time on each
    assert result.summary["workers_cpu_s"] >= tasks.cpu_s.sum() > 0


@pytest.mark.timeout(180)
def test_a_sweep_file_runs_on_dask(corpus, tmp_path, dask_scheduler, dask_client):
    from mrkit.experiments.sweeps import sweep as sw

    path = tmp_path / "on_dask.yaml"
    path.write_text(f"""description: two points on dask-tasks
app: wc
backend: dask-tasks
backend_options: {{scheduler: "{dask_scheduler}"}}
n_map: [1, 2]
n_reduce: 2
repeats: 1
warmup: false
inputs: [{corpus[0]}, {corpus[1]}]
""")
    (tmp_path / "scratch").mkdir()
    out = sw.run_sweep(sw.load_sweep(path), tmp_path / "results", progress=False, scratch=tmp_path / "scratch")
    import csv

    with open(out / "runs.csv", encoding="utf-8") as f:
        runs = list(csv.DictReader(f))
    assert [(r["backend"], r["n_map"]) for r in runs] == [("dask-tasks", "1"), ("dask-tasks", "2")]


@pytest.mark.timeout(300)
def test_a_sweep_with_a_backend_axis_records_each_backend_on_the_local_cluster_default(corpus, tmp_path):
    """`backends:` runs each configuration on each engine (a LocalCluster of its own for the dask ones),
    plus one crash-app run per engine; runs.csv says which backend ran each, and its config_id ends in it."""
    from mrkit.experiments.sweeps import sweep as sw

    path = tmp_path / "engines.yaml"
    path.write_text(f"""description: one point and a crash run on each engine
app: wc
backends: [local, dask, dask-tasks]
pairs: [[2, 2]]
repeats: 1
warmup: false
crash: {{n_map: 2, n_reduce: 2, workers: 2, task_timeout: 10.0, max_attempts: 30}}
inputs: [{corpus[0]}, {corpus[1]}]
""")
    (tmp_path / "scratch").mkdir()
    out = sw.run_sweep(sw.load_sweep(path), tmp_path / "results", progress=False, scratch=tmp_path / "scratch")
    import csv

    with open(out / "runs.csv", encoding="utf-8") as f:
        runs = list(csv.DictReader(f))
    assert [(r["app"], r["backend"], r["config_id"]) for r in runs] == [
        ("wc", "local", "m2-r2-w2-local"),
        ("wc", "dask", "m2-r2-w2-dask"),
        ("wc", "dask-tasks", "m2-r2-w2-dask-tasks"),
        ("crash", "local", "crash-m2-r2-w2-local"),
        ("crash", "dask", "crash-m2-r2-w2-dask"),
        ("crash", "dask-tasks", "crash-m2-r2-w2-dask-tasks"),
    ]
    with open(out / "tasks.csv", encoding="utf-8") as f:
        tasks = list(csv.DictReader(f))
    assert {t["config_id"] for t in tasks} == {r["config_id"] for r in runs}, "every run's task records are kept"


def test_usage_errors_are_one_line(corpus, tmp_path):
    result = mrkit("run", "wc", corpus[0], "--scheduler", "tcp://127.0.0.1:1", cwd=tmp_path)
    assert result.returncode == 2 and "use it with --backend dask or dask-tasks" in result.stderr
    result = mrkit("run", "wc", corpus[0], "--backend", "dask", "--slow-workers", "1", "--slowdown", "2", cwd=tmp_path)
    assert result.returncode == 2 and "for the local backend" in result.stderr.strip().splitlines()[-1]


@pytest.mark.timeout(180)
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_stalled_attempt_gets_a_backup_past_the_task_timeout(corpus, tmp_path, backend):
    """Dask has no speculation of its own: mrkit's master backs the attempt up, and the first to finish wins."""
    import mrkit

    markers = tmp_path / "markers"
    markers.mkdir()
    started = time.monotonic()
    result = mrkit.run(
        app_path("stalls_once"),
        corpus[:2],
        backend=backend,
        workers=2,
        n_reduce=2,
        task_timeout=1.0,
        workdir=tmp_path / "job",
        app_options={"marker_dir": str(markers), "stall": "60"},
    )
    assert time.monotonic() - started < 50, "the job did not wait for the stalled attempt"
    assert sorted_outputs(tmp_path / "job") == _reference("wc", corpus[:2], tmp_path)
    maps = result.tasks[result.tasks.phase == "map"]
    stalled = maps[maps.attempt == 2]
    assert len(stalled) == 1 and stalled.status.iloc[0] == "ok", maps[["task", "attempt", "status"]]
    first = maps[(maps.task == stalled.task.iloc[0]) & (maps.attempt == 1)]
    assert first.status.iloc[0] in ("timed_out", "superseded")


@pytest.mark.timeout(60)
def test_an_unreachable_scheduler_is_one_line(corpus, tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nobody listens there once it is closed
    result = mrkit(
        "run", "wc", corpus[0], "--backend", "dask-tasks", "--scheduler", f"tcp://127.0.0.1:{port}", cwd=tmp_path, timeout=50
    )
    assert result.returncode == 2, result.stderr
    assert f"cannot reach the Dask scheduler at tcp://127.0.0.1:{port}" in result.stderr.strip().splitlines()[-1]


@pytest.mark.timeout(180)
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_storage_directory_that_does_not_exist_yet_is_made_as_local_makes_it(
    corpus, tmp_path, backend, dask_scheduler, dask_client
):
    store = tmp_path / "new" / "store"
    result = _run("wc", corpus[:2], backend, ["--scheduler", dask_scheduler], tmp_path, "--storage", store)
    assert result.returncode == 0, result.stderr
    assert sorted_outputs(store) == _reference("wc", corpus[:2], tmp_path)
    assert not list(store.glob(".mr-dask-visible-*")), "the visibility check's marker is gone"


def _scheduler_killed_mid_map(lone_worker, corpus, tmp_path, *options):
    """(address, exit status, stderr) of `mrkit run stalls_once` on a scheduler of its own with one worker,
    the scheduler SIGKILLed while the job's first map attempt runs."""
    address = lone_worker()
    markers = tmp_path / "markers"
    markers.mkdir()
    job = mrkit_popen(
        "run", app_path("stalls_once"), *corpus[:2], "-r", "2", "--scheduler", address,
        "--app-opt", f"marker_dir={markers}", *options, cwd=tmp_path, start_new_session=True,
    )  # fmt: skip
    try:
        wait_until(lambda: (markers / "first").exists() or job.poll() is not None, "the first map attempt running")
        os.killpg(lone_worker.schedulers[0].pid, signal.SIGKILL)
        _, err = job.communicate(timeout=150)
    finally:
        if job.poll() is None:
            os.killpg(job.pid, signal.SIGKILL)
    return address, job.returncode, err


@pytest.mark.timeout(180)
def test_a_scheduler_that_goes_away_mid_job_fails_a_dask_tasks_job_in_one_line(corpus, tmp_path, lone_worker):
    """Every attempt needs the scheduler: once the client gives up reconnecting, the job ends saying why
    (it waited out task timeouts, then a traceback from cancelling on the closed client hid its line)."""
    address, status, err = _scheduler_killed_mid_map(
        lone_worker, corpus, tmp_path, "--backend", "dask-tasks", "--app-opt", "stall=60"
    )
    assert status == 1, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and f"job failed: lost the Dask scheduler at {address}" in lines[0], err
    assert not list(tmp_path.glob("mr-out-*"))


@pytest.mark.timeout(180)
def test_a_dask_job_whose_scheduler_goes_away_mid_job_finishes_exact_and_quietly(corpus, tmp_path, lone_worker):
    """Its worker loops talk to the master, not the scheduler: the job ends as usual, with its one summary line
    (distributed logged giving up on the scheduler with a traceback, and closing waited out its reconnect)."""
    _, status, err = _scheduler_killed_mid_map(
        lone_worker, corpus, tmp_path, "--backend", "dask", "--app-opt", "stall=3", "--task-timeout", "60"
    )
    assert status == 0, err
    assert len(err.strip().splitlines()) == 1 and "outputs in" in err, err
    assert sorted_outputs(tmp_path) == _reference("wc", corpus[:2], tmp_path)


@pytest.mark.timeout(180)
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_run_on_a_cluster_you_bring_records_its_threads_as_the_jobs_cores(corpus, tmp_path, lone_worker, backend):
    """One worker of one thread, while this process may use every CPU here: the job had 1 core, not this host's."""
    result = _run("wc", corpus[:2], backend, ["--scheduler", lone_worker()], tmp_path)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["cores"] == 1 and summary["workers"] == 1, summary


@pytest.mark.timeout(180)
def test_a_cluster_whose_threads_are_all_taken_fails_a_dask_job_saying_so(corpus, tmp_path, lone_worker):
    """The advice for `mrkit master`'s workers (start `mrkit worker`, --no-workers-timeout) is wrong here."""
    import time

    from distributed import Client

    address = lone_worker()
    with Client(address, timeout="30s") as other:
        busy = other.submit(time.sleep, 120, pure=False)  # another user's work holds the one thread
        wait_until(lambda: busy.key in {k for keys in other.processing().values() for k in keys}, "the other work running")
        result = mrkit(
            "run", "wc", corpus[0], "--backend", "dask", "--scheduler", address, "--task-timeout", "1", cwd=tmp_path, timeout=120
        )
        other.cancel(busy, force=True)
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "mrkit's worker loops did not start on the Dask cluster" in lines[0], result.stderr
    assert "--no-workers-timeout" not in lines[0] and "mrkit worker" not in lines[0]


@pytest.mark.timeout(90)
def test_a_port_that_accepts_but_never_answers_as_dask_is_one_line(corpus, tmp_path):
    """A web server's port, say: it takes the connection and waits for a request that never comes."""
    import socket
    import threading

    held = []
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        threading.Thread(target=lambda: held.append(server.accept()), daemon=True).start()
        port = server.getsockname()[1]
        result = mrkit(
            "run", "wc", corpus[0], "--backend", "dask", "--scheduler", f"tcp://127.0.0.1:{port}", cwd=tmp_path, timeout=80
        )
    assert held, "it did connect"
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"cannot reach the Dask scheduler at tcp://127.0.0.1:{port}" in lines[0], result.stderr
    assert "no Dask handshake" in lines[0]


@pytest.mark.parametrize("address", ["garbage", "tcp://", "tcp://127.0.0.1:abc", "http://127.0.0.1:8786"])
def test_a_malformed_scheduler_address_is_one_line(corpus, tmp_path, address):
    result = mrkit("run", "wc", corpus[0], "--backend", "dask-tasks", "--scheduler", address, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"--scheduler {address!r} is not a Dask scheduler address" in lines[0], result.stderr
    assert not list(tmp_path.glob("mr-*")), "nothing of a job was written"


@pytest.mark.timeout(120)
@pytest.mark.parametrize("backend", BACKENDS)
def test_an_app_file_given_relative_to_the_cwd_runs_on_the_workers(corpus, tmp_path, backend, dask_scheduler, dask_client):
    (tmp_path / "myapp.py").write_text((pathlib.Path(app_path("failing"))).read_text())
    result = _run("myapp.py", corpus[:2], backend, ["--scheduler", dask_scheduler], tmp_path)
    assert result.returncode == 0, result.stderr
    assert sorted_outputs(tmp_path) == ["ok 2"]

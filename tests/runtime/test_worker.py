"""The worker loop against a real RPC server whose routes play the master, its attempt files,
and `mrkit worker` processes whose app leaves processes behind."""

import json
import signal
import threading
import time

import pytest
from conftest import app_path, mrkit, mrkit_popen, recorded_pids, wait_until

from mrkit.app import load_app
from mrkit.runtime import protocol
from mrkit.runtime.rpc import RpcClient, RpcServer
from mrkit.runtime.worker import AttemptFiles, MasterUnreachable, run_worker, work
from mrkit.storage.local import LocalStorage


def test_attempt_files_hide_job_files_under_the_attempt_s_names(tmp_path):
    storage = LocalStorage(tmp_path)
    files = AttemptFiles(storage, "run1", 3)
    files.write_bytes("mr-0-1", b"x")
    with files.atomic_writer("mr-out-1") as out:
        out.write(b"y")
    files.write_bytes(".mr-run-0-ab-1-0.tmp", b"z")  # a reduce's merge run: not a job file
    assert storage.list("") == [], "nothing visible under mr-*"
    assert files.written == [protocol.attempt_name("mr-0-1", "run1", 3), protocol.attempt_name("mr-out-1", "run1", 3)]
    assert (tmp_path / ".mr-out-1.run1.a3.tmp").read_bytes() == b"y"
    assert protocol.is_attempt_file(".mr-out-1.run1.a3.tmp", "run1")
    assert not protocol.is_attempt_file(".mr-out-1.run1.a3.tmp", "run2")
    files.discard()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".mr-run-0-ab-1-0.tmp"]


class _FakeMaster:
    """Hands out one map task, then answers reports as `answer(path, body)` says."""

    def __init__(self, tmp_path, answer):
        (tmp_path / "in.txt").write_text("a b a\n")
        self.reports = []
        self.answer = answer
        self.task = {
            "worker": "w0",
            "run_id": "r1",
            "action": "map",
            "attempt": 1,
            "task": {"task": 0, "n_reduce": 1, "splits": [["in.txt", "in.txt", 0, 6]]},
        }
        self.server = RpcServer(
            ("127.0.0.1", 0),
            "t",
            {("POST", "/task"): self._task, ("POST", "/done"): self._report, ("POST", "/fail"): self._report},
        )
        self.server.serve_in_background()

    def _task(self, body, session):
        return 200, self.task

    def _report(self, body, session):
        self.reports.append(body)
        return self.answer(body)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_master(tmp_path):
    made = []

    def make(answer):
        made.append(_FakeMaster(tmp_path, answer))
        return made[-1]

    yield make
    for master in made:
        master.close()


def _sys_exit_app():
    def map_(filename, contents):
        raise SystemExit(3)

    return load_app({"map": map_, "reduce": lambda k, v: str(len(v))})


def test_sys_exit_in_an_app_is_the_app_s_failure_not_the_worker_s_exit(fake_master, tmp_path):
    master = fake_master(lambda body: (200, {"worker": "w0", "run_id": "r1", "action": "exit", "failed": None}))
    code = work(_sys_exit_app(), RpcClient(master.server.url, "t"), LocalStorage(tmp_path))
    assert code == 0
    (report,) = master.reports
    assert report["error"] == "the app called sys.exit(3)" and report["counters"]["cpu_s"] >= 0


def test_an_unexpected_answer_is_exit_1_not_a_clean_end(fake_master, tmp_path, monkeypatch, capsys):
    master = fake_master(lambda body: (500, {"error": "boom"}))
    monkeypatch.chdir(tmp_path)
    code = run_worker(load_app("wc"), LocalStorage(tmp_path), master_url=master.server.url, token_file=str(_token(tmp_path)))
    assert code == 1 and "500" in capsys.readouterr().err
    assert not list(tmp_path.glob(".mr-*")), "an attempt whose report was not taken removes its files"


def _read_request(conn):
    data = b""
    while b"\r\n\r\n" not in data:
        data += conn.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
    while len(body) < length:
        body += conn.recv(65536)
    return head


def _master_gone_after_one_report(tmp_path):
    """(url, thread, reported): a master that hands out one map, takes its report and is gone (refused after)."""
    import json
    import socket

    (tmp_path / "in.txt").write_text("a b a\n")
    listener = socket.create_server(("127.0.0.1", 0))
    reported = threading.Event()

    def serve():
        conn, _ = listener.accept()
        _read_request(conn)
        body = json.dumps(
            {
                "worker": "w0",
                "run_id": "r1",
                "action": "map",
                "attempt": 1,
                "task": {"task": 0, "n_reduce": 1, "splits": [["in.txt", "in.txt", 0, 6]]},
            }
        ).encode()
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
            + str(len(body)).encode()
            + b"\r\n\r\n"
            + body
        )
        assert b"/done" in _read_request(conn)
        reported.set()
        listener.close()  # gone: the retry is refused
        conn.close()

    thread = threading.Thread(target=serve)
    thread.start()
    return f"http://127.0.0.1:{listener.getsockname()[1]}", thread, reported


def test_a_master_gone_mid_report_is_not_a_clean_end_and_leaves_no_files(tmp_path):
    """A master that dies as the report arrives: the worker tries again for its patience, then gives up (exit 1)."""
    url, thread, reported = _master_gone_after_one_report(tmp_path)
    began = time.monotonic()
    with pytest.raises(MasterUnreachable, match=r"^cannot reach the master for \d+ s \(.*\): it died or the network"):
        work(load_app("wc"), RpcClient(url, "t"), LocalStorage(tmp_path), patience_s=1.0)
    assert time.monotonic() - began >= 1.0, "it tried again for its whole patience"
    thread.join(10)
    assert reported.is_set()
    assert not list(tmp_path.glob(".mr-*")) and not list(tmp_path.glob("mr-*"))


@pytest.mark.timeout(60)
def test_a_worker_whose_launcher_says_the_job_is_over_ends_at_once_when_its_master_is_gone(tmp_path):
    """A Dask loop's driver removes its token as the job ends: the loop stops trying its master (an hour's patience
    here) and its thread is free."""
    url, thread, reported = _master_gone_after_one_report(tmp_path)
    heard = []
    code = work(
        load_app("wc"), RpcClient(url, "t"), LocalStorage(tmp_path), patience_s=3600, say=heard.append, told_over=reported.is_set
    )
    assert code == 0 and heard == ["the job is over (its launcher says so)"]
    thread.join(10)


def _token(tmp_path):
    path = tmp_path / "token"
    path.write_text("t")
    return path


# ---- why a worker exits: job over, master gone, stale mr-master.json (issue 22 D4 and "also seen") ----------


def _job(tmp_path, *master_args):
    (tmp_path / "in.txt").write_text("a b a\n" * 10)
    master = mrkit_popen("master", "-r", "1", *master_args, "in.txt", cwd=tmp_path)
    wait_until(lambda: (tmp_path / "mr-master.json").exists(), "mr-master.json")
    return master


@pytest.mark.timeout(60)
def test_a_worker_says_the_job_is_over_when_the_master_says_so(tmp_path):
    master = _job(tmp_path)
    worker = mrkit("worker", "wc", cwd=tmp_path)
    assert master.wait(timeout=30) == 0
    assert worker.returncode == 0 and worker.stderr == "mrkit worker: the master says the job is done\n"
    late = mrkit("worker", "wc", cwd=tmp_path)  # after the master: its run record says the job is over
    assert late.returncode == 0 and late.stderr.count("\n") == 1 and "the job is over" in late.stderr


@pytest.mark.timeout(60)
def test_a_worker_whose_master_dies_mid_task_exits_1_with_one_line(tmp_path):
    master = _job(tmp_path)
    worker = mrkit_popen(
        "worker", app_path("faulty"), "--app-opt", "fault=slow", "--app-opt", "seconds=2", "--master-timeout", "1", cwd=tmp_path
    )
    wait_until(lambda: list(tmp_path.glob("pid-*")), "the worker is mapping")
    master.kill()
    master.wait()
    assert worker.wait(timeout=30) == 1
    err = worker.stderr.read()
    assert (
        err.count("\n") == 1
        and err.startswith("mrkit worker: cannot reach the master for ")
        and "it died or the network is down" in err
    ), err
    assert not list(tmp_path.glob(".mr-*.tmp")), "the attempt's files were removed"


@pytest.mark.timeout(60)
def test_a_worker_mid_task_when_its_master_is_stopped_exits_1_as_the_run_record_says(tmp_path):
    """The run record of a failed or stopped job read as a clean end: exit 0, 'the master has finished the job'."""
    master = _job(tmp_path)
    worker = mrkit_popen("worker", app_path("faulty"), "--app-opt", "fault=slow", "--app-opt", "seconds=2", cwd=tmp_path)
    wait_until(lambda: list(tmp_path.glob("pid-*")), "the worker is mapping")
    master.terminate()
    assert master.wait(timeout=30) == 143
    assert json.loads((tmp_path / "mr-run.json").read_text())["failed"] == "the master was stopped before the job finished"
    assert worker.wait(timeout=30) == 1
    err = worker.stderr.read()
    assert err == "mrkit worker: job failed: the master was stopped before the job finished\n", err


@pytest.mark.timeout(60)
def test_a_worker_facing_a_stale_master_file_exits_1_with_one_line(tmp_path):
    master = _job(tmp_path)
    info = json.loads((tmp_path / "mr-master.json").read_text())
    master.send_signal(signal.SIGKILL)
    master.wait()
    assert json.loads((tmp_path / "mr-master.json").read_text()) == info, "a killed master leaves its file"
    worker = mrkit("worker", "wc", cwd=tmp_path)
    assert worker.returncode == 1
    assert worker.stderr == (
        f"mrkit worker: mr-master.json is stale: its master (pid {info['pid']}) is not running "
        "and left no run record; start `mrkit master` again\n"
    )


def _standalone_job(tmp_path, *worker_options, **popen):
    """`mrkit master` on two small inputs here, and one `mrkit worker` running tests/apps/spawner.py."""
    for name in ("a.txt", "b.txt"):
        (tmp_path / name).write_text("the quick brown fox\n" * 20)
    master = mrkit_popen("master", "-r", "1", "--task-timeout", "300", "a.txt", "b.txt", cwd=tmp_path)
    wait_until(lambda: (tmp_path / "mr-master.json").exists(), "mr-master.json")
    worker = mrkit_popen("worker", app_path("spawner"), "--app-opt", "fork=1", *worker_options, cwd=tmp_path, **popen)
    return master, worker


@pytest.mark.timeout(180)
def test_a_standalone_worker_s_children_end_with_the_job(tmp_path, app_children):
    """Issue 22 D8 with `mrkit worker`: the job ends, the worker exits, and nothing its maps started is left."""
    master, worker = _standalone_job(tmp_path)
    assert master.wait(timeout=120) == 0, master.stderr.read()
    assert worker.wait(timeout=60) == 0, worker.stderr.read()
    assert len(recorded_pids(tmp_path, "child")) == 4, "two maps, each a subprocess and a fork"
    wait_until(lambda: not app_children(), "the app's processes are gone")


@pytest.mark.timeout(180)
def test_a_standalone_worker_stopped_by_sigterm_ends_its_children(tmp_path, app_children):
    master, worker = _standalone_job(tmp_path, "--app-opt", "hold=300")
    try:
        wait_until(lambda: len(app_children()) == 2, "the worker's map started its processes")
        worker.send_signal(signal.SIGTERM)
        _, stderr = worker.communicate(timeout=60)
        assert worker.returncode == 143 and stderr.strip() == "mrkit worker: stopped by SIGTERM", stderr
        wait_until(lambda: not app_children(), "the worker's processes are gone")
    finally:
        master.kill()
        master.communicate()


@pytest.mark.timeout(180)
def test_a_standalone_worker_killed_in_a_group_of_its_own_takes_its_children(tmp_path, app_children):
    """SIGKILL cleans nothing up: the worker's guard kills its group (a shell's job, a container's entry point)."""
    master, worker = _standalone_job(tmp_path, "--app-opt", "hold=300", start_new_session=True)
    try:
        wait_until(lambda: len(app_children()) == 2, "the worker's map started its processes")
        worker.kill()
        worker.communicate(timeout=60)
        wait_until(lambda: not app_children(), "the worker's processes are gone")
    finally:
        master.kill()
        master.communicate()

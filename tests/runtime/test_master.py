"""The master's task table, driven over real HTTP by hand-made worker calls.

A hand-made worker writes its attempt's files where a real one would (the
hidden attempt names), so the master's commit renames real files.
"""

import socket
import threading
import time
import urllib.parse
import urllib.request

import pytest

from mrkit.errors import AuthError, JobFailed, UsageError
from mrkit.job import JobSpec, resolve_inputs
from mrkit.runtime import protocol
from mrkit.runtime.master import Master
from mrkit.runtime.rpc import RpcClient, RpcError
from mrkit.storage.local import LocalStorage


@pytest.fixture
def make_master(tmp_path):
    masters = []

    def make(n_files=1, n_reduce=1, task_timeout=10.0, poll_s=0.3, max_attempts=10, directory=tmp_path):
        paths = []
        for i in range(n_files):
            path = directory / f"in{i}.txt"
            path.write_text("some words here\n")
            paths.append(str(path))
        spec = JobSpec(resolve_inputs(paths), n_reduce=n_reduce, task_timeout=task_timeout, max_attempts=max_attempts)
        master = Master(spec, LocalStorage(directory), poll_s=poll_s).start()
        masters.append(master)
        return master

    yield make
    for master in masters:
        master.shutdown(grace_s=0)


def _client(master, pid):
    return RpcClient(master.url, master.token), {"pid": pid, "host": "test"}


def _write_attempt_files(master, reply, partitions, text):
    """What a worker's AttemptFiles would write for this attempt."""
    task = reply["task"]["task"]
    names = [f"mr-{task}-{r}" for r, _ in partitions] if reply["action"] == "map" else [f"mr-out-{task}"]
    for name in names:
        master.storage.write_bytes(protocol.attempt_name(name, reply["run_id"], reply["attempt"]), text.encode())


def _done(master, client, identity, reply, text="x", **extra):
    _write_attempt_files(master, reply, extra.get("partitions", []), text)
    now = time.time()
    body = {
        **identity,
        "worker": reply["worker"],
        "phase": reply["action"],
        "task": reply["task"]["task"],
        "attempt": reply["attempt"],
        "start": now - 0.01,
        "end": now,
        "counters": {},
        **extra,
    }
    return client.call("POST", "/done", body)


def _task(client, identity, reply=None):
    """Ask for work until some comes (an idle worker long-polls)."""
    body = {**identity, **({"worker": reply["worker"]} if reply else {})}
    reply = client.call("POST", "/task", body)
    while reply["action"] == "wait":
        reply = client.call("POST", "/task", {**body, "worker": reply["worker"]})
    return reply


def test_requests_need_the_token(make_master):
    master = make_master()
    with pytest.raises(AuthError):
        RpcClient(master.url, "wrong").call("POST", "/task", {})
    request = urllib.request.Request(master.url + "/status")
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(request, timeout=5)
    assert err.value.code == 401


def test_maps_come_before_reduces_and_the_job_finishes(make_master):
    master = make_master(n_files=2, n_reduce=2)
    a, ida = _client(master, 1)
    first = a.call("POST", "/task", ida)
    second = a.call("POST", "/task", {**ida, "worker": first["worker"]})
    assert [first["action"], second["action"]] == ["map", "map"]
    b, idb = _client(master, 2)
    started = time.monotonic()
    assert b.call("POST", "/task", idb)["action"] == "wait", "no reduce while maps run"
    assert time.monotonic() - started >= 0.25, "an idle worker long-polls instead of spinning"
    _done(master, a, ida, first, partitions=[[0, 10], [1, 20]])
    reply = _done(master, a, ida, second, partitions=[[1, 5]])
    assert reply["action"] == "reduce"
    assert master.status()["phase"] == "reduce"
    payloads = {reply["task"]["task"]: reply["task"]}
    other = b.call("POST", "/task", idb)
    payloads[other["task"]["task"]] = other["task"]
    assert {r: p["maps"] for r, p in payloads.items()} == {0: [0], 1: [0, 1]}, (
        "a reduce reads only the maps that wrote its partition"
    )
    assert {r: p["bytes_in"] for r, p in payloads.items()} == {0: 10, 1: 25}
    assert _done(master, a, ida, reply)["action"] == "wait"
    assert _done(master, b, idb, other)["action"] == "exit"
    assert master.wait(1) and master.done()
    status = master.status()
    assert status["phase"] == "done" and status["map"]["done"] == 2 and status["reduce"]["done"] == 2


def test_a_waiting_worker_wakes_when_work_appears(make_master):
    master = make_master(n_files=1, n_reduce=2, poll_s=5)
    a, ida = _client(master, 1)
    task = a.call("POST", "/task", ida)
    b, idb = _client(master, 2)
    got = {}
    waiter = threading.Thread(target=lambda: got.update(b.call("POST", "/task", idb)))
    waiter.start()
    time.sleep(0.2)
    started = time.monotonic()
    assert _done(master, a, ida, task, partitions=[[0, 1], [1, 1]])["action"] == "reduce"  # the reporter takes one
    waiter.join(5)
    assert got["action"] == "reduce" and time.monotonic() - started < 1.0, "the waiter takes the other"


def _statuses(master):
    return {(r["phase"], r["task"], r["attempt"]): r["status"] for r in master.task_records() if r["phase"] != "split"}


def _fail(client, identity, reply, error="KeyError: 'x'"):
    now = time.time()
    return client.call(
        "POST",
        "/fail",
        {
            **identity,
            "worker": reply["worker"],
            "phase": reply["action"],
            "task": reply["task"]["task"],
            "attempt": reply["attempt"],
            "start": now,
            "end": now,
            "error": error,
        },
    )


def test_the_first_finished_attempt_wins_even_after_its_timeout(make_master, tmp_path):
    master = make_master(task_timeout=0.5, n_reduce=2)
    a, ida = _client(master, 1)
    slow = a.call("POST", "/task", ida)
    b, idb = _client(master, 2)
    again = _task(b, idb)
    assert (again["action"], again["task"]["task"], again["attempt"]) == ("map", 0, 2), "a timed-out task is handed out again"
    _done(master, a, ida, slow, text="late but first", partitions=[[0, 1]])
    assert master.status()["map"]["done"] == 1, "the revoked attempt finished first: it completes the task"
    _done(master, b, idb, again, text="second", partitions=[[0, 1], [1, 1]])
    assert _statuses(master) == {("map", 0, 1): "ok", ("map", 0, 2): "superseded"}
    assert (tmp_path / "mr-0-0").read_text() == "late but first", "only the winner's files become mr-* files"
    assert not (tmp_path / "mr-0-1").exists(), "the loser's files are removed, not committed"
    assert LocalStorage(tmp_path).list(".mr-", temporary=True) == []


def test_duplicate_completion_is_ignored(make_master):
    master = make_master(n_files=2)
    a, ida = _client(master, 1)
    task = a.call("POST", "/task", ida)
    _done(master, a, ida, task, partitions=[[0, 1]])
    _done(master, a, ida, task, partitions=[[0, 1]])
    assert master.status()["map"]["done"] == 1
    assert [r["status"] for r in master.task_records() if r["phase"] == "map"] == ["ok"]


def test_failures_up_to_max_attempts_fail_the_job_with_the_task_input_and_how_attempts_ended(make_master):
    master = make_master(max_attempts=3)
    a, ida = _client(master, 1)
    reply = a.call("POST", "/task", ida)
    for attempt in range(1, 4):
        assert (reply["action"], reply["attempt"]) == ("map", attempt)
        reply = _fail(a, ida, reply)
    assert reply == {**reply, "action": "exit"} and "map task 0" in reply["failed"]
    with pytest.raises(JobFailed, match=r"^map task 0 \(input .*in0.txt\): 3 attempts: 3 failed \(KeyError: 'x'\)$"):
        master.wait(1)
    assert master.status()["phase"] == "failed"


def test_a_task_that_never_finishes_fails_the_job_after_its_timeouts(make_master):
    """An infinite loop: the one worker stays busy, nobody else takes the task; timeouts still count."""
    master = make_master(task_timeout=0.2, max_attempts=4)  # at most 2 timeouts
    a, ida = _client(master, 1)
    assert a.call("POST", "/task", ida)["action"] == "map"  # ...and never reports
    with pytest.raises(
        JobFailed,
        match=r"map task 0 .*1 attempt: 1 timed out after 0.2 s, 1 more task timeout.*"
        r"raise --task-timeout",
    ):
        master.wait(30)


def test_a_dead_worker_s_task_is_handed_out_again_at_once(make_master):
    master = make_master(task_timeout=60)
    a, ida = _client(master, 1)
    first = a.call("POST", "/task", ida)
    master.worker_exited(1, -9)
    b, idb = _client(master, 2)
    again = b.call("POST", "/task", idb)
    assert (again["action"], again["attempt"]) == ("map", 2), "no waiting for the 60 s timeout"
    assert _statuses(master)[("map", 0, 1)] == "failed"
    _done(master, b, idb, again, partitions=[[0, 1]])
    assert first["attempt"] == 1 and master.status()["map"]["done"] == 1


def test_a_worker_whose_connection_closes_is_declared_dead(make_master):
    master = make_master(task_timeout=60)
    url = urllib.parse.urlsplit(master.url)
    sock = socket.create_connection((url.hostname, url.port))
    body = b'{"pid": 7, "host": "test"}'
    sock.sendall(
        b"POST /task HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
        + master.token.encode()
        + b"\r\nContent-Type: application/json\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )
    reply = sock.recv(65536)
    while not reply.endswith(b"}"):  # headers and body may come in two pieces
        reply += sock.recv(65536)
    assert b'"action": "map"' in reply
    sock.close()  # as a killed worker's socket does
    b, idb = _client(master, 2)
    again = _task(b, idb)  # the long poll returns it once the grace period is over
    assert (again["action"], again["attempt"]) == ("map", 2)


def test_a_report_with_a_bad_partition_changes_nothing(make_master):
    master = make_master(n_reduce=2)
    a, ida = _client(master, 1)
    reply = a.call("POST", "/task", ida)
    for partitions in ([[999, 1]], [[0, 1], [0, 2]], [["x", 1]], [[0]], "all"):
        with pytest.raises(RpcError, match="HTTP 400: malformed request: "):
            a.call(
                "POST",
                "/done",
                {
                    **ida,
                    "worker": reply["worker"],
                    "phase": "map",
                    "task": 0,
                    "attempt": 1,
                    "start": 0,
                    "end": 1,
                    "partitions": partitions,
                },
            )
    assert master.status()["map"]["done"] == 0, "a rejected report must not complete the map"
    _done(master, a, ida, reply, partitions=[[1, 3]])
    assert master.status()["phase"] == "reduce"


@pytest.mark.parametrize(
    "body",
    [
        {"phase": "map"},
        {"phase": "map", "task": 5, "attempt": 1, "start": 0, "end": 1},
        {"phase": "map", "task": 0, "attempt": 9, "start": 0, "end": 1, "worker": "w0"},
        {"phase": "sort", "task": 0},
    ],
)
def test_malformed_requests_get_400_not_a_dead_connection(make_master, body):
    master = make_master()
    client = RpcClient(master.url, master.token)
    client.call("POST", "/task", {"pid": 1, "host": "t"})
    with pytest.raises(RpcError, match="HTTP 400: malformed request: "):
        client.call("POST", "/done", body)
    assert client.call("GET", "/status")["phase"] == "map"


def test_a_second_master_in_the_same_directory_is_refused(make_master, tmp_path):
    make_master()
    spec = JobSpec(resolve_inputs([str(tmp_path / "in0.txt")]))
    with pytest.raises(UsageError, match=r"another master \(pid \d+\) is running a job in"):
        Master(spec, LocalStorage(tmp_path)).start()


def test_a_new_master_clears_stale_attempt_files(make_master, tmp_path):
    (tmp_path / ".mr-out-0.20200101-000000-abcdef.a1.tmp").write_text("stale")
    (tmp_path / "mr-out-0").write_text("old job")
    make_master()
    assert not (tmp_path / ".mr-out-0.20200101-000000-abcdef.a1.tmp").exists()
    assert not (tmp_path / "mr-out-0").exists()

"""The master's task table, driven over real HTTP by hand-made worker calls."""

import threading
import time
import urllib.request

import pytest

from mrkit.errors import AuthError, JobFailed
from mrkit.job import JobSpec, resolve_inputs
from mrkit.runtime.master import Master
from mrkit.runtime.rpc import RpcClient, RpcError
from mrkit.storage.local import LocalStorage


@pytest.fixture
def make_master(tmp_path):
    masters = []

    def make(n_files=1, n_reduce=1, task_timeout=10.0, poll_s=0.3):
        paths = []
        for i in range(n_files):
            path = tmp_path / f"in{i}.txt"
            path.write_text("some words here\n")
            paths.append(str(path))
        spec = JobSpec(resolve_inputs(paths), n_reduce=n_reduce, task_timeout=task_timeout)
        master = Master(spec, LocalStorage(tmp_path), poll_s=poll_s).start()
        masters.append(master)
        return master

    yield make
    for master in masters:
        master.shutdown(grace_s=0)


def _client(master, pid):
    return RpcClient(master.url, master.token), {"pid": pid, "host": "test"}


def _done(client, identity, reply, **extra):
    now = time.time()
    body = {**identity, "worker": reply["worker"], "phase": reply["action"], "task": reply["task"]["task"],
            "attempt": reply["attempt"], "start": now - 0.01, "end": now, "counters": {}, **extra}
    return client.call("POST", "/done", body)


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
    _done(a, ida, first, partitions=[[0, 10], [1, 20]])
    reply = _done(a, ida, second, partitions=[[1, 5]])
    assert reply["action"] == "reduce"
    assert master.status()["phase"] == "reduce"
    payloads = {reply["task"]["task"]: reply["task"]}
    other = b.call("POST", "/task", idb)
    payloads[other["task"]["task"]] = other["task"]
    assert {r: p["maps"] for r, p in payloads.items()} == {0: [0], 1: [0, 1]}, "a reduce reads only the maps that wrote its partition"
    assert {r: p["bytes_in"] for r, p in payloads.items()} == {0: 10, 1: 25}
    assert _done(a, ida, reply)["action"] == "wait"
    assert _done(b, idb, other)["action"] == "exit"
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
    assert _done(a, ida, task, partitions=[[0, 1], [1, 1]])["action"] == "reduce"  # the reporter takes one
    waiter.join(5)
    assert got["action"] == "reduce" and time.monotonic() - started < 1.0, "the waiter takes the other"


def test_a_timed_out_task_is_reassigned_and_the_late_completion_ignored(make_master):
    master = make_master(task_timeout=0.5)
    a, ida = _client(master, 1)
    slow = a.call("POST", "/task", ida)
    b, idb = _client(master, 2)
    again = b.call("POST", "/task", idb)
    while again["action"] == "wait":
        again = b.call("POST", "/task", idb)
    assert (again["action"], again["task"]["task"], again["attempt"]) == ("map", 0, 2)
    _done(a, ida, slow, partitions=[[0, 1]])  # the revoked attempt finishes late
    assert master.status()["map"]["done"] == 0, "a revoked attempt's completion must not count"
    _done(b, idb, again, partitions=[[0, 1]])
    assert master.status()["map"]["done"] == 1
    statuses = {(r["phase"], r["attempt"]): r["status"] for r in master.task_records()}
    assert statuses[("map", 1)] == "superseded" and statuses[("map", 2)] == "ok"


def test_duplicate_completion_is_ignored(make_master):
    master = make_master(n_files=2)
    a, ida = _client(master, 1)
    task = a.call("POST", "/task", ida)
    _done(a, ida, task, partitions=[[0, 1]])
    _done(a, ida, task, partitions=[[0, 1]])
    assert master.status()["map"]["done"] == 1
    assert [r["status"] for r in master.task_records() if r["phase"] == "map"] == ["ok"]


def test_four_failures_fail_the_job_with_the_task_input_and_error(make_master):
    master = make_master()
    a, ida = _client(master, 1)
    reply = a.call("POST", "/task", ida)
    for attempt in range(1, 5):
        assert (reply["action"], reply["attempt"]) == ("map", attempt)
        now = time.time()
        reply = a.call("POST", "/fail", {**ida, "worker": reply["worker"], "phase": "map", "task": 0,
                                         "attempt": attempt, "start": now, "end": now, "error": "KeyError: 'x'"})
    assert reply == {**reply, "action": "exit"} and "map task 0" in reply["failed"]
    with pytest.raises(JobFailed, match=r"map task 0 \(input .*in0.txt\) failed 4 times; last error: KeyError: 'x'"):
        master.wait(1)
    assert master.status()["phase"] == "failed"


def test_malformed_requests_get_400_not_a_dead_connection(make_master):
    master = make_master()
    client = RpcClient(master.url, master.token)
    with pytest.raises(RpcError, match="400"):
        client.call("POST", "/done", {"phase": "map"})
    assert client.call("GET", "/status")["phase"] == "map"

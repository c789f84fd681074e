"""The RPC layer's HTTP (the stdlib's server and client): any HTTP/1.x client is answered, bad requests get
an error instead of a dropped connection, and stopping is prompt even for a server that never served."""

import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import pytest

from mrkit.errors import AuthError, UsageError
from mrkit.runtime.protocol import ProtocolError
from mrkit.runtime.rpc import MAX_BODY, MasterGone, RpcClient, RpcError, RpcServer


def _bug(body, session=None):
    raise RuntimeError("boom")


def _key_bug(body, session=None):
    return 200, {"n": body["absent"]}  # a route's KeyError is its own bug, not the client's malformed request


def _refused(body, session=None):
    raise ProtocolError("'phase' must be one of ('map', 'reduce'), got 'sort'")


ROUTES = {
    ("POST", "/echo"): lambda body, session=None: (200, body),
    ("GET", "/status"): lambda body, session=None: (200, {"ok": True}),
    ("POST", "/get"): lambda body, session=None: (200, {"n": body.get("n")}),
    ("POST", "/bug"): _bug,
    ("POST", "/key-bug"): _key_bug,
    ("POST", "/refused"): _refused,
    ("POST", "/unserializable"): lambda body, session=None: (200, {"x": object()}),
}


@pytest.fixture
def server():
    routes = ROUTES
    rpc = RpcServer(("127.0.0.1", 0), "secret", routes)
    rpc.serve_in_background()
    yield rpc
    rpc.shutdown()
    rpc.server_close()


def _raw(server, request):
    """The server's whole answer to raw request bytes, read until it closes the connection."""
    with socket.create_connection(server.server_address, timeout=5) as conn:
        conn.sendall(request)
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_a_client_keeps_one_connection_for_many_calls(server):
    client = RpcClient(server.url, "secret")
    assert [client.call("POST", "/echo", {"n": n, "s": "é\t\n"})["n"] for n in range(50)] == list(range(50))
    assert client.call("GET", "/status") == {"ok": True}
    client.close()


def test_the_server_starts_without_a_host_name_lookup(monkeypatch):
    # A resolver timeout there would be seconds of every job's start-up on a host whose lookup falls through to DNS.
    def lookup(*args):
        raise AssertionError(f"name lookup {args}")

    monkeypatch.setattr(socket, "getfqdn", lookup)
    monkeypatch.setattr(socket, "gethostbyaddr", lookup)
    rpc = RpcServer(("127.0.0.1", 0), "secret", ROUTES)
    rpc.serve_in_background()
    try:
        client = RpcClient(rpc.url, "secret")
        assert client.call("GET", "/status") == {"ok": True}
        client.close()
    finally:
        rpc.shutdown()
        rpc.server_close()


def test_urllib_http_1_0_and_expect_continue_are_answered(server):
    request = urllib.request.Request(server.url + "/status?x=1", headers={"Authorization": "Bearer secret"})
    with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(request, timeout=5) as response:
        assert response.status == 200 and json.load(response) == {"ok": True}
    answer = _raw(server, b"GET /status HTTP/1.0\r\nAuthorization: Bearer secret\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n") and answer.endswith(b'{"ok": true}')
    body = b'{"a": 1}'
    answer = _raw(
        server,
        b"POST /echo HTTP/1.1\r\nAuthorization: Bearer secret\r\nExpect: 100-continue\r\n"
        b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body),
    )
    assert answer.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n") and answer.endswith(body)


def test_100_continue_arrives_before_the_client_sends_its_body(server):
    """A client that waits for "100 Continue" gets it while the server waits for the body (not buffered)."""
    body = b'{"a": 2}'
    with socket.create_connection(server.server_address, timeout=10) as conn:
        conn.sendall(
            b"POST /echo HTTP/1.1\r\nAuthorization: Bearer secret\r\nExpect: 100-continue\r\n"
            b"Connection: close\r\nContent-Length: %d\r\n\r\n" % len(body)
        )
        assert conn.recv(65536) == b"HTTP/1.1 100 Continue\r\n\r\n"
        conn.sendall(body)
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    answer = b"".join(chunks)
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n") and answer.endswith(body)


def test_bad_requests_get_an_error_then_the_connection_closes(server):
    assert b"400" in _raw(server, b"NONSENSE\r\n\r\n")  # no HTTP version: answered as HTTP/0.9, a bare body
    assert _raw(server, b"GET /nowhere HTTP/1.1\r\nConnection: close\r\n\r\n").startswith(b"HTTP/1.1 404 ")
    assert _raw(server, b"GET /status HTTP/1.1\r\nConnection: close\r\n\r\n").startswith(b"HTTP/1.1 401 ")
    assert _raw(server, b"GET /status HTTP/1.1\r\nContent-Length: x\r\n\r\n").startswith(b"HTTP/1.1 400 ")


def test_shutdown_is_prompt_whether_or_not_the_server_runs():
    idle = RpcServer(("127.0.0.1", 0), "t", {})
    idle.shutdown()  # never served: must not wait
    idle.server_close()
    busy = RpcServer(("127.0.0.1", 0), "t", {})
    busy.serve_in_background()
    assert _raw(busy, b"GET /nowhere HTTP/1.1\r\nConnection: close\r\n\r\n").startswith(b"HTTP/1.1 404 ")  # serving
    stopper = threading.Thread(target=busy.shutdown)
    stopper.start()
    stopper.join(timeout=10)  # a hang shows here (a server that never served would wait forever)
    assert not stopper.is_alive() and not busy._serving.is_alive()
    busy.server_close()


def test_a_taken_port_and_a_bad_master_url_are_usage_errors(server):
    with pytest.raises(UsageError, match="already in use"):
        RpcServer(server.server_address, "t", {})
    for url in ("https://127.0.0.1:1", "http://127.0.0.1", "127.0.0.1:80", "http://h:99999", "http://[::1", 5):
        with pytest.raises(UsageError, match="http://HOST:PORT"):
            RpcClient(url, "t")


# ---- refusing before reading: nobody without the token makes the server buffer a body ----------------

BIG = 16 << 20


def _head(path, token, length, *extra):
    lines = [f"POST {path} HTTP/1.1", "Host: x", f"Content-Length: {length}", *extra]
    if token is not None:
        lines.append(f"Authorization: Bearer {token}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


@pytest.mark.parametrize(
    "path, token, status",
    [
        ("/echo", "wrong", 401),
        ("/echo", None, 401),
        ("/nowhere", "secret", 404),
        ("/nowhere", None, 404),
    ],
)
def test_a_refused_request_is_answered_before_its_body_is_sent(server, path, token, status):
    # Headers announcing 16 MiB and not one byte of body: the answer must come anyway, then the
    # close (the unread body makes the connection unusable). Reading the body first would block here.
    for _ in range(3):
        answer = _raw(server, _head(path, token, BIG, "Expect: 100-continue"))
        assert answer.startswith(b"HTTP/1.1 %d " % status), answer
        assert b"100 Continue" not in answer, "a refused request is not invited to send its body"
        assert b"Connection: close" in answer


def test_an_authenticated_body_over_the_limit_is_refused_unread(server):
    answer = _raw(server, _head("/echo", "secret", MAX_BODY + 1))
    assert answer.startswith(b"HTTP/1.1 413 ") and b"over the limit" in answer
    with pytest.raises(RpcError, match=r"HTTP 413: body of \d+ bytes is over the limit"):
        RpcClient(server.url, "secret").call("POST", "/echo", {"x": "y" * MAX_BODY})


def test_the_largest_legitimate_report_fits_under_the_limit(server):
    # A map report over R = 40,000 reduces, each partition near 10 GB: what MAX_BODY is sized for.
    report = {
        "worker": "w123",
        "pid": 4_000_000,
        "host": "ip-10-0-123-234.ec2.internal",
        "phase": "map",
        "task": 99_999,
        "attempt": 9,
        "start": 1.7e9,
        "end": 1.7e9,
        "counters": {"records_in": 10**9, "records_out": 10**9, "bytes_in": 10**10, "bytes_out": 10**10},
        "partitions": [[r, 9_999_999_999] for r in range(40_000)],
    }
    assert len(json.dumps(report)) < MAX_BODY
    assert RpcClient(server.url, "secret").call("POST", "/echo", report)["task"] == 99_999


def test_a_wrong_token_with_a_large_body_is_still_an_auth_error(server):
    # The body (~300 KiB) outgrows the server's read buffer: without the drain, the close would
    # reset the connection before the client reads its 401.
    with pytest.raises(AuthError):
        RpcClient(server.url, "wrong").call("POST", "/echo", {"x": "y" * (300 << 10)})


_FLOODED_SERVER = """
import sys
from mrkit.runtime.rpc import RpcServer
server = RpcServer(("127.0.0.1", 0), "secret", {("POST", "/done"): lambda body, session=None: (200, {})})
server.serve_in_background()
print(server.server_address[1], flush=True)
sys.stdin.read()
"""


def _rss_kib(pid, field):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads the server's peak RSS from /proc")
def test_a_flood_of_unauthenticated_16_mib_bodies_leaves_the_servers_memory_alone():
    process = subprocess.Popen([sys.executable, "-c", _FLOODED_SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        port = int(process.stdout.readline())
        before = _rss_kib(process.pid, "VmRSS")
        body = b"x" * BIG

        def send():
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
                    conn.sendall(_head("/done", "wrong", BIG) + body)
                    while conn.recv(65536):
                        pass
            except OSError:
                pass  # the server hung up on the rest of the body: that is the point

        senders = [threading.Thread(target=send) for _ in range(16)]
        for sender in senders:
            sender.start()
        for sender in senders:
            sender.join()
        growth_mib = (_rss_kib(process.pid, "VmHWM") - before) / 1024
        # 16 x 16 MiB were offered; buffering them grows the peak by ~100-256 MiB.
        assert growth_mib < 24, f"the server's peak RSS grew by {growth_mib:.0f} MiB"
    finally:
        process.stdin.close()
        process.wait(10)


# ---- bodies that are JSON but not requests, and routes with bugs -----------------------------------


@pytest.mark.parametrize("raw", [b"[1, 2]", b"3", b'"x"', b"null", b"true", b"[" * 100_000 + b"]" * 100_000])
def test_a_body_that_is_not_a_json_object_gets_400_and_the_connection_stays_usable(server, raw):
    conn = http.client.HTTPConnection(*server.server_address, timeout=5)
    headers = {"Authorization": "Bearer secret"}
    conn.request("POST", "/get", body=raw, headers=headers)
    response = conn.getresponse()
    error = json.loads(response.read())["error"]
    assert response.status == 400 and "\n" not in error
    assert "JSON object" in error or "not JSON" in error
    conn.request("GET", "/status", headers=headers)  # the same connection
    assert conn.getresponse().status == 200
    conn.close()


def test_a_route_bug_gets_500_with_its_error_and_the_connection_stays_usable(server, capfd):
    client = RpcClient(server.url, "secret")
    with pytest.raises(
        RpcError,
        match=r"^the master answered POST /bug with HTTP 500: internal error: "
        r"RuntimeError: boom$",
    ):
        client.call("POST", "/bug", {})
    with pytest.raises(RpcError, match="HTTP 500: internal error: TypeError"):
        client.call("POST", "/unserializable", {})
    connection = client._connection
    assert client.call("GET", "/status") == {"ok": True} and client._connection is connection
    assert "RuntimeError: boom" in capfd.readouterr().err, "the bug's traceback is on the server's stderr"
    client.close()


# ---- sessions: one per connection, and a call when the connection ends --------------------------------


class Sessions:
    """A server whose /hello names the connection; on_disconnect records (session, thread) and wakes waiters."""

    def __init__(self):
        self.ended = []
        self.changed = threading.Condition()
        routes = {("POST", "/hello"): self._hello}
        self.server = RpcServer(("127.0.0.1", 0), "secret", routes, on_disconnect=self._gone)
        self.server.serve_in_background()

    @staticmethod
    def _hello(body, session):
        session.setdefault("name", body["name"])
        session["calls"] = session.get("calls", 0) + 1
        return 200, dict(session)

    def _gone(self, session):
        with self.changed:
            self.ended.append((session, threading.current_thread()))
            self.changed.notify_all()

    def wait_ended(self, name, timeout=30):
        """The (session, handler thread) of the connection named `name`, once it has ended."""
        with self.changed:
            assert self.changed.wait_for(lambda: any(s.get("name") == name for s, _ in self.ended), timeout), (
                f"no disconnect of {name!r}; ended: {self.ended}"
            )
            return next((s, t) for s, t in self.ended if s.get("name") == name)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def sessions():
    made = Sessions()
    yield made
    made.close()


def test_each_connection_has_its_own_session_and_its_close_is_heard_once(sessions):
    a, b = RpcClient(sessions.server.url, "secret"), RpcClient(sessions.server.url, "secret")
    assert a.call("POST", "/hello", {"name": "a"}) == {"name": "a", "calls": 1}
    assert b.call("POST", "/hello", {"name": "b"}) == {"name": "b", "calls": 1}
    assert a.call("POST", "/hello", {"name": "ignored"}) == {"name": "a", "calls": 2}, "same connection, same session"
    a.close()
    session, thread = sessions.wait_ended("a")
    assert session == {"name": "a", "calls": 2}
    thread.join(10)  # the connection's thread is over: nothing can call on_disconnect again
    assert not thread.is_alive() and [s["name"] for s, _ in sessions.ended] == ["a"]
    assert b.call("POST", "/hello", {"name": "b"})["calls"] == 2, "b's connection lives on"
    b.close()


_VICTIM = """
import sys, time
from mrkit.runtime.rpc import RpcClient
client = RpcClient(sys.argv[1], "secret")
client.call("POST", "/hello", {"name": "victim"})
print("called", flush=True)
time.sleep(600)
"""


def test_a_client_killed_with_sigkill_is_heard_of_at_once(sessions):
    victim = subprocess.Popen([sys.executable, "-c", _VICTIM, sessions.server.url], stdout=subprocess.PIPE, text=True)
    try:
        assert victim.stdout.readline() == "called\n"
        assert sessions.ended == []
        victim.kill()  # SIGKILL: no goodbye, only the kernel closing the socket
        session, thread = sessions.wait_ended("victim")
    finally:
        victim.kill()
        victim.wait()
    assert session == {"name": "victim", "calls": 1}
    thread.join(10)
    assert not thread.is_alive() and len(sessions.ended) == 1


def test_a_client_that_resets_its_connection_is_heard_of_without_a_traceback(sessions, capfd):
    conn = socket.create_connection(sessions.server.server_address, timeout=5)
    body = json.dumps({"name": "reset"}).encode()
    conn.sendall(_head("/hello", "secret", len(body)) + body)
    assert conn.recv(65536).startswith(b"HTTP/1.1 200 ")
    conn.sendall(b"POST /hello HTTP/1.1\r\n")  # half a request, then a reset (SO_LINGER 0)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    conn.close()
    session, thread = sessions.wait_ended("reset")
    thread.join(10)
    assert session["calls"] == 1 and "Traceback" not in capfd.readouterr().err


# ---- the client: only an unreachable master is MasterGone ------------------------------------------


def test_unexpected_statuses_are_rpc_errors_and_401_is_an_auth_error(server):
    with pytest.raises(RpcError, match=r"^the master answered POST /nowhere with HTTP 404: no such endpoint"):
        RpcClient(server.url, "secret").call("POST", "/nowhere", {})
    with pytest.raises(RpcError, match=r"HTTP 400: body must be a JSON object|HTTP 400: malformed request"):
        RpcClient(server.url, "secret").call("POST", "/get", [1])
    with pytest.raises(AuthError, match="HTTP 401"):
        RpcClient(server.url, "wrong").call("GET", "/status")
    assert not issubclass(RpcError, ConnectionError), "a worker must not take an error for the job's end"


class OneShotServer:
    """A raw HTTP server that answers each connection's first request, then closes it unannounced
    (no Connection: close), as a server dropping an idle kept-alive connection does; with
    `answer=False` it closes without answering at all."""

    def __init__(self, answer=True):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.answer, self.connections = answer, 0
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with conn:
                self.connections += 1
                request = b""
                while b"\r\n\r\n" not in request:
                    request += conn.recv(65536)
                if self.answer:
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")

    def close(self):
        self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accept (Linux); a bare close would not
        self._thread.join(5)
        self.listener.close()


def test_a_dropped_kept_alive_connection_is_reopened_once_and_an_unreachable_master_is_gone():
    dropping = OneShotServer()
    client = RpcClient(dropping.url, "t", timeout=5)
    assert [client.call("GET", "/status") for _ in range(3)] == [{}, {}, {}]
    assert dropping.connections == 3, "each call after a drop opened a new connection"
    client.close()
    dropping.close()
    mute = OneShotServer(answer=False)
    with pytest.raises(MasterGone):
        RpcClient(mute.url, "t", timeout=5).call("GET", "/status")
    assert mute.connections == 2, "reopened once, then gave up"
    mute.close()
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))  # a port nobody listens on: refused
        with pytest.raises(MasterGone):
            RpcClient(f"http://127.0.0.1:{unused.getsockname()[1]}", "t", timeout=5).call("GET", "/status")


# ---- the port under abuse: strangers' connections are bounded and short-lived (issue 22 D4) -------------


def _closed_by_server(conn, limit=30):
    """Whether the server closed `conn` (an EOF or a reset) within `limit` seconds."""
    conn.settimeout(limit)
    try:
        return conn.recv(1) == b""
    except ConnectionResetError:
        return True
    except (TimeoutError, BlockingIOError):
        return False


def test_connections_without_the_token_are_closed_after_the_header_timeout_but_a_worker_s_may_idle():
    rpc = RpcServer(("127.0.0.1", 0), "secret", ROUTES, header_timeout_s=0.5)
    rpc.serve_in_background()
    try:
        silent = socket.create_connection(rpc.server_address)
        slow = socket.create_connection(rpc.server_address)
        slow.sendall(b"GET /status HTTP/1.1\r\n")  # a slowloris: headers that never end
        worker = RpcClient(rpc.url, "secret")
        assert worker.call("GET", "/status") == {"ok": True}
        assert _closed_by_server(silent) and _closed_by_server(slow)
        connection = worker._connection
        assert worker.call("GET", "/status") == {"ok": True} and worker._connection is connection, (
            "a connection that showed the token stays open past the header timeout"
        )
        for conn in (silent, slow):
            conn.close()
        worker.close()
    finally:
        rpc.shutdown()
        rpc.server_close()


def _wait_until(predicate, what, limit=30):
    deadline = time.monotonic() + limit
    while not predicate():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.05)


def _handler_threads():
    return sum("process_request_thread" in t.name for t in threading.enumerate())


def test_idle_connections_are_bounded_and_a_worker_still_gets_in():
    before = _handler_threads()  # other tests' servers may still be winding down
    rpc = RpcServer(("127.0.0.1", 0), "secret", ROUTES, max_connections=16, header_timeout_s=600)
    rpc.serve_in_background()
    idle = []
    try:
        for _ in range(100):
            idle.append(socket.create_connection(rpc.server_address))
        worker = RpcClient(rpc.url, "secret", timeout=30)
        assert worker.call("GET", "/status") == {"ok": True}
        _wait_until(lambda: sum(_closed_by_server(conn, limit=0) for conn in idle) >= 100 - 16, "the oldest strangers made room")
        _wait_until(
            lambda: _handler_threads() <= before + 16 + 1, "a thread per connection, and no more connections than the bound"
        )
        worker.close()
    finally:
        for conn in idle:
            conn.close()
        rpc.shutdown()
        rpc.server_close()


_LOW_LIMIT_SERVER = """
import resource, sys
resource.setrlimit(resource.RLIMIT_NOFILE, (48, 48))
from mrkit.runtime.rpc import RpcServer
rpc = RpcServer(("127.0.0.1", 0), "secret", {("GET", "/status"): lambda body, session: (200, {"ok": True})},
                max_connections=10_000, header_timeout_s=600)  # the descriptors run out before the bound
print(rpc.server_address[1], flush=True)
rpc.serve_forever(0.02)
"""


def _cpu_s(pid):
    fields = open(f"/proc/{pid}/stat").read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="reads the server's CPU time from /proc")
def test_an_accept_out_of_descriptors_backs_off_instead_of_spinning_and_a_worker_gets_in():
    process = subprocess.Popen(
        [sys.executable, "-c", _LOW_LIMIT_SERVER], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    idle = []
    try:
        port = int(process.stdout.readline())
        for _ in range(80):  # more than the 48 descriptors the server may hold
            idle.append(socket.create_connection(("127.0.0.1", port)))
        worker = RpcClient(f"http://127.0.0.1:{port}", "secret", timeout=30)
        assert worker.call("GET", "/status") == {"ok": True}, "a stranger's connection made room for the worker"
        for conn in idle:  # keep the backlog full of strangers while the server's CPU is watched
            if _closed_by_server(conn, limit=0):
                conn.close()
        idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(40)]
        began, cpu = time.monotonic(), _cpu_s(process.pid)
        time.sleep(2.0)
        share = (_cpu_s(process.pid) - cpu) / (time.monotonic() - began)
        assert share < 0.3, f"the server used {share:.0%} of a CPU while out of descriptors"
        worker.close()
    finally:
        for conn in idle:
            conn.close()
        process.kill()
        _, err = process.communicate(timeout=10)
    assert err.count("cannot accept a connection") == 1, err


def test_only_a_protocol_error_answers_400_and_any_other_exception_in_a_route_answers_500(server, capfd):
    """Issue 21: a KeyError, IndexError, TypeError or ValueError in a route used to be the client's 400."""
    client = RpcClient(server.url, "secret")
    with pytest.raises(
        RpcError,
        match=r"^the master answered POST /refused with HTTP 400: malformed request: "
        r"'phase' must be one of \('map', 'reduce'\), got 'sort'$",
    ):
        client.call("POST", "/refused", {})
    assert "Traceback" not in capfd.readouterr().err, "a client's mistake is not the server's error"
    with pytest.raises(
        RpcError,
        match=r"^the master answered POST /key-bug with HTTP 500: internal error: "
        r"KeyError: 'absent'$",
    ):
        client.call("POST", "/key-bug", {})
    err = capfd.readouterr().err
    assert "mrkit rpc: POST /key-bug failed:" in err and "KeyError: 'absent'" in err, "logged on the server's stderr"
    assert client.call("GET", "/status") == {"ok": True}
    client.close()


def test_a_workers_first_call_imports_nothing(server):
    """A forked worker's first call imported encodings.idna, stringprep and unicodedata (host name encoding),
    each worker on its own: at W = 100 on 2 CPUs that was CPU beside the map tasks. The parent imports them."""
    script = (
        "import sys, mrkit.runtime.worker\n"
        "from mrkit.runtime.rpc import RpcClient\n"
        "before = set(sys.modules)\n"
        f"client = RpcClient({server.url!r}, 'secret')\n"
        "assert client.call('GET', '/status') == {'ok': True}\n"
        "print(sorted(set(sys.modules) - before))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"

"""The RPC layer's HTTP (the stdlib's server and client): any HTTP/1.x client is answered, bad requests get
an error instead of a dropped connection, and stopping is prompt even for a server that never served."""

import json
import socket
import threading
import urllib.request

import pytest

from mrkit.errors import UsageError
from mrkit.runtime.rpc import RpcClient, RpcServer


@pytest.fixture
def server():
    routes = {("POST", "/echo"): lambda body: (200, body), ("GET", "/status"): lambda body: (200, {"ok": True})}
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


def test_urllib_http_1_0_and_expect_continue_are_answered(server):
    request = urllib.request.Request(server.url + "/status?x=1", headers={"Authorization": "Bearer secret"})
    with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(request, timeout=5) as response:
        assert response.status == 200 and json.load(response) == {"ok": True}
    answer = _raw(server, b"GET /status HTTP/1.0\r\nAuthorization: Bearer secret\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n") and answer.endswith(b'{"ok": true}')
    body = b'{"a": 1}'
    answer = _raw(server, b"POST /echo HTTP/1.1\r\nAuthorization: Bearer secret\r\nExpect: 100-continue\r\n"
                          b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
    assert answer.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n") and answer.endswith(body)


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
    for url in ("https://127.0.0.1:1", "http://127.0.0.1", "127.0.0.1:80", "http://h:99999"):
        with pytest.raises(UsageError, match="http://HOST:PORT"):
            RpcClient(url, "t")

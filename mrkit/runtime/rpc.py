"""JSON over HTTP between workers and the master, with a bearer token.

Bodies are JSON only: nothing from the network is ever unpickled. Connections
are kept alive (HTTP/1.1), so a worker pays one TCP handshake per job, not per
task. Each connection gets a server thread, which is what lets a worker's
request for work block on the master's condition variable (long poll).

A request is checked in the order that costs a stranger least: its framing
(Content-Length), its route, its token, its size; only then is the body read.
A request refused before that is answered at once and its connection closed,
so nobody without the token can make the master buffer anything. Each
connection carries a `session` dict for the routes, and the server calls
`on_disconnect(session)` when the connection closes: a worker whose process
dies closes its socket, so the master hears of it at once.

A port anyone can reach must not be held by those without the token: a
connection that has not presented the token within `header_timeout_s` is
closed (idle or sending its headers a byte at a time), the connections (and
so the threads) are bounded below the process's descriptor limit, the oldest
unauthenticated one making room for a new one, and an accept that fails
(out of descriptors) backs off instead of spinning. A connection that has
shown the token may then idle for as long as its worker's task runs: its
close is how the master hears that the worker died.
"""

# A client's first connection encodes the host name with the idna codec, which imports encodings.idna,
# stringprep and unicodedata: imported with this module, which the launcher (backends/local.py) imports
# before it forks, so that W workers do not each import them again (at W = 100 on 2 CPUs, 0.1-0.3 CPU-s
# less beside the map tasks, medians of 4 pairs).
import encodings.idna  # noqa: F401
import errno
import hmac
import http.client
import json
import resource
import socket
import socketserver
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from mrkit.errors import AuthError, MrkitError, UsageError
from mrkit.runtime.protocol import ProtocolError

# The largest legitimate body is a map report: ~25 bytes per [reduce, bytes] entry of `partitions`,
# so 1 MiB holds R = 40,000 (a test checks it); task reports are otherwise a few KiB.
MAX_BODY = 1 << 20
# What a refused request's unread body may still cost: the reply has gone out, and closing a socket
# with unread bytes sends a reset that can destroy the reply before the client reads it, so the
# server reads and discards this much (or for this long) first.
DRAIN_BYTES = 256 << 10
DRAIN_S = 1.0
HEADER_TIMEOUT_S = 5.0  # a new connection presents the token this soon (a worker does so at once)
MAX_CONNECTIONS = 1024
_SPARE_DESCRIPTORS = 64  # kept for storage files, pipes and the workers a backend forks
_OUT_OF_DESCRIPTORS = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)
_BACKOFF_S = (0.01, 0.5)  # an accept that failed for want of descriptors waits this long, doubling


def connection_bound():
    """How many connections a server holds at once: MAX_CONNECTIONS, or fewer below a low `ulimit -n`."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return MAX_CONNECTIONS
    return max(8, min(MAX_CONNECTIONS, soft - _SPARE_DESCRIPTORS))


class MasterGone(ConnectionError):
    """The master cannot be reached: it has finished or died."""


class RpcError(MrkitError):
    """The master answered with an unexpected HTTP status: a bug or a mismatch, not the job's end."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # A buffered wfile: a reply's headers and body leave in one send (handle_one_request flushes after
    # each request), not a syscall for each. Nagle stays off for the writes that are still split (a
    # "100 Continue" before the reply): with it on, a second small write waits for the delayed ACK (~40 ms).
    disable_nagle_algorithm = True
    wbufsize = 1 << 16

    def setup(self):
        super().setup()
        self.session = {}  # the routes' state for this connection (e.g. which worker it is)
        self._disconnected = False

    def handle(self):
        try:
            super().handle()
        except (ConnectionError, TimeoutError):
            pass  # the peer reset or vanished: that is a disconnect, not a server error

    def finish(self):
        try:
            super().finish()
        except OSError:
            pass  # flushing to a dead peer
        finally:
            self._disconnect()

    def _disconnect(self):
        if self._disconnected:
            return
        self._disconnected = True
        if self.server.on_disconnect is not None:
            try:
                self.server.on_disconnect(self.session)
            except Exception:  # a bug in the callback must not hide behind the connection's end
                print("mrkit rpc: on_disconnect failed:", file=sys.stderr)
                traceback.print_exc()

    def parse_request(self):
        self._continue = False  # set again below if this request says "Expect: 100-continue"
        return super().parse_request()

    def handle_expect_100(self):
        # "100 Continue" invites the body: it is sent only once the request is known to be wanted.
        self._continue = True
        return True

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def _dispatch(self, method):
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            return self._refuse(400, "Content-Length must be a number of bytes", close=True)
        route = self.server.routes.get((method, urlsplit(self.path).path))
        if route is None:
            return self._refuse(404, f"no such endpoint: {method} {self.path}", close=length > 0)
        supplied = self.headers.get("Authorization", "")
        if not hmac.compare_digest(supplied.encode(), f"Bearer {self.server.token}".encode()):
            return self._refuse(401, "missing or wrong token", close=length > 0)
        self.server.trust(self.connection)
        if length > MAX_BODY:
            return self._refuse(413, f"body of {length} bytes is over the limit of {MAX_BODY}", close=True)
        if self._continue:
            self.send_response_only(100)
            self.end_headers()
            self.wfile.flush()  # the client waits for it before sending the body
        raw = self.rfile.read(length) if length else b""
        if len(raw) < length:
            self.close_connection = True
            return  # the peer hung up mid-body: nobody is left to answer
        try:
            body = json.loads(raw) if raw else {}
        except (ValueError, RecursionError):  # RecursionError: JSON nested thousands deep
            return self._reply(400, {"error": "body is not JSON"})
        if not isinstance(body, dict):
            return self._reply(400, {"error": f"body must be a JSON object, not {type(body).__name__}"})
        try:
            try:
                status, payload = route(body, self.session)
            except ProtocolError as exc:  # the request's fault; any other exception is the server's (500)
                status, payload = 400, {"error": f"malformed request: {exc}"}
            data = json.dumps(payload).encode()
        except Exception as exc:  # a bug in the route (or a reply JSON cannot carry): say so, keep serving
            print(f"mrkit rpc: {method} {self.path} failed:", file=sys.stderr)
            traceback.print_exc()
            status, data = 500, json.dumps({"error": f"internal error: {type(exc).__name__}: {exc}"}).encode()
        self._send(status, data)

    def _refuse(self, status, message, close):
        """Answer without reading the body; `close` when one is left unread: the connection is unusable."""
        if close:
            self.close_connection = True
        self._reply(status, {"error": message})
        if close:
            self._drain()

    def _drain(self):
        """Half-close, then read and drop a bounded amount, so the reply arrives before the reset."""
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_WR)
            self.connection.settimeout(DRAIN_S)
            left = DRAIN_BYTES
            while left > 0 and (chunk := self.connection.recv(min(left, 65536))):
                left -= len(chunk)
        except OSError:  # a timeout or a reset: the drain is a courtesy
            pass

    def _reply(self, status, payload):
        self._send(status, json.dumps(payload).encode())

    def _send(self, status, data):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format, *args):
        pass  # a request log per task would drown the job's own messages


class RpcServer(ThreadingHTTPServer):
    """Serves `routes` {(method, path): handler(body, session) -> (status, payload)}.

    `session` is a dict that lives as long as the client's connection;
    `on_disconnect(session)`, when given, is called once when that connection
    closes, whether the client hung up or died. A handler raising
    protocol.ProtocolError means a malformed request (400); anything else is
    a bug (500, with the traceback on stderr).
    """

    daemon_threads = True
    request_queue_size = 128  # many workers may connect at once

    def __init__(self, address, token, routes, on_disconnect=None, *, max_connections=None, header_timeout_s=HEADER_TIMEOUT_S):
        self.token = token
        self.routes = routes
        self.on_disconnect = on_disconnect
        self.max_connections = max_connections or connection_bound()
        self.header_timeout_s = header_timeout_s
        self._connections = {}  # socket -> [monotonic time accepted, shown the token, evicted]
        self._guard = threading.Lock()
        self._stopping = threading.Event()
        self._backoff_s = 0.0
        self._warned = False
        self._reaped_at = 0.0
        if ":" in address[0]:  # an IPv6 address, e.g. ::1 (--listen [::1]:0)
            self.address_family = socket.AF_INET6
        try:
            super().__init__(address, _Handler)
        except OSError as exc:
            host, port = address
            if exc.errno == errno.EADDRINUSE:
                raise UsageError(
                    f"cannot listen on {host}:{port}: address already in use; pick another port with --listen HOST:PORT"
                ) from None
            raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror}") from None

    def server_bind(self):
        # HTTPServer.server_bind looks up the address's host name (socket.getfqdn): 4 ms of every job's
        # start-up here, a resolver's timeout of seconds on a host whose name lookup falls through to
        # DNS, and the name is never used.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    # ---- holding connections: bounded, and only those with the token for long --------------

    def verify_request(self, request, client_address):
        """Admit a new connection, making room by closing the oldest that has not shown the token."""
        with self._guard:
            live = sum(not evicted for _, _, evicted in self._connections.values())
            if live >= self.max_connections and not self._evict_oldest_stranger():
                return False  # every connection is a worker's: the newcomer is refused (closed)
            self._connections[request] = [time.monotonic(), False, False]
        return True

    def trust(self, sock):
        """`sock` has shown the token: it may stay open, idle, for as long as its worker needs."""
        with self._guard:
            entry = self._connections.get(sock)
            if entry is not None:
                entry[1] = True

    def shutdown_request(self, request):
        with self._guard:
            self._connections.pop(request, None)
        super().shutdown_request(request)

    def _evict_oldest_stranger(self):
        """Close the oldest connection that has not shown the token; False if there is none. Holds the guard."""
        strangers = [(entry[0], sock) for sock, entry in self._connections.items() if not entry[1] and not entry[2]]
        if strangers:
            self._evict(min(strangers, key=lambda pair: pair[0])[1])
        return bool(strangers)

    def _evict(self, sock):
        """Close a connection under its handler (whose read then ends); caller holds the guard."""
        self._connections[sock][2] = True
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # already gone

    def service_actions(self):
        """Between accepts (serve_forever's hook): close connections still without the token past their time."""
        now = time.monotonic()
        if now - self._reaped_at < min(0.25, self.header_timeout_s / 4):
            return
        self._reaped_at = now
        with self._guard:
            for sock, (accepted, trusted, evicted) in list(self._connections.items()):
                if not trusted and not evicted and now - accepted >= self.header_timeout_s:
                    self._evict(sock)

    def get_request(self):
        try:
            request = super().get_request()
        except OSError as exc:
            if exc.errno in _OUT_OF_DESCRIPTORS:
                self._back_off(exc)
            raise
        self._backoff_s = 0.0
        return request

    def _back_off(self, exc):
        """Out of descriptors: free one held by a stranger and wait, rather than retry the accept at once."""
        if not self._warned:  # once: a flood would otherwise flood stderr too
            self._warned = True
            print(
                f"mrkit rpc: cannot accept a connection ({exc.strerror}, {len(self._connections)} open): "
                "closing connections that have not shown the token, and waiting",
                file=sys.stderr,
            )
        with self._guard:
            self._evict_oldest_stranger()
        self._backoff_s = min(_BACKOFF_S[1], max(_BACKOFF_S[0], 2 * self._backoff_s))
        self._stopping.wait(self._backoff_s)

    _serving = None  # the thread of serve_in_background, once started

    def serve_in_background(self, poll_interval=0.02):
        """Serve from a daemon thread; `poll_interval` bounds how long shutdown() waits for it."""
        self._serving = threading.Thread(target=self.serve_forever, args=(poll_interval,), daemon=True, name="mrkit-rpc-serve")
        self._serving.start()

    def shutdown(self):
        """Stop serving; a server that never served returns at once (the stdlib's would wait forever)."""
        self._stopping.set()
        if self._serving is not None:
            super().shutdown()

    @property
    def url(self):
        host, port = self.server_address[:2]
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class RpcClient:
    """Calls the master; one kept-alive connection, reopened once if it dropped.

    Only a failure to reach the master is MasterGone (the job is over or the
    master died); a 401 is AuthError; any other answer but 200 is RpcError.
    """

    def __init__(self, url, token, timeout=60.0):
        try:
            parts = urlsplit(url)
            port = parts.port  # a ValueError when out of range
        except (ValueError, TypeError, AttributeError):  # 'http://[::1' (an unclosed IPv6 host), not a string
            parts, port = None, None
        if parts is None or parts.scheme != "http" or not parts.hostname or not port:
            raise UsageError(f"master URL {url!r} is not of the form http://HOST:PORT")
        self._address = (parts.hostname, port)
        self._headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self._timeout = timeout
        self._connection = None

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        for retry in (False, True):
            try:
                if self._connection is None:
                    self._connection = http.client.HTTPConnection(*self._address, timeout=self._timeout)
                self._connection.request(method, path, body=data, headers=self._headers)
                response = self._connection.getresponse()
                raw = response.read()
                break
            except (ConnectionRefusedError, TimeoutError) as exc:
                self.close()
                raise MasterGone(str(exc)) from None
            except (http.client.HTTPException, ConnectionError, OSError) as exc:
                # A kept-alive connection the server closed: reopen once, then give up.
                self.close()
                if retry:
                    raise MasterGone(str(exc)) from None
        if response.status == 401:
            raise AuthError("the master rejected our token (HTTP 401): check mr-master.json, $MRKIT_TOKEN or --token-file")
        try:
            payload = json.loads(raw or b"{}")
        except ValueError:
            payload = None
        if response.status != 200 or not isinstance(payload, dict):
            error = payload.get("error", "") if isinstance(payload, dict) else "the answer is not a JSON object"
            raise RpcError(f"the master answered {method} {path} with HTTP {response.status}: {error}")
        return payload

    def close(self):
        if self._connection is not None:
            self._connection.close()
            self._connection = None

"""JSON over HTTP between workers and the master, with a bearer token.

Bodies are JSON only: nothing from the network is ever unpickled. Connections
are kept alive (HTTP/1.1), so a worker pays one TCP handshake per job, not per
task. Each connection gets a server thread, which is what lets a worker's
request for work block on the master's condition variable (long poll).
"""

import errno
import hmac
import http.client
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from mrkit.errors import AuthError, UsageError

MAX_BODY = 16 << 20  # a task report is a few KiB; refuse to buffer anything near memory's size


class MasterGone(ConnectionError):
    """The master cannot be reached: it has finished or died."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle on, the second waits for
    # the client's delayed ACK (~40 ms) on every call.
    disable_nagle_algorithm = True

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def _dispatch(self, method):
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY:
            self.close_connection = True  # the body's end is unknown: the connection cannot be reused
            return self._reply(400, {"error": f"Content-Length must be a number of bytes up to {MAX_BODY}"})
        raw = self.rfile.read(length) if length else b""
        route = self.server.routes.get((method, urlsplit(self.path).path))
        if route is None:
            return self._reply(404, {"error": f"no such endpoint: {method} {self.path}"})
        supplied = self.headers.get("Authorization", "")
        if not hmac.compare_digest(supplied.encode(), f"Bearer {self.server.token}".encode()):
            return self._reply(401, {"error": "missing or wrong token"})
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            return self._reply(400, {"error": "body is not JSON"})
        try:
            status, payload = route(body)
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            status, payload = 400, {"error": f"malformed request: {type(exc).__name__}: {exc}"}
        self._reply(status, payload)

    def _reply(self, status, payload):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format, *args):
        pass  # a request log per task would drown the job's own messages


class RpcServer(ThreadingHTTPServer):
    """Serves `routes` {(method, path): handler(body) -> (status, payload)}."""

    daemon_threads = True
    request_queue_size = 128  # many workers may connect at once

    def __init__(self, address, token, routes):
        self.token = token
        self.routes = routes
        try:
            super().__init__(address, _Handler)
        except OSError as exc:
            host, port = address
            if exc.errno == errno.EADDRINUSE:
                raise UsageError(f"cannot listen on {host}:{port}: address already in use; "
                                 "pick another port with --listen HOST:PORT") from None
            raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror}") from None

    _serving = None  # the thread of serve_in_background, once started

    def serve_in_background(self, poll_interval=0.02):
        """Serve from a daemon thread; `poll_interval` bounds how long shutdown() waits for it."""
        self._serving = threading.Thread(target=self.serve_forever, args=(poll_interval,), daemon=True,
                                         name="mrkit-rpc-serve")
        self._serving.start()

    def shutdown(self):
        """Stop serving; a server that never served returns at once (the stdlib's would wait forever)."""
        if self._serving is not None:
            super().shutdown()

    @property
    def url(self):
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"


class RpcClient:
    """Calls the master; one kept-alive connection, reopened once if it dropped."""

    def __init__(self, url, token, timeout=60.0):
        parts = urlsplit(url)
        try:
            port = parts.port  # a ValueError when out of range
        except ValueError:
            port = None
        if parts.scheme != "http" or not parts.hostname or not port:
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
                payload = json.loads(response.read() or b"{}")
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
        if response.status != 200:
            raise MasterGone(f"master answered {response.status}: {payload.get('error', '')}")
        return payload

    def close(self):
        if self._connection is not None:
            self._connection.close()
            self._connection = None

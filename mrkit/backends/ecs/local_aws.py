"""A local AWS for the ECS stand-in: moto's server on 127.0.0.1, started for one command and stopped after it.

`mrkit report --stand-in` (and so `make report`) uses it when no
$AWS_ENDPOINT_URL is set, so the ECS assignment's section runs on a fresh
machine without an account and without a server started by hand. It does
what the README's stand-in block does by hand: the server gets
MOTO_IAM_LOAD_MANAGED_POLICIES=true in its own environment (IAM reads it when
built), ECS tasks are pinned to manual state changes (else moto moves them on
by itself), and boto3 gets dummy credentials and the loopback endpoint,
never a real account. The server runs as its own process, so its request
handling does not share the report's interpreter.
"""

import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

from mrkit.errors import UsageError

_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "stand-in",
    "AWS_SECRET_ACCESS_KEY": "stand-in",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "NO_PROXY": "127.0.0.1,localhost",
    "no_proxy": "127.0.0.1,localhost",
}


def _opener():
    return urllib.request.build_opener(urllib.request.ProxyHandler({}))  # the loopback, whatever the proxy says


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_up(endpoint, process, log, timeout_s):
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            _opener().open(f"{endpoint}/moto-api/", timeout=2).close()
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                tail = log.read().decode(errors="replace")[-500:]
                raise UsageError(f"moto's server did not start on {endpoint} for the stand-in: {tail.strip()}") from None
            time.sleep(0.2)


@contextlib.contextmanager
def local_aws(timeout_s=60.0):
    """Run moto's server on a free loopback port; inside, os.environ points boto3 at it. Yields its URL."""
    try:
        import moto.server  # noqa: F401 - only to fail with a clear line before starting anything
    except ImportError:
        raise UsageError(
            "--stand-in needs moto's server (the dev set-up: make setup), or start one yourself and "
            "set AWS_ENDPOINT_URL (README, 'Without an AWS account')"
        ) from None
    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    env = {**os.environ, **_ENVIRONMENT, "MOTO_IAM_LOAD_MANAGED_POLICIES": "true", "MOTO_EC2_LOAD_DEFAULT_AMIS": "false"}
    saved = {k: os.environ.get(k) for k in (*_ENVIRONMENT, "AWS_ENDPOINT_URL")}
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            _wait_up(endpoint, process, log, timeout_s)
            body = {"model_name": "ecs::task", "transition": {"progression": "manual", "times": 1_000_000}}
            _opener().open(
                urllib.request.Request(
                    f"{endpoint}/moto-api/state-manager/set-transition", data=json.dumps(body).encode(), method="POST"
                ),
                timeout=30,
            ).close()
            os.environ.update(_ENVIRONMENT, AWS_ENDPOINT_URL=endpoint)
            yield endpoint
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

"""Shared fixtures: the CLI as a real process, small inputs, the lab's books, and S3 on moto.

Tests that need `../shared/corpus/gutenberg` skip when it is absent (a clean
machine without the shared folder); everything else runs on inputs the tests
make themselves.
"""

import logging
import os
import pathlib
import signal
import subprocess
import sys
import urllib.request

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
BOOKS = ROOT.parent / "shared" / "corpus" / "gutenberg"
TEST_APPS = pathlib.Path(__file__).resolve().parent / "apps"
MRKIT = [sys.executable, "-m", "mrkit"]

# A suite started in the background (`make test &`, nohup) inherits SIGINT ignored, and so would every mrkit it
# starts, which a Ctrl-C test then cannot interrupt: 9 such tests failed so on 7 December. A handler (unlike
# SIG_IGN) is reset to the default in the programs the suite executes, where Python turns SIGINT into
# KeyboardInterrupt again.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


# Modules whose tests take minutes (reports, image builds, installs, whole scenarios) run first: `make test` hands
# each module to one of its pytest-xdist processes in this order, so the long ones do not start last and leave
# one process working alone at the end. Within a rank the collection order is kept.
LONG_FIRST = (("notebook", "containers", "browser"), ("slow",))


def _rank(markers):
    return next((i for i, names in enumerate(LONG_FIRST) if markers & set(names)), len(LONG_FIRST))


def pytest_collection_modifyitems(items):
    module_markers = {}
    for item in items:
        module_markers.setdefault(item.path, set()).update(m.name for m in item.iter_markers())
    items.sort(key=lambda item: _rank(module_markers[item.path]))


CHROMIUM = "/usr/bin/chromium"  # Debian's, which .ci/run installs; never a downloaded browser


@pytest.fixture
def sync_api():
    """playwright's sync API for a test that drives Debian's chromium, or a skip naming what is missing."""
    if not pathlib.Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is absent (apt-get install chromium); .ci/run installs it")
    return pytest.importorskip("playwright.sync_api", reason="playwright is not installed (a dev dependency)")


def mrkit(*args, cwd, timeout=60, env=None, check=False):
    """Run the CLI as its own process; returns the CompletedProcess."""
    merged = {**os.environ, **(env or {})}
    result = subprocess.run([*MRKIT, *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=merged)
    if check and result.returncode != 0:
        raise AssertionError(f"mrkit {args} exited {result.returncode}: {result.stderr}")
    return result


def mrkit_popen(*args, cwd, env=None, **kwargs):
    return subprocess.Popen(
        [*MRKIT, *map(str, args)],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def sorted_outputs(directory):
    """`sort mr-out-*`: the lines of every output file, sorted."""
    lines = []
    for path in pathlib.Path(directory).glob("mr-out-*"):
        lines.extend(path.read_text(encoding="utf-8", errors="surrogatepass").splitlines())  # as mrkit writes them
    return sorted(lines)


def app_path(name):
    return str(TEST_APPS / f"{name}.py")


def alive(pid):
    """Whether process `pid` still runs; a zombie has ended (this container's pid 1 may never reap it)."""
    try:
        os.kill(pid, 0)
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0] != "Z"
    except (ProcessLookupError, FileNotFoundError):
        return False


def recorded_pids(directory, kind):
    """The pids a test app recorded as `<kind>-<pid>` files in `directory`."""
    return sorted(int(path.name.partition("-")[2]) for path in pathlib.Path(directory).glob(f"{kind}-*"))


def wait_until(predicate, what, limit=60):
    """Poll `predicate` until it holds and return what it returned; fail naming `what` if it does not within
    `limit` seconds (a hang guard)."""
    import time

    deadline = time.monotonic() + limit
    while not (found := predicate()):
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.02)
    return found


@pytest.fixture
def app_children(tmp_path):
    """The processes tests/apps/spawner.py started under tmp_path and that still run.

    Whatever still runs at the end is killed, so a failing test leaves no `sleep` behind.
    """

    def running(directory=tmp_path):
        return [pid for pid in recorded_pids(directory, "child") if alive(pid)]

    yield running
    for directory in [tmp_path, *tmp_path.rglob("*")]:
        if directory.is_dir():
            for pid in running(directory):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture(scope="session")
def corpus(tmp_path_factory):
    """Eight generated files of ~64 KiB: the default test input."""
    from mrkit.corpus import synth

    out = tmp_path_factory.mktemp("corpus")
    return [str(p) for p in synth(out, 8, 64 * 1024, seed=1)]


@pytest.fixture(scope="session")
def books():
    if not BOOKS.is_dir():
        pytest.skip("../shared/corpus/gutenberg is absent on this machine; the book cases need it")
    return sorted(str(p) for p in BOOKS.glob("pg-*.txt"))


# ---- S3 on moto's server mode: one server on 127.0.0.1 per session, a fresh bucket per test.
# No AWS account and no network beyond the loopback: boto3 talks to moto with dummy
# credentials, and moto's state is reset after each test.

BUCKET = "mrkit-test"
PREFIX = "job/"


@pytest.fixture(scope="session")
def moto_endpoint():
    """The URL of a moto server, started once and stopped after the session."""
    moto_server = pytest.importorskip("moto.server", reason="moto[s3] is not installed (a dev dependency)")
    # verbose=False does not silence werkzeug's per-request log lines.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def _post(url):
    # No proxy, whatever the environment says: the server is on the loopback.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    opener.open(urllib.request.Request(url, method="POST"), timeout=10).close()


@pytest.fixture
def aws_env(monkeypatch, tmp_path):
    """Dummy credentials and no user AWS config, so nothing can reach a real account."""
    for var in list(os.environ):
        if var.startswith("AWS_"):
            monkeypatch.delenv(var)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


@pytest.fixture
def s3_client(moto_endpoint, aws_env):
    """A boto3 S3 client on moto with an empty bucket BUCKET; moto is reset afterwards."""
    import boto3

    client = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    yield client
    _post(f"{moto_endpoint}/moto-api/reset")


@pytest.fixture
def s3_storage(s3_client, moto_endpoint):
    """An S3Storage on BUCKET under PREFIX, with its own client (as a worker would build it)."""
    from mrkit.storage.s3 import S3Storage

    return S3Storage(BUCKET, PREFIX, endpoint_url=moto_endpoint)

"""A real Dask cluster on 127.0.0.1 for the dask backends' tests: one `dask scheduler`, two `dask worker`s.

Started once for the package (each is a process of its own, no dashboard,
nothing listening beyond the loopback) and stopped after it. The workers
reach the session's moto server with dummy credentials, as workers on a
real cluster reach S3. A test that kills a worker leaves it to its nanny;
`dask_client` waits until both are back before the next test.
"""

import os
import signal
import subprocess
import sys

import pytest

pytest.importorskip("distributed", reason="the dask extra is not installed (make setup installs it)")

WORKERS = 2
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "NO_PROXY": "127.0.0.1,localhost",
    "no_proxy": "127.0.0.1,localhost",
}


def _dask(*args, env):
    # its own process group, so the cleanup reaches the nanny's worker processes too
    return subprocess.Popen(
        [sys.executable, "-m", "dask", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _stop(process):
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    except ProcessLookupError:
        pass


def _worker_args(scheduler_file, *extra):
    """A `dask worker`'s arguments: the scheduler in `scheduler_file`, on the loopback, one thread, no dashboard."""
    return ["--scheduler-file", str(scheduler_file), "--host", "127.0.0.1", "--nthreads", "1", "--no-dashboard", *extra]


@pytest.fixture(scope="package")
def dask_env(moto_endpoint):
    """What the cluster's processes (and the CLI driving them) need: moto's endpoint, dummy credentials."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return {**env, **AWS_ENV, "AWS_ENDPOINT_URL": moto_endpoint}


@pytest.fixture(scope="package")
def dask_scheduler(tmp_path_factory, dask_env):
    """The address of a `dask scheduler` with two `dask worker` processes (one thread each), all on 127.0.0.1."""
    from distributed import Client

    where = tmp_path_factory.mktemp("dask-cluster")
    info = where / "scheduler.json"
    processes = [
        _dask("scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard", "--scheduler-file", str(info), env=dask_env)
    ]
    try:
        for n in range(WORKERS):
            processes.append(
                _dask("worker", *_worker_args(info, "--name", f"dw{n}", "--local-directory", str(where)), env=dask_env)
            )
        with Client(scheduler_file=str(info), timeout="60s") as client:
            client.wait_for_workers(WORKERS, timeout=120)
            address = client.scheduler.address
        yield address
    finally:
        for process in reversed(processes):
            _stop(process)


@pytest.fixture
def dask_client(dask_scheduler):
    """A client on the package's cluster, once both workers are up (a test before may have killed one)."""
    from distributed import Client

    with Client(dask_scheduler, timeout="60s") as client:
        client.wait_for_workers(WORKERS, timeout=120)
        yield client


@pytest.fixture
def lone_worker(tmp_path, dask_env):
    """start(env=None, wrap=()) -> the address of a new scheduler with one worker (its env, its command's
    prefix), stopped afterwards; start.schedulers holds the schedulers' processes, for a test that kills one."""
    from distributed import Client

    processes = []

    def start(env=None, wrap=()):
        info = tmp_path / f"scheduler-{len(processes)}.json"
        start.schedulers.append(
            _dask(
                "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard", "--scheduler-file", str(info), env=dask_env
            )
        )
        processes.append(start.schedulers[-1])
        worker = [sys.executable, "-m", "dask", "worker", *_worker_args(info)]
        processes.append(
            subprocess.Popen(
                [*wrap, *worker],
                env={**dask_env, **(env or {})},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
                cwd=tmp_path,
            )
        )  # not the checkout: its mrkit.egg-info would come first
        with Client(scheduler_file=str(info), timeout="60s") as client:
            client.wait_for_workers(1, timeout=120)
            return client.scheduler.address

    start.schedulers = []
    yield start
    for process in reversed(processes):
        _stop(process)

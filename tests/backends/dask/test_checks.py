"""The checks before a job starts on Dask, each against a real scheduler with a worker that fails it:
a worker with another mrkit version, a worker that cannot see the job's directory or an input.
"""

import shutil
import subprocess

import pytest
from conftest import mrkit

pytestmark = pytest.mark.slow  # each test starts its own Dask scheduler and worker: seconds each


@pytest.mark.timeout(180)
def test_a_worker_with_another_mrkit_version_is_named_before_the_job(corpus, tmp_path, lone_worker):
    fake = tmp_path / "fake-site"
    (fake / "mrkit-9.9.9.dist-info").mkdir(parents=True)
    (fake / "mrkit-9.9.9.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: mrkit\nVersion: 9.9.9\n")
    address = lone_worker(env={"PYTHONPATH": str(fake)})
    result = mrkit("run", "wc", corpus[0], "--backend", "dask", "--scheduler", address, cwd=tmp_path, timeout=120)
    assert result.returncode == 2, result.stderr
    line = result.stderr.strip().splitlines()[-1]
    assert "version mismatch: worker tcp://127.0.0.1:" in line and "mrkit 9.9.9" in line, result.stderr
    assert not list(tmp_path.glob("mr-*")), "nothing started"


def _hiding(directory):
    """A command prefix that runs the worker in its own mount namespace, with an empty tmpfs over `directory`."""
    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) is absent: cannot give a worker a view without the job's directory")
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"unshare -m is not permitted here: {probe.stderr.decode().strip()}")
    return ["unshare", "-m", "sh", "-c", f'mount -t tmpfs none "{directory}" && exec "$0" "$@"']


@pytest.mark.timeout(180)
@pytest.mark.parametrize("backend", ["dask", "dask-tasks"])
def test_a_worker_that_cannot_see_the_directory_is_named(corpus, tmp_path, lone_worker, backend):
    hidden = tmp_path / "hidden"
    (hidden / "job").mkdir(parents=True)
    address = lone_worker(wrap=_hiding(hidden))
    result = mrkit(
        "run",
        "wc",
        corpus[0],
        "--backend",
        backend,
        "--scheduler",
        address,
        "--workdir",
        hidden / "job",
        cwd=tmp_path,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    line = result.stderr.strip().splitlines()[-1]
    assert f"does not see the job's directory {hidden / 'job'}" in line and "s3://" in line, result.stderr

    secret = hidden / "input.txt"
    secret.write_text("only the client has this\n")
    result = mrkit("run", "wc", secret, "--backend", backend, "--scheduler", address, cwd=tmp_path, timeout=120)
    assert result.returncode == 2, result.stderr
    assert f"cannot read input {secret}" in result.stderr.strip().splitlines()[-1], result.stderr

"""The LocalCluster a dask job starts for itself: its nannies restart their dead workers for as long as the job runs.

Dask's SpecCluster closes a nanny whose worker has not registered again within
`distributed.deploy.lost-worker-timeout` (15 s) of a death. On a loaded
machine a restart takes longer than that, or the restarted worker dies again
while the first death's timer runs (the crash app); the nanny was then closed
for good, and once every nanny was, the master failed the job with "no worker
has been connected for 30 s". Here a timeout shorter than any restart makes
that certain on quiet cores too.
"""

import json
import os
import signal

import pytest
from conftest import app_path, mrkit, mrkit_popen, sorted_outputs, wait_until

pytestmark = pytest.mark.slow  # a LocalCluster whose worker is killed and restarted: seconds


@pytest.mark.timeout(300)
@pytest.mark.parametrize("backend", ["dask", "dask-tasks"])
def test_a_worker_restarting_slower_than_the_lost_worker_timeout_is_waited_for(corpus, tmp_path, backend):
    markers = tmp_path / "markers"
    markers.mkdir()
    job_dir = tmp_path / "job"
    job_dir.mkdir()
    job = mrkit_popen(
        "run",
        app_path("marked"),
        *corpus[:6],
        "--app-opt",
        f"marker_dir={markers}",
        "--backend",
        backend,
        "--workers",
        "1",
        "-r",
        "2",
        "--task-timeout",
        "2",
        "--json",
        cwd=job_dir,
        env={"DASK_DISTRIBUTED__DEPLOY__LOST_WORKER_TIMEOUT": "50ms"},
    )
    try:
        marker = wait_until(lambda: sorted(markers.glob("started-*")), "a map to start")[0]
        os.kill(int(marker.name.split("-")[1]), signal.SIGKILL)  # the cluster's only worker process
        out, err = job.communicate(timeout=240)
    finally:
        job.kill()
    assert job.returncode == 0, err
    assert json.loads(out)["retries"] >= 1, "the killed attempt is recorded"
    reference = tmp_path / "ref"
    reference.mkdir()
    mrkit("sequential", "wc", *corpus[:6], cwd=reference, check=True)
    assert sorted_outputs(job_dir) == sorted_outputs(reference)

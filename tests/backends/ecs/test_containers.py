"""The ECS image built with podman and run for real: `mrkit ecs run --stand-in DIR --containers` on moto.

Once per module: the Debian base .ci/container-base makes (cached outside the
repository), then `mrkit ecs image --builder podman --base-image BASE --no-push`,
which tags the image under the name the stack's task definition gives. A
second stack runs that image plus the test apps (one layer on top), for the
job that must be slow enough to stop a task in the middle of it.

Skipped, saying why, only where podman cannot run containers (not installed,
no engine, or no root for debootstrap's base); .ci/run installs and configures it.
"""

import json
import os
import shutil
import subprocess
import time

import pytest
from conftest import ROOT, TEST_APPS, mrkit, sorted_outputs

from mrkit.backends.ecs.bootstrap import up
from mrkit.backends.ecs.config import make_config
from mrkit.backends.ecs.containers import LABEL, NAME_PREFIX

from .test_standin import Launch

REGION = "us-east-1"
SETTINGS = {"stack": "ctr", "region": REGION, "cpu": 256, "memory": 512}
TEST_APPS_IMAGE = "localhost/mrkit-test-apps:latest"
SLOW_SETTINGS = {**SETTINGS, "stack": "ctrslow", "image": TEST_APPS_IMAGE}

pytestmark = [pytest.mark.containers, pytest.mark.timeout(600)]  # the first build in a session included


def _podman(*args, check=False, timeout=300, **kwargs):
    return subprocess.run(["podman", *args], capture_output=True, text=True, timeout=timeout, check=check, **kwargs)


def _last_line(text):
    return next((line for line in reversed(text.splitlines()) if line.strip()), "").strip()


@pytest.fixture(scope="session")
def base_image():
    """The local Debian base (made once, then cached), or a skip saying why podman cannot work here."""
    if shutil.which("podman") is None:
        pytest.skip("podman is not installed: apt-get install -y podman runc debootstrap (.ci/run does)")
    info = _podman("info")
    if info.returncode != 0:
        pytest.skip(f"podman does not work here ({_last_line(info.stderr)}): see docs/containers.md")
    made = subprocess.run([str(ROOT / ".ci" / "container-base")], capture_output=True, text=True, timeout=900)
    if made.returncode != 0 and (shutil.which("debootstrap") is None or os.geteuid() != 0):
        pytest.skip(f"the local base image needs root and debootstrap ({_last_line(made.stderr)})")
    assert made.returncode == 0, made.stderr
    image = made.stdout.split()[-1]
    ran = _podman("run", "--rm", "--pull", "never", "--network", "host", image, "true")
    if ran.returncode != 0:
        pytest.skip(f"podman cannot run a container here ({_last_line(ran.stderr)}): see docs/containers.md")
    return image


def _settings(directory, settings):
    path = directory / f"{settings['stack']}.yaml"
    path.write_text("".join(f"{k}: {v}\n" for k, v in settings.items()))
    return path


@pytest.fixture(scope="module")
def stacks(base_image, new_aws, tmp_path_factory):
    """Two stacks on moto, their images built: "ctr" runs mrkit's image, "ctrslow" it plus the test apps."""
    aws = new_aws()
    directory = tmp_path_factory.mktemp("stacks")
    made = up(make_config(SETTINGS, source="test"), aws)
    slow = up(make_config(SLOW_SETTINGS, source="test"), aws)
    settings = _settings(directory, SETTINGS)
    built = mrkit(
        "ecs",
        "image",
        "--config",
        settings,
        "--context",
        ROOT,
        "--builder",
        "podman",
        "--base-image",
        base_image,
        "--no-push",
        cwd=directory,
        timeout=900,
    )
    assert built.returncode == 0, built.stderr
    image = aws.task_definition(made.task_definition_arn)["containerDefinitions"][0]["image"]
    assert f"built {image} (not pushed)" in built.stderr
    layer = f"FROM {image}\nCOPY . /opt/mrkit-test-apps\nENV PYTHONPATH=/opt/mrkit-test-apps\n"
    _podman("build", "--pull=never", "--tag", TEST_APPS_IMAGE, "--file", "-", str(TEST_APPS), input=layer, check=True)
    return aws, {"ctr": (made, settings), "ctrslow": (slow, _settings(directory, SLOW_SETTINGS))}


def _containers_of(standin):
    """[{Names, Image, Command, ...}] of the stand-in's containers that exist, running or not."""
    listed = _podman("ps", "--all", "--format", "json", "--filter", f"label={LABEL}={standin}", check=True)
    return json.loads(listed.stdout or "[]")


def _started_since(since, image, standin=None):
    """Names of the stand-in's containers (any stand-in's without `standin`) of `image` started since `since`."""
    label = ["--filter", f"label={LABEL}={standin}"] if standin else []  # a label's key alone matches no event
    events = _podman(
        "events",
        "--stream=false",
        "--since",
        since,
        "--filter",
        "event=start",
        *label,
        "--format",
        "{{.Name}} {{.Image}}",
        check=True,
        timeout=60,
    )
    return [
        name for name, *rest in map(str.split, events.stdout.splitlines()) if name.startswith(NAME_PREFIX) and rest == [image]
    ]


def _now():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 1))


def _exists(name):
    return _podman("container", "exists", name).returncode == 0


def _worker_arns(aws, stack):
    running = aws.describe_tasks(stack.cluster_arn, aws.list_tasks(stack.cluster_arn))
    return [t["taskArn"] for t in running if t["overrides"]["containerOverrides"][0]["command"][0] == "worker"]


def test_word_count_runs_its_master_and_workers_in_containers_of_the_image(stacks, corpus, tmp_path):
    aws, made = stacks
    stack, settings = made["ctr"]
    since = _now()
    launch = Launch(tmp_path, settings, "wc", *corpus[:4], "-m", "6", "-r", "3", "-w", "2", "--verify", "--containers")
    launch.wait_for("started 2 worker task(s)", timeout=300)
    # The master serves until the workers are done: its container runs now, of the definition's image, as the user `mrkit`.
    image = aws.task_definition(stack.task_definition_arn)["containerDefinitions"][0]["image"]
    running = [c for c in _containers_of(launch.standin.resolve()) if c["State"] == "running"]
    masters = [c for c in running if "master" in c["Command"]]
    assert masters and masters[0]["Image"].endswith(image.partition("/")[2]), running
    assert _podman("top", masters[0]["Names"][0], "user").stdout.split()[1:] == ["mrkit"]  # the image's uid 10001
    code, out = launch.finish(timeout=300)
    assert code == 0, launch.stderr
    assert "missing 0, extra 0, different 0: equal to the sequential run" in launch.stderr
    assert json.loads(out)["workers"] == 2
    started = _started_since(since, image, launch.standin.resolve())
    assert len(started) == 3 and masters[0]["Names"][0] in started, "the master and both workers, in containers"
    assert aws.list_tasks(stack.cluster_arn) == []
    assert _containers_of(launch.standin.resolve()) == [], "every container is removed"


def test_the_crash_app_in_containers_ends_exact_or_over_budget_with_every_container_gone(stacks, corpus, tmp_path):
    # A third of the crash app's calls exit the worker (code 1): each such task's container exits 1, its
    # task is stopped with that code, a replacement starts. The job ends exact, or (rarely) past the budget.
    aws, made = stacks
    stack, settings = made["ctr"]
    (tmp_path / "ref").mkdir()
    mrkit("sequential", "nocrash", *corpus[:1], cwd=tmp_path / "ref", check=True)
    # Stalls past the 2 s timeout count as bad attempts too: 40 allowed, as the local crash test does.
    launch = Launch(
        tmp_path,
        settings,
        "crash",
        *corpus[:1],
        "-r",
        "4",
        "-w",
        "6",
        "--task-timeout",
        "2",
        "--max-attempts",
        "40",
        "--containers",
    )
    code, out = launch.finish(timeout=500)
    stops = [line for line in launch.lines if "worker task" in line and " stopped: " in line]
    assert all(line.endswith("stopped: Essential container in task exited (exit code 1)") for line in stops), stops
    if code == 0:
        summary = json.loads(out)
        s3 = aws.client("s3")
        keys = [
            o["Key"]
            for o in s3.list_objects_v2(Bucket=stack.bucket, Prefix=f"jobs/{summary['run_id']}/mr-out-").get("Contents", [])
        ]
        lines = sorted(
            line for key in keys for line in s3.get_object(Bucket=stack.bucket, Key=key)["Body"].read().decode().splitlines()
        )
        assert lines == sorted_outputs(tmp_path / "ref")
    else:
        assert code == 1 and "more than the replacement budget of 14" in launch.stderr, launch.stderr
    assert aws.list_tasks(stack.cluster_arn) == []
    assert _containers_of(launch.standin.resolve()) == []


def test_a_worker_task_stopped_mid_job_loses_its_container_and_the_job_stays_exact(stacks, corpus, tmp_path):
    aws, made = stacks
    stack, settings = made["ctrslow"]
    launch = Launch(
        tmp_path,
        settings,
        "slowwc",
        *corpus[:4],
        "-m",
        "40",
        "-r",
        "2",
        "-w",
        "2",
        "--task-timeout",
        "2",
        "--verify",
        "--containers",
    )
    launch.wait_for("2 worker(s) seen", timeout=300)  # both are mid-task: each map call takes 0.5 s
    victim = _worker_arns(aws, stack)[0]
    aws.stop_task(stack.cluster_arn, victim, "stopped by the test")
    name = NAME_PREFIX + victim.rsplit("/", 1)[-1]
    while _exists(name):  # SIGTERM: the worker (PID 1, with a handler) exits 143
        assert launch.process.poll() is None, f"the job ended before the stopped task's container: {launch.stderr}"
        time.sleep(0.2)
    assert launch.process.poll() is None, "the container went while the job still ran"
    code, out = launch.finish(timeout=300)
    assert code == 0, launch.stderr
    assert f"worker task {victim.rsplit('/', 1)[-1][:12]} stopped: stopped by the test" in launch.stderr
    assert "started a replacement worker (1 so far)" in launch.stderr
    assert "equal to the sequential run" in launch.stderr
    assert aws.list_tasks(stack.cluster_arn) == []
    assert _containers_of(launch.standin.resolve()) == []


def test_an_image_not_in_the_local_store_is_a_one_line_error_and_nothing_is_left_running(stacks, corpus, tmp_path):
    aws, _ = stacks
    missing = {**SETTINGS, "stack": "ctrmissing", "image": "localhost/mrkit-not-built:never"}
    stack = up(make_config(missing, source="test"), aws)
    launch = Launch(tmp_path, _settings(tmp_path, missing), "wc", corpus[0], "-w", "1", "--containers")
    code, _ = launch.finish(timeout=120)
    assert code == 2, launch.stderr
    assert (
        "image localhost/mrkit-not-built:never (the task definition's) is not in podman's local store: build it "
        "with `mrkit ecs image --builder podman --no-push` (the stand-in never pulls)"
    ) in launch.lines[-1]
    assert "Traceback" not in launch.stderr
    assert aws.list_tasks(stack.cluster_arn) == []


def test_a_sweep_with_stand_in_and_containers_runs_each_job_in_containers(stacks, tmp_path):
    pd = pytest.importorskip("pandas", reason="sweeps need mrkit[experiments] (make setup installs it)")
    from mrkit.experiments.sweeps import sweep, sweep_config

    aws, made = stacks
    stack, settings = made["ctr"]
    image = aws.task_definition(stack.task_definition_arn)["containerDefinitions"][0]["image"]
    since = _now()
    options = {"settings": str(settings), "stand_in": True, "containers": True, "poll_s": 0.2, "verify": True}
    cfg = sweep_config.load_sweep("mappers_ecs", quick=True, backend_options=options, results_dir=str(tmp_path / "ecs"))
    runs = pd.read_csv(sweep.run_sweep(cfg, progress=False, scratch=str(tmp_path)) / "runs.csv")
    assert list(runs["workers"]) == [1, 2] and (runs["verify_found"] == runs["verify_expected"]).all()
    assert (runs[["verify_missing", "verify_extra", "verify_different", "verify_duplicate"]] == 0).all().all()
    # Two jobs: a master and W workers each, every one a container of the stack's image.
    assert len(_started_since(since, image)) >= (1 + 1) + (1 + 2)
    assert aws.list_tasks(stack.cluster_arn) == []


def test_a_stand_in_image_that_cannot_be_built_falls_back_to_processes_in_one_line(base_image, aws, capfd):
    """The build's own lines (podman's pull attempts) used to fill the report's terminal above a line that
    gave only the command and its exit status."""
    from mrkit.cli import study

    config = make_config(SETTINGS, source="test")
    up(config, aws)
    assert study._stand_in_containers(config, aws, "localhost/mrkit-no-such-base:0") == {}
    err = capfd.readouterr().err
    assert err.count("\n") == 1, err
    assert (
        err.startswith("mrkit report: the ECS stand-in's tasks run as local processes: `podman build ")
        and "failed with exit status" in err
    )
    assert "mrkit-no-such-base" in err.split("failed with exit status", 1)[1], "the engine's reason, not only its status"


def test_the_reports_ecs_section_runs_in_containers_and_says_so(base_image, aws, tmp_path):
    # `make report`'s ECS part, quick: a container engine works here, so the stand-in's tasks are containers.
    pytest.importorskip("papermill", reason="the report needs mrkit[notebooks] (make setup installs it)")
    since = _now()
    out = tmp_path / "report.html"
    result = mrkit(
        "report",
        "--stand-in",
        "--base-image",
        base_image,
        "--sweep",
        "mappers_ecs",
        "--quick",
        "--no-checks",
        "--no-progress",
        "--out",
        out,
        cwd=tmp_path,
        timeout=840,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "mrkit report: the ECS stand-in's tasks run as podman containers of " in result.stderr
    html = out.read_text(encoding="utf-8")
    assert "each task a podman container of the stack" in html
    # issue 25: the checklist said "with local processes", and "not measured (no attempt was lost)"
    assert "☑ Ran on the local ECS stand-in (moto's ECS and S3 with podman containers of the stack's image" in html
    assert "local processes" not in html
    assert "☑ Failure recovery: a worker holding a task was stopped and its task re-run (measured)" in html
    assert "Failure recovery (measured):</strong> in a run at M = 8, W = 2 on 64 MiB" in html
    image = f"{aws.find_repository('mrkit-default')['repositoryUri']}:latest"  # params/ecs.yaml's stack
    # The sweep's two jobs, then the fault run's baseline and its run with the stopped worker's replacement.
    assert len(_started_since(since, image)) >= (1 + 1) + (1 + 2) + (1 + 2) + (1 + 2 + 1)

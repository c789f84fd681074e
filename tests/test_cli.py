"""The command line: every user mistake gets one line, exit status 2, and no output files."""

import json
import os
import pathlib
import socket
import subprocess
import sys
import time

import pytest
from conftest import MRKIT, app_path, mrkit, mrkit_popen, sorted_outputs, wait_until


def _one_line_error(result, *fragments, status=2):
    """One line on stderr naming the problem, no traceback, and the exit status the README gives (2: a user mistake)."""
    assert result.returncode == status, (result.returncode, result.stderr[-2000:])
    message = result.stderr.strip()
    assert "\n" not in message, f"expected one line, got:\n{message}"
    assert "Traceback" not in message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"


def _no_outputs(directory):
    return not list(directory.glob("mr-out-*")) and not list(directory.glob(".mr-*.tmp"))


def test_version_is_the_packages_version(tmp_path):
    from importlib.metadata import version

    import mrkit as package

    result = mrkit("--version", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"mrkit {package.__version__}\n"
    assert package.__version__ == version("mrkit")  # what pip installed says the same


@pytest.mark.parametrize("command", [["sequential", "wc"], ["run", "wc"], ["master"]])
def test_missing_input(command, tmp_path):
    result = mrkit(*command, "nope.txt", cwd=tmp_path)
    _one_line_error(result, "'nope.txt' does not exist")
    assert _no_outputs(tmp_path)


@pytest.mark.parametrize("command", [["sequential", "wc"], ["run", "wc"], ["master"]])
def test_zero_inputs(command, tmp_path):
    _one_line_error(mrkit(*command, cwd=tmp_path), "no inputs given")
    assert _no_outputs(tmp_path)


def test_input_that_is_not_a_regular_file(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    _one_line_error(mrkit("run", "wc", "pipe", cwd=tmp_path), "'pipe' is not a regular file")
    assert _no_outputs(tmp_path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_input(tmp_path):
    locked = tmp_path / "locked.txt"
    locked.write_text("secret words")
    locked.chmod(0)
    _one_line_error(mrkit("run", "wc", "locked.txt", cwd=tmp_path), "cannot be read")


def test_directory_input_is_expanded(corpus, tmp_path):
    directory = os.path.dirname(corpus[0])
    by_dir, by_files = tmp_path / "dir", tmp_path / "files"
    by_dir.mkdir(), by_files.mkdir()
    mrkit("sequential", "indexer", directory, cwd=by_dir, check=True)
    mrkit("sequential", "indexer", *corpus, cwd=by_files, check=True)
    assert sorted_outputs(by_dir) == sorted_outputs(by_files)


def test_empty_directory_input(tmp_path):
    (tmp_path / "empty").mkdir()
    _one_line_error(mrkit("run", "wc", "empty", cwd=tmp_path), "has no files")


@pytest.mark.parametrize(
    "app, message",
    [
        ("nosuchapp", "unknown app 'nosuchapp'"),
        ("no.such.module", "unknown app 'no.such.module'"),
        ("missing.py", "does not exist"),
        (app_path("noreduce"), "has no reduce(key, values) function"),
    ],
)
def test_bad_app(app, message, corpus, tmp_path):
    for command in (["sequential", app, corpus[0]], ["run", app, corpus[0]], ["worker", app]):
        _one_line_error(mrkit(*command, cwd=tmp_path), message)
    assert _no_outputs(tmp_path)


@pytest.mark.parametrize("option", [["-r", "0"], ["-m", "0"], ["--n-reduce", "-3"], ["-w", "0"], ["-r", "x"]])
def test_counts_below_one(option, corpus, tmp_path):
    result = mrkit("run", "wc", *option, corpus[0], cwd=tmp_path)
    _one_line_error(result)
    assert _no_outputs(tmp_path)


@pytest.mark.parametrize(
    "option, message",
    [
        (["-w", "1001"], "--workers must be at most 1,000, got 1,001"),
        (["-r", "99999999999999999999"], "--n-reduce must be at most 100,000"),
        (["-w", "2", "--slow-workers", "1", "--slowdown", "inf"], "--slowdown must be a factor from 1 to 1000, got inf"),
        (["-w", "2", "--slow-workers", "1", "--slowdown", "1e308"], "--slowdown must be a factor from 1 to 1000"),
        (["--slowdown", "3"], "--slowdown F slows the --slow-workers K: give --slow-workers too"),
        (["-w", "2", "--slow-workers", "1"], "--slow-workers K are as fast as the others at --slowdown 1"),
    ],
)
def test_counts_and_factors_out_of_their_range(option, message, corpus, tmp_path):
    """A thousand-odd forked workers, an R that filled memory, a slowdown whose sleep overflowed in every worker,
    one of the straggler pair without the other (nothing injected, silently)."""
    _one_line_error(mrkit("run", "wc", *option, corpus[0], cwd=tmp_path), message)
    assert _no_outputs(tmp_path)


def test_an_empty_storage_is_one_line_not_the_cwd(corpus, tmp_path):
    """It wrote the outputs in the cwd while its summary said they were in --workdir."""
    _one_line_error(mrkit("run", "wc", corpus[0], "--workdir", "job", "--storage", "", cwd=tmp_path), "--storage takes")
    assert _no_outputs(tmp_path) and not (tmp_path / "job").exists()


def test_app_options(corpus, tmp_path):
    _one_line_error(mrkit("run", "grep", corpus[0], cwd=tmp_path, env={"MRKIT_GREP_PATTERN": ""}), "grep needs a pattern")
    _one_line_error(mrkit("run", "grep", "--app-opt", "pattern=(", corpus[0], cwd=tmp_path), "not a valid regex")
    _one_line_error(mrkit("run", "wc", "--app-opt", "x=1", corpus[0], cwd=tmp_path), "takes no options")
    _one_line_error(mrkit("run", "grep", "--app-opt", "pattern", corpus[0], cwd=tmp_path), "KEY=VALUE")
    _one_line_error(mrkit("run", "grep", "--app-opt", "foo=bar", corpus[0], cwd=tmp_path), "refused its options (foo=bar)")
    _one_line_error(mrkit("sequential", "grep", "--app-opt", "foo=bar", corpus[0], cwd=tmp_path), "refused its options")


def test_what_an_app_prints_goes_to_stderr_and_json_stays_one_document(tmp_path):
    """An app printing at import, in map and in reduce (its forked workers too) spoiled `--json`'s stdout; then
    one printing as the process exits (atexit) did."""
    (tmp_path / "loud.py").write_text(
        "import atexit\n\nprint('hello from import')\natexit.register(print, 'goodbye at exit')\n\n\n"
        "def map(filename, contents):\n    print('in map')\n"
        "    return [(w, '1') for w in contents.split()]\n\n\ndef reduce(key, values):\n    print('in reduce')\n"
        "    return str(len(values))\n"
    )
    (tmp_path / "a.txt").write_text("one two two\n")
    result = mrkit("run", "loud.py", "a.txt", "-r", "2", "--json", cwd=tmp_path, check=True)
    assert json.loads(result.stdout)["app"] == "loud.py"
    assert "hello from import" in result.stderr and "in map" in result.stderr and "in reduce" in result.stderr
    assert "goodbye at exit" in result.stderr


def test_a_run_started_with_stdout_closed_still_runs(tmp_path):
    """Keeping stdout for the summary met a None sys.stdout: a traceback and exit 1 after the job was done."""
    (tmp_path / "a.txt").write_text("one two two\n")
    result = subprocess.run(
        [*MRKIT, "run", "wc", "a.txt", "-r", "1", "--json"],
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: os.close(1),
        timeout=60,
    )
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    assert (tmp_path / "mr-out-0").read_text() == "one 1\ntwo 2\n"


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full, a device every write to fails")
def test_a_summary_that_cannot_reach_stdout_is_said_so_and_the_outputs_are_kept(tmp_path):
    """A full stdout was reported as the job directory's full disk ("give the job another directory")."""
    (tmp_path / "a.txt").write_text("one two two\n")
    with open("/dev/full", "w") as full:
        result = subprocess.run(
            [*MRKIT, "run", "wc", "a.txt", "-r", "1", "--json"],
            cwd=tmp_path,
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        "mrkit run: error: the job is done, but its summary could not be written to stdout: No space left on device"
    )
    assert (tmp_path / "mr-out-0").read_text() == "one 1\ntwo 2\n"


def test_port_in_use(corpus, tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = mrkit("master", "--listen", f"127.0.0.1:{port}", corpus[0], cwd=tmp_path)
    _one_line_error(result, f"127.0.0.1:{port}", "address already in use")
    assert not (tmp_path / "mr-master.json").exists()


def test_bad_listen_address(corpus, tmp_path):
    _one_line_error(mrkit("master", "--listen", "localhost", corpus[0], cwd=tmp_path), "HOST:PORT")


@pytest.mark.timeout(60)
def test_wrong_token_is_rejected(corpus, tmp_path):
    master = mrkit_popen("master", *corpus[:2], cwd=tmp_path)
    try:
        while not (tmp_path / "mr-master.json").exists():
            assert master.poll() is None
            time.sleep(0.05)
        info = json.loads((tmp_path / "mr-master.json").read_text())
        assert oct((tmp_path / "mr-master.json").stat().st_mode & 0o777) == "0o600"
        result = mrkit("worker", "wc", "--master", info["url"], cwd=tmp_path, env={"MRKIT_TOKEN": "wrong"})
        _one_line_error(result, "rejected our token", "401")
        token_file = tmp_path / "token"
        token_file.write_text("also-wrong\n")
        result = mrkit("worker", "wc", "--master", info["url"], "--token-file", token_file, cwd=tmp_path)
        _one_line_error(result, "401")
        # The master is unharmed: a worker with the right token finishes the job.
        assert mrkit("worker", "wc", cwd=tmp_path).returncode == 0
        assert master.wait(timeout=30) == 0
    finally:
        master.kill()


@pytest.mark.slow
def test_worker_without_master(tmp_path):
    _one_line_error(mrkit("worker", "wc", cwd=tmp_path, timeout=30), "no master found")


@pytest.mark.timeout(60)
def test_worker_exits_1_with_one_line_when_master_is_gone(tmp_path):
    # A master that died without cleaning up: its file remains, its port is closed. Not a job that is over
    # (issue 22): the worker tries again for --master-timeout, then says so.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (tmp_path / "mr-master.json").write_text(json.dumps({"url": f"http://127.0.0.1:{port}", "token": "t", "pid": 1}))
    result = mrkit("worker", "wc", "--master-timeout", "1", cwd=tmp_path)
    assert result.returncode == 1 and result.stderr.count("\n") == 1
    assert result.stderr.startswith("mrkit worker: cannot reach the master for ") and "network is down" in result.stderr


@pytest.mark.timeout(90)
def test_app_that_raises_fails_the_job_with_a_clear_message(tmp_path):
    good, bad = tmp_path / "good.txt", tmp_path / "bad.txt"
    good.write_text("fine words")
    bad.write_text("poison")
    # A deterministic bug must not hang the job: mrkit() raises TimeoutExpired past 60 s.
    result = mrkit("run", app_path("failing"), "good.txt", "bad.txt", cwd=tmp_path, timeout=60)
    assert result.returncode == 1
    message = result.stderr.strip()
    assert "\n" not in message and "Traceback" not in message
    for fragment in ("map task 1", "bad.txt", "10 attempts: 10 failed", "ValueError: cannot digest bad.txt", "failing.py"):
        assert fragment in message
    assert _no_outputs(tmp_path)


@pytest.mark.timeout(90)
def test_master_and_workers_exit_when_the_job_fails(tmp_path):
    (tmp_path / "bad.txt").write_text("poison")
    master = mrkit_popen("master", "bad.txt", cwd=tmp_path)
    while not (tmp_path / "mr-master.json").exists():
        time.sleep(0.05)
    worker = mrkit_popen("worker", app_path("failing"), cwd=tmp_path)
    assert master.wait(timeout=60) == 1
    assert "10 attempts: 10 failed" in master.stderr.read()
    assert worker.wait(timeout=30) == 1
    assert "job failed" in worker.stderr.read()
    assert not (tmp_path / "mr-master.json").exists()
    run = json.loads((tmp_path / "mr-run.json").read_text())
    assert [r["status"] for r in run["tasks"] if r["phase"] == "map"] == ["failed"] * 10
    # A worker arriving after the job ended finds the run record and leaves quietly.
    assert mrkit("worker", app_path("failing"), cwd=tmp_path).returncode == 0


def test_non_utf8_and_empty_inputs(tmp_path):
    (tmp_path / "latin1.txt").write_bytes(b"caf\xe9 na\xefve abc\xff\xfedef \xc3\xa9t\xc3\xa9 ok")
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "seq").mkdir()
    mrkit("sequential", "wc", "../latin1.txt", "../empty.txt", cwd=tmp_path / "seq", check=True)
    mrkit("run", "wc", "-r", "3", "latin1.txt", "empty.txt", cwd=tmp_path, check=True)
    expected = sorted(["caf 1", "na 1", "ve 1", "abc 1", "def 1", "été 1", "ok 1"])
    assert sorted_outputs(tmp_path / "seq") == expected
    assert sorted_outputs(tmp_path) == expected
    mrkit("run", "indexer", "../empty.txt", cwd=tmp_path / "seq", check=True)
    assert sorted_outputs(tmp_path / "seq") == []


def test_run_json_summary_has_the_contract_columns(corpus, tmp_path):
    from mrkit.timing import RUN_COLUMNS

    result = mrkit(
        "run", "wc", "-m", "3", "-r", "2", "-w", "2", "--json", *corpus[:2], "--workdir", "out", cwd=tmp_path, check=True
    )
    summary = json.loads(result.stdout)
    assert list(summary) == RUN_COLUMNS
    assert (summary["n_map"], summary["n_reduce"], summary["workers"], summary["backend"]) == (3, 2, 2, "local")
    assert summary["map_speedup"] == pytest.approx(summary["map_serial_sum_s"] / summary["map_wall_s"])
    assert summary["est_serial_s"] == pytest.approx(
        summary["split_s"] + summary["map_serial_sum_s"] + summary["reduce_serial_sum_s"]
    )
    assert summary["est_parallel_s"] == pytest.approx(summary["split_s"] + summary["map_wall_s"] + summary["reduce_wall_s"])
    assert summary["end_to_end_s"] >= summary["map_wall_s"] + summary["reduce_wall_s"]
    assert summary["input_bytes"] == sum(os.path.getsize(p) for p in corpus[:2])
    assert len(list((tmp_path / "out").glob("mr-out-*"))) == 2


def test_run_keeps_what_its_imports_made_out_of_the_collector_and_runs_the_job_with_it_on(corpus, tmp_path):
    # gc.freeze's recipe (mrkit.cli.jobs): the job starts with the collector on and the imports' objects
    # (here the CLI's own command function) in the permanent generation, which gc.get_objects() leaves out.
    script = f"""
import gc, json, sys
import mrkit.cli, mrkit.cli.jobs
from mrkit.backends import BACKENDS, get_backend

real = get_backend("local")

def probe(app, inputs, **options):
    ids = {{id(o) for o in gc.get_objects()}}
    print(json.dumps({{"enabled": gc.isenabled(), "cmd_run_collected": id(mrkit.cli.jobs.cmd_run) in ids,
                      "probe_collected": id(probe) in ids}}), file=sys.stderr)
    return real(app, inputs, **options)

BACKENDS["local"] = probe
collected = id(mrkit.cli.jobs.cmd_run) in {{id(o) for o in gc.get_objects()}}
print("before the command, cmd_run collected:", collected, file=sys.stderr)
sys.exit(mrkit.cli.main(["run", "wc", "-r", "2", {corpus[0]!r}, "--workdir", "out"]))
"""
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "before the command, cmd_run collected: True" in result.stderr
    state = json.loads(next(line for line in result.stderr.splitlines() if line.startswith("{")))
    assert state == {"enabled": True, "cmd_run_collected": False, "probe_collected": False}
    assert sorted(p.name for p in (tmp_path / "out").glob("mr-out-*")) == ["mr-out-0", "mr-out-1"]


def test_master_clears_stale_outputs(corpus, tmp_path):
    (tmp_path / "mr-out-7").write_text("stale 1\n")
    mrkit("run", "wc", "-r", "2", corpus[0], cwd=tmp_path, check=True)
    assert sorted(p.name for p in tmp_path.glob("mr-out-*")) == ["mr-out-0", "mr-out-1"]


@pytest.mark.timeout(60)
def test_master_for_a_launcher_takes_token_inputs_manifest_and_run_id_and_publishes_status(corpus, tmp_path):
    """What an ECS launcher hands the master instead of a command line with inputs and a token."""
    from mrkit.backends.staging import write_manifest
    from mrkit.job import resolve_inputs
    from mrkit.storage.local import LocalStorage

    store = tmp_path / "store"
    write_manifest(resolve_inputs(corpus[:3]), LocalStorage(store))
    (tmp_path / "token").write_text("launcher-token\n")
    (tmp_path / "ref").mkdir()
    mrkit("sequential", "wc", *corpus[:3], cwd=tmp_path / "ref", check=True)
    master = mrkit_popen(
        "master",
        "--storage",
        store,
        "--inputs-from",
        "mr-inputs.json",
        "--token-file",
        tmp_path / "token",
        "--run-id",
        "run-7",
        "--status-every",
        "0.2",
        "-r",
        "2",
        cwd=tmp_path,
    )
    try:
        while not (store / "mr-status.json").exists():
            assert master.poll() is None, master.communicate()
            time.sleep(0.05)
        assert json.loads((store / "mr-status.json").read_text())["phase"] == "map"
        url = json.loads((tmp_path / "mr-master.json").read_text())["url"]
        worker = mrkit("worker", "wc", "--master", url, cwd=tmp_path, env={"MRKIT_TOKEN": "launcher-token"})
        assert worker.returncode == 0, worker.stderr
        assert master.wait(timeout=30) == 0
    finally:
        master.kill()
    status = json.loads((store / "mr-status.json").read_text())
    assert (status["phase"], status["run_id"]) == ("done", "run-7")
    assert json.loads((store / "mr-run.json").read_text())["run"]["run_id"] == "run-7"
    assert sorted_outputs(store) == sorted_outputs(tmp_path / "ref")


def test_master_refuses_inputs_and_a_manifest_together_and_a_bad_manifest(corpus, tmp_path):
    _one_line_error(mrkit("master", "--inputs-from", "m.json", corpus[0], cwd=tmp_path), "not both")
    _one_line_error(mrkit("master", "--inputs-from", "m.json", cwd=tmp_path), "m.json does not exist")
    (tmp_path / "m.json").write_text('{"not": "a list"}')
    _one_line_error(mrkit("master", "--inputs-from", "m.json", cwd=tmp_path), "is not an inputs manifest")


def test_a_missing_token_file_is_one_line(tmp_path):
    result = mrkit("worker", "wc", "--master", "http://127.0.0.1:9", "--token-file", tmp_path / "nope", cwd=tmp_path)
    _one_line_error(result, "cannot read token file", "does not exist")


@pytest.mark.parametrize(
    "args, module, extra",
    [
        (["sweep", "map_sweep", "--quick"], "pandas", "experiments"),
        (["report", "--quick"], "papermill", "notebooks"),
        (["run", "wc", "in.txt", "--backend", "dask"], "distributed", "dask"),
    ],
)
def test_a_command_whose_optional_stack_is_missing_names_the_extra(tmp_path, args, module, extra):
    # A package on PYTHONPATH that fails to import as an absent one does: what a base install sees.
    stub = tmp_path / "absent" / module
    stub.mkdir(parents=True)
    message = f"No module named {module!r}"
    (stub / "__init__.py").write_text(f"raise ModuleNotFoundError({message!r}, name={module!r})\n")
    done = mrkit(*args, cwd=tmp_path, env={"PYTHONPATH": str(tmp_path / "absent")})
    assert done.returncode == 2, done.stderr
    assert f"pip install 'mrkit[{extra}]'" in done.stderr and done.stderr.strip().count("\n") == 0
    assert not (tmp_path / "results").exists(), "nothing was started"


def test_report_base_image_without_stand_in_is_a_usage_error(tmp_path):
    result = mrkit("report", "--base-image", "localhost/base:1", "--out", tmp_path / "r.html", cwd=tmp_path)
    _one_line_error(result, "--base-image is for the image of --stand-in's containers: add --stand-in, or leave it out")
    assert result.returncode == 2 and not (tmp_path / "r.html").exists()


def test_predict_takes_latest_before_any_results_with_a_one_line_error(tmp_path):
    _one_line_error(
        mrkit("predict", "results/calibrate/latest", cwd=tmp_path),
        "no results of sweep 'calibrate'",
        "run `mrkit sweep calibrate` first",
    )


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_a_sweep_ends_with_the_next_step_and_that_step_runs_with_latest(tmp_path):
    # A newcomer's path: calibrate, a sweep, then the command the sweep printed, pasted as it is.
    calibrate = mrkit("sweep", "calibrate", "--quick", "--no-progress", cwd=tmp_path, timeout=150, check=True)
    assert calibrate.stderr.strip().splitlines()[-1].startswith(f"next: mrkit predict {calibrate.stdout.strip()} --sweep")
    swept = mrkit("sweep", "map_sweep", "--quick", "--no-progress", cwd=tmp_path, timeout=150, check=True)
    where = swept.stdout.strip()
    assert where.startswith("results/map_sweep/") and (tmp_path / where / "runs.csv").exists()
    last = swept.stderr.strip().splitlines()[-1]
    assert last.startswith(f"next: mrkit predict results/calibrate/latest --against {where}"), last
    command = last.removeprefix("next: mrkit ").split("   (")[0].split()
    predicted = mrkit(*command, "--json", cwd=tmp_path, timeout=120, check=True)
    points = json.loads(predicted.stdout)["points"]
    assert points and all(p["measured_end_to_end_s"] is not None for p in points), "map_sweep's own runs, compared"


# ---- the study commands: a mistake in a sweep file or an option is one line, before any run or results directory

SWEEP_MISTAKES = {
    "an unknown app among several": ("app: [wc, nosuch]\n", "unknown app 'nosuch'"),
    "an input that is not there": ("inputs: [nope.txt]\n", "input 'nope.txt' does not exist"),
    "no inputs": ("inputs: []\n", "no inputs given"),
    "a backend option no backend takes": ("backend: dask\nbackend_options: {bogus: 1}\n", "backend_options bogus"),
    "backend options that are not a mapping": ("backend_options: fast\n", "backend_options must be a mapping"),
    "broken YAML": ("app: [wc\n  n_map: 3\n", "is not valid YAML: expected ',' or ']'"),
}


@pytest.mark.parametrize("mistake", list(SWEEP_MISTAKES))
def test_a_sweep_file_mistake_is_one_line_before_any_run(tmp_path, mistake):
    text, message = SWEEP_MISTAKES[mistake]
    (tmp_path / "in.txt").write_text("hello world\n")
    base = "n_map: [1]\nn_reduce: 1\nrepeats: 1\nwarmup: false\n" + ("" if "inputs:" in text else "inputs: [in.txt]\n")
    (tmp_path / "mine.yaml").write_text(base + text if "YAML" not in mistake else text)
    _one_line_error(mrkit("sweep", "mine.yaml", cwd=tmp_path), message)
    assert not (tmp_path / "results").exists(), "no results directory for a sweep that never ran"


def test_an_empty_sweep_file_is_one_line_not_a_default_sweep(tmp_path):
    (tmp_path / "empty.yaml").write_text("")
    _one_line_error(mrkit("sweep", "empty.yaml", cwd=tmp_path), "empty.yaml is empty")
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--set", "n_map=[1,2"], "--set n_map: '[1,2' is not a YAML value"),
        (["--resume", "nowhere"], "--resume nowhere: nowhere holds no sweep's results"),
        (["--resume", "in.txt"], "--resume in.txt: in.txt holds no sweep's results"),
        (["--resume", "results/reduce_sweep/latest"], "no results of sweep 'reduce_sweep'"),
    ],
)
def test_a_sweep_option_mistake_is_one_line_and_creates_nothing(tmp_path, args, message):
    (tmp_path / "in.txt").write_text("hello world\n")
    _one_line_error(mrkit("sweep", "map_sweep", "--quick", *args, cwd=tmp_path), message)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.txt"]


@pytest.mark.parametrize("damage", ["a missing column", "no rows, no header", "a value that is not a number"])
def test_predict_on_a_damaged_results_file_is_one_line(tmp_path, damage):
    from mrkit.timing import RUN_COLUMNS, TASK_COLUMNS

    measured = tmp_path / "measured"
    measured.mkdir()
    (measured / "meta.json").write_text("{}")
    row = {c: "1" for c in RUN_COLUMNS} | {"run_id": "r1", "app": "wc", "backend": "local"}
    if damage == "a missing column":
        del row["end_to_end_s"]
    if damage == "a value that is not a number":
        row["end_to_end_s"] = "abc"
    runs = "" if damage == "no rows, no header" else ",".join(row) + "\n" + ",".join(row.values()) + "\n"
    (measured / "runs.csv").write_text(runs)
    (measured / "tasks.csv").write_text(",".join(TASK_COLUMNS) + "\n")
    message = {"a missing column": "lacks the column(s) end_to_end_s", "no rows, no header": "is damaged"}.get(
        damage, "end_to_end_s holds 'abc' (row 2), not a number"
    )
    _one_line_error(mrkit("predict", "measured", cwd=tmp_path), "measured/runs.csv", message)


def test_corpus_synth_writes_its_files_and_says_how_much(tmp_path):
    small = mrkit("corpus", "synth", "--out", "small", "--files", "3", "--size", "2KB", cwd=tmp_path, check=True)
    written = sorted((tmp_path / "small").glob("synth-*.txt"))
    assert [p.name for p in written] == ["synth-00.txt", "synth-01.txt", "synth-02.txt"]
    assert all(1900 < p.stat().st_size <= 2048 for p in written)
    assert small.stdout == f"wrote 3 files, {sum(p.stat().st_size for p in written):,} bytes, in small\n"
    large = mrkit("corpus", "synth", "--out", "large", "--files", "1", "--size", "1.5MB", cwd=tmp_path, check=True)
    assert large.stdout == "wrote 1 file, 1.5 MiB, in large\n"


@pytest.mark.parametrize("where", ["a-file", "a-file/below"])
def test_corpus_and_report_out_with_a_file_in_the_way_is_one_line(tmp_path, where):
    (tmp_path / "a-file").write_text("mine\n")
    _one_line_error(mrkit("corpus", "synth", "--out", where, "--files", "1", "--size", "1KB", cwd=tmp_path), "(--out)")
    _one_line_error(mrkit("report", "--quick", "--out", f"{where}/report.html", cwd=tmp_path), "(--out)")
    (tmp_path / "a-dir").mkdir()
    _one_line_error(mrkit("report", "--quick", "--out", "a-dir", cwd=tmp_path), "--out a-dir is a directory")
    assert (tmp_path / "a-file").read_text() == "mine\n" and not (tmp_path / "results").exists()


@pytest.mark.skipif(
    not pathlib.Path("/proc/self").is_dir(), reason="needs Linux's /proc: a directory no one can write in, root included"
)
def test_report_and_corpus_out_where_no_file_can_be_made_is_one_line(tmp_path):
    """os.access says root may write in /proc: the report ran its sweeps' corpus into /proc/corpus, a traceback."""
    _one_line_error(mrkit("report", "--quick", "--out", "/proc/report.html", cwd=tmp_path), "cannot write in /proc")
    _one_line_error(mrkit("report", "--quick", "--out", "/proc/mrkit/report.html", cwd=tmp_path), "(--out)")
    _one_line_error(mrkit("corpus", "synth", "--out", "/proc/mrkit", "--files", "1", "--size", "1KB", cwd=tmp_path), "(--out)")


def test_a_report_of_an_unknown_sweep_is_one_line_and_makes_nothing(tmp_path):
    _one_line_error(mrkit("report", "--sweep", "nonsense", "--out", "new/report.html", cwd=tmp_path), "no sweep named 'nonsense'")
    assert not (tmp_path / "new").exists()


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_a_sweep_stopped_by_sigterm_ends_as_after_ctrl_c_and_resumes(tmp_path):
    """A `kill` (a batch system's stop) used to end it silently: its meta.json still 'running', its runs'
    scratch directories left in the temp directory."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    # Repeats enough that the sweep is still running when the first run is recorded and the test stops it.
    args = ["sweep", "map_sweep", "--quick", "--no-progress", "--set", "repeats=8", "--set", "corpus={files: 2, size: 2MB}"]
    sweep = mrkit_popen(*args, cwd=tmp_path, env={"TMPDIR": str(scratch)})
    wait_until(lambda: len(list(tmp_path.glob("results/map_sweep/*/runs.csv"))) == 1 or sweep.poll() is not None, "a sweep")
    runs = next(tmp_path.glob("results/map_sweep/*/runs.csv"))
    wait_until(lambda: len(runs.read_text().splitlines()) >= 2 or sweep.poll() is not None, "a first recorded run")
    sweep.terminate()
    _, err = sweep.communicate(timeout=120)
    assert sweep.returncode == 143 and "mrkit sweep: stopped by SIGTERM" in err.splitlines(), err
    meta = json.loads((runs.parent / "meta.json").read_text())
    assert meta["status"] == "interrupted" and meta["sessions"][-1]["runs"] >= 1, meta
    assert not list(scratch.glob("mrkit-sweep-*")), "a run's scratch directory was left behind"
    resumed = mrkit(*args, "--resume", "latest", cwd=tmp_path, timeout=150, env={"TMPDIR": str(scratch)})
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads((runs.parent / "meta.json").read_text())["status"] == "complete"

"""`mrkit master` as a process (runtime/serve.py): its port under abuse, its warnings, how it says it ended."""

import json
import resource
import signal
import socket

import pytest
from conftest import app_path, mrkit, mrkit_popen, wait_until

from mrkit.runtime.serve import exposure_warning


def _master(tmp_path, *args, **popen):
    (tmp_path / "in.txt").write_text("a b a\n" * 10)
    master = mrkit_popen("master", "-r", "1", *args, "in.txt", cwd=tmp_path, **popen)
    wait_until(lambda: (tmp_path / "mr-master.json").exists() or master.poll() is not None, "mr-master.json")
    assert master.poll() is None, master.communicate()
    return master, json.loads((tmp_path / "mr-master.json").read_text())


def _low_descriptor_limit():
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))


@pytest.mark.timeout(120)
def test_a_master_under_a_low_descriptor_limit_holding_300_idle_connections_still_serves_its_worker(tmp_path):
    """Issue 22 D4: 300 connections that send nothing, `ulimit -n 256`; the worker used to get no answer."""
    master, info = _master(tmp_path, preexec_fn=_low_descriptor_limit)
    port = int(info["url"].rpartition(":")[2])
    idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(300)]
    try:
        worker = mrkit("worker", "wc", cwd=tmp_path, timeout=60)
        assert worker.returncode == 0, worker.stderr
        assert master.wait(timeout=30) == 0, master.stderr.read()
    finally:
        for conn in idle:
            conn.close()
        master.kill()
    assert (tmp_path / "mr-out-0").read_text() == "a 20\nb 10\n"


def test_an_address_beyond_loopback_is_one_warning_line():
    for host in ("127.0.0.1", "::1", "localhost", "127.0.0.2"):
        assert exposure_warning(host) is None
    for host in ("0.0.0.0", "10.0.0.5", "::"):
        line = exposure_warning(host)
        assert "\n" not in line and line.startswith(f"warning: listening on {host}, beyond loopback") and "in clear" in line


@pytest.mark.timeout(60)
def test_a_master_listening_beyond_loopback_warns_once(tmp_path):
    master, _ = _master(tmp_path, "--listen", "0.0.0.0:0")  # workers below talk to it on 127.0.0.1 only
    master.send_signal(signal.SIGTERM)
    _, err = master.communicate(timeout=30)
    assert err.count("beyond loopback") == 1 and err.startswith("mrkit master: warning: listening on 0.0.0.0")


# ---- no master without workers (issue 22 D5) --------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_a_master_whose_only_worker_was_killed_fails_the_job_with_one_line(tmp_path):
    master, _ = _master(tmp_path, "--task-timeout", "1")  # default: 3 task timeouts, at least 5 s
    worker = mrkit_popen("worker", app_path("faulty"), "--app-opt", "fault=slow", "--app-opt", "seconds=60", cwd=tmp_path)
    wait_until(lambda: list(tmp_path.glob("pid-*")), "the worker is mapping")
    worker.kill()
    worker.wait()
    assert master.wait(timeout=90) == 1
    err = master.stderr.read().strip().splitlines()
    assert err[-1] == (
        "mrkit master: job failed: no worker has been connected for 5 s (since the last one left): "
        "start workers (`mrkit worker APP` where the master runs), or give them longer with "
        "--no-workers-timeout"
    ), err
    assert not (tmp_path / "mr-master.json").exists()


@pytest.mark.timeout(60)
def test_a_master_no_worker_ever_joined_fails_after_its_no_workers_timeout(tmp_path):
    master, _ = _master(tmp_path, "--no-workers-timeout", "0.5")
    assert master.wait(timeout=30) == 1
    assert "no worker has been connected for 0.5 s (since the master started)" in master.stderr.read()
    bad = mrkit("master", "--no-workers-timeout", "0", "in.txt", cwd=tmp_path)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "--no-workers-timeout" in bad.stderr
    for value in ("0", "-1", "inf"):  # a --status-every of 0 wrote no status, silently
        bad = mrkit("master", "--status-every", value, "in.txt", cwd=tmp_path)
        assert bad.returncode == 2 and bad.stderr.strip().endswith(
            f"--status-every must be a number of seconds above 0, got {value}"
        )


@pytest.mark.timeout(60)
def test_a_master_stopped_by_sigterm_says_so_in_one_line_and_exits_143(tmp_path):
    master, _ = _master(tmp_path)
    master.send_signal(signal.SIGTERM)
    _, err = master.communicate(timeout=30)
    lines = err.strip().splitlines()
    assert master.returncode == 143 and lines[0].startswith("mrkit master: serving ")
    assert lines[1:] == ["mrkit master: stopped by SIGTERM"], err
    run = json.loads((tmp_path / "mr-run.json").read_text())["run"]
    assert not (tmp_path / "mr-master.json").exists() and run["run_id"], "it unwound: run record written, file removed"


def _ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _ipv6_loopback(), reason="this machine has no IPv6 loopback (::1) to listen on")
def test_a_master_listens_on_ipv6_loopback_and_its_worker_finds_it(tmp_path):
    """--listen [::1]:0 failed with 'Name or service not known' (the brackets kept, an IPv4 socket)."""
    master, info = _master(tmp_path, "--listen", "[::1]:0")
    assert info["url"].startswith("http://[::1]:")
    worker = mrkit("worker", "wc", cwd=tmp_path)
    _, err = master.communicate(timeout=60)
    assert worker.returncode == 0 and master.returncode == 0, (worker.stderr, err)
    assert (tmp_path / "mr-out-0").read_text() == "a 20\nb 10\n"

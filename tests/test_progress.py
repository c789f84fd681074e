"""`mrkit run` and `mrkit sweep` on a terminal: progress as they go (a line per phase, a bar of runs); none in a pipe."""

import fcntl
import os
import pty
import struct
import subprocess
import termios

from conftest import MRKIT


def _run_on_a_terminal(args, cwd):
    """Run the CLI with its stderr on a pseudo-terminal; returns (exit code, what the terminal showed)."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))  # a new pty is 0 columns wide
    proc = subprocess.Popen([*MRKIT, *args], cwd=cwd, stdout=subprocess.DEVNULL, stderr=follower)
    os.close(follower)
    shown = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        shown += chunk
    os.close(leader)
    return proc.wait(timeout=60), shown.decode()


def test_a_terminal_sees_tasks_done_per_phase_and_the_outputs(tmp_path):
    (tmp_path / "a.txt").write_text("one two three two\n" * 100)
    code, shown = _run_on_a_terminal(["run", "wc", "-m", "400", "-r", "3", "-w", "2", "a.txt"], tmp_path)
    assert code == 0, shown
    assert "\rmrkit run: map " in shown and "reduce 3/3" in shown, shown
    assert shown.rstrip().endswith(f"mrkit run: 3 outputs in {tmp_path}/mr-out-*, 3 keys, {shown.rstrip().rsplit(', ', 1)[1]}")


def test_a_pipe_gets_no_progress_only_the_last_line(tmp_path):
    (tmp_path / "a.txt").write_text("one two\n")
    result = subprocess.run([*MRKIT, "run", "wc", "-r", "2", "a.txt"], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0
    assert "\r" not in result.stderr
    assert result.stderr.startswith(f"mrkit run: 2 outputs in {tmp_path}/mr-out-*, 2 keys, ")


SWEEP = ["sweep", "map_sweep", "--quick", "--set", "repeats=1", "--set", "corpus={files: 2, size: 64KB}"]


def test_a_sweep_on_a_terminal_shows_its_bar_of_runs(tmp_path):
    code, shown = _run_on_a_terminal(SWEEP, tmp_path)
    assert code == 0, shown
    assert "\r2/2 runs |" in shown and "map_sweep: M=" in shown, shown


def test_a_sweep_into_a_log_file_gets_no_bar(tmp_path):
    """The bar's redrawn lines used to pile up in a log as one long line of carriage returns."""
    result = subprocess.run([*MRKIT, *SWEEP], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "\r" not in result.stderr and "runs |" not in result.stderr, result.stderr
    assert result.stderr.startswith("next: mrkit predict"), result.stderr

"""`mrkit run` on a terminal: a progress line per phase, then where the outputs are and how many keys."""

import os
import pty
import subprocess

from conftest import MRKIT


def _run_on_a_terminal(args, cwd):
    """Run the CLI with its stderr on a pseudo-terminal; returns (exit code, what the terminal showed)."""
    leader, follower = pty.openpty()
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

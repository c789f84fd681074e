"""Keeping an app's processes inside the job: whatever a worker's tasks start ends with the worker.

An app's map may start a subprocess it never waits for, or call os.fork().
Left alone, those outlive the job (and hold the worker's pipes, so whoever
waits for the worker's output waits for them). Three mechanisms, each for a
way a worker can end:

- `contained()` wraps a worker process's life. The worker becomes a child
  subreaper (PR_SET_CHILD_SUBREAPER), so descendants whose parent dies are
  re-parented to it rather than to init, and on the way out (done, failed,
  SIGTERM) it kills every descendant it has.
- A launcher that starts workers (`mrkit run`) puts each in a process group
  of its own, and kills the group (`end_group`) once the worker is gone or
  must go: that covers a worker killed by SIGKILL, which cleans up nothing.
- A worker that leads its process group also forks a guard: a process that
  only waits for the worker to be gone (a pipe only the worker holds reads
  end-of-file: an at-fork hook closes it in the app's forks) and then kills
  the group. That covers the SIGKILL nobody else sees: `mrkit run` killed (its workers die with it, by
  PR_SET_PDEATHSIG, but the subprocesses their apps started would not), or a
  `mrkit worker` started in a group of its own (a shell's job) killed.

What none of them catches: a process the app moved out of the worker's
group (setsid, a daemon) when the worker is killed by SIGKILL; a worker that
exits any other way kills it as a descendant. Linux only for the prctl and
/proc parts (elsewhere they do nothing); the process group parts are POSIX.
"""

import contextlib
import os
import signal
import sys
import time

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36

_libc = None


def load():
    """libc through ctypes (None off Linux), loaded once: a launcher loads it so the workers it forks need not."""
    global _libc
    if _libc is None and sys.platform.startswith("linux"):
        import ctypes

        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc


def _prctl(option, value):
    """prctl(2); False where there is none."""
    libc = load()
    return libc is not None and libc.prctl(option, value, 0, 0, 0) == 0


def die_with_parent(parent):
    """Ask the kernel to SIGKILL this process when the thread that forked it dies (Linux).

    `parent` is the pid that forked us: if it is already gone the request
    came too late, and the process exits now.
    """
    if _prctl(PR_SET_PDEATHSIG, signal.SIGKILL) and os.getppid() != parent:
        os._exit(1)


def lead_own_group(pid=0):
    """Make `pid` (0: this process) the leader of a new process group; a no-op if it already is one.

    Called by both the launcher (on the pid it just forked) and the worker, as
    shells do, so the group exists before either side acts on it.
    """
    with contextlib.suppress(OSError):  # the child exec'd already, or runs on its own: its own call stands
        os.setpgid(pid, pid)


def end_group(pgid):
    """SIGKILL every process in group `pgid` (a worker's, whose pid it is); nothing left is fine."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


class Terminated(BaseException):
    """SIGTERM arrived: not an Exception, so nothing that handles an app's failure catches it."""


def _raise_terminated(signum, frame):
    raise Terminated


def _children_by_parent():
    """{ppid: [pid, ...]} for every live process, from /proc (zombies have ended: left out)."""
    children = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                state, ppid = f.read().rpartition(b")")[2].split()[:2]
        except (OSError, ValueError):
            continue  # it ended while we looked
        if state != b"Z":
            children.setdefault(int(ppid), []).append(int(name))
    return children


def descendants():
    """The live descendants of this process."""
    children, found, todo = _children_by_parent(), [], [os.getpid()]
    while todo:
        kids = children.get(todo.pop(), [])
        found.extend(kids)
        todo.extend(kids)
    return found


def end_descendants(rounds=50):
    """SIGKILL every descendant of this process until none is left (one may fork while we look), then reap.

    Without /proc (not Linux) there is nothing to walk: the launcher's group kill is what remains.
    """
    if not os.path.isdir("/proc"):
        return
    for _ in range(rounds):
        found = descendants()
        if not found:
            break
        for pid in found:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.001)  # let the kernel finish them before the next look
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass


_guard_pipe = None  # this worker's end of the pipe its guard reads


def _close_guard_pipe():
    """In a process the app forks: let go of the guard's pipe, so the guard sees the worker's own end."""
    with contextlib.suppress(OSError):
        os.close(_guard_pipe)


def _fork_guard():
    """Fork the guard (see the module docstring) if this process leads its group; returns its pid or None.

    A group this process does not lead is someone else's (a script that
    started it, say): not one to kill.
    """
    global _guard_pipe
    if os.getpgrp() != os.getpid():
        return None
    worker_alive, _guard_pipe = os.pipe()  # not inherited across exec: a subprocess never holds it
    pid = os.fork()
    if pid:
        os.close(worker_alive)
        os.register_at_fork(after_in_child=_close_guard_pipe)
        return pid
    try:  # the guard: it holds nothing the worker's readers wait on (its pipes, the launcher's sentinel)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.closerange(0, worker_alive)
        os.closerange(worker_alive + 1, os.sysconf("SC_OPEN_MAX"))
        os.read(worker_alive, 1)  # end of file: the worker is gone, however it went
        os.killpg(0, signal.SIGKILL)  # its group, this guard included
    finally:
        os._exit(0)


@contextlib.contextmanager
def contained():
    """Run a worker process's life in this block; every process its tasks started ends with the block.

    SIGTERM becomes `Terminated` (so the block's exit runs), orphans come
    back to this process, a guard watches for its death when it leads its group, and on the way out all its descendants
    (the guard too) are killed. For a process that is a worker and nothing
    else: it kills *every* descendant, whoever started it.
    """
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    _prctl(PR_SET_CHILD_SUBREAPER, 1)
    _fork_guard()
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not cut the clean-up short
        end_descendants()
        signal.signal(signal.SIGTERM, previous)

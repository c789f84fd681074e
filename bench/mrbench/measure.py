"""Run one command as a whole process tree: wall time, memory and open files.

Wall time runs from just before the process is started to the moment it is
reaped, so interpreter start-up, imports and writing the output all count.
Memory is sampled every ~20 ms over the whole tree (the process and every
descendant): the sum of current RSS (peak_rss_tree_mb), and the largest
single-process peak (peak_rss_max_proc_mb), read from each process's own
high-water mark (VmHWM in /proc/PID/status), so a spike between two samples
is not missed as long as the process is seen once afterwards. (wait4's
ru_maxrss would be simpler but is useless here: it counts the harness's own
memory, which a forked child holds until it execs.)

RSS summed over a tree counts pages shared after fork once per process, so
the tree figure is an upper bound for fork-based runtimes.

The tree is walked through /proc/PID/task/TID/children (cheap: no scan of
every process), falling back to psutil, then to a scan of /proc.
"""

import math
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
MB = 1e6


@dataclass
class Measurement:
    wall_s: float
    cpu_s: float  # user + system time of the process and every descendant it reaped
    peak_rss_tree_mb: float
    peak_rss_max_proc_mb: float
    max_fds: int  # most open file descriptors seen in one process of the tree
    max_procs: int  # most processes seen in the tree at once
    returncode: int
    timed_out: bool = False


def _read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


def _children_proc(pid):
    """Children of pid through /proc/PID/task/*/children; None if the kernel lacks it."""
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    kids = []
    for tid in tids:
        data = _read(f"/proc/{pid}/task/{tid}/children")
        if data is None:
            if not os.path.exists(f"/proc/{pid}/task/{tid}/children") and os.path.exists(f"/proc/{pid}/task/{tid}"):
                return None
            continue
        kids.extend(int(x) for x in data.split())
    return kids


def _children_scan(pid):
    """Children of pid by reading every /proc/*/stat (slow; last resort)."""
    kids = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            data = _read(f"/proc/{name}/stat")
            if data:
                fields = data[data.rfind(b")") + 2 :].split()
                if int(fields[1]) == pid:
                    kids.append(int(name))
    return kids


def _rss_proc(pid):
    data = _read(f"/proc/{pid}/statm")
    return int(data.split()[1]) * _PAGE if data else 0


def _hwm_proc(pid):
    """The process's peak RSS so far (VmHWM, kB), 0 if it is gone."""
    data = _read(f"/proc/{pid}/status")
    if data:
        at = data.find(b"VmHWM:")
        if at >= 0:
            return int(data[at + 6 : data.index(b"kB", at)]) * 1024
    return 0


class TreeSampler:
    """Samples RSS and open files over a process tree (pick_backend chooses how)."""

    def __init__(self, root):
        self.root = root
        self.peak_tree = self.peak_proc = 0
        self.max_fds = self.max_procs = 0
        self._n = 0
        self._psutil = None
        self._mode = "proc" if _children_proc(os.getpid()) is not None else None
        if self._mode is None:
            try:
                import psutil

                self._psutil, self._mode = psutil, "psutil"
            except ImportError:
                self._mode = "scan"

    def _tree(self):
        if self._mode == "psutil":
            try:
                top = self._psutil.Process(self.root)
                return [top.pid] + [p.pid for p in top.children(recursive=True)]
            except self._psutil.Error:
                return []
        children = _children_proc if self._mode == "proc" else _children_scan
        pids, todo = [], [self.root]
        while todo:
            pid = todo.pop()
            pids.append(pid)
            todo.extend(children(pid) or [])
        return pids

    def sample(self):
        pids = self._tree()
        rss = [_rss_proc(p) for p in pids]
        self.peak_tree = max(self.peak_tree, sum(rss))
        self.peak_proc = max(self.peak_proc, max(rss, default=0), max(map(_hwm_proc, pids), default=0))
        self.max_procs = max(self.max_procs, len([r for r in rss if r]))
        if self._n % 5 == 0:  # listing fds costs more than statm; every 5th sample is enough
            for pid in pids:
                try:
                    self.max_fds = max(self.max_fds, len(os.listdir(f"/proc/{pid}/fd")))
                except OSError:
                    pass
        self._n += 1


def run(argv, *, cwd, stdout_path, stderr_path, env=None, timeout=None, interval=0.02):
    """Run argv to completion in its own session; returns a Measurement.

    The process gets its own session so that a time-out kills the whole tree
    (peers such as dask or spark start helpers of their own).
    """
    with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL, start_new_session=True)
    sampler = TreeSampler(proc.pid)
    sampler.sample()  # before anyone can reap it: even a process that ends at once is seen (unless already a zombie)
    reaped = {}

    def reap():  # a thread blocked in wait4() stops the clock the moment the process ends
        _, status, usage = os.wait4(proc.pid, 0)
        reaped["end"] = time.perf_counter()
        reaped["cpu"] = usage.ru_utime + usage.ru_stime
        proc.returncode = os.waitstatus_to_exitcode(status)

    waiter = threading.Thread(target=reap, daemon=True)
    waiter.start()
    deadline = None if timeout is None else start + timeout
    timed_out = False
    while waiter.is_alive():
        sampler.sample()
        waiter.join(interval)
        if deadline is not None and time.perf_counter() > deadline and waiter.is_alive():
            timed_out = True
            _kill_tree(proc.pid)
            waiter.join()
    _kill_tree(proc.pid, quiet=True)  # helpers left behind by a peer (e.g. a JVM) must not outlive the run
    # On a loaded machine this thread may not run again before a short process has ended (a zombie reads
    # no memory): never seen alive, its memory is unmeasured (NaN), not 0 MB.
    seen = sampler.peak_tree > 0
    return Measurement(
        wall_s=reaped["end"] - start,
        cpu_s=reaped["cpu"],
        peak_rss_tree_mb=sampler.peak_tree / MB if seen else math.nan,
        peak_rss_max_proc_mb=sampler.peak_proc / MB if seen else math.nan,
        max_fds=sampler.max_fds,
        max_procs=sampler.max_procs,
        returncode=proc.returncode,
        timed_out=timed_out,
    )


def _kill_tree(pgid, quiet=False):
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        if not quiet:
            raise


def _cpu_times():
    """(busy, total) jiffies over all CPUs from /proc/stat; None where there is no /proc."""
    data = _read("/proc/stat")
    if not data:
        return None
    fields = [int(x) for x in data.split(b"\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields) - idle, sum(fields)


def busy_cores(window=0.3):
    """How many cores other processes keep busy, measured over `window` seconds while we sleep."""
    before = _cpu_times()
    time.sleep(window)
    after = _cpu_times()
    if before is None or after is None or after[1] == before[1]:
        return float("nan")
    return (after[0] - before[0]) / (after[1] - before[1]) * (os.cpu_count() or 1)


def wait_until_quiet(max_wait, threshold=0.5, window=0.3):
    """Wait up to max_wait seconds for a window in which others use < threshold cores; returns the last reading."""
    deadline = time.monotonic() + max_wait
    busy = busy_cores(window)
    while busy >= threshold and time.monotonic() < deadline:
        time.sleep(1.0)
        busy = busy_cores(window)
    return busy


def load_average():
    """The 1-minute load average, recorded with each run as a noise indicator."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")

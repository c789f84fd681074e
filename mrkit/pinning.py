"""Pinning a job to a set of CPUs (`--cpus LIST`, `cpus:` in sweep files).

A LIST is CPU numbers and ranges, as taskset takes them: `0`, `0,1`, `0-3,6`.
Affinity is set on the calling thread before anything forks, so the master's
threads and every worker process inherit it, and `timing.cores()` (what runs
record as `cores`) then counts the pinned CPUs. Linux only: elsewhere a LIST
is refused, since nothing could honour it.

`busy_cpu_s` reads how much CPU time a set of CPUs spent busy (/proc/stat),
so a sweep can record how much of it other programs took during a run, and
`speed_probe_cpu_s` how fast those CPUs count words around it: a VM's
speed drifts by 2x and more within minutes while its load stays flat.
"""

import contextlib
import functools
import os
import time

from mrkit.errors import UsageError


def parse_cpus(text):
    """The set of CPU numbers a LIST names; UsageError for a malformed one or a CPU this process may not use."""
    if isinstance(text, int) and not isinstance(text, bool):
        text = str(text)
    if isinstance(text, (list, tuple)):
        text = ",".join(str(c) for c in text)
    if not isinstance(text, str) or not text.strip():
        raise UsageError(f"--cpus takes a list of CPU numbers such as 0 or 0,1 or 0-3, got {text!r}")
    cpus = set()
    for part in text.replace(" ", "").split(","):
        low, dash, high = part.partition("-")
        if not low.isdigit() or (dash and not high.isdigit()):
            raise UsageError(f"--cpus takes a list of CPU numbers such as 0 or 0,1 or 0-3, got {text!r}")
        first, last = int(low), int(high) if dash else int(low)
        if last < first:
            raise UsageError(f"--cpus: range {part!r} runs backwards")
        cpus.update(range(first, last + 1))
    allowed = available()
    if allowed is None:
        raise UsageError("--cpus needs CPU affinity (Linux); this platform has none")
    outside = sorted(cpus - allowed)
    if outside:
        raise UsageError(
            f"--cpus {text}: CPU {', '.join(map(str, outside))} is not one this process may use (allowed: {format_cpus(allowed)})"
        )
    return cpus


def available():
    """The CPUs this process may run on, or None where affinity does not exist."""
    try:
        return set(os.sched_getaffinity(0))
    except AttributeError:
        return None


def format_cpus(cpus):
    """A set of CPUs as a LIST (`0-3,6`)."""
    out, run = [], []
    for cpu in sorted(cpus):
        if run and cpu == run[-1] + 1:
            run.append(cpu)
            continue
        if run:
            out.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
        run = [cpu]
    if run:
        out.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
    return ",".join(out)


def pin(cpus):
    """Pin this thread (and all it starts from now on) to a LIST or set of CPUs; None leaves it alone."""
    if cpus is None:
        return
    os.sched_setaffinity(0, cpus if isinstance(cpus, set) else parse_cpus(cpus))


@contextlib.contextmanager
def pinned(cpus):
    """Pin for the block, then restore the previous affinity (a sweep pins run by run)."""
    if cpus is None:
        yield
        return
    chosen = cpus if isinstance(cpus, set) else parse_cpus(cpus)
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, chosen)
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def busy_cpu_s(cpus=None):
    """Seconds the given CPUs (default: this process's) have spent busy since boot; None without /proc/stat."""
    cpus = available() if cpus is None else cpus
    try:
        with open("/proc/stat", encoding="ascii") as f:
            lines = f.readlines()
        tick = os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, AttributeError):
        return None
    total = 0
    for line in lines:
        name, *fields = line.split()
        if not name.startswith("cpu") or name == "cpu" or (cpus is not None and int(name[3:]) not in cpus):
            continue
        user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[:8])
        total += user + nice + system + irq + softirq + steal
    return total / tick


PROBE_BYTES = 1 << 20


@functools.cache
def _probe_text():
    # Built on the first probe, not on import: every CLI that pins imports this module.
    from mrkit.corpus import sample

    return sample(PROBE_BYTES)


def speed_probe_cpu_s():
    """CPU seconds mrkit's word count takes on a fixed MiB of generated text on this process's CPUs now.

    CPU time, not wall time, so other programs waiting for the CPUs do not
    count; what is left is how fast the machine runs a map task's kind of work
    at this moment, which a sweep records beside every run. A megabyte and
    tens of thousands of distinct words, as a map task counts: on this VM a
    probe of 50,000 words from a 997-word vocabulary stayed at 5-7 ms while a
    lone map task's CPU per byte drifted from 69 to 110 ns within 15 minutes;
    this one (52-113 ms) moved with it: correlation 0.79 with the CPU per byte
    of 22 lone map tasks (M = 1) run between probes.
    """
    from mrkit.text import count_words

    text = _probe_text()
    began = time.process_time()
    count_words(text)
    return time.process_time() - began

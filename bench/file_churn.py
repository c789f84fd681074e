"""What creating a job file costs after a sweep's create-and-remove churn, on disk and in memory.

    .venv/bin/python bench/file_churn.py [--seconds 40] [DIR ...]   (default: /var/tmp and /dev/shm)

Per directory: batches of 200 files, each made as a map task makes its
intermediate files (a temporary name, 2 KB written, renamed: storage.local's
atomic_file), in a new subdirectory that is then removed, as a sweep's run
directory is; every batch's CPU per file is printed with the time since the
start. A filesystem that remembers what was removed (ext4 without a journal
passes over recently freed inodes when it makes one) shows the cost rising
with the churn; a RAM-backed one stays flat. Run it with nothing else running:
it measures CPU time, which other programs do not add to, but a loaded
machine changes a kernel's caches. sweeps/scratch.py says why a sweep keeps
its runs' files in memory; docs/model-validation.md has the figures.
"""

import argparse
import os
import shutil
import tempfile
import time

BATCH = 200
PAYLOAD = b"x" * 2048


def batch_cpu_us(parent):
    """CPU microseconds per file of one batch made (and then removed) under `parent`."""
    directory = tempfile.mkdtemp(prefix="churn-", dir=parent)
    began = time.process_time()
    for n in range(BATCH):
        temporary, final = os.path.join(directory, f".mr-0-{n}.tmp"), os.path.join(directory, f"mr-0-{n}")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, PAYLOAD)
        os.close(fd)
        os.replace(temporary, final)
    cost = (time.process_time() - began) * 1e6 / BATCH
    shutil.rmtree(directory)
    return cost


def churn(parent, seconds):
    """(seconds since the start, CPU us per file) of each batch for `seconds`."""
    began, out = time.monotonic(), []
    while time.monotonic() - began < seconds:
        out.append((time.monotonic() - began, batch_cpu_us(parent)))
        time.sleep(0.2)  # a sweep's runs do other work between their files
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dirs", nargs="*", default=["/var/tmp", "/dev/shm"])
    parser.add_argument("--seconds", type=float, default=40.0)
    args = parser.parse_args()
    for parent in args.dirs:
        if not os.path.isdir(parent):
            print(f"{parent}: not a directory, skipped")
            continue
        batches = churn(parent, args.seconds)
        marks = [batches[i] for i in range(0, len(batches), max(1, len(batches) // 8))] + [batches[-1]]
        shown = ", ".join(f"{t:.0f} s: {us:.0f}" for t, us in marks)
        print(f"{parent}: CPU per file created, us, by time into the churn: {shown}")
        print(f"{parent}: first batch {batches[0][1]:.0f} us, last {batches[-1][1]:.0f} us, {len(batches) * BATCH} files")


if __name__ == "__main__":
    main()

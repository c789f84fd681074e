"""The lab's crash test, repeated: does the job survive the crash app N times in a row?

    .venv/bin/python bench/crash_lab.py [--repeats 20] [--workers 3] [INPUT...]

As the lab's test-mr.sh does it: `mrkit master` (default 10 s task timeout,
10 reduce tasks) in a fresh directory, and W loops that start `mrkit worker
crash` again each time one exits, until the master exits. Each run's output
must equal the nocrash app's. Default input: the eight Gutenberg books in
../shared when present, else eight generated files. Prints one line per run
and a summary; exits 1 if any run failed or differed.
"""

import argparse
import glob
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import threading
import time

MRKIT = [sys.executable, "-m", "mrkit"]
BOOKS = pathlib.Path(__file__).resolve().parents[2] / "shared" / "corpus" / "gutenberg"


def _outputs(directory):
    lines = []
    for path in glob.glob(os.path.join(directory, "mr-out-*")):
        with open(path, encoding="utf-8") as f:
            lines.extend(f.read().splitlines())
    return sorted(lines)


def _one_run(inputs, workers, scratch):
    job = tempfile.mkdtemp(dir=scratch)
    master = subprocess.Popen([*MRKIT, "master", *inputs], cwd=job, stderr=subprocess.PIPE, text=True)
    while not os.path.exists(os.path.join(job, "mr-master.json")) and master.poll() is None:
        time.sleep(0.02)
    deaths = []

    def loop():
        while master.poll() is None:
            code = subprocess.run([*MRKIT, "worker", "crash"], cwd=job, capture_output=True).returncode
            deaths.append(code)

    threads = [threading.Thread(target=loop) for _ in range(workers)]
    started = time.monotonic()
    for t in threads:
        t.start()
    code = master.wait()
    elapsed = time.monotonic() - started
    for t in threads:
        t.join()
    return code, elapsed, job, sum(1 for c in deaths if c != 0), master.stderr.read().strip()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("inputs", nargs="*")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--workers", type=int, default=3)
    args = parser.parse_args(argv)
    scratch = tempfile.mkdtemp(prefix="mrkit-crash-")
    inputs = [os.path.abspath(p) for p in args.inputs]
    if not inputs and BOOKS.is_dir():
        inputs = sorted(str(p) for p in BOOKS.glob("*.txt"))
    if not inputs:
        subprocess.run(
            [*MRKIT, "corpus", "synth", "--out", os.path.join(scratch, "in"), "--files", "8", "--size", "64KB"],
            check=True,
            capture_output=True,
        )
        inputs = sorted(glob.glob(os.path.join(scratch, "in", "*")))
    ref = os.path.join(scratch, "reference")
    os.mkdir(ref)
    subprocess.run([*MRKIT, "sequential", "nocrash", *inputs], cwd=ref, check=True)
    expected = _outputs(ref)
    times, failures = [], 0
    for i in range(args.repeats):
        code, elapsed, job, deaths, err = _one_run(inputs, args.workers, scratch)
        same = _outputs(job) == expected
        ok = code == 0 and same
        failures += not ok
        times.append(elapsed)
        print(
            f"run {i + 1:2d}: {'ok  ' if ok else 'FAIL'} {elapsed:5.1f} s, {deaths} worker deaths"
            + ("" if ok else f" (exit {code}, output {'same' if same else 'differs'}: {err[-300:]})"),
            flush=True,
        )
    print(
        f"{args.repeats - failures}/{args.repeats} runs passed; median {statistics.median(times):.1f} s, "
        f"max {max(times):.1f} s, total {sum(times):.0f} s ({len(inputs)} inputs, {args.workers} worker loops)"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

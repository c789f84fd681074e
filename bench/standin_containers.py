"""The ECS stand-in's cost of containers: the same job with its tasks as processes, then as podman containers.

    .venv/bin/python bench/standin_containers.py [--repeats 5] [--workers 2] [--quick]

On a moto server of its own (mrkit.backends.ecs.local_aws): `mrkit ecs up`,
the image built with podman from the cached Debian base (.ci/container-base;
the build is timed, warm), then word count on eight generated 1 MB files
(M=8, R=4), alternating processes and containers, `--repeats` times each.
Prints each run's launcher wall time (task start-up included, as `mrkit ecs
run` reports it), the medians, and the image's size. Needs root and podman
(docs/containers.md). Take the figures on a quiet machine.
"""

import argparse
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
MRKIT = [sys.executable, "-m", "mrkit"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="one run of each, 64 KiB files: does it work?")
    args = parser.parse_args()
    repeats, file_size = (1, 64 * 1024) if args.quick else (args.repeats, 1024 * 1024)

    from mrkit.backends.ecs.aws import Aws
    from mrkit.backends.ecs.bootstrap import up
    from mrkit.backends.ecs.config import make_config
    from mrkit.backends.ecs.local_aws import local_aws
    from mrkit.backends.ecs.run import run_on_ecs
    from mrkit.corpus import synth

    base = subprocess.run([str(ROOT / ".ci" / "container-base")], capture_output=True, text=True, check=True)
    base_image = base.stdout.split()[-1]
    with tempfile.TemporaryDirectory(prefix="mrkit-bench-") as scratch, local_aws():
        settings = os.path.join(scratch, "ecs.yaml")
        with open(settings, "w") as f:
            f.write("stack: bench\nregion: us-east-1\ncpu: 256\nmemory: 512\n")
        config = make_config({"stack": "bench", "region": "us-east-1", "cpu": 256, "memory": 512}, source="bench")
        aws = Aws(config.region, endpoint_url=os.environ["AWS_ENDPOINT_URL"])
        stack = up(config, aws)
        began = time.monotonic()
        subprocess.run(
            [
                *MRKIT,
                "ecs",
                "image",
                "--config",
                settings,
                "--context",
                str(ROOT),
                "--builder",
                "podman",
                "--base-image",
                base_image,
                "--no-push",
            ],
            check=True,
            cwd=scratch,
            stdout=subprocess.DEVNULL,
        )
        print(f"image built (warm base) in {time.monotonic() - began:.1f} s")
        image = aws.task_definition(stack.task_definition_arn)["containerDefinitions"][0]["image"]
        image_size = subprocess.run(
            ["podman", "image", "inspect", "--format", "{{.Size}}", image], capture_output=True, text=True, check=True
        ).stdout.strip()
        print(f"image {image}: {int(image_size) / 1e6:.0f} MB")
        inputs = [str(p) for p in synth(pathlib.Path(scratch) / "corpus", 8, file_size, seed=1)]
        times = {"processes": [], "containers": []}
        for i in range(repeats):
            for mode in times:
                result = run_on_ecs(
                    config,
                    aws,
                    "wc",
                    inputs,
                    stand_in=os.path.join(scratch, f"{mode}-{i}"),
                    containers=mode == "containers",
                    poll_s=0.2,
                    n_map=8,
                    n_reduce=4,
                    workers=args.workers,
                )
                times[mode].append(result.launcher_s)
                print(f"{mode:<10} run {i + 1}: launcher wall time {result.launcher_s:.2f} s")
        for mode, values in times.items():
            print(f"{mode:<10} median {statistics.median(values):.2f} s over {len(values)} run(s)")
    load = os.getloadavg()
    print(f"load average during the runs (1/5/15 min): {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()

"""Commands that study jobs: `corpus`, `sweep`, `report`, `predict` and `demo`."""

import contextlib
import functools
import os
import pathlib
import subprocess
import sys
import tempfile

from mrkit.cli.parsing import add_no_progress, shows_progress
from mrkit.errors import UsageError, unusable_directory


def configure_corpus(p):
    sub = p.add_subparsers(dest="corpus_command", required=True, metavar="synth")
    synth = sub.add_parser("synth", help="write deterministic English-like text files")
    synth.add_argument("--out", required=True, metavar="DIR")
    synth.add_argument("--files", type=int, default=8, metavar="N")
    synth.add_argument(
        "--size",
        default="4MB",
        metavar="SIZE",
        help="bytes per file at most, e.g. 512KB, 4MB, 1GB (powers of 1024); whole sentences or words",
    )
    synth.add_argument("--seed", type=int, default=0)


def cmd_corpus(args):
    from mrkit import corpus

    try:
        size = corpus.parse_size(args.size)
        paths = corpus.synth(args.out, args.files, size, args.seed)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:  # a file in the way of --out, a read-only or full disk
        raise unusable_directory(exc, args.out, "--out") from None
    total = sum(os.path.getsize(p) for p in paths)
    amount = f"{total / 2**20:.1f} MiB" if total >= 2**20 else f"{total:,} bytes"  # 4 KB is not "0.0 MiB"
    print(f"wrote {len(paths)} file{'s' * (len(paths) != 1)}, {amount}, in {args.out}")


def configure_sweep(p):
    p.add_argument(
        "sweep",
        metavar="NAME",
        help="a sweep in params/ (map_sweep, reduce_sweep, pairs_wc, pairs_indexer, "
        "mappers, mappers_ecs, engines, stragglers, calibrate) or a YAML path",
    )
    p.add_argument("--quick", action="store_true", help="the sweep's quick variant (tiny corpus, one repeat)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a parameter (value in YAML)")
    p.add_argument("--resume", metavar="DIR", help="continue a results directory ('latest' for the newest of this sweep)")
    add_no_progress(p)


def cmd_sweep(args):
    import yaml

    from mrkit import extras
    from mrkit.experiments.sweeps import sweep, sweep_config

    extras.require("experiments")  # before the first run, not when its records are written

    overrides = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--set takes KEY=VALUE, got {item!r}")
        try:
            overrides[key] = yaml.safe_load(value)
        except yaml.YAMLError as exc:
            raise UsageError(f"--set {key}: {value!r} is not a YAML value: {sweep_config.yaml_problem(exc)}") from None
    config = sweep_config.load_sweep(args.sweep, quick=args.quick, **overrides)
    out = None
    if args.resume is not None:
        out = results_dir(pathlib.Path(config.results_dir, config.name, "latest") if args.resume == "latest" else args.resume)
        if not (out / "meta.json").is_file():
            raise UsageError(
                f"--resume {args.resume}: {out} holds no sweep's results (no meta.json); leave --resume out to start a sweep"
            )
    done = sweep.run_sweep(config, out, progress=shows_progress(args))
    print(done)
    print(f"next: {_next_step(config, done)}", file=sys.stderr)


def _next_step(config, done):
    """What to run on a sweep's results: its points predicted, or (for the calibration) a sweep predicted from it."""
    if config.name == "calibrate":
        return f"mrkit predict {done} --sweep pairs_wc --cores 2,8,16,64,100   (the lab's pairs on up to 100 cores)"
    calibration = pathlib.Path(config.results_dir, "calibrate", "latest")
    return f"mrkit predict {calibration} --against {done}   (the cost model against these runs; after `mrkit sweep calibrate`)"


def results_dir(path):
    """A results directory as given, or `<results>/<sweep>/latest`: that sweep's newest (what `--resume latest` means)."""
    path = pathlib.Path(path)
    if path.name != "latest" or path.exists():
        return path
    from mrkit.experiments.sweeps import results

    try:
        return results.latest(path.parent.parent, path.parent.name)
    except FileNotFoundError:
        raise UsageError(
            f"{path}: no results of sweep {path.parent.name!r} in {path.parent} yet; run `mrkit sweep {path.parent.name}` first"
        ) from None


def configure_report(p):
    p.add_argument("--out", default="results/report.html", metavar="PATH", help="the HTML report (default results/report.html)")
    p.add_argument("--quick", action="store_true", help="tiny sweeps (seconds): check the pipeline, not the numbers")
    p.add_argument(
        "--sweep",
        action="append",
        metavar="NAME",
        help="report only this sweep of params/ (repeatable), e.g. mappers_ecs; default: the lab's study",
    )
    p.add_argument("--no-checks", action="store_true", help="leave out the (local) correctness and crash checks")
    p.add_argument(
        "--resume",
        action="store_true",
        help="reuse the finished runs of earlier results (same parameters) and run only the missing ones",
    )
    p.add_argument(
        "--seed",
        type=int,
        metavar="N",
        help="the seed of the lab's runs' interleaved order (default: a new one; --resume keeps the recorded one, and "
        "another N is an error)",
    )
    p.add_argument(
        "--stand-in",
        action="store_true",
        help="run ECS sweeps (mappers_ecs) on the local stand-in: no AWS account (README, 'Without an AWS account')",
    )
    p.add_argument(
        "--base-image",
        metavar="IMAGE",
        help="with --stand-in: the base of the image its containers run (see `mrkit ecs image --base-image`)",
    )
    add_no_progress(p)


def cmd_report(args):
    from mrkit.experiments.report.export import build_report

    _check_report_out(pathlib.Path(args.out))

    def build(backend_options=None):  # it says where it wrote the page
        build_report(
            out=args.out,
            quick=args.quick,
            sweeps=args.sweep,
            checks=not args.no_checks,
            resume=args.resume,
            seed=args.seed,
            backend_options=backend_options,
            progress=shows_progress(args),
        )

    if not args.stand_in:
        if args.base_image:
            raise UsageError("--base-image is for the image of --stand-in's containers: add --stand-in, or leave it out")
        return build()
    # The stand-in's AWS: the endpoint the user started, or a moto server of our own for this report.
    from mrkit.backends.ecs.local_aws import local_aws

    with contextlib.nullcontext() if os.environ.get("AWS_ENDPOINT_URL") else local_aws():
        config, aws = _stand_in_stack()
        return build({"stand_in": True, **_stand_in_containers(config, aws, args.base_image)})


def _check_report_out(out):
    """Before any run (a full report takes minutes): --out must be a file whose directory exists or can be made
    where we may write. Nothing is made here: a report that stops at a later check leaves nothing behind."""
    if out.is_dir():
        raise UsageError(f"--out {out} is a directory: give the report's file, e.g. {out / 'report.html'}")
    parent = out.absolute().parent
    existing = next(p for p in (parent, *parent.parents) if p.exists())
    if not existing.is_dir():
        raise UsageError(f"cannot write in {parent}: {existing} is a file: choose a path you may write (--out)")
    try:  # a trial file, removed on close: os.access says yes to root in /proc, a read-only mount, ...
        tempfile.TemporaryFile(dir=existing).close()
    except OSError as exc:
        raise UsageError(f"cannot write in {existing}: {exc.strerror or exc}: choose a path you may write (--out)") from None


def _stand_in_stack():
    """`mrkit ecs up` on the stand-in's endpoint (idempotent): the report's ECS sweep needs the stack."""
    from mrkit.backends.ecs.aws import Aws
    from mrkit.backends.ecs.bootstrap import up
    from mrkit.backends.ecs.config import load_config

    config = load_config(None)
    aws = Aws(config.region, endpoint_url=os.environ["AWS_ENDPOINT_URL"])
    up(config, aws)
    return config, aws


def _stand_in_containers(config, aws, base_image):
    """{"containers": engine} when docker or podman works here and builds the stack's image, else {} (processes).

    Either way one line says which, and why not containers; the report's ECS section says it too
    (from the backend options its sweep records).
    """
    from mrkit.backends.ecs import EcsError
    from mrkit.backends.ecs.engine import choose_engine
    from mrkit.backends.ecs.image import build_and_push, checkout_context

    def say(line):
        print(f"mrkit report: the ECS stand-in's tasks run as {line}", file=sys.stderr)

    context = checkout_context()
    if context is None:
        say("local processes: an installed mrkit has no Dockerfile to build the image from (a checkout has)")
        return {}
    try:
        engine = choose_engine()
        # The build's own output stays out of the report's terminal; its last error line joins ours.
        image = build_and_push(
            config,
            aws,
            context=context,
            builder=engine.name,
            base_image=base_image,
            push=False,
            out=lambda line: None,
            run=functools.partial(subprocess.run, capture_output=True),
        )
    except EcsError as exc:
        hint = "" if base_image else " (--base-image: a Python 3.11 image this machine has, e.g. from `podman images`)"
        say(f"local processes: {exc}{hint}")
        return {}
    say(f"{engine.name} containers of {image}")
    return {"containers": engine.name}


def configure_predict(p):
    p.add_argument(
        "calibration",
        nargs="+",
        metavar="CALIBRATION_DIR",
        help="results directories (runs.csv + tasks.csv) to fit from; results/<sweep>/latest: its newest",
    )
    target = p.add_mutually_exclusive_group()
    target.add_argument("--against", metavar="RESULTS_DIR", help="predict this directory's configurations and compare")
    target.add_argument("--sweep", metavar="NAME|FILE", help="predict a sweep's configurations without running it")
    p.add_argument("--cores", metavar="K[,K...]", help="predict at these core counts (default: as recorded, or this machine's)")
    p.add_argument("--json", action="store_true", help="print the points and error summary as JSON")


def cmd_predict(args):
    from mrkit.experiments.model.predict import run

    calibration = [results_dir(path) for path in args.calibration]
    against = results_dir(args.against) if args.against else None
    run(calibration, against=against, sweep=args.sweep, cores=args.cores, as_json=args.json)


def configure_demo(p):
    p.add_argument("--results", default="results", metavar="DIR", help="where the generated corpus is cached (default results/)")


def cmd_demo(args):
    from mrkit.experiments.sweeps.demo import demo

    demo(args.results)

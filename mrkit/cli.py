"""The `mrkit` command: a thin argparse layer over the package.

User mistakes (`MrkitError`) print one line and exit 2; a failed job exits 1;
Ctrl-C exits 130. Subcommands are a registry of (configure, handler) pairs.
"""

import argparse
import contextlib
import json
import os
import signal
import sys

from mrkit.errors import JobFailed, MrkitError, UsageError


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of printing usage, so errors stay one line."""

    def error(self, message):
        raise UsageError(f"{message} (see `{self.prog} --help`)")


class _CommandParser(_Parser):
    """A subcommand's parser: options may come before, between or after the inputs.

    Plain argparse stops filling `INPUT...` at the first option, so
    `mrkit run wc --app-opt k=v a.txt` would reject a.txt. The subparser action
    calls parse_known_args, so that is where intermixed parsing is switched in
    (parse_known_intermixed_args itself calls parse_known_args: hence the guard).
    """

    _intermixing = False

    def parse_known_args(self, args=None, namespace=None):
        if self._intermixing or self._subparsers is not None:
            return super().parse_known_args(args, namespace)
        self._intermixing = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._intermixing = False


def _app_options(pairs):
    options = {}
    for pair in pairs or ():
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--app-opt takes KEY=VALUE, got {pair!r}")
        options[key] = value
    return options


def _listen_address(text):
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise UsageError(f"--listen takes HOST:PORT (e.g. 127.0.0.1:8765), got {text!r}")
    return host, int(port)


# ---- subcommands ----------------------------------------------------------

def _add_app(p):
    p.add_argument("app", metavar="APP", help="built-in name (wc, indexer, grep, crash, nocrash), dotted module or .py file")
    p.add_argument("--app-opt", action="append", metavar="KEY=VALUE", help="option passed to the app's configure()")


def _configure_sequential(p):
    _add_app(p)
    p.add_argument("inputs", nargs="*", metavar="INPUT")


def _sequential(args):
    from mrkit.app import load_app
    from mrkit.job import resolve_inputs
    from mrkit.sequential import run_sequential

    app = load_app(args.app, _app_options(args.app_opt))
    run_sequential(app, resolve_inputs(args.inputs))


def _configure_job(p):
    p.add_argument("inputs", nargs="*", metavar="INPUT", help="files, or directories of files")
    p.add_argument("-r", "--n-reduce", type=int, default=10, metavar="R", help="reduce tasks (default 10)")
    p.add_argument("-m", "--n-map", type=int, default=None, metavar="M",
                   help="map tasks: cut the inputs into M near-equal chunks (default: one per input file)")
    p.add_argument("--task-timeout", type=float, default=10.0, metavar="S",
                   help="seconds before an unfinished task is handed to another worker (default 10)")
    p.add_argument("--max-attempts", type=int, default=10, metavar="N",
                   help="attempts of one task that may raise, die or time out before the job fails (default 10)")
    p.add_argument("--backup-tasks", nargs="?", const="paper", default=None, metavar="POLICY",
                   help="back up stragglers near a phase's end: paper (the default when given), spark or late")


def _job_spec(args, storage):
    from mrkit.backends.staging import read_manifest, stage_inputs
    from mrkit.job import JobSpec

    if args.inputs_from and args.inputs:
        raise UsageError("give inputs either as INPUT... or with --inputs-from, not both")
    inputs = read_manifest(args.inputs_from, storage) if args.inputs_from else stage_inputs(args.inputs, storage)
    return JobSpec(inputs, n_reduce=args.n_reduce, n_map=args.n_map, task_timeout=args.task_timeout,
                   max_attempts=args.max_attempts)


def _add_cpus(p):
    from mrkit.pinning import parse_cpus

    p.add_argument("--cpus", type=parse_cpus, default=None, metavar="LIST",
                   help="pin the job (master and workers) to these CPUs, e.g. 0 or 0,1 or 0-3; runs record them as cores")


def _add_storage(p):
    p.add_argument("--storage", default=None, metavar="URL",
                   help="where the job's files live: a directory or s3://bucket/prefix (default: the cwd)")


def _configure_master(p):
    _configure_job(p)
    _add_storage(p)
    _add_cpus(p)
    p.add_argument("--listen", default="127.0.0.1:0", metavar="HOST:PORT",
                   help="address to serve workers on (default: loopback, any free port)")
    p.add_argument("--token-file", metavar="FILE",
                   help="file or s3:// object holding the token workers must present (default: a new random one)")
    p.add_argument("--inputs-from", metavar="NAME",
                   help="JSON list of inputs ({path, location, size}) in the job's storage, instead of INPUT...")
    p.add_argument("--run-id", metavar="ID", help="the run's id in the timing records (default: time stamp + random)")
    p.add_argument("--status-every", type=float, default=None, metavar="S",
                   help="write the status to the job's storage every S seconds (mr-status.json), for launchers "
                        "that cannot reach the master")


def _master(args):
    from mrkit import timing
    from mrkit.runtime.master import Master
    from mrkit.runtime.serve import serve
    from mrkit.runtime.worker import resolve_token
    from mrkit.storage import open_storage
    from mrkit.storage.local import LocalStorage

    launched_at = timing.now()
    here = LocalStorage(".")
    files = here if args.storage is None else open_storage(args.storage)
    spec = _job_spec(args, files)
    token = resolve_token(args.token_file) if args.token_file else None
    master = Master(spec, files, listen=_listen_address(args.listen), token=token, run_id=args.run_id,
                    advertise_storage=files is not here, status_every=args.status_every, lock_dir=".",
                    backup_tasks=args.backup_tasks)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    serve(master, here, launched_at=launched_at)


def _configure_worker(p):
    _add_app(p)
    p.add_argument("--master", metavar="URL", help="master URL (default: read mr-master.json in the cwd)")
    p.add_argument("--token-file", metavar="FILE", help="file holding the master's token (else $MRKIT_TOKEN or mr-master.json)")
    _add_cpus(p)


def _worker(args):
    from mrkit.app import load_app
    from mrkit.runtime.worker import run_worker
    from mrkit.storage import open_storage
    from mrkit.storage.local import LocalStorage

    app = load_app(args.app, _app_options(args.app_opt))
    return run_worker(app, LocalStorage("."), master_url=args.master, token_file=args.token_file,
                      open_storage=open_storage)


def _configure_run(p):
    _add_app(p)
    _configure_job(p)
    _add_storage(p)
    _add_cpus(p)
    p.add_argument("-w", "--workers", type=int, default=None, metavar="W",
                   help="worker processes (default max(M, R) capped at the CPU count)")
    p.add_argument("--workdir", default=None, metavar="DIR", help="where intermediate and output files go (default: cwd)")
    p.add_argument("--json", action="store_true", help="print the run summary as JSON")
    p.add_argument("--slow-workers", type=int, default=0, metavar="K",
                   help="straggler injection for studies: K of the W workers take --slowdown times as long")
    p.add_argument("--slowdown", type=float, default=1.0, metavar="F",
                   help="how many times as long each slow worker takes (it sleeps (F-1) x the task's time)")


def _run(args):
    from mrkit.backends.local import run_job
    from mrkit.progress import TaskProgress

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind: workers are stopped, the lock released
    progress = TaskProgress("mrkit run")
    try:
        summary, records = run_job(
            args.app, args.inputs, n_map=args.n_map, n_reduce=args.n_reduce, workers=args.workers,
            workdir=args.workdir, task_timeout=args.task_timeout, app_options=_app_options(args.app_opt),
            storage=args.storage, max_attempts=args.max_attempts, backup_tasks=args.backup_tasks,
            slow_workers=args.slow_workers, slowdown=args.slowdown, on_status=progress if progress.live else None,
        )
    finally:
        progress.close()
    keys = sum(r["records_out"] for r in records if r["phase"] == "reduce" and r["status"] == "ok")
    where = args.storage.rstrip("/") if args.storage else os.path.abspath(args.workdir or ".")
    print(f"mrkit run: {summary['n_reduce']} outputs in {where}/mr-out-*, {keys:,} keys, "
          f"{summary['end_to_end_s']:.2f} s", file=sys.stderr)
    _print_summary(summary, args.json)


def _print_summary(summary, as_json):
    if as_json:
        print(json.dumps(summary))
        return
    width = max(map(len, summary))
    for key, value in summary.items():
        print(f"{key:<{width}}  {value:.3f}" if isinstance(value, float) else f"{key:<{width}}  {value}")


def _configure_corpus(p):
    sub = p.add_subparsers(dest="corpus_command", required=True, metavar="synth")
    synth = sub.add_parser("synth", help="write deterministic English-like text files")
    synth.add_argument("--out", required=True, metavar="DIR")
    synth.add_argument("--files", type=int, default=8, metavar="N")
    synth.add_argument("--size", default="4MB", metavar="SIZE", help="bytes per file, e.g. 512KB, 4MB, 1GB (powers of 1024)")
    synth.add_argument("--seed", type=int, default=0)


def _corpus(args):
    from mrkit import corpus

    try:
        size = corpus.parse_size(args.size)
        paths = corpus.synth(args.out, args.files, size, args.seed)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    total = sum(os.path.getsize(p) for p in paths)
    print(f"wrote {len(paths)} files, {total / 2**20:.1f} MiB, in {args.out}")


def _configure_sweep(p):
    p.add_argument("sweep", metavar="NAME", help="a sweep in params/ (map_sweep, reduce_sweep, pairs_wc, pairs_indexer, "
                   "mappers, mappers_ecs) or a YAML path")
    p.add_argument("--quick", action="store_true", help="the sweep's quick variant (tiny corpus, one repeat)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a parameter (value in YAML)")
    p.add_argument("--resume", metavar="DIR", help="continue a results directory ('latest' for the newest of this sweep)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _sweep(args):
    import yaml

    from mrkit import extras
    from mrkit.experiments import sweep

    extras.require("experiments")  # before the first run, not when its records are written

    overrides = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--set takes KEY=VALUE, got {item!r}")
        overrides[key] = yaml.safe_load(value)
    config = sweep.load_sweep(args.sweep, quick=args.quick, **overrides)
    out = args.resume
    if out == "latest":
        try:
            out = sweep.latest(config.results_dir, config.name)
        except FileNotFoundError:
            raise UsageError(f"no earlier results of sweep {config.name!r} in {config.results_dir} to resume") from None
    print(sweep.run_sweep(config, out, progress=not args.no_progress))


def _ecs_common(p):
    p.add_argument("--config", metavar="FILE", help="settings file (default: params/ecs.yaml when it exists)")
    p.add_argument("--stack", metavar="NAME", help="stack name: names and tags every resource (default: default)")
    p.add_argument("--region", metavar="REGION", help="AWS region (default: settings, $AWS_REGION, us-east-1)")
    p.add_argument("--endpoint-url", metavar="URL", help="AWS endpoint, e.g. a moto server (default: $AWS_ENDPOINT_URL)")


def _configure_ecs(p):
    sub = p.add_subparsers(dest="ecs_command", required=True, metavar="up|down|image|run")
    up = sub.add_parser("up", help="create or update the stack's AWS resources (idempotent)")
    _ecs_common(up)
    up.add_argument("--bucket", metavar="NAME", help="job bucket (default: mrkit-<stack>-<account>-<region>)")
    up.add_argument("--image", metavar="REF", help="image the tasks run (default: the stack's ECR repository, :latest)")
    up.add_argument("--json", action="store_true", help="print the stack's ids and ARNs as JSON")
    down = sub.add_parser("down", help="remove every resource `up` created for the stack")
    _ecs_common(down)
    down.add_argument("--bucket", metavar="NAME", help="job bucket, if up was given one")
    image = sub.add_parser("image", help="build the image with docker and push it to the stack's ECR repository")
    _ecs_common(image)
    image.add_argument("--tag", default="latest", help="image tag (default: latest)")
    image.add_argument("--context", default=".", metavar="DIR", help="build context holding the Dockerfile (default: .)")
    image.add_argument("--dry-run", action="store_true", help="print the docker commands instead of running them")
    run = sub.add_parser("run", help="run a job on Fargate: a master task plus W worker tasks, files in S3")
    _add_app(run)
    _configure_job(run)
    _ecs_common(run)
    run.add_argument("-w", "--workers", type=int, default=None, metavar="W",
                     help="worker tasks (default max(M, R), at most 10)")
    run.add_argument("--verify", action="store_true",
                     help="compare the output with a local sequential run of the app on the inputs")
    run.add_argument("--stand-in", metavar="DIR",
                     help="run the tasks as local processes (working directories and logs in DIR) against "
                          "--endpoint-url, e.g. a moto server: no AWS account needed")
    run.add_argument("--poll", type=float, default=2.0, metavar="S", help="seconds between progress checks (default 2)")
    run.add_argument("--start-timeout", type=float, default=600.0, metavar="S",
                     help="seconds the master task may take to start serving, image pull included (default 600)")
    run.add_argument("--json", action="store_true", help="print the run summary as JSON")


def _ecs_up(args, config, aws, say):
    from mrkit.backends.ecs.bootstrap import up

    stack = up(config, aws, say=say)
    if args.json:
        print(json.dumps(stack.to_dict(), indent=1))
        return
    if not stack.changes:
        say(f"stack {stack.stack!r} is up to date")
    fields = {k: v for k, v in stack.to_dict().items() if k != "changes"}
    width = max(map(len, fields))
    for key, value in fields.items():
        print(f"{key:<{width}}  {', '.join(value) if isinstance(value, list) else value}")


def _ecs_down(args, config, aws, say):
    from mrkit.backends.ecs.bootstrap import down

    removed, kept = down(config, aws, say=say)
    if not removed and not kept:
        say(f"nothing of stack {config.stack!r} in {config.region}")


def _ecs_image(args, config, aws, say):
    from mrkit.backends.ecs.image import build_and_push

    pushed = build_and_push(config, aws, tag=args.tag, context=args.context, dry_run=args.dry_run)
    if not args.dry_run:
        say(f"pushed {pushed}")


def _ecs_run(args, config, aws, say):
    from mrkit.backends.ecs.run import run_on_ecs

    if args.verify and any(str(i).startswith("s3://") for i in args.inputs):  # before anything is billed
        raise UsageError("--verify compares with a local run, so it needs local inputs")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a killed launcher still stops its tasks
    result = run_on_ecs(config, aws, args.app, args.inputs, stand_in=args.stand_in, say=say, on_usage=say,
                        poll_s=args.poll, start_timeout_s=args.start_timeout, n_map=args.n_map,
                        n_reduce=args.n_reduce, workers=args.workers, task_timeout=args.task_timeout,
                        app_options=_app_options(args.app_opt), max_attempts=args.max_attempts,
                        backup_tasks=args.backup_tasks)
    say(f"outputs in {result.storage_url}mr-out-*; launcher wall time {result.launcher_s:.1f} s "
        "(task start-up included)")
    _print_summary(result.summary, args.json)
    if args.verify:
        return _ecs_verify(args, result, say)


def _ecs_verify(args, result, say):
    from mrkit.app import load_app
    from mrkit.job import resolve_inputs
    from mrkit.storage import open_storage
    from mrkit.verify import verify

    checked = verify(load_app(args.app, _app_options(args.app_opt)), resolve_inputs(args.inputs),
                     open_storage(result.storage_url))
    say(checked.line())
    return 0 if checked.ok else 1


ECS_COMMANDS = {"up": _ecs_up, "down": _ecs_down, "image": _ecs_image, "run": _ecs_run}


def _ecs(args):
    from mrkit.backends.ecs.aws import Aws
    from mrkit.backends.ecs.config import load_config

    overrides = {key: getattr(args, key, None) for key in ("stack", "region", "bucket", "image")}
    config = load_config(args.config, overrides)
    aws = Aws(config.region, endpoint_url=args.endpoint_url)

    def say(line):
        print(f"mrkit ecs {args.ecs_command}: {line}", file=sys.stderr)

    return ECS_COMMANDS[args.ecs_command](args, config, aws, say)


def _configure_report(p):
    p.add_argument("--out", default="results/report.html", metavar="PATH", help="the HTML report (default results/report.html)")
    p.add_argument("--quick", action="store_true", help="tiny sweeps (seconds): check the pipeline, not the numbers")
    p.add_argument("--sweep", action="append", metavar="NAME",
                   help="report only this sweep of params/ (repeatable), e.g. mappers_ecs; default: the lab's study")
    p.add_argument("--no-checks", action="store_true", help="leave out the (local) correctness and crash checks")
    p.add_argument("--resume", action="store_true",
                   help="reuse the finished runs of earlier results (same parameters) and run only the missing ones")
    p.add_argument("--stand-in", action="store_true",
                   help="run ECS sweeps (mappers_ecs) on the local stand-in: no AWS account (README, 'Without an AWS account')")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _report(args):
    from mrkit.experiments.notebook_report import build_report

    def build():  # it says where it wrote the page
        build_report(out=args.out, quick=args.quick, sweeps=args.sweep, checks=not args.no_checks,
                     resume=args.resume, backend_options={"stand_in": True} if args.stand_in else None,
                     progress=not args.no_progress)

    if not args.stand_in:
        return build()
    # The stand-in's AWS: the endpoint the user started, or a moto server of our own for this report.
    from mrkit.backends.ecs.local_aws import local_aws

    with contextlib.nullcontext() if os.environ.get("AWS_ENDPOINT_URL") else local_aws():
        _stand_in_stack()
        return build()


def _stand_in_stack():
    """`mrkit ecs up` on the stand-in's endpoint (idempotent): the report's ECS sweep needs the stack."""
    from mrkit.backends.ecs.aws import Aws
    from mrkit.backends.ecs.bootstrap import up
    from mrkit.backends.ecs.config import load_config

    config = load_config(None)
    up(config, Aws(config.region, endpoint_url=os.environ["AWS_ENDPOINT_URL"]))


def _configure_predict(p):
    p.add_argument("calibration", nargs="+", metavar="CALIBRATION_DIR",
                   help="results directories (runs.csv + tasks.csv) to fit from")
    target = p.add_mutually_exclusive_group()
    target.add_argument("--against", metavar="RESULTS_DIR", help="predict this directory's configurations and compare")
    target.add_argument("--sweep", metavar="NAME|FILE", help="predict a sweep's configurations without running it")
    p.add_argument("--cores", metavar="K[,K...]", help="predict at these core counts (default: as recorded, or this machine's)")
    p.add_argument("--json", action="store_true", help="print the points and error summary as JSON")


def _predict(args):
    from mrkit.experiments.predict import run

    run(args.calibration, against=args.against, sweep=args.sweep, cores=args.cores, as_json=args.json)


def _configure_demo(p):
    p.add_argument("--results", default="results", metavar="DIR", help="where the generated corpus is cached (default results/)")


def _demo(args):
    from mrkit.experiments.demo import demo

    demo(args.results)


COMMANDS = {
    "sequential": ("run an app sequentially: the reference output mr-out-0", _configure_sequential, _sequential),
    "master": ("serve a job's tasks to workers started with `mrkit worker`", _configure_master, _master),
    "worker": ("run tasks for the master of this directory (or --master URL)", _configure_worker, _worker),
    "run": ("run a job on a master plus W local worker processes", _configure_run, _run),
    "corpus": ("make the built-in input corpus", _configure_corpus, _corpus),
    "sweep": ("run (or resume) a named sweep; rows go to results/<sweep>/<stamp>/", _configure_sweep, _sweep),
    "ecs": ("set up, tear down and build the image for running jobs on AWS ECS Fargate", _configure_ecs, _ecs),
    "report": ("run the report's sweeps through papermill and export one HTML report", _configure_report, _report),
    "predict": ("calibrate the cost model on results, then predict a sweep or compare with measured runs",
                _configure_predict, _predict),
    "demo": ("word count on the built-in corpus at 1, 2 and 4 workers, with timings", _configure_demo, _demo),
}


def build_parser():
    parser = _Parser(prog="mrkit", description="Run and study MapReduce.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (help_text, configure, handler) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.__class__ = _CommandParser
        configure(p)
        p.set_defaults(handler=handler)
    return parser


def main(argv=None):
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else argv
    prog = "mrkit" + (f" {argv[0]}" if argv and argv[0] in COMMANDS else "")
    try:
        args = parser.parse_args(argv)
        if getattr(args, "cpus", None) is not None:  # before anything forks: master and workers inherit it
            from mrkit.pinning import pin

            pin(args.cpus)
        return args.handler(args) or 0
    except JobFailed as exc:
        print(f"{prog}: job failed: {exc}", file=sys.stderr)
        for note in getattr(exc, "__notes__", ()):  # e.g. the run record could not be written either
            print(f"{prog}: {note}", file=sys.stderr)
        return 1
    except MrkitError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except ModuleNotFoundError as exc:  # an optional stack a command imports: the extra that installs it
        from mrkit.extras import missing

        message = missing(exc.name)
        if message is None:
            raise
        print(f"{prog}: error: {message}", file=sys.stderr)
        return 2

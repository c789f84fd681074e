"""`mrkit ecs up|down|image|run`: the AWS ECS (Fargate) stack, its image, and jobs on it."""

import json
import sys
import urllib.parse

from mrkit.backends.ecs.engine import ENGINES
from mrkit.cli.parsing import add_app, app_options, check_seconds, configure_job, print_summary, stdout_for_the_summary
from mrkit.errors import UsageError


def _ecs_common(p):
    p.add_argument("--config", metavar="FILE", help="settings file (default: params/ecs.yaml when it exists)")
    p.add_argument("--stack", metavar="NAME", help="stack name: names and tags every resource (default: default)")
    p.add_argument("--region", metavar="REGION", help="AWS region (default: settings, $AWS_REGION, us-east-1)")
    p.add_argument("--endpoint-url", metavar="URL", help="AWS endpoint, e.g. a moto server (default: $AWS_ENDPOINT_URL)")


def configure_ecs(p):
    sub = p.add_subparsers(dest="ecs_command", required=True, metavar="up|down|image|run")
    up = sub.add_parser("up", help="create or update the stack's AWS resources (idempotent)")
    _ecs_common(up)
    up.add_argument("--bucket", metavar="NAME", help="job bucket (default: mrkit-<stack>-<account>-<region>)")
    up.add_argument("--image", metavar="REF", help="image the tasks run (default: the stack's ECR repository, :latest)")
    up.add_argument("--json", action="store_true", help="print the stack's ids and ARNs as JSON")
    down = sub.add_parser("down", help="remove every resource `up` created for the stack")
    _ecs_common(down)
    down.add_argument("--bucket", metavar="NAME", help="job bucket, if up was given one")
    image = sub.add_parser("image", help="build the image with docker or podman and push it to the stack's ECR repository")
    _ecs_common(image)
    image.add_argument("--tag", default="latest", help="image tag (default: latest)")
    image.add_argument("--context", default=".", metavar="DIR", help="build context holding the Dockerfile (default: .)")
    image.add_argument(
        "--builder", choices=sorted(ENGINES), help="container engine (default: docker if its engine answers, else podman)"
    )
    image.add_argument(
        "--base-image",
        metavar="IMAGE",
        help="base image instead of the Dockerfile's python:3.11-slim (needs pip and python on PATH)",
    )
    image.add_argument(
        "--no-push", action="store_true", help="build and tag the image for the stack's repository locally: no ECR login, no push"
    )
    image.add_argument("--dry-run", action="store_true", help="print the engine's commands instead of running them")
    run = sub.add_parser("run", help="run a job on Fargate: a master task plus W worker tasks, files in S3")
    add_app(run)
    configure_job(run)
    _ecs_common(run)
    run.add_argument("-w", "--workers", type=int, default=None, metavar="W", help="worker tasks (default max(M, R), at most 10)")
    run.add_argument(
        "--verify", action="store_true", help="compare the output with a local sequential run of the app on the inputs"
    )
    run.add_argument(
        "--stand-in",
        metavar="DIR",
        help="run the tasks as local processes (working directories and logs in DIR) against "
        "--endpoint-url, e.g. a moto server: no AWS account needed",
    )
    run.add_argument(
        "--containers",
        action="store_true",
        help="with --stand-in: run each task as a container of the image its task definition names "
        "(docker or podman; build it with `mrkit ecs image --no-push`)",
    )
    run.add_argument("--poll", type=float, default=2.0, metavar="S", help="seconds between progress checks (default 2)")
    run.add_argument(
        "--start-timeout",
        type=float,
        default=600.0,
        metavar="S",
        help="seconds the master task may take to start serving, image pull included (default 600)",
    )
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

    image = build_and_push(
        config,
        aws,
        tag=args.tag,
        context=args.context,
        dry_run=args.dry_run,
        builder=args.builder,
        base_image=args.base_image,
        push=not args.no_push,
    )
    if not args.dry_run:
        say(f"built {image} (not pushed)" if args.no_push else f"pushed {image}")


def _ecs_run(args, config, aws, say):
    from mrkit.backends.ecs.run import run_on_ecs

    if args.verify and any(str(i).startswith("s3://") for i in args.inputs):  # before anything is billed
        raise UsageError("--verify compares with a local run, so it needs local inputs")
    if args.containers and not args.stand_in:
        raise UsageError("--containers runs the stand-in's tasks as containers: give --stand-in DIR too")
    check_seconds("--poll", args.poll)
    check_seconds("--start-timeout", args.start_timeout)
    with stdout_for_the_summary() as out:
        result = _run_on_ecs(run_on_ecs, args, config, aws, say)
        say(f"outputs in {result.storage_url}mr-out-*; launcher wall time {result.launcher_s:.1f} s (task start-up included)")
        print_summary(result.summary, args.json, out)
    if args.verify:
        return _ecs_verify(args, result, say)


def _run_on_ecs(run_on_ecs, args, config, aws, say):
    return run_on_ecs(
        config,
        aws,
        args.app,
        args.inputs,
        stand_in=args.stand_in,
        containers=args.containers,
        say=say,
        on_usage=say,
        poll_s=args.poll,
        start_timeout_s=args.start_timeout,
        n_map=args.n_map,
        n_reduce=args.n_reduce,
        workers=args.workers,
        task_timeout=args.task_timeout,
        app_options=app_options(args.app_opt),
        max_attempts=args.max_attempts,
        backup_tasks=args.backup_tasks,
    )


def _ecs_verify(args, result, say):
    from mrkit.app import load_app
    from mrkit.job import resolve_inputs
    from mrkit.storage import open_storage
    from mrkit.verify import verify

    checked = verify(load_app(args.app, app_options(args.app_opt)), resolve_inputs(args.inputs), open_storage(result.storage_url))
    say(checked.line())
    return 0 if checked.ok else 1


def _endpoint_url(url):
    """An http(s) URL with a host (botocore's own refusal is a traceback), or None for boto3's default."""
    if url is None:
        return None
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"--endpoint-url takes an http(s) URL such as http://127.0.0.1:5000, got {url!r}")
    return url


ECS_COMMANDS = {"up": _ecs_up, "down": _ecs_down, "image": _ecs_image, "run": _ecs_run}


def cmd_ecs(args):
    from mrkit.backends.ecs.aws import Aws
    from mrkit.backends.ecs.config import load_config

    overrides = {key: getattr(args, key, None) for key in ("stack", "region", "bucket", "image")}
    config = load_config(args.config, overrides)
    aws = Aws(config.region, endpoint_url=_endpoint_url(args.endpoint_url))

    def say(line):
        print(f"mrkit ecs {args.ecs_command}: {line}", file=sys.stderr)

    return ECS_COMMANDS[args.ecs_command](args, config, aws, say)

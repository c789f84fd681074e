"""The `mrkit` command: a thin argparse layer over the package.

User mistakes (`MrkitError`), a full disk and a directory that cannot be written print one
line and exit 2, as does a job stopped by one of them; any other failed job exits 1;
Ctrl-C exits 130. Subcommands are a registry of (help, configure, handler) triples;
each lives in the module of its kind: jobs, ecs, study.
"""

import sys
import threading

from mrkit.cli.ecs import cmd_ecs, configure_ecs
from mrkit.cli.jobs import (
    cmd_master,
    cmd_run,
    cmd_sequential,
    cmd_worker,
    configure_master,
    configure_run,
    configure_sequential,
    configure_worker,
)
from mrkit.cli.parsing import CommandParser, Parser, StoppedBySigterm, exit_on_sigterm
from mrkit.cli.study import (
    cmd_corpus,
    cmd_demo,
    cmd_predict,
    cmd_report,
    cmd_sweep,
    configure_corpus,
    configure_demo,
    configure_predict,
    configure_report,
    configure_sweep,
)
from mrkit.errors import JobFailed, MrkitError, disk_problem
from mrkit.version import __version__

COMMANDS = {
    "sequential": ("run an app sequentially: the reference output mr-out-0", configure_sequential, cmd_sequential),
    "master": ("serve a job's tasks to workers started with `mrkit worker`", configure_master, cmd_master),
    "worker": ("run tasks for the master of this directory (or --master URL)", configure_worker, cmd_worker),
    "run": ("run a job on a master plus W local worker processes", configure_run, cmd_run),
    "corpus": ("make the built-in input corpus", configure_corpus, cmd_corpus),
    "sweep": ("run (or resume) a named sweep; rows go to results/<sweep>/<stamp>/", configure_sweep, cmd_sweep),
    "ecs": ("set up, tear down and build the image for running jobs on AWS ECS Fargate", configure_ecs, cmd_ecs),
    "report": ("run the report's sweeps through papermill and export one HTML report", configure_report, cmd_report),
    "predict": (
        "calibrate the cost model on results, then predict a sweep or compare with measured runs",
        configure_predict,
        cmd_predict,
    ),
    "demo": ("word count on the built-in corpus at 1, 2 and 4 workers, with timings", configure_demo, cmd_demo),
}


def build_parser():
    parser = Parser(prog="mrkit", description="Run and study MapReduce.")
    parser.add_argument("--version", action="version", version=f"mrkit {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (help_text, configure, handler) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.__class__ = CommandParser
        configure(p)
        p.set_defaults(handler=handler)
    return parser


def main(argv=None):
    if threading.current_thread() is threading.main_thread():
        exit_on_sigterm()  # from the start: a SIGTERM while the job's stack imports ended the process silently
    argv = sys.argv[1:] if argv is None else argv
    prog = "mrkit" + (f" {argv[0]}" if argv and argv[0] in COMMANDS else "")
    try:
        args = build_parser().parse_args(argv)
        if getattr(args, "cpus", None) is not None:  # before anything forks: master and workers inherit it
            from mrkit.pinning import pin

            pin(args.cpus)
        return args.handler(args) or 0
    except JobFailed as exc:
        print(f"{prog}: {'error' if exc.exit_code == 2 else 'job failed'}: {exc}", file=sys.stderr)
        for note in getattr(exc, "__notes__", ()):  # e.g. the run record could not be written either
            print(f"{prog}: {note}", file=sys.stderr)
        return exc.exit_code
    except MrkitError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a full disk, a read-only directory: the user's to fix, in one line
        problem = disk_problem(exc)
        if problem is None:
            raise
        print(f"{prog}: error: {problem}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except StoppedBySigterm:
        print(f"{prog}: stopped by SIGTERM", file=sys.stderr)
        return 143
    except ModuleNotFoundError as exc:  # an optional stack a command imports: the extra that installs it
        from mrkit.extras import missing

        message = missing(exc.name)
        if message is None:
            raise
        print(f"{prog}: error: {message}", file=sys.stderr)
        return 2

"""The command line's shared parsing: one-line usage errors, options several commands take, the summary printer,
and SIGTERM as an exit that unwinds."""

import argparse
import atexit
import contextlib
import json
import math
import os
import signal
import sys

from mrkit.errors import MrkitError, UsageError


class Parser(argparse.ArgumentParser):
    """argparse that raises instead of printing usage, so errors stay one line."""

    def error(self, message):
        raise UsageError(f"{message} (see `{self.prog} --help`)")


class CommandParser(Parser):
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


def app_options(pairs):
    options = {}
    for pair in pairs or ():
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--app-opt takes KEY=VALUE, got {pair!r}")
        options[key] = value
    return options


def listen_address(text):
    host, sep, port = text.rpartition(":")
    if host.startswith("[") and host.endswith("]"):  # an IPv6 address, as in a URL: [::1]:8765
        host = host[1:-1]
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise UsageError(f"--listen takes HOST:PORT (e.g. 127.0.0.1:8765 or [::1]:8765), got {text!r}")
    return host, int(port)


def add_app(p):
    p.add_argument("app", metavar="APP", help="built-in name (wc, indexer, grep, crash, nocrash), dotted module or .py file")
    p.add_argument("--app-opt", action="append", metavar="KEY=VALUE", help="option passed to the app's configure()")


def configure_job(p):
    from mrkit.job import MAX_ATTEMPTS, N_REDUCE, TASK_TIMEOUT_S

    p.add_argument("inputs", nargs="*", metavar="INPUT", help="files, or directories of files")
    p.add_argument("-r", "--n-reduce", type=int, default=N_REDUCE, metavar="R", help=f"reduce tasks (default {N_REDUCE})")
    p.add_argument(
        "-m",
        "--n-map",
        type=int,
        default=None,
        metavar="M",
        help="map tasks: cut the inputs into M near-equal chunks (default: one per input file)",
    )
    p.add_argument(
        "--task-timeout",
        type=float,
        default=TASK_TIMEOUT_S,
        metavar="S",
        help=f"seconds before an unfinished task is handed to another worker (default {TASK_TIMEOUT_S:g})",
    )
    p.add_argument(
        "--max-attempts",
        type=int,
        default=MAX_ATTEMPTS,
        metavar="N",
        help=f"attempts of one task that may raise, die or time out before the job fails (default {MAX_ATTEMPTS})",
    )
    p.add_argument(
        "--backup-tasks",
        nargs="?",
        const="paper",
        default=None,
        metavar="POLICY",
        help="back up stragglers near a phase's end: paper (the default when given), spark or late",
    )


def add_cpus(p):
    from mrkit.pinning import parse_cpus

    p.add_argument(
        "--cpus",
        type=parse_cpus,
        default=None,
        metavar="LIST",
        help="pin the job (master and workers) to these CPUs, e.g. 0 or 0,1 or 0-3; runs record them as cores",
    )


def check_seconds(option, seconds):
    """`seconds` when it is None (the default) or a finite number above 0, else a one-line UsageError."""
    if seconds is not None and not 0 < seconds < math.inf:
        raise UsageError(f"{option} must be a number of seconds above 0, got {seconds:g}")
    return seconds


def storage_url(text):
    if not text.strip():  # it wrote in the cwd while the summary named --workdir
        raise UsageError("--storage takes a directory or s3://bucket/prefix, got an empty string")
    return text


def add_storage(p):
    p.add_argument(
        "--storage",
        default=None,
        type=storage_url,
        metavar="URL",
        help="where the job's files live: a directory or s3://bucket/prefix (default: the cwd)",
    )


@contextlib.contextmanager
def stdout_for_the_summary():
    """A stream on stdout for the command's summary; meanwhile stdout's descriptor points at stderr.

    So what anything else prints during the job (an app at import or in its map, a worker process it
    forks, which inherits the descriptor) reaches the terminal on stderr, and `--json` stays one
    JSON document.
    """
    try:
        sys.stdout.flush()
        kept = os.dup(1)
    except (AttributeError, OSError):  # started with stdout closed (sys.stdout None): nothing to keep
        yield None
        return
    os.dup2(2, 1)
    out = os.fdopen(os.dup(kept), "w")  # buffered: the summary reaches stdout as it closes
    try:
        yield out
        try:
            out.close()
        except OSError as exc:  # stdout is a full disk (>/dev/full), a closed pipe: not the job's directory
            raise MrkitError(f"the job is done, but its summary could not be written to stdout: {exc.strerror}") from None
    finally:
        with contextlib.suppress(OSError):
            out.close()  # after the job's own exception: what it printed does not matter then
        sys.stdout.flush()
        os.dup2(kept, 1)
        os.close(kept)
        # What the app registered to print at exit runs after this: atexit runs the last registered first.
        atexit.unregister(_stdout_to_stderr)
        atexit.register(_stdout_to_stderr)


def _stdout_to_stderr():
    """Point stdout at stderr as the process exits, before an app's exit handlers print (after a summary)."""
    with contextlib.suppress(AttributeError, OSError, ValueError):  # no stdout, or closed
        sys.stdout.flush()
        os.dup2(2, 1)


def print_summary(summary, as_json, out=None):
    out = out or sys.stdout
    if as_json:
        print(json.dumps(summary), file=out)
        return
    width = max(map(len, summary))
    for key, value in summary.items():
        print(f"{key:<{width}}  {value:.3f}" if isinstance(value, float) else f"{key:<{width}}  {value}", file=out)


def add_no_progress(p):
    p.add_argument("--no-progress", action="store_true", help="no progress bar (none is drawn unless stderr is a terminal)")


def shows_progress(args):
    """A bar only on a terminal: in a log file or a pipe its redrawn lines would pile up as one long line."""
    return not args.no_progress and sys.stderr.isatty()


def exit_on_sigterm():
    """SIGTERM (a `kill`, a batch system's stop) ends every command as Ctrl-C does: through its `finally`s
    (workers stopped, tasks stopped, locks released, a sweep's session closed as interrupted), exit status
    143. main() installs it first thing."""
    signal.signal(signal.SIGTERM, _terminated)


class StoppedBySigterm(SystemExit):
    """SystemExit(143) from SIGTERM: main() says so in one line, as Ctrl-C's "interrupted"."""


def _terminated(*_):
    raise StoppedBySigterm(143)

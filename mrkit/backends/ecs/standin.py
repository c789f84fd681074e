"""A local stand-in for Fargate: the launcher's tasks run as local processes, or as containers.

Use it with an ECS/S3 endpoint on 127.0.0.1 (moto's server) when there is no
AWS account, and in the tests: `mrkit ecs run --stand-in DIR ...`.
`LocalFargate` is a drop-in for the launcher's `Fargate`. Its `start` makes the
same RunTask calls against the endpoint, then reads back what was submitted
(the task definition's image, entry point, environment and log configuration,
and the overrides describe_tasks echoes) and runs exactly that command, with
the task's environment, region, credentials (what the task role gives a
container) and this process's AWS endpoint. With `containers`, each task is
a container of the definition's image (`mrkit.backends.ecs.containers`);
by default, a local process:

- in a fresh directory per task (a container's empty file system), in a
  session of its own, so a Ctrl-C in the terminal reaches the launcher only,
  as it would with remote tasks;
- with PATH/PYTHONPATH added (what the image has installed); the image's
  entry point `mrkit` is this Python's `-m mrkit`.

Networking is the one thing rewritten: moto's task IPs are made up and
unreachable, so a `--listen HOST:PORT` argument becomes 127.0.0.1 and a free
port, and a URL naming a task's IP and that port becomes the local address.

A monitor thread plays ECS after the start: a process that exits has its
output put in CloudWatch Logs (the awslogs stream) and its task stopped with
"Essential container in task exited" and the exit code (moto keeps no exit
codes, so the code goes in the reason); a task stopped through the API (the
launcher's cleanup) has its process (or container) sent SIGTERM, then SIGKILL
after a grace period, as Fargate does.
"""

import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

from mrkit.backends.ecs import EcsError, TaskLaunchError
from mrkit.backends.ecs.aws import Aws
from mrkit.backends.ecs.config import CONTAINER
from mrkit.backends.ecs.fargate import Fargate
from mrkit.errors import unusable_directory

TASK_PASSED_THROUGH = ("AWS_EC2_METADATA_DISABLED", "NO_PROXY", "no_proxy")  # to a process or a container
PROCESS_PASSED_THROUGH = ("PATH", "PYTHONPATH", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE")  # host paths


class _LocalTask:
    def __init__(self, arn, process, log_path, log_group, log_stream):
        self.arn, self.process, self.log_path = arn, process, log_path
        self.task_id = arn.rsplit("/", 1)[-1]
        self.log_group, self.log_stream = log_group, log_stream
        self.stop_sent = None  # monotonic time SIGTERM was sent
        self.kill_sent = False
        self.done = False  # exited, logs shipped, task stopped


class ProcessRunner:
    """Each task as a local process of this Python, in a fresh directory (a container's empty file system)."""

    def __init__(self, workdir, python=sys.executable):
        self.workdir, self.python = workdir, python

    def start(self, task_id, image, argv, env, log):
        directory = os.path.join(self.workdir, task_id)
        os.makedirs(directory)
        env = {
            "HOME": directory,
            "LANG": "C.UTF-8",
            "PYTHONUNBUFFERED": "1",
            **{k: os.environ[k] for k in PROCESS_PASSED_THROUGH if k in os.environ},
            **env,
        }
        # A session of its own: a Ctrl-C in the terminal reaches the launcher only, as with remote tasks.
        process = subprocess.Popen(
            [self.python, "-m", "mrkit", *argv[1:]],
            cwd=directory,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        with open(os.path.join(self.workdir, f"{task_id}.pid"), "w") as f:
            f.write(str(process.pid))
        return process

    def signal(self, task, signal_name):
        try:
            os.killpg(task.process.pid, getattr(signal, f"SIG{signal_name}"))
        except ProcessLookupError:
            pass
        return True

    def remove_all(self):
        """Nothing outlives its process group's kill."""


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LocalFargate(Fargate):
    """Runs each task the launcher starts as a local process or container; see the module docstring.

    `containers`: False for processes; True for containers with the first
    engine that works; "docker" or "podman" for that engine.
    """

    def __init__(self, aws, workdir=None, python=sys.executable, poll_s=0.2, stop_grace_s=5.0, containers=False):
        super().__init__(aws)
        self.workdir = os.path.abspath(workdir or tempfile.mkdtemp(prefix="mrkit-fargate-"))
        try:
            os.makedirs(self.workdir, exist_ok=True)
        except OSError as exc:  # a file in the way, a directory it may not write
            raise unusable_directory(exc, self.workdir, "--stand-in") from None
        self.poll_s, self.stop_grace_s = poll_s, stop_grace_s
        if containers:
            from mrkit.backends.ecs.containers import ContainerRunner

            self.runner = ContainerRunner(self.workdir, None if containers is True else containers)
        else:
            self.runner = ProcessRunner(self.workdir, python)
        self.local = {}  # task arn -> _LocalTask
        self._addresses = {}  # "task ip:port" -> "127.0.0.1:free port"
        self._definitions = {}
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._monitor = None
        self._cluster = None

    def start(self, stack, count, command, **launch):
        started = super().start(stack, count, command, **launch)
        self._cluster = stack.cluster_arn
        if self._monitor is None:
            self._monitor = threading.Thread(target=self._watch, daemon=True, name="mrkit-local-fargate")
            self._monitor.start()
        for task in self.aws.describe_tasks(stack.cluster_arn, [t["taskArn"] for t in started]):
            try:
                self._spawn(task)
            except (EcsError, OSError) as exc:  # ECS has them all as started: the launcher must stop them
                raise TaskLaunchError(
                    [{"arn": task["taskArn"], "reason": f"the stand-in cannot run it: {exc}"}], started
                ) from exc
        return started

    # ---- starting: what the task definition and overrides say -------------------------

    def _definition(self, arn):
        if arn not in self._definitions:
            definition = self.aws.task_definition(arn)
            if definition is None:
                raise EcsError(f"the stand-in cannot find task definition {arn}")
            self._definitions[arn] = definition
        return self._definitions[arn]

    def _spawn(self, task):
        definition = self._definition(task["taskDefinitionArn"])
        container = next(c for c in definition["containerDefinitions"] if c["name"] == CONTAINER)
        override = next((o for o in task.get("overrides", {}).get("containerOverrides", []) if o.get("name") == CONTAINER), {})
        argv = list(container.get("entryPoint") or []) + list(override.get("command") or container.get("command") or [])
        if not argv or argv[0] != "mrkit":
            raise EcsError(f"the stand-in runs the mrkit image's entry point only, not {argv[:1]}")
        argv = [argv[0], *self._local_network(task, argv[1:])]
        task_id = task["taskArn"].rsplit("/", 1)[-1]
        env = {
            **{k: os.environ[k] for k in TASK_PASSED_THROUGH if k in os.environ},
            **self.aws.credentials(),
            "AWS_DEFAULT_REGION": self.aws.region,
            "AWS_REGION": self.aws.region,
        }
        if self.aws.endpoint_url or os.environ.get("AWS_ENDPOINT_URL"):
            env["AWS_ENDPOINT_URL"] = self.aws.endpoint_url or os.environ["AWS_ENDPOINT_URL"]
        for item in container.get("environment", []) + override.get("environment", []):
            env[item["name"]] = item["value"]
        options = container.get("logConfiguration", {}).get("options", {})
        log_path = os.path.join(self.workdir, f"{task_id}.log")
        with open(log_path, "wb") as log:
            process = self.runner.start(task_id, container["image"], argv, env, log)
        stream = Aws.log_stream(options.get("awslogs-stream-prefix", "mrkit"), CONTAINER, task["taskArn"])
        with self._lock:
            self.local[task["taskArn"]] = _LocalTask(task["taskArn"], process, log_path, options.get("awslogs-group"), stream)

    def _local_network(self, task, args):
        """The arguments with the task's made-up address replaced by a loopback one."""
        args = list(args)
        ip = Aws.task_private_ip(task)
        for i, arg in enumerate(args[:-1]):
            if arg == "--listen":
                port = args[i + 1].rpartition(":")[2]
                local = f"127.0.0.1:{_free_port()}"
                self._addresses[f"{ip}:{port}"] = local
                args[i + 1] = local
        for i in range(len(args)):
            for remote, local in self._addresses.items():
                args[i] = args[i].replace(f"//{remote}", f"//{local}")
        return args

    # ---- playing ECS after the start ---------------------------------------------------

    def _watch(self):
        while not self._closed.wait(self.poll_s):
            try:
                self._step()
            except EcsError as exc:  # the endpoint hiccuped: say so, try again next round
                print(f"mrkit local fargate: {exc}", file=sys.stderr)

    def _reap(self):
        """Finish the tasks whose process has exited; returns those still running."""
        with self._lock:
            tasks = [t for t in self.local.values() if not t.done]
        running = []
        for task in tasks:
            code = task.process.poll()
            if code is None:
                running.append(task)
            else:
                self._finish(task, code)
        return running

    def _step(self):
        running = self._reap()
        if not running:
            return
        described = {t["taskArn"]: t for t in self.aws.describe_tasks(self._cluster, [t.arn for t in running])}
        for task in running:
            if described.get(task.arn, {}).get("desiredStatus") == "STOPPED":
                self._signal(task)

    def _signal(self, task):
        """SIGTERM once; SIGKILL when the grace period is over (ECS's StopTask)."""
        now = time.monotonic()
        if task.stop_sent is None:
            task.stop_sent = now
            self.runner.signal(task, "TERM")
        elif now - task.stop_sent >= self.stop_grace_s and not task.kill_sent:
            task.kill_sent = self.runner.signal(task, "KILL")

    def _finish(self, task, code):
        """Ship the output to CloudWatch, then mark the task stopped (unless the API already did)."""
        with self._lock:  # the monitor and close() may both see the exit: finish once
            if task.done:
                return
            task.done = True
        exit_code = 128 - code if code < 0 else code  # killed by signal N: 128+N, as docker reports it
        if task.log_group:
            with open(task.log_path, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
            if lines:
                self.aws.put_log_lines(task.log_group, task.log_stream, lines, int(time.time() * 1000))
        [state] = self.aws.describe_tasks(self._cluster, [task.arn])
        if state.get("desiredStatus") != "STOPPED":  # else the API stopped it, with its own reason
            self.aws.stop_task(self._cluster, task.arn, f"Essential container in task exited (exit code {exit_code})")

    def close(self):
        """Stop what still runs (the launcher has asked ECS to stop it all) and ship every log."""
        deadline = time.monotonic() + self.stop_grace_s + 10.0  # a killed container's engine needs a moment to exit
        while time.monotonic() < deadline:
            running = self._reap()
            if not running:
                break
            for task in running:
                self._signal(task)
            time.sleep(0.05)
        self._closed.set()
        if self._monitor is not None:
            self._monitor.join()
        self.runner.remove_all()

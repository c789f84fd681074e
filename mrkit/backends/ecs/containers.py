"""The stand-in's tasks as containers: `mrkit ecs run --stand-in DIR --containers`.

`ContainerRunner` starts a task as a container of the image its task
definition names, with docker or podman (`mrkit.backends.ecs.engine`): the
definition's entry point, the overrides' command, the task's environment and
credentials, on the host's network (`--network host`, so every address stays
on the loopback, as the stand-in's rewritten `--listen` addresses need). The
engine's `run` stays attached: its exit status is the container's exit code
(137 after SIGKILL, as ECS reports it) and its output is the task's log, so
the stand-in's monitor treats it as it treats a task's process.

The image must be in the engine's local store (`mrkit ecs image --no-push`
builds and tags it under the name the task definition gives): the runner
never pulls. Every container is started with `--rm`, named `mrkit-<task id>`
and labelled `mrkit.stand-in=<the stand-in's directory>`; `remove_all` takes
away whatever a crash or a kill left behind with that label, and runs on every
way out (the stand-in's close, and at interpreter exit).
"""

import atexit
import os
import subprocess

from mrkit.backends.ecs import EcsError
from mrkit.backends.ecs.engine import choose_engine

LABEL = "mrkit.stand-in"  # value: the stand-in's directory; `ps --filter label=...` finds one run's containers
NAME_PREFIX = "mrkit-"


class ContainerRunner:
    """Starts, signals and removes the stand-in's task containers with one engine (default: the first that works)."""

    def __init__(self, workdir, engine=None):
        self.engine = engine if engine is not None and not isinstance(engine, str) else choose_engine(engine)
        self.label = f"{LABEL}={workdir}"
        self._images = set()  # images known to be in the local store
        atexit.register(self.remove_all)

    def _cli(self, *args, timeout=60):
        return subprocess.run(
            [self.engine.name, *args], capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
        )

    def _check_image(self, image):
        if image in self._images:
            return
        if self._cli("image", "inspect", image).returncode != 0:
            raise EcsError(
                f"image {image} (the task definition's) is not in {self.engine.name}'s local store: "
                f"build it with `mrkit ecs image --builder {self.engine.name} --no-push` "
                "(the stand-in never pulls)"
            )
        self._images.add(image)

    def start(self, task_id, image, argv, env, log):
        """The task's container, started attached: a Popen whose exit status is the container's exit code.

        `argv` is the entry point plus the command; `env` goes in by name only
        (`--env NAME`, the value from the engine's environment), so credentials
        never appear on a command line.
        """
        self._check_image(image)
        options = [
            "--rm",
            "--name",
            NAME_PREFIX + task_id,
            "--label",
            self.label,
            "--network",
            "host",
            "--pull",
            "never",
            "--entrypoint",
            argv[0],
        ]
        for name in env:
            options += ["--env", name]
        command = [self.engine.name, "run", *options, image, *argv[1:]]
        # A session of its own: a Ctrl-C in the terminal reaches the launcher only, as with remote tasks.
        return subprocess.Popen(
            command,
            env={**_engine_environment(), **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    def signal(self, task, signal_name):
        """Send the task's container SIGTERM or SIGKILL (`signal_name` "TERM" or "KILL"); one already gone is fine.

        False when the engine did not answer (the stand-in tries a SIGKILL again).
        """
        try:
            self._cli("kill", "--signal", signal_name, NAME_PREFIX + task.task_id)
        except subprocess.TimeoutExpired:
            return False
        return True

    def left(self):
        """The ids of this stand-in's containers that still exist, running or not."""
        listed = self._cli("ps", "--all", "--quiet", "--filter", f"label={self.label}")
        return listed.stdout.split()

    def remove_all(self):
        """Remove every container of this stand-in (normally none: each is started with --rm); once is enough."""
        try:
            left = self.left()
            if left:
                self._cli("rm", "--force", *left, timeout=120)
        except (OSError, subprocess.TimeoutExpired):
            return  # the engine does not answer: the interpreter's exit tries again
        atexit.unregister(self.remove_all)  # a sweep makes a runner per job: no engine call per job at exit


def _engine_environment():
    """What the engine's own CLI needs from this process's environment (its paths, its configuration)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}

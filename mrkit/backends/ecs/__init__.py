"""Run mrkit on AWS ECS Fargate, with S3 as the job's shared storage.

Choose this backend when a job should run on many machines rather than on
local processes. It is split by concern so each part can be tested alone:

- `config`    -- `EcsConfig`: settings from defaults <- `params/ecs.yaml` <- overrides,
                 validated before anything touches AWS.
- `aws`       -- `Aws`: every boto3 call this backend makes, in one place (the seam
                 a test or a local stand-in replaces or points at moto).
- `bootstrap` -- `up` / `down` / `describe`: the tagged stack of AWS resources a
                 job needs (bucket, ECR repository, cluster, log group, roles,
                 security group, task definition).
- `engine`    -- docker or podman: which one works here, and where they differ.
- `image`     -- the engine commands that build the image and push it to ECR.
- `launcher`  -- `Launcher`: one job's tasks from start to cleanup (`mrkit ecs run`).
- `fargate`   -- `Fargate`: starting tasks with RunTask, the launcher's default.
- `standin`   -- `LocalFargate`: the same tasks as local processes (no AWS account), or
                 with `containers`' runner as containers of the definition's image.
- `run`       -- `run_on_ecs` / `run_job`: chooses the task starter and runs a job;
                 the sweeps' "ecs" backend (`mrkit.backends.BACKENDS`).

Importing this package is cheap: boto3 is imported by `aws` only, and the
runtime never imports anything from here. The exceptions below are all
`MrkitError`s, so the CLI prints them as one line and exits 2.
"""

from mrkit.errors import MrkitError

TAG_KEY = "mrkit:stack"  # every resource `up` makes carries {TAG_KEY: <stack name>}
ROLE_TAG_KEY = "mrkit:role"  # every task a job starts carries {ROLE_TAG_KEY: "master" | "worker"}


class EcsError(MrkitError):
    """Something about the ECS backend the user can fix; the message says how."""


class ConfigError(EcsError):
    """A setting in `params/ecs.yaml` or on the command line is not valid."""


class AwsError(EcsError):
    """An AWS call failed; `operation` and `code` say which and why."""

    def __init__(self, operation, code, message):
        self.operation, self.code, self.detail = operation, code, message
        super().__init__(f"{operation}: {code}: {message}" if code else f"{operation}: {message}")

    def __reduce__(self):
        # Exception pickles as cls(*self.args), i.e. with the one formatted message: rebuild from the fields
        # instead, so the error survives a trip between processes (multiprocess, papermill, pytest-xdist).
        return type(self), (self.operation, self.code, self.detail), self.__dict__


class StackConflict(EcsError):
    """A resource `up` would make already exists but was not made by `up` for this stack."""


class StackNotReady(EcsError):
    """The stack a command needs is missing or incomplete (run `mrkit ecs up`)."""


class ImageError(EcsError):
    """The container image cannot be built or pushed (no docker, no engine, a failed step)."""


class TaskLaunchError(AwsError):
    """RunTask reported failures; `started` holds the tasks that did start, so they can be stopped."""

    def __init__(self, failures, started):
        self.failures, self.started = failures, started
        reasons = "; ".join(f"{f.get('reason', '?')}" + (f" ({f['detail']})" if f.get("detail") else "") for f in failures[:3])
        more = f" and {len(failures) - 3} more" if len(failures) > 3 else ""
        super().__init__("ecs.RunTask", "failures", f"{len(failures)} task(s) not started: {reasons}{more}")

    def __reduce__(self):
        return type(self), (self.failures, self.started), self.__dict__

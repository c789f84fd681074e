"""Settings of the ECS backend: `EcsConfig`, filled from defaults <- YAML <- overrides.

Use `load_config()` in every `mrkit ecs ...` command: it reads
`params/ecs.yaml` (when present, or the file given), applies command-line
overrides, and validates everything up front, so a wrong CPU/memory pair or
bucket name is one line on stderr before any AWS call is made. The names of
the stack's resources are derived here too, so `up`, `down`, the launcher and
the tests agree on them.

Two settings depend on the AWS account and are filled later by
`bootstrap.resolve`: an empty `bucket` becomes `mrkit-<stack>-<account>-<region>`
and empty `subnets` become the default VPC's subnets.
"""

import dataclasses
import difflib
import ipaddress
import os
import re
from dataclasses import dataclass, field

from mrkit.backends.ecs import TAG_KEY, ConfigError

DEFAULT_PATH = os.path.join("params", "ecs.yaml")
CONTAINER = "mrkit"  # the one container of the task definition; overrides name it

# Fargate's task sizes (CPU units -> memory MiB), from the AWS docs "Task CPU and memory".
# 8192 and 16384 CPU need Linux platform version 1.4.0 or later (the default).
FARGATE_SIZES = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4096 + 1, 1024)),
    1024: tuple(range(2048, 8192 + 1, 1024)),
    2048: tuple(range(4096, 16384 + 1, 1024)),
    4096: tuple(range(8192, 30720 + 1, 1024)),
    8192: tuple(range(16384, 61440 + 1, 4096)),
    16384: tuple(range(32768, 122880 + 1, 8192)),
}
# CloudWatch Logs accepts only these retention periods (days).
RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)
ARCHITECTURES = {"X86_64": "linux/amd64", "ARM64": "linux/arm64"}  # -> docker build --platform

_STACK = re.compile(r"^[a-z][a-z0-9-]{0,23}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_SUBNET = re.compile(r"^subnet-[0-9a-f]{8,17}$")


@dataclass(frozen=True)
class EcsConfig:
    """Everything `mrkit ecs` needs to know; see params/ecs.yaml for what each key means."""

    stack: str = "default"  # names and tags every resource: mrkit-<stack>...
    region: str = "us-east-1"  # load_config: $AWS_REGION, $AWS_DEFAULT_REGION, else this
    bucket: str | None = None  # None: mrkit-<stack>-<account>-<region>
    subnets: tuple = ()  # empty: every subnet of the default VPC
    cpu: int = 1024  # Fargate CPU units per task
    memory: int = 2048  # MiB per task; must fit cpu (FARGATE_SIZES)
    image: str | None = None  # None: the stack's ECR repository, tag latest
    cpu_architecture: str = "X86_64"  # or ARM64; also the docker build --platform
    master_port: int = 8765  # the master's RPC port, open only to the stack's own tasks
    assign_public_ip: bool = True  # default-VPC subnets have no NAT: tasks need a public IP to pull
    log_retention_days: int = 7
    tags: dict = field(default_factory=dict)  # extra tags on every resource

    # ---- names derived from the stack (one place, so up/down/launcher agree) ----
    @property
    def name(self):
        return f"mrkit-{self.stack}"

    cluster = repository = family = name  # the same name serves all three (each is its own namespace)

    @property
    def log_group(self):
        return f"/ecs/{self.name}"

    @property
    def execution_role(self):
        return f"{self.name}-execution"

    @property
    def task_role(self):
        return f"{self.name}-task"

    @property
    def security_group(self):
        return f"{self.name}-tasks"

    @property
    def stack_tags(self):
        """The tags every resource gets; `down` deletes only what carries TAG_KEY=stack."""
        return {**self.tags, TAG_KEY: self.stack}

    @property
    def platform(self):
        return ARCHITECTURES[self.cpu_architecture]

    def default_bucket(self, account_id):
        return f"{self.name}-{account_id}-{self.region}"


KEYS = tuple(f.name for f in dataclasses.fields(EcsConfig))


def load_config(path=None, overrides=None, environ=None):
    """Defaults <- YAML file <- overrides (None values ignored), validated; returns an EcsConfig.

    `path=None` reads params/ecs.yaml when it exists in the cwd; a path that
    is given must exist. Raises ConfigError with a one-line message naming
    where the bad value came from (the file, the command line, $AWS_REGION).
    """
    environ = os.environ if environ is None else environ
    values, origin = {}, {}
    for var in ("AWS_DEFAULT_REGION", "AWS_REGION"):  # the later wins, as in boto3
        if environ.get(var):
            values["region"], origin["region"] = environ[var], f"${var}"
    source = str(path or DEFAULT_PATH)
    if path is not None or os.path.exists(DEFAULT_PATH):
        for key, value in _read_yaml(source).items():
            _check_key(key, source)
            values[key], origin[key] = value, source
    for key, value in (overrides or {}).items():
        if value is not None:
            _check_key(key, "command line")
            values[key], origin[key] = value, "command line"
    return make_config(values, source=source, origin=origin)


def make_config(values, source="settings", origin=None):
    """An EcsConfig from a dict of settings, converted and validated (ConfigError on the first problem).

    Errors start with `origin[key]` (where that value came from) or `source`.
    """
    origin = origin or {}
    for key in values:
        _check_key(key, source)
    kwargs = {}
    for key, value in values.items():
        try:
            kwargs[key] = _CONVERT.get(key, _text)(key, value)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{origin.get(key, source)}: {exc}") from None
    config = EcsConfig(**kwargs)
    found = _problem(config)
    if found:
        key, problem = found
        raise ConfigError(f"{origin.get(key, source)}: {problem}")
    return config


def _problem(config):
    """(key, problem) for the first invalid setting, or None."""
    if not _STACK.match(config.stack):
        return "stack", (
            f"stack {config.stack!r} must be 1-24 characters of lowercase letters, digits and '-', starting with a letter"
        )
    if not _REGION.match(config.region):
        return "region", f"region {config.region!r} is not an AWS region name (e.g. us-east-1, eu-west-3)"
    if config.cpu not in FARGATE_SIZES:
        return "cpu", f"cpu {config.cpu} is not a Fargate size; use one of {', '.join(map(str, FARGATE_SIZES))}"
    if config.memory not in FARGATE_SIZES[config.cpu]:
        return "memory", (
            f"memory {config.memory} MiB does not fit cpu {config.cpu} on Fargate; "
            f"valid memory for cpu {config.cpu}: {_values(FARGATE_SIZES[config.cpu])}"
        )
    if config.bucket is not None and (problem := bucket_problem(config.bucket)):
        return "bucket", problem
    for subnet in config.subnets:
        if not _SUBNET.match(subnet):
            return "subnets", f"subnet {subnet!r} is not a subnet id (subnet-0123abcd...)"
    if config.image is not None and (not config.image or any(c.isspace() for c in config.image)):
        return "image", (f"image {config.image!r} is not an image reference (e.g. 1234.dkr.ecr.us-east-1.amazonaws.com/repo:tag)")
    if config.cpu_architecture not in ARCHITECTURES:
        return "cpu_architecture", (f"cpu_architecture {config.cpu_architecture!r} must be one of {', '.join(ARCHITECTURES)}")
    if not 1 <= config.master_port <= 65535:
        return "master_port", f"master_port {config.master_port} must be between 1 and 65535"
    if config.log_retention_days not in RETENTION_DAYS:
        return "log_retention_days", (
            f"log_retention_days {config.log_retention_days} is not one CloudWatch accepts: {', '.join(map(str, RETENTION_DAYS))}"
        )
    return None


def bucket_problem(name):
    """Why `name` is not a valid S3 bucket name (general purpose buckets), or None."""
    if not 3 <= len(name) <= 63:
        return f"bucket {name!r} must be 3-63 characters long"
    if not _BUCKET.match(name):
        return (
            f"bucket {name!r} may hold only lowercase letters, digits, '.' and '-', and must start and end with a letter or digit"
        )
    if ".." in name or ".-" in name or "-." in name:
        return f"bucket {name!r} must not have '..', '.-' or '-.'"
    try:
        ipaddress.IPv4Address(name)
        return f"bucket {name!r} must not look like an IP address"
    except ValueError:
        pass
    for prefix in ("xn--", "sthree-", "amzn-s3-demo-"):
        if name.startswith(prefix):
            return f"bucket {name!r} must not start with {prefix!r} (reserved by S3)"
    for suffix in ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"):
        if name.endswith(suffix):
            return f"bucket {name!r} must not end with {suffix!r} (reserved by S3)"
    return None


# ---- reading and converting --------------------------------------------------


def _read_yaml(path):
    import yaml  # only the CLI's config path needs it

    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such settings file") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}: not valid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of settings (key: value), got {type(data).__name__}")
    return data


def _check_key(key, source):
    if key not in KEYS:
        close = difflib.get_close_matches(str(key), KEYS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f" (known: {', '.join(KEYS)})"
        raise ConfigError(f"{source}: unknown key {key!r}{hint}")


def _values(options):
    # Long ranges read better elided: "8192, 9216, ..., 30720 (steps of 1024)".
    if len(options) <= 8:
        return ", ".join(map(str, options))
    return f"{options[0]}, {options[1]}, ..., {options[-1]} (steps of {options[1] - options[0]})"


def _int(key, value):
    if isinstance(value, bool) or not (isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit())):
        raise ValueError(f"{key} must be a whole number, got {value!r}")
    return int(value)


def _bool(key, value):
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "yes", "1", "false", "no", "0"):
        return value.lower() in ("true", "yes", "1")
    raise ValueError(f"{key} must be true or false, got {value!r}")


def _text(key, value):
    if value is None and key in ("bucket", "image"):
        return None
    if not isinstance(value, str):
        raise ValueError(f"{key} must be a string, got {value!r}")
    return value.strip()


def _subnets(key, value):
    if value is None:
        return ()
    if isinstance(value, str):  # "subnet-a,subnet-b" from a command line
        value = [part for part in value.split(",") if part.strip()]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{key} must be a list of subnet ids, got {value!r}")
    return tuple(v.strip() for v in value)


def _tags(key, value):
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"{key} must be a mapping of tag names to values, got {value!r}")
    if TAG_KEY in value:
        raise ValueError(f"{key} must not set {TAG_KEY!r}: it is the stack's own tag")
    return {str(k): str(v) for k, v in value.items()}


_CONVERT = {
    "cpu": _int,
    "memory": _int,
    "master_port": _int,
    "log_retention_days": _int,
    "assign_public_ip": _bool,
    "subnets": _subnets,
    "tags": _tags,
}

"""EcsConfig: defaults <- YAML <- overrides, and every mistake as one line before any AWS call."""

import pathlib

import pytest

from mrkit.backends.ecs import ConfigError
from mrkit.backends.ecs.config import FARGATE_SIZES, EcsConfig, bucket_problem, load_config, make_config

ROOT = pathlib.Path(__file__).resolve().parents[3]


def error(values):
    with pytest.raises(ConfigError) as err:
        make_config(values, source="ecs.yaml")
    message = str(err.value)
    assert "\n" not in message and message.startswith("ecs.yaml: ")
    return message


def test_defaults_and_derived_names():
    config = EcsConfig()
    assert (config.cpu, config.memory, config.master_port) == (1024, 2048, 8765)
    assert (config.cluster, config.repository, config.family) == ("mrkit-default",) * 3
    assert config.log_group == "/ecs/mrkit-default"
    assert (config.execution_role, config.task_role) == ("mrkit-default-execution", "mrkit-default-task")
    assert config.stack_tags == {"mrkit:stack": "default"}
    assert config.default_bucket("123456789012") == "mrkit-default-123456789012-us-east-1"
    assert config.platform == "linux/amd64"


def test_yaml_then_overrides_then_validation(tmp_path):
    path = tmp_path / "ecs.yaml"
    path.write_text("stack: lab\ncpu: 2048\nmemory: 4096\nsubnets: [subnet-0123456789abcdef0]\n")
    config = load_config(path, {"memory": "8192", "image": None}, environ={"AWS_DEFAULT_REGION": "eu-west-3"})
    assert (config.stack, config.cpu, config.memory, config.region) == ("lab", 2048, 8192, "eu-west-3")
    assert config.subnets == ("subnet-0123456789abcdef0",) and config.image is None
    # The file beats the environment; $AWS_REGION beats $AWS_DEFAULT_REGION.
    path.write_text("region: ap-south-1\n")
    assert load_config(path, environ={"AWS_REGION": "us-west-2"}).region == "ap-south-1"
    path.write_text("")
    assert load_config(path, environ={"AWS_REGION": "us-west-2", "AWS_DEFAULT_REGION": "x"}).region == "us-west-2"


def test_the_shipped_params_file_is_valid(monkeypatch):
    monkeypatch.chdir(ROOT)
    config = load_config(environ={})  # params/ecs.yaml in the cwd
    assert config == EcsConfig()


def test_no_file_means_defaults(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    assert load_config(environ={}) == EcsConfig()
    with pytest.raises(ConfigError, match="no such settings file"):
        load_config(tmp_path / "absent.yaml")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("cpus: 512\n", "unknown key 'cpus'; did you mean 'cpu'?"),
        ("- cpu\n", "expected a mapping of settings"),
        ("cpu: [1\n", "not valid YAML at line 2"),
    ],
)
def test_file_mistakes(tmp_path, text, expected):
    path = tmp_path / "ecs.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=expected.replace("?", r"\?").replace("[", r"\[")):
        load_config(path, environ={})


def test_an_unknown_override_is_refused():
    with pytest.raises(ConfigError, match="command line: unknown key 'zone'"):
        load_config(None, {"zone": "a"}, environ={})


def test_fargate_cpu_memory_pairs():
    assert FARGATE_SIZES[256] == (512, 1024, 2048)
    assert FARGATE_SIZES[512] == (1024, 2048, 3072, 4096)
    assert FARGATE_SIZES[4096][0] == 8192 and FARGATE_SIZES[4096][-1] == 30720
    assert FARGATE_SIZES[8192] == tuple(range(16384, 61441, 4096))
    assert FARGATE_SIZES[16384] == tuple(range(32768, 122881, 8192))
    for cpu, memories in FARGATE_SIZES.items():
        for memory in memories:
            make_config({"cpu": cpu, "memory": memory})
    assert error({"cpu": 1000}) == "ecs.yaml: cpu 1000 is not a Fargate size; use one of 256, 512, 1024, 2048, 4096, 8192, 16384"
    assert error({"cpu": 256, "memory": 4096}) == (
        "ecs.yaml: memory 4096 MiB does not fit cpu 256 on Fargate; valid memory for cpu 256: 512, 1024, 2048"
    )
    assert error({"cpu": 4096, "memory": 4096}).endswith("valid memory for cpu 4096: 8192, 9216, ..., 30720 (steps of 1024)")
    assert error({"cpu": 1024, "memory": 2500}).endswith("2048, 3072, 4096, 5120, 6144, 7168, 8192")


@pytest.mark.parametrize(
    "name, expected",
    [
        ("ab", "3-63 characters"),
        ("a" * 64, "3-63 characters"),
        ("My-Bucket", "lowercase letters"),
        ("-bucket", "start and end"),
        ("bucket-", "start and end"),
        ("my..bucket", "'..'"),
        ("my_bucket", "lowercase"),
        ("192.168.5.4", "IP address"),
        ("xn--bucket", "'xn--'"),
        ("sthree-bucket", "'sthree-'"),
        ("bucket-s3alias", "'-s3alias'"),
        ("bucket--ol-s3", "'--ol-s3'"),
    ],
)
def test_bucket_names(name, expected):
    assert expected in error({"bucket": name})


def test_valid_bucket_names():
    for name in ("abc", "my.bucket-2", "a" * 63, "mrkit-default-123456789012-ap-southeast-2"):
        assert bucket_problem(name) is None


@pytest.mark.parametrize(
    "values, expected",
    [
        ({"region": "us-east"}, "region 'us-east' is not an AWS region name"),
        ({"region": "US-EAST-1"}, "is not an AWS region name"),
        ({"stack": "Lab"}, "stack 'Lab' must be 1-24 characters"),
        ({"stack": "a" * 25}, "must be 1-24 characters"),
        ({"subnets": ["sn-1"]}, "subnet 'sn-1' is not a subnet id"),
        ({"subnets": "subnet-0123abcd,nope"}, "subnet 'nope'"),
        ({"cpu": "lots"}, "cpu must be a whole number, got 'lots'"),
        ({"cpu": True}, "cpu must be a whole number"),
        ({"master_port": 70000}, "master_port 70000 must be between 1 and 65535"),
        ({"assign_public_ip": "maybe"}, "assign_public_ip must be true or false"),
        ({"cpu_architecture": "arm"}, "cpu_architecture 'arm' must be one of X86_64, ARM64"),
        ({"log_retention_days": 10}, "log_retention_days 10 is not one CloudWatch accepts"),
        ({"image": "has space:latest"}, "is not an image reference"),
        ({"tags": {"mrkit:stack": "x"}}, "tags must not set 'mrkit:stack'"),
        ({"bucket": 12}, "bucket must be a string"),
    ],
)
def test_value_mistakes(values, expected):
    assert expected in error(values)


def test_command_line_strings_convert():
    config = make_config(
        {
            "cpu": "512",
            "memory": "1024",
            "subnets": "subnet-0123abcd, subnet-4567ef01",
            "assign_public_ip": "false",
            "cpu_architecture": "ARM64",
        }
    )
    assert (config.cpu, config.memory, config.assign_public_ip) == (512, 1024, False)
    assert config.subnets == ("subnet-0123abcd", "subnet-4567ef01")
    assert config.platform == "linux/arm64"


def test_errors_name_where_the_bad_value_came_from(tmp_path):
    path = tmp_path / "ecs.yaml"
    path.write_text("cpu: 256\nmemory: 512\n")
    with pytest.raises(ConfigError, match=r"^command line: memory 8192 MiB does not fit cpu 256"):
        load_config(path, {"memory": 8192}, environ={})
    with pytest.raises(ConfigError, match=r"^\$AWS_REGION: region 'moon' is not"):
        load_config(path, environ={"AWS_REGION": "moon"})
    with pytest.raises(ConfigError, match=rf"^{path}: cpu must be a whole number"):
        path.write_text("cpu: lots\n")
        load_config(path, environ={})

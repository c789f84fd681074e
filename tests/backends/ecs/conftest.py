"""moto in server mode for the ECS backend tests: one server on 127.0.0.1, fresh state per test.

No AWS account, no Docker engine and no network beyond the loopback: boto3
talks to moto with dummy credentials, and every AWS variable of the user's
environment is removed first, so nothing here can reach a real account.

moto 5.2.5 needs some help to behave like ECS (see the platform notes):
- AWS managed policies (AmazonECSTaskExecutionRolePolicy) exist only with
  MOTO_IAM_LOAD_MANAGED_POLICIES=true in the *server's* environment; the
  server runs in this process, so os.environ is that environment;
- tasks advance one state per describe_tasks unless the ecs::task state
  machine is pinned to manual progression;
- run_task fails in a VPC without DNS hostnames (the default VPC has them;
  they are enabled anyway, as on a user's custom VPC).
"""

import json
import logging
import os
import urllib.request

import pytest

REGION = "us-east-1"
MANAGED_POLICIES = "MOTO_IAM_LOAD_MANAGED_POLICIES"


def _post(url, body=None):
    # No proxy, whatever the environment says: the server is on the loopback.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    data = json.dumps(body).encode() if body is not None else None
    opener.open(urllib.request.Request(url, data=data, method="POST"), timeout=30).close()


def reset_moto(endpoint, managed_policies=True):
    """Forget everything moto stores, then pin ECS tasks to manual state changes.

    `managed_policies=False` is for tests that make no IAM role: they skip
    loading AWS's managed policies, about 1 s after every reset.
    """
    # A reset first rebuilds every live IAM backend -- re-reading ~1,300 managed policies per
    # partition, about 2 s -- and then throws it away; the first request after the reset builds
    # fresh ones, reading the variable again. So the rebuild-to-discard runs without the policies.
    os.environ[MANAGED_POLICIES] = "false"
    _post(f"{endpoint}/moto-api/reset")
    os.environ[MANAGED_POLICIES] = "true" if managed_policies else "false"
    _post(
        f"{endpoint}/moto-api/state-manager/set-transition",
        {"model_name": "ecs::task", "transition": {"progression": "manual", "times": 1_000_000}},
    )


@pytest.fixture(scope="package")
def moto_endpoint():
    """The URL of a moto server for the ECS tests, with AWS variables replaced by dummies."""
    moto_server = pytest.importorskip("moto.server", reason="moto[s3] is not installed (a dev dependency)")
    with pytest.MonkeyPatch.context() as mp:
        for var in list(os.environ):
            if var.startswith("AWS_"):
                mp.delenv(var)
        mp.setenv(MANAGED_POLICIES, "true")  # before the server starts: IAM reads it when built
        mp.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")  # ~1 s per reset, and no test starts instances
        mp.setenv("AWS_ACCESS_KEY_ID", "testing")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        mp.setenv("AWS_DEFAULT_REGION", REGION)
        mp.setenv("AWS_CONFIG_FILE", os.devnull)
        mp.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
        mp.setenv("AWS_EC2_METADATA_DISABLED", "true")
        mp.setenv("NO_PROXY", "127.0.0.1,localhost")
        mp.setenv("no_proxy", "127.0.0.1,localhost")
        # verbose=False does not silence werkzeug's per-request log lines.
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        # Any client built without an explicit endpoint goes to moto too, never to AWS.
        mp.setenv("AWS_ENDPOINT_URL", endpoint)
        try:
            yield endpoint
        finally:
            reset_moto(endpoint, managed_policies=False)  # leave no state (or policies) for other folders
            server.stop()


_SESSION = []
EXECUTION_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"


def _has_managed_policies(aws):
    from botocore.exceptions import ClientError

    try:
        aws.client("iam").get_policy(PolicyArn=EXECUTION_POLICY)
        return True
    except ClientError:
        return False


def fresh_aws(endpoint, managed_policies=True):
    """Reset moto and return an Aws on it, with DNS hostnames on the default VPC."""
    import boto3

    from mrkit.backends.ecs.aws import Aws

    # One boto3 session for all tests: it caches the service models (EC2's alone takes ~0.4 s to load).
    if not _SESSION:
        _SESSION.append(boto3.session.Session(region_name=REGION))
    aws = Aws(REGION, endpoint_url=endpoint, session=_SESSION[0])
    for _ in range(3):
        reset_moto(endpoint, managed_policies)
        # moto builds IAM on the first request after a reset, reading the variable then; a request
        # that slipped in while it said "false" (a previous test's straggling thread) leaves IAM
        # without the managed policies. Seen once in CI: ask, and reset again if so.
        if not managed_policies or _has_managed_policies(aws):
            break
    ec2 = aws.client("ec2")
    vpc = aws.default_vpc()
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    aws.calls.clear()
    return aws


@pytest.fixture(scope="package")
def new_aws(moto_endpoint):
    """A function that resets moto and returns a new Aws, for fixtures wider than one test."""
    return lambda: fresh_aws(moto_endpoint)


@pytest.fixture
def aws(moto_endpoint):
    """An `Aws` on a freshly reset moto server."""
    return fresh_aws(moto_endpoint)


@pytest.fixture
def aws_no_iam(moto_endpoint):
    """An `Aws` on a freshly reset moto server without AWS managed policies (faster; no role is made)."""
    return fresh_aws(moto_endpoint, managed_policies=False)


@pytest.fixture
def config():
    """The settings of a test stack, as params/ecs.yaml would give them."""
    from mrkit.backends.ecs.config import make_config

    return make_config({"stack": "t1", "region": REGION, "cpu": 512, "memory": 1024}, source="test")

"""What only S3Storage does: endpoints, keys under a prefix, input upload, errors, URLs."""

import os
import subprocess
import sys

import pytest

from mrkit.errors import MrkitError, UsageError
from mrkit.storage import open_storage, upload_inputs
from mrkit.storage.base import AccessDenied, BucketNotFound, ObjectNotFound, StorageError
from mrkit.storage.local import LocalStorage

BUCKET, PREFIX = "mrkit-test", "job/"  # what conftest's s3_storage uses

pytest.importorskip("boto3", reason="boto3 is not installed (the aws extra)")
from mrkit.storage.s3 import S3Storage, input_key  # noqa: E402


def _keys(client, prefix=""):
    return sorted(o["Key"] for o in client.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", ()))


def _count_puts(storage):
    """A list that grows by one per object upload (PutObject or a multipart start)."""
    puts = []
    for op in ("PutObject", "CreateMultipartUpload"):
        storage.client.meta.events.register(f"before-parameter-build.s3.{op}", lambda params, **kw: puts.append(params["Key"]))
    return puts


# ---- keys, URLs, endpoint -----------------------------------------------------


def test_names_are_keys_under_the_prefix(s3_storage, s3_client):
    s3_storage.write_bytes("mr-out-0", b"a 1\n")
    with s3_storage.atomic_writer("inputs/x.txt") as f:
        f.write(b"x")
    assert _keys(s3_client) == ["job/inputs/x.txt", "job/mr-out-0"]
    assert s3_storage.path("mr-out-0") == f"s3://{BUCKET}/job/mr-out-0"
    assert s3_storage.url == f"s3://{BUCKET}/job/"


@pytest.mark.parametrize("prefix,expected", [("", ""), ("/", ""), ("a", "a/"), ("/a/b/", "a/b/"), ("a/b", "a/b/")])
def test_prefix_is_normalised(prefix, expected):
    assert S3Storage(BUCKET, prefix).prefix == expected


def test_no_prefix_lists_the_whole_bucket(s3_client, moto_endpoint):
    storage = S3Storage(BUCKET, endpoint_url=moto_endpoint)
    storage.write_bytes("top", b"1")
    storage.write_bytes("dir/inner", b"2")
    assert storage.list() == ["dir/inner", "top"]


def test_keys_under_a_name_are_no_directory_in_its_way(s3_storage):
    with s3_storage.atomic_writer("mr-out-1/notes") as f:
        f.write(b"kept\n")
    assert s3_storage.directories("mr-") == []
    with s3_storage.atomic_writer("mr-out-1") as f:
        f.write(b"written\n")
    assert sorted(s3_storage.list("mr-")) == ["mr-out-1", "mr-out-1/notes"]


def test_an_s3_url_as_a_name_stands(s3_storage, s3_client):
    s3_client.create_bucket(Bucket="shared-inputs")
    s3_client.put_object(Bucket="shared-inputs", Key="books/a.txt", Body=b"call me ishmael\n")
    url = "s3://shared-inputs/books/a.txt"
    assert s3_storage.size(url) == 16
    assert s3_storage.read_range(url, 5, 7) == b"me"
    assert s3_storage.path(url) == url


def test_a_local_path_is_refused_with_advice(s3_storage):
    with pytest.raises(StorageError, match="cannot read the local path '/data/a.txt': upload it first"):
        s3_storage.read_range("/data/a.txt", 0, 10)


def test_listing_pages_through_many_objects(s3_storage, s3_client):
    for i in range(12):
        s3_client.put_object(Bucket=BUCKET, Key=f"{PREFIX}mr-{i}-0", Body=b"")
    s3_storage.client.meta.events.register(
        "before-parameter-build.s3.ListObjectsV2", lambda params, **kw: params.update(MaxKeys=5)
    )
    assert s3_storage.list("mr-") == sorted(f"mr-{i}-0" for i in range(12))


def test_endpoint_from_the_environment(s3_client, moto_endpoint, monkeypatch):
    # What a worker subprocess or an ECS task sees: no endpoint argument at all.
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    storage = open_storage(f"s3://{BUCKET}/env-job")
    storage.write_bytes("mr-out-0", b"via env\n")
    assert _keys(s3_client) == ["env-job/mr-out-0"]
    assert storage.read_range("mr-out-0", 0, 100) == b"via env\n"


def test_endpoint_argument_wins(s3_client, moto_endpoint, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")  # nothing listens there
    storage = S3Storage(BUCKET, "p", endpoint_url=moto_endpoint)
    storage.write_bytes("k", b"v")
    assert _keys(s3_client) == ["p/k"]


def test_a_given_client_is_used(s3_client):
    storage = S3Storage(BUCKET, "given", client=s3_client)
    assert storage.client is s3_client
    storage.write_bytes("k", b"v")
    assert _keys(s3_client) == ["given/k"]


def test_open_lines_streams_rather_than_downloading_whole(s3_storage):
    s3_storage.write_bytes("big", b"first line\n" + b"y" * (8 << 20) + b"\nlast\n")
    with s3_storage.open_lines("big") as f:
        assert f.readline() == "first line\n"
        assert f.buffer.raw.bytes_read <= 2 << 20
        assert f.readline() == "y" * (8 << 20) + "\n"
        assert f.readline() == "last\n"


def test_atomic_writer_uploads_once_and_only_on_success(s3_storage):
    puts = _count_puts(s3_storage)
    with pytest.raises(ValueError):
        with s3_storage.atomic_writer("mr-out-0") as f:
            f.write(b"half")
            raise ValueError
    assert puts == []
    with s3_storage.atomic_writer("mr-out-0") as f:
        for _ in range(100):
            f.write(b"line\n")
    assert puts == ["job/mr-out-0"]


# ---- upload_inputs ---------------------------------------------------------


@pytest.fixture
def inputs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    os.makedirs("data")
    for name, text in (("a.txt", "alpha beta\n"), ("b.txt", "gamma € delta\n")):
        with open(os.path.join("data", name), "w", encoding="utf-8") as f:
            f.write(text)
    return ["data/a.txt", "data/b.txt"]


def test_upload_inputs_uploads_then_skips_unchanged(s3_storage, s3_client, inputs):
    puts = _count_puts(s3_storage)
    names = upload_inputs(s3_storage, inputs)
    assert names == ["inputs/data/a.txt", "inputs/data/b.txt"]
    assert len(puts) == 2
    assert s3_storage.read_range(names[1], 0, 100) == "gamma € delta\n".encode()
    head = s3_client.head_object(Bucket=BUCKET, Key=PREFIX + names[0])
    assert len(head["Metadata"]["sha256"]) == 64

    assert upload_inputs(s3_storage, inputs) == names  # a second job with the same inputs
    assert len(puts) == 2


def test_upload_inputs_reuploads_changed_content(s3_storage, inputs):
    puts = _count_puts(s3_storage)
    upload_inputs(s3_storage, inputs)
    with open(inputs[0], "w", encoding="utf-8") as f:
        f.write("alpha BETA\n")  # same size, other content: only the checksum tells
    assert upload_inputs(s3_storage, inputs) == ["inputs/data/a.txt", "inputs/data/b.txt"]
    assert puts[2:] == ["job/inputs/data/a.txt"]
    assert s3_storage.read_range("inputs/data/a.txt", 0, 100) == b"alpha BETA\n"
    with open(inputs[1], "a", encoding="utf-8") as f:
        f.write("more\n")  # other size
    upload_inputs(s3_storage, inputs)
    assert puts[3:] == ["job/inputs/data/b.txt"]


def test_upload_inputs_replaces_an_object_without_checksum(s3_storage, inputs):
    s3_storage.write_bytes("inputs/data/a.txt", b"alpha beta\n")  # same bytes, but no sha256 metadata
    puts = _count_puts(s3_storage)
    upload_inputs(s3_storage, inputs[:1])
    assert len(puts) == 1


def test_input_keys(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert input_key("a.txt") == "inputs/a.txt"
    assert input_key("./data//a.txt") == "inputs/data/a.txt"
    assert input_key("/srv/books/pg-1.txt", prefix="in/") == "in/srv/books/pg-1.txt"
    assert input_key("../x.txt") == "inputs/" + str(tmp_path.parent / "x.txt").lstrip("/")


# ---- errors ------------------------------------------------------------------


def test_missing_bucket_says_so(s3_client, moto_endpoint):
    storage = S3Storage("no-such-bucket", "job", endpoint_url=moto_endpoint)
    calls = [
        lambda: storage.read_range("mr-0-0", 0, 1),
        lambda: storage.size("mr-0-0"),
        lambda: storage.exists("mr-0-0"),
        lambda: storage.write_bytes("mr-0-0", b"x"),
        lambda: storage.list("mr-"),
        storage.check,
        lambda: storage.open_lines("mr-0-0"),
    ]
    for call in calls:
        with pytest.raises(BucketNotFound) as info:
            call()
        message = str(info.value)
        assert "no-such-bucket" in message and "s3://no-such-bucket/job/" in message
        assert "create it" in message and "\n" not in message
        assert isinstance(info.value, MrkitError)


def test_missing_bucket_on_upload(s3_client, moto_endpoint, inputs):
    storage = S3Storage("no-such-bucket", endpoint_url=moto_endpoint)
    with pytest.raises(BucketNotFound, match="no-such-bucket"):
        with storage.atomic_writer("out") as f:
            f.write(b"x")
    with pytest.raises(BucketNotFound, match="no-such-bucket"):
        upload_inputs(storage, inputs)


def test_missing_key_names_the_url(s3_storage):
    with pytest.raises(ObjectNotFound) as info:
        s3_storage.read_range("mr-3-4", 0, 10)
    assert str(info.value).startswith(f"s3://{BUCKET}/job/mr-3-4 does not exist")
    assert isinstance(info.value, FileNotFoundError) and isinstance(info.value, MrkitError)
    with pytest.raises(ObjectNotFound, match="mr-3-4"):
        s3_storage.size("mr-3-4")  # HEAD: a bare 404, told apart from a missing bucket


def test_access_denied_says_what_to_check(s3_storage):
    from botocore.stub import Stubber

    with Stubber(s3_storage.client) as stub:
        stub.add_client_error("get_object", service_error_code="AccessDenied", http_status_code=403)
        with pytest.raises(AccessDenied) as info:
            s3_storage.read_range("mr-out-0", 0, 10)
    message = str(info.value)
    assert f"access denied to s3://{BUCKET}/job/mr-out-0" in message and "credentials" in message
    assert isinstance(info.value, PermissionError)


def test_no_credentials(monkeypatch, aws_env, moto_endpoint):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # never ask an instance metadata service
    storage = S3Storage(BUCKET, endpoint_url=moto_endpoint)
    with pytest.raises(StorageError, match="no AWS credentials"):
        storage.read_range("x", 0, 1)


def test_unreachable_endpoint(aws_env):
    storage = S3Storage(BUCKET, endpoint_url="http://127.0.0.1:1")
    with pytest.raises(StorageError, match="cannot reach S3 for s3://mrkit-test/x"):
        storage.size("x")


# ---- open_storage --------------------------------------------------------------


@pytest.mark.parametrize(
    "url,bucket,prefix",
    [
        ("s3://b", "b", ""),
        ("s3://b/", "b", ""),
        ("s3://bkt/pre/fix/", "bkt", "pre/fix/"),
        ("s3://bkt/job", "bkt", "job/"),
    ],
)
def test_open_storage_s3_urls(url, bucket, prefix):
    storage = open_storage(url)
    assert isinstance(storage, S3Storage)
    assert (storage.bucket, storage.prefix) == (bucket, prefix)
    assert storage.url == f"s3://{bucket}/{prefix}"


def test_open_storage_local_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for url, root in [
        ("out", tmp_path / "out"),
        ("./a/../b", tmp_path / "b"),
        (str(tmp_path / "abs"), tmp_path / "abs"),
        (".", tmp_path),
        (f"file://{tmp_path}/f", tmp_path / "f"),
        (f"file://localhost{tmp_path}/g", tmp_path / "g"),
        ("file:///tmp/a%20b", "/tmp/a b"),
        ("name:with:colons", tmp_path / "name:with:colons"),
    ]:
        storage = open_storage(url)
        assert isinstance(storage, LocalStorage), url
        assert storage.root == str(root), url
        assert open_storage(storage.url).root == storage.root


@pytest.mark.parametrize(
    "url,error,match",
    [
        ("s3://", StorageError, "names no bucket"),
        ("s3:///key", StorageError, "names no bucket"),
        ("gs://bucket/x", UsageError, "unknown storage URL 'gs://bucket/x'"),
        ("file://host/x", UsageError, "host"),
    ],
)
def test_open_storage_rejects(url, error, match):
    with pytest.raises(error, match=match):
        open_storage(url)


def test_local_storage_does_not_import_boto3(tmp_path):
    code = (
        "import sys; from mrkit.storage import open_storage; open_storage(sys.argv[1]).write_bytes('x', b'1'); "
        "print(sorted(m for m in ('boto3', 'botocore') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"

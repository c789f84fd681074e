"""A job's files in an S3 bucket under a key prefix, through boto3.

Choose it when workers do not share a file system (ECS tasks): `--storage
s3://bucket/prefix`. Every object is written whole with one PUT (or one
multipart upload) under a deterministic key, so a retried or duplicate task
overwrites its earlier output instead of adding to it.

The endpoint is `endpoint_url` when given, otherwise whatever boto3 finds
itself (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_S3`, the profile), so MinIO or a
local moto server work unchanged. boto3 is imported here only: the runtime
and workers import this module only when a job uses S3.
"""

import email.utils
import hashlib
import io
import os
import tempfile
from contextlib import contextmanager

import boto3
import botocore.session
from boto3.exceptions import S3UploadFailedError
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError, NoCredentialsError

from mrkit.storage.base import (
    AccessDenied,
    BucketNotFound,
    ObjectNotFound,
    Storage,
    StorageError,
    changed,
    check_length,
    is_temporary,
)

SPOOL_BYTES = 8 << 20  # atomic_writer keeps this much in memory before spilling to disk
_CHUNK = 1 << 20
_NOT_FOUND = {"404", "NoSuchKey", "NotFound"}
_CONFLICT = {"412", "PreconditionFailed", "409", "ConditionalRequestConflict"}
_DENIED = {"403", "AccessDenied", "AllAccessDisabled", "InvalidAccessKeyId", "SignatureDoesNotMatch"}


def split_url(url):
    """'s3://bucket/some/key' -> ('bucket', 'some/key')."""
    if not url.startswith("s3://"):
        raise StorageError(f"not an S3 URL: {url!r} (expected s3://bucket/prefix)")
    bucket, _, key = url[len("s3://") :].partition("/")
    if not bucket:
        raise StorageError(f"S3 URL {url!r} names no bucket (expected s3://bucket/prefix)")
    return bucket, key


class S3Storage(Storage):
    """Objects in `bucket` under `prefix`; names are keys relative to the prefix.

    A name that is itself an `s3://bucket/key` URL stands as it is (the
    counterpart of an absolute local path), so inputs already in S3 can be
    read where they are.
    """

    def __init__(self, bucket, prefix="", client=None, endpoint_url=None):
        if not bucket:
            raise StorageError("S3 storage needs a bucket name (s3://bucket/prefix)")
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.endpoint_url = endpoint_url
        self._client = client
        self._client_pid = os.getpid() if client is not None else None
        self._bucket_seen = False  # a HEAD 404 is ambiguous until the bucket is known to exist

    # A boto3 client must not cross a fork or a pickle: its connection pool
    # holds sockets. Workers therefore rebuild it from bucket/prefix/endpoint.
    # Its own Session: boto3's default one caches credentials process-wide and
    # is not safe to create clients from in several threads at once.
    @property
    def client(self):
        if self._client is None or self._client_pid != os.getpid():
            # A reduce streams at most mrkit.fanin.MAX_OPEN_FILES (64) GETs at once: room for them all.
            config = Config(retries={"mode": "standard", "max_attempts": 3}, max_pool_connections=64)
            self._client = _new_session().client("s3", endpoint_url=self.endpoint_url, config=config)
            self._client_pid = os.getpid()
        return self._client

    def __getstate__(self):
        return {**self.__dict__, "_client": None, "_client_pid": None}

    def __repr__(self):
        return f"S3Storage({self.url!r})"

    @property
    def url(self):
        return f"s3://{self.bucket}/{self.prefix}"

    def _locate(self, name):
        """(bucket, key) for a name: an s3:// URL stands, anything else is under the prefix."""
        if name.startswith("s3://"):
            return split_url(name)
        if name.startswith("/"):  # a local path reaching S3 is a caller's bug: say so, don't invent a key
            raise StorageError(
                f"S3 storage {self.url} cannot read the local path {name!r}: "
                "upload it first (mrkit.storage.upload_inputs) and use the key it returns"
            )
        return self.bucket, self.prefix + name

    def path(self, name):
        bucket, key = self._locate(name)
        return f"s3://{bucket}/{key}"

    # ---- reading -----------------------------------------------------------

    def size(self, name):
        return self._head(name)["ContentLength"]

    def version(self, name):
        head = self._head(name)
        return head["ContentLength"], head["ETag"]

    def versions(self, names):
        """One listing of the keys' common prefix (1,000 keys a request) instead of a HEAD each."""
        located = {name: self._locate(name) for name in names}
        found = {}
        for bucket in {b for b, _ in located.values()}:
            keys = {key for b, key in located.values() if b == bucket}
            common = os.path.commonprefix(sorted(keys))
            with self._errors(f"s3://{bucket}/{common}"):
                for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=common):
                    found.update(
                        {
                            (bucket, item["Key"]): (item["Size"], item["ETag"])
                            for item in page.get("Contents", ())
                            if item["Key"] in keys
                        }
                    )
        return {name: found.get(where) or self.version(name) for name, where in located.items()}

    def read_pinned(self, name, start, end, version):
        """One ranged GET with If-Match: S3 serves the pinned version or answers 412."""
        where = self.path(name)
        if end <= start:
            self._check_version(name, version)
            return b""
        bucket, key = self._locate(name)
        try:
            with self._errors(name):
                try:
                    response = self.client.get_object(Bucket=bucket, Key=key, Range=f"bytes={start}-{end - 1}", IfMatch=version)
                except ClientError as exc:
                    if error_code(exc) in _CONFLICT | {"InvalidRange"}:
                        raise changed(
                            where, "its ETag is not the one split" if error_code(exc) in _CONFLICT else "it is shorter"
                        ) from None
                    raise
                with response["Body"] as body:
                    data = body.read()
        except ObjectNotFound:
            raise changed(where, "it is gone") from None
        return check_length(where, data, start, end)

    def exists(self, name):
        try:
            self._head(name)
        except ObjectNotFound:
            return False
        return True

    def _head(self, name):
        bucket, key = self._locate(name)
        with self._errors(name):
            return self.client.head_object(Bucket=bucket, Key=key)

    def read_range(self, name, start, end):
        if end <= start:  # an empty Range header is invalid; nothing to fetch anyway
            return b""
        bucket, key = self._locate(name)
        with self._errors(name):
            try:
                response = self.client.get_object(Bucket=bucket, Key=key, Range=f"bytes={start}-{end - 1}")
            except ClientError as exc:
                # A range starting at or past the end: a local read returns b"" there too.
                if exc.response.get("Error", {}).get("Code") == "InvalidRange":
                    return b""
                raise
            with response["Body"] as body:
                return body.read()

    def read_bytes(self, name):
        bucket, key = self._locate(name)  # one GET, not HEAD + ranged GET
        with self._errors(name):
            with self.client.get_object(Bucket=bucket, Key=key)["Body"] as body:
                return body.read()

    def open_lines(self, name):
        """The object's lines as they stream in: split on '\\n' only, UTF-8 decoded incrementally."""
        bucket, key = self._locate(name)
        with self._errors(name):
            body = self.client.get_object(Bucket=bucket, Key=key)["Body"]
        raw = _BodyReader(body)
        # newline="\n": only '\n' ends a line and nothing is translated, as for LocalStorage.
        return io.TextIOWrapper(io.BufferedReader(raw, _CHUNK), encoding="utf-8", errors="surrogatepass", newline="\n")

    def list(self, prefix="", temporary=False):
        full = self.prefix + prefix
        names = []
        with self._errors(prefix):
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=full):
                names.extend(
                    name
                    for name in (item["Key"][len(self.prefix) :] for item in page.get("Contents", ()))
                    if is_temporary(name) == temporary
                )
        self._bucket_seen = True
        return sorted(names)

    def check(self):
        with self._errors(""):
            self.client.head_bucket(Bucket=self.bucket)
        self._bucket_seen = True

    # ---- writing -----------------------------------------------------------

    @contextmanager
    def atomic_writer(self, name):
        """Spool the block's writes, then upload them in one go if it completes.

        S3 objects appear only when their PUT (or multipart upload) completes,
        so nothing partial is ever visible; an exception uploads nothing.
        """
        bucket, key = self._locate(name)
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
            yield spool
            spool.seek(0)
            with self._errors(name):
                self.client.upload_fileobj(spool, bucket, key)

    def write_bytes(self, name, data):
        bucket, key = self._locate(name)
        with self._errors(name):
            self.client.put_object(Bucket=bucket, Key=key, Body=data)

    def publish(self, temporary, name):
        """A server-side copy, then the temporary object's removal: no data passes through here."""
        source_bucket, source_key = self._locate(temporary)
        bucket, key = self._locate(name)
        with self._errors(temporary):
            self.client.copy({"Bucket": source_bucket, "Key": source_key}, bucket, key)
            self.client.delete_object(Bucket=source_bucket, Key=source_key)

    def remove(self, name):
        bucket, key = self._locate(name)
        with self._errors(name):
            self.client.delete_object(Bucket=bucket, Key=key)  # S3 answers 204 for a missing key

    # ---- conditional writes (a lease) --------------------------------------

    def _conditional(self, name, call):
        """Run a conditional request; None when S3 answers that its precondition failed or the key is gone."""
        with self._errors(name):
            try:
                return call()
            except ClientError as exc:
                if error_code(exc) in _CONFLICT | _NOT_FOUND:
                    return None
                raise

    def create_if_absent(self, name, data):
        bucket, key = self._locate(name)
        answer = self._conditional(name, lambda: self.client.put_object(Bucket=bucket, Key=key, Body=data, IfNoneMatch="*"))
        return None if answer is None else answer["ETag"]

    def replace_if(self, name, data, tag):
        bucket, key = self._locate(name)
        answer = self._conditional(name, lambda: self.client.put_object(Bucket=bucket, Key=key, Body=data, IfMatch=tag))
        return None if answer is None else answer["ETag"]

    def remove_if(self, name, tag):
        bucket, key = self._locate(name)
        return self._conditional(name, lambda: self.client.delete_object(Bucket=bucket, Key=key, IfMatch=tag)) is not None

    def read_with_age(self, name):
        bucket, key = self._locate(name)
        answer = self._conditional(name, lambda: self.client.get_object(Bucket=bucket, Key=key))
        if answer is None:
            return None
        with answer["Body"] as body:
            data = body.read()
        # Both times come from S3, so the local clock's skew does not matter.
        served = email.utils.parsedate_to_datetime(answer["ResponseMetadata"]["HTTPHeaders"]["date"])
        return data, answer["ETag"], max(0.0, (served - answer["LastModified"]).total_seconds())

    def upload_file(self, local_path, name, metadata=None):
        """Upload a local file to `name` (multipart when big), with optional user metadata."""
        bucket, key = self._locate(name)
        extra = {"Metadata": metadata} if metadata else None
        with self._errors(name):
            self.client.upload_file(local_path, bucket, key, ExtraArgs=extra)

    def metadata(self, name):
        """(size, user metadata dict) of `name`, or None when it does not exist."""
        try:
            head = self._head(name)
        except ObjectNotFound:
            return None
        return head["ContentLength"], head.get("Metadata", {})

    # ---- errors ------------------------------------------------------------

    @contextmanager
    def _errors(self, name):
        """Turn boto3's exceptions into one-line StorageErrors naming the URL and a fix."""
        url = self.path(name)
        try:
            yield
        except BOTO_ERRORS as exc:
            kind, code, message = boto_failure(exc)
            if kind == "answered":
                raise self._translate(code, url, message) from None
            if kind == "credentials":
                raise StorageError(f"no AWS credentials for {url}: {CREDENTIALS_HINT}") from None
            # endpoint unreachable, bad region, ...
            raise StorageError(f"cannot reach S3 for {url}: {exc} (check AWS_ENDPOINT_URL / --storage)") from None

    def _translate(self, code, url, message):
        bucket = url[len("s3://") :].partition("/")[0]
        # NoSuchKey comes from a GET, which names a missing bucket itself; a HEAD's bare 404 does not.
        if code == "NoSuchBucket" or (code in {"404", "NotFound"} and not self._bucket_exists(bucket)):
            return BucketNotFound(
                f"S3 bucket {bucket!r} does not exist ({url}): create it (aws s3 mb s3://{bucket}) or fix the --storage URL"
            )
        if code in _NOT_FOUND:
            return ObjectNotFound(f"{url} does not exist: check the name and the --storage prefix")
        if code in _DENIED:
            return AccessDenied(
                f"access denied to {url} ({code}): check the AWS credentials in use "
                "and that they allow s3:GetObject, s3:PutObject, s3:ListBucket there"
            )
        return StorageError(f"S3 request for {url} failed: {code or 'error'}: {message}")

    def _bucket_exists(self, bucket):
        # HEAD answers a bare 404 for both a missing key and a missing bucket; ask once.
        if bucket == self.bucket and self._bucket_seen:
            return True
        try:
            self.client.head_bucket(Bucket=bucket)
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code")) in _NOT_FOUND | {"NoSuchBucket"}:
                return False
            return True  # 403 and the like: the bucket is there, the key question stands
        if bucket == self.bucket:
            self._bucket_seen = True
        return True


# ---- boto3's errors, read once (the ECS backend's Aws seam uses this too) ----------------

BOTO_ERRORS = (ClientError, BotoCoreError, S3UploadFailedError)
CREDENTIALS_HINT = (
    "set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or run `aws configure`, or run where an IAM role applies)"
)


def error_code(exc):
    """A ClientError's code ("NoSuchKey"), or its HTTP status when there is none (HEAD answers have no body)."""
    error = exc.response.get("Error", {})
    return str(error.get("Code") or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))


def boto_failure(exc):
    """(kind, code, message) for one of BOTO_ERRORS: the one translation of boto3's exceptions.

    kind is "answered" (AWS said no: `code` is its error code), "credentials"
    (none found; `message` says what to set) or "unreachable" (no answer: an
    endpoint that cannot be reached, a bad region...).
    """
    if isinstance(exc, S3UploadFailedError):  # upload_file wraps the ClientError it caught
        cause = exc.__cause__ or exc.__context__
        return "answered", error_code(cause) if isinstance(cause, ClientError) else "", str(exc)
    if isinstance(exc, ClientError):
        return "answered", error_code(exc), exc.response.get("Error", {}).get("Message") or str(exc)
    if isinstance(exc, NoCredentialsError):
        return "credentials", "NoCredentials", f"no AWS credentials found: {CREDENTIALS_HINT}"
    if isinstance(exc, EndpointConnectionError):
        return "unreachable", "EndpointConnectionError", f"cannot reach {exc.kwargs.get('endpoint_url')}"
    return "unreachable", type(exc).__name__, str(exc)


_loader = None  # botocore's parsed service models, shared: loading them costs ~0.3 s per session


def _new_session():
    """A boto3 Session of its own (credentials, env) that reuses the parsed models."""
    global _loader
    core = botocore.session.Session()
    if _loader is None:
        _loader = core.get_component("data_loader")
    else:
        core.register_component("data_loader", _loader)
    return boto3.session.Session(botocore_session=core)


class _BodyReader(io.RawIOBase):
    """A raw stream over a GET body, so io.BufferedReader/TextIOWrapper can stream it.

    `bytes_read` says how much has come over the wire so far (tests check
    that open_lines really streams).
    """

    def __init__(self, body):
        self._body = body
        self.bytes_read = 0

    def readable(self):
        return True

    def readinto(self, buffer):
        data = self._body.read(len(buffer))
        buffer[: len(data)] = data
        self.bytes_read += len(data)
        return len(data)

    def close(self):
        if not self.closed:
            self._body.close()  # releases the HTTP connection even when not read to the end
        super().close()


def sha256_file(path):
    """Hex SHA-256 of a local file, read in chunks so inputs may exceed memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def input_key(local_path, prefix="inputs/"):
    """The deterministic key of a local input: its relative path when inside the cwd, else its absolute one.

    The same file given the same way maps to the same key in every job, so
    an unchanged input is found again and not uploaded twice.
    """
    rel = os.path.normpath(local_path)
    if os.path.isabs(rel) or rel == ".." or rel.startswith(".." + os.sep):
        rel = os.path.abspath(local_path).lstrip(os.sep)
    return prefix + rel.replace(os.sep, "/")


def upload_inputs(storage, local_paths, prefix="inputs/"):
    """Upload local input files once per job; returns their names in `storage`.

    An object already there with the same size and the same SHA-256 (kept
    in the object's metadata as `sha256`) is not uploaded again.
    """
    names = []
    for local_path in local_paths:
        name = input_key(local_path, prefix)
        size = os.path.getsize(local_path)
        digest = sha256_file(local_path)
        stored = storage.metadata(name)
        if stored is None or stored[0] != size or stored[1].get("sha256") != digest:
            storage.upload_file(local_path, name, metadata={"sha256": digest})
        names.append(name)
    return names

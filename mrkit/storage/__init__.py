"""Where a job's inputs, intermediate files and outputs live.

`open_storage(url)` picks the implementation from the URL's scheme: a plain
path or `file://...` is a local directory (`LocalStorage`), `s3://bucket/prefix`
is an S3 bucket and key prefix (`S3Storage`). Implementations are imported only
when their scheme is used, so a local job never imports boto3.
"""

from mrkit.errors import UsageError


def _open_local(url, **options):
    from mrkit.storage.local import LocalStorage

    if url.startswith("file://"):
        from urllib.parse import unquote, urlsplit  # only file:// URLs need parsing

        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost"):
            raise UsageError(f"file URL {url!r} names host {parts.netloc!r}; use file:///absolute/path or a plain path")
        url = unquote(parts.path)
    if options:
        raise UsageError(f"local storage takes no options, got {sorted(options)}")
    return LocalStorage(url or ".")


def _open_s3(url, **options):
    from mrkit.storage.s3 import S3Storage, split_url

    bucket, prefix = split_url(url)
    return S3Storage(bucket, prefix, **options)


# scheme -> opener(url, **options); "" is a plain path. register_scheme adds more.
SCHEMES = {"": _open_local, "file": _open_local, "s3": _open_s3}


def register_scheme(scheme, opener):
    """Let `open_storage` open `scheme://...` URLs with `opener(url, **options)`."""
    SCHEMES[scheme] = opener


def open_storage(url, **options):
    """The storage a URL names: a directory path, file://path or s3://bucket/prefix.

    `options` go to the implementation (for S3: `client`, `endpoint_url`).
    """
    scheme = url.partition("://")[0].lower() if "://" in url else ""
    try:
        opener = SCHEMES[scheme]
    except KeyError:
        known = ", ".join(f"{s}://" for s in sorted(SCHEMES) if s)
        raise UsageError(f"unknown storage URL {url!r}: use a directory path, {known}") from None
    return opener(url, **options)


def read_url(url):
    """The bytes of one file named by a path or URL (`s3://bucket/key`): a token file, a manifest."""
    folder, sep, name = url.rpartition("/")
    if sep and not folder:  # "/name": a file in the root directory
        folder = "/"
    return open_storage(folder or ".").read_bytes(name)


def upload_inputs(storage, local_paths, prefix="inputs/"):
    """Upload local inputs to an S3Storage once per job; see mrkit.storage.s3.upload_inputs."""
    from mrkit.storage.s3 import upload_inputs as upload

    return upload(storage, local_paths, prefix)

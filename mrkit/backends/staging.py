"""Making a job's inputs addressable in its storage, before the master splits them.

For a local directory the inputs stay where they are (workers read them by
absolute path). For S3, local files are uploaded once per job under
`inputs/` (unchanged ones are skipped by size and checksum) and `s3://` URLs
in the job's bucket are used in place. Either way each input keeps the path
the user gave, which is what map receives.

A launcher that starts the master elsewhere (ECS) stages the inputs itself
and hands the master a manifest (`mr-inputs.json`: path, location and size of
each input) instead of a command line that could outgrow ECS's limits.
"""

import json

from mrkit.errors import InputError
from mrkit.job import Input, resolve_inputs
from mrkit.storage import upload_inputs
from mrkit.storage.local import LocalStorage


def _remote_input(url, storage):
    """An s3:// input, which must already be in the job's bucket."""
    bucket = getattr(storage, "bucket", None)
    if bucket is None or url[len("s3://") :].split("/", 1)[0] != bucket:
        raise InputError(f"input {url!r} is not in the job's storage {storage.url}: copy it there or give a local path")
    try:
        return Input(path=url, location=url, size=storage.size(url))
    except FileNotFoundError:
        raise InputError(f"input {url!r} does not exist") from None


def stage_inputs(paths, storage):
    """Inputs checked and located in `storage`; raises InputError naming a bad one."""
    if isinstance(storage, LocalStorage):
        return resolve_inputs(paths)
    if not paths:
        raise InputError("no inputs given: name at least one input file or directory")
    staged = []
    for given in map(str, paths):
        staged.extend([_remote_input(given, storage)] if given.startswith("s3://") else resolve_inputs([given]))
    local = [i.location for i in staged if not i.location.startswith("s3://")]
    uploaded = dict(zip(local, upload_inputs(storage, local)))
    return tuple(Input(i.path, uploaded.get(i.location, i.location), i.size) for i in staged)


MANIFEST = "mr-inputs.json"


def write_manifest(inputs, storage, name=MANIFEST):
    """Store staged inputs as the JSON list `mrkit master --inputs-from` reads; returns the name."""
    storage.write_bytes(name, json.dumps([{"path": i.path, "location": i.location, "size": i.size} for i in inputs]).encode())
    return name


def read_manifest(name, storage):
    """The inputs listed in a manifest (a name in `storage`, or a path/URL it accepts)."""
    try:
        entries = json.loads(storage.read_bytes(name))
        inputs = tuple(Input(str(e["path"]), str(e["location"]), int(e["size"])) for e in entries)
    except FileNotFoundError:
        raise InputError(f"inputs manifest {storage.path(name)} does not exist") from None
    except (ValueError, TypeError, KeyError):
        raise InputError(
            f"{storage.path(name)} is not an inputs manifest: expected a JSON list of {{path, location, size}}"
        ) from None
    if not inputs:
        raise InputError(f"inputs manifest {storage.path(name)} lists no inputs")
    return inputs

"""Before a job starts on Dask: the same versions everywhere, storage every worker sees, a reachable master.

Each check runs on every worker of the cluster at once (`Client.run`) and
ends in one line naming a worker that fails it and what to do.
"""

import os
import secrets

from mrkit.backends.dask import remote
from mrkit.errors import UsageError, unusable_directory
from mrkit.storage.local import LocalStorage, atomic_file
from mrkit.version import __version__

# What must match between client, scheduler and workers: a mismatch breaks deserialization
# (Python, cloudpickle across Dask versions) or runs different task code (mrkit).
CHECKED = ("python", "dask", "distributed", "mrkit")


def versions(client):
    """One line naming the first process whose Python, Dask or mrkit differs from this client's."""
    found = client.get_versions(packages=["mrkit"])
    ours = {name: found["client"]["packages"].get(name) for name in CHECKED}
    ours["mrkit"] = __version__
    others = [("the scheduler", found["scheduler"])]
    others += [(f"worker {address}", info) for address, info in sorted(found["workers"].items())]
    for who, info in others:
        packages = (info or {}).get("packages", {})
        for name in CHECKED:
            theirs = packages.get(name)
            if theirs != ours[name]:
                raise UsageError(
                    f"version mismatch: {who} has {name} {theirs or 'missing'}, this client "
                    f"{ours[name]}: install the same Python, Dask and mrkit everywhere"
                )


def _first_failure(results):
    for address, result in sorted(results.items()):
        if result:
            return address, result
    return None


def storage(client, files, inputs):
    """Local storage and inputs must be seen by every worker at the same absolute path (s3:// needs no check)."""
    if not isinstance(files, LocalStorage):
        return
    where = "use a directory every Dask worker mounts at the same absolute path, or s3:// storage (--storage)"
    local = [(i.location, i.size) for i in inputs if "://" not in i.location]
    failed = _first_failure(client.run(remote.sees, local)) if local else None
    if failed:
        raise UsageError(f"Dask worker {failed[0]} cannot read input {failed[1]}: {where}")
    nonce = secrets.token_hex(16)
    marker = os.path.join(files.root, f".mr-dask-visible-{nonce}.tmp")
    try:  # makes a --storage directory that does not exist yet, as the job's lock would; a full disk is CannotWrite
        with atomic_file(marker) as f:
            f.write(nonce.encode())
    except OSError as exc:
        raise unusable_directory(exc, files.root) from None
    try:
        seen = client.run(remote.reads, marker, nonce)
    finally:
        os.remove(marker)
    blind = sorted(address for address, ok in seen.items() if not ok)
    if blind:
        raise UsageError(f"Dask worker {blind[0]} does not see the job's directory {files.root}: {where}")


def master_reachable(client, host, port):
    """Every worker can connect to the master at host:port (workers placed by Dask talk to it)."""
    failed = _first_failure(client.run(remote.reaches, host, port))
    if failed:
        raise UsageError(
            f"Dask worker {failed[0]} cannot reach mrkit's master at {host}:{port} ({failed[1]}): "
            "run mrkit where the workers can connect to it (e.g. on the cluster's login node)"
        )

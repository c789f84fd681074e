"""`mr-master.json`: how a worker started in the master's directory finds it.

The file holds url, token, pid and host (a worker on that host can tell a stale file); it is written atomically with mode 0600
(the token is a secret) when the master is ready, and removed when it exits,
after it has written `mr-run.json`. A master whose workers and launcher are
elsewhere (ECS) publishes `mr-status.json` to the job's storage instead.
"""

import json
import os
import socket

from mrkit.errors import MrkitError
from mrkit.storage.local import write_atomic

MASTER_FILE = "mr-master.json"
RUN_FILE = "mr-run.json"  # the master's run summary and task records, written as it exits
STATUS_FILE = "mr-status.json"  # the master's /status, published to its storage for launchers that cannot connect


def write_master_file(directory, url, token):
    path = os.path.join(directory, MASTER_FILE)
    write_atomic(path, json.dumps({"url": url, "token": token, "pid": os.getpid(), "host": socket.gethostname()}), mode=0o600)
    return path


def read_master_file(directory="."):
    """The master's {url, token, pid, host}, or None when there is no file.

    MrkitError for a file that is there but not the master's (it writes it whole, atomically: a damaged
    or hand-edited one stays so, and waiting for it would end in "does not exist").
    """
    path = os.path.join(directory, MASTER_FILE)
    try:
        with open(path, encoding="utf-8") as f:
            info = json.load(f)
    except FileNotFoundError:
        return None
    except (ValueError, OSError) as exc:
        raise MrkitError(f"{os.path.abspath(path)} cannot be read as the master's file ({exc}): {_AGAIN}") from None
    if not isinstance(info, dict) or not all(isinstance(info.get(key), str) for key in ("url", "token")):
        raise MrkitError(f"{os.path.abspath(path)} is not the master's file (no url and token strings): {_AGAIN}")
    return info


_AGAIN = "remove it and start `mrkit master` again, or pass --master URL"


def remove_master_file(directory):
    try:
        os.unlink(os.path.join(directory, MASTER_FILE))
    except FileNotFoundError:
        pass

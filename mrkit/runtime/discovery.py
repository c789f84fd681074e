"""`mr-master.json`: how a worker started in the master's directory finds it.

The file holds url, token, pid and host (a worker on that host can tell a stale file); it is written atomically with mode 0600
(the token is a secret) when the master is ready, and removed when it exits,
after it has written `mr-run.json`. A master whose workers and launcher are
elsewhere (ECS) publishes `mr-status.json` to the job's storage instead.
"""

import json
import os
import socket

from mrkit.storage.local import write_atomic

MASTER_FILE = "mr-master.json"
RUN_FILE = "mr-run.json"  # the master's run summary and task records, written as it exits
STATUS_FILE = "mr-status.json"  # the master's /status, published to its storage for launchers that cannot connect


def write_master_file(directory, url, token):
    path = os.path.join(directory, MASTER_FILE)
    write_atomic(path, json.dumps({"url": url, "token": token, "pid": os.getpid(), "host": socket.gethostname()}), mode=0o600)
    return path


def read_master_file(directory="."):
    """The master's {url, token, pid}, or None when there is no (complete) file."""
    try:
        with open(os.path.join(directory, MASTER_FILE)) as f:
            return json.load(f)
    except (FileNotFoundError, ValueError):
        return None


def remove_master_file(directory):
    try:
        os.unlink(os.path.join(directory, MASTER_FILE))
    except FileNotFoundError:
        pass

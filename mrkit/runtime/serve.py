"""How a master ends a job: the run-completion protocol, in one place.

`mrkit master` (and the ECS master task) run `serve`. While the job runs it
may publish the master's status to the job's storage (`mr-status.json`,
every `status_every` seconds, the first as soon as it serves), for a
launcher that cannot connect. On every way out — done, failed, Ctrl-C,
SIGTERM — it stops serving, then writes the run record (`mr-run.json`: the
run's summary and every task record) to the master's directory and to the
job's storage, then publishes the final status, then removes
`mr-master.json`. A launcher relies on that order: the final status
announces a run record that is already there.

A failure while finishing never replaces the job's own outcome: it is
attached to it as a note (printed after it) or, for a job that succeeded,
raised once the outputs are final.
"""

import ipaddress
import json
import sys
import threading
from urllib.parse import urlsplit

from mrkit import timing
from mrkit.errors import JobFailed, MrkitError
from mrkit.runtime.discovery import RUN_FILE, STATUS_FILE, remove_master_file, write_master_file


def run_record(master, *, app, backend, launched_at, workers=None):
    """The run record: {"run": the runs.csv row, "tasks": the tasks.csv rows, "failed": why the job failed
    (None when it succeeded), "fatal"}: a worker that finds it instead of its master exits as the master
    would have told it to."""
    records = master.task_records()
    if workers is None:
        workers = len({r["worker"] for r in records if r["phase"] != "split"})
    summary = timing.summarize(
        records,
        run_id=master.run_id,
        app=app,
        backend=backend,
        n_map=master.spec.map_count,
        n_reduce=master.spec.n_reduce,
        workers=workers,
        input_bytes=master.spec.input_bytes,
        launched_at=launched_at,
        finished_at=timing.now(),
    )
    return {"run": summary, "tasks": records, "failed": master.failure, "fatal": master.fatal}


def publish_status(master):
    """Write the master's status to the job's storage; a failed write is reported and skipped (it is advisory)."""
    try:
        master.storage.write_bytes(STATUS_FILE, json.dumps(master.status()).encode())
    except (OSError, MrkitError) as exc:  # a StorageError is a MrkitError
        print(f"mrkit master: cannot publish {STATUS_FILE}: {exc}", file=sys.stderr)


def _publish_while_running(master, every):
    publish_status(master)  # at once: a launcher takes the first status as "the master is up"
    while not master.wait_quietly(every):
        publish_status(master)


def _finish(master, here, launched_at, publisher):
    """Shut down, then write the run record and the final status; returns what went wrong."""
    problems = []
    try:
        master.shutdown()
        if publisher is not None:
            publisher.join()  # a status written while finishing lands before the final one
        data = json.dumps(run_record(master, app="", backend="master", launched_at=launched_at), indent=1).encode()
        for storage in dict.fromkeys([here, master.storage]):  # a launcher elsewhere reads the job's storage
            try:
                storage.write_bytes(RUN_FILE, data)
            except (OSError, MrkitError) as exc:
                problems.append(f"cannot write the run record {storage.path(RUN_FILE)}: {exc}")
        if publisher is not None:
            publish_status(master)  # the final phase, after the run record it announces
    finally:
        remove_master_file(here.root)
    return problems


def exposure_warning(host):
    """One line when `host` is not a loopback address: the token and the tasks travel unencrypted."""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if loopback:
        return None
    return (
        f"warning: listening on {host}, beyond loopback: the token and every task cross the network "
        "in clear (plain HTTP); use it only on a network you trust"
    )


def serve(master, here, *, launched_at, say=None, status_every=None):
    """Run `master`'s job to its end, announcing it in `here` (a LocalStorage); raises JobFailed.

    `status_every`: seconds between the status's writes to the job's storage (None: never).
    """
    say = say or (lambda line: print(f"mrkit master: {line}", file=sys.stderr))
    master.start()  # a master that cannot start (another one runs here) touches nothing of the job's
    outcome = publisher = None
    try:
        if status_every:
            publisher = threading.Thread(
                target=_publish_while_running, args=(master, status_every), daemon=True, name="mrkit-master-status"
            )
            publisher.start()
        write_master_file(here.root, master.url, master.token)
        if (warning := exposure_warning(urlsplit(master.url).hostname)) is not None:
            say(warning)
        say(f"serving {master.url}, run {master.run_id}")
        master.wait()
    except BaseException as exc:
        outcome = exc
        raise
    finally:
        problems = _finish(master, here, launched_at, publisher)
        if isinstance(outcome, JobFailed):
            for line in problems:
                outcome.add_note(line)
        elif outcome is not None:
            for line in problems:
                say(line)
        elif problems:
            raise MrkitError("the job's outputs are final, but " + "; ".join(problems))

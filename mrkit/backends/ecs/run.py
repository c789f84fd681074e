"""One job on ECS: `mrkit ecs run` and the sweeps' "ecs" backend (`mrkit.backends.BACKENDS`).

This is where the task starter is chosen, real Fargate or the local stand-in,
so the launcher knows neither module's internals and the stand-in, which
builds on `fargate.Fargate`, never imports the launcher.
"""

import os
import sys

from mrkit.backends.ecs import EcsError
from mrkit.backends.ecs.aws import Aws
from mrkit.backends.ecs.fargate import Fargate
from mrkit.backends.ecs.launcher import Launcher
from mrkit.job import MAX_LOCAL_WORKERS, N_REDUCE, TASK_TIMEOUT_S, check_at_most


def task_starter(aws, stand_in=None, containers=False):
    """Real Fargate, or the local stand-in running tasks under the directory `stand_in`.

    `containers` (stand-in only): True or an engine's name runs each task as a
    container of its definition's image instead of a local process.
    """
    if stand_in:
        from mrkit.backends.ecs.standin import LocalFargate

        return LocalFargate(aws, stand_in, containers=containers)
    if containers:
        raise EcsError("containers=True is for the local stand-in: give stand_in too (on Fargate every task is one)")
    return Fargate(aws)


def run_on_ecs(
    config,
    aws,
    app,
    inputs,
    *,
    stand_in=None,
    containers=False,
    say=None,
    on_usage=None,
    poll_s=2.0,
    start_timeout_s=600.0,
    status_every_s=1.0,
    **job,
):
    """One job through a Launcher on Fargate, or on the local stand-in when `stand_in` names its directory.

    `job` takes Launcher.run's options. `on_usage(line)` hears the Fargate cost
    even when the job fails. `status_every_s`: how often the master publishes its
    status (what `on_status` hears). Returns the EcsRun.
    """
    if stand_in and job.get("workers") is not None:  # its workers are this machine's processes
        check_at_most("--workers", job["workers"], MAX_LOCAL_WORKERS)
    launcher = Launcher(
        config,
        aws,
        tasks=task_starter(aws, stand_in, containers),
        say=say,
        poll_s=poll_s,
        start_timeout_s=start_timeout_s,
        status_every_s=status_every_s,
    )
    try:
        return launcher.run(app, inputs, **job)
    finally:
        if launcher.usage is not None and on_usage is not None:
            on_usage(launcher.usage.line())


def run_job(
    app,
    inputs,
    *,
    n_map=None,
    n_reduce=N_REDUCE,
    workers=None,
    workdir=None,
    task_timeout=TASK_TIMEOUT_S,
    repeat=0,
    app_options=None,
    settings=None,
    stand_in=None,
    containers=False,
    endpoint_url=None,
    poll_s=2.0,
    say=None,
    verify=False,
):
    """The sweeps' "ecs" backend: `mrkit.backends.local.run_job`'s signature, (summary, records) back.

    `settings` is the ECS settings file (default params/ecs.yaml); `stand_in`
    runs the tasks locally (True: in `workdir`; a path: there) against
    `endpoint_url`, as containers with `containers` (True, or "docker"/"podman").
    Each run's cost goes to `say` (default: stderr). `verify` compares the
    job's outputs in S3 with the app run sequentially on the local inputs and
    adds the counts to the summary (mrkit.verify.VERIFY_COLUMNS).
    """
    from mrkit.backends.ecs.config import load_config

    config = load_config(settings)
    say = say or (lambda line: print(line, file=sys.stderr))
    result = run_on_ecs(
        config,
        Aws(config.region, endpoint_url=endpoint_url),
        app,
        inputs,
        stand_in=workdir if stand_in is True else stand_in,
        containers=containers,
        on_usage=lambda line: say(f"mrkit ecs: {line}"),
        poll_s=poll_s,
        n_map=n_map,
        n_reduce=n_reduce,
        workers=workers,
        task_timeout=task_timeout,
        app_options=app_options,
        repeat=repeat,
    )
    summary = {**result.summary, **(_verified(app, inputs, app_options, result.storage_url) if verify else {})}
    return summary, result.records


def _verified(app, inputs, app_options, storage_url):
    from mrkit.app import load_app
    from mrkit.job import resolve_inputs
    from mrkit.storage import open_storage
    from mrkit.verify import compare, output_pairs

    expected = _reference(load_app(app, app_options), tuple(resolve_inputs(inputs)))
    return compare(expected, output_pairs(open_storage(storage_url))).columns()


_references = {}


def _reference(loaded, inputs):
    """The sequential output of an app on local inputs, computed once per (app, options, files as they are now)."""
    from mrkit.verify import reference

    key = (
        loaded.name,
        repr(sorted(loaded.options.items())),
        tuple((i.path, os.path.getsize(i.path), os.path.getmtime(i.path)) for i in inputs),
    )
    if key not in _references:
        _references[key] = reference(loaded, inputs)
    return _references[key]

"""Every exception class mrkit defines survives pickling with its message and fields intact.

Errors cross process boundaries (multiprocess workers, papermill kernels, pytest-xdist): one whose
__init__ takes other arguments than its message pickles but fails to unpickle with a TypeError
unless it says how to rebuild itself (papermill has the same test).
"""

import importlib
import inspect
import pickle
import pkgutil

import pytest

import mrkit

# Arguments for the classes whose __init__ is not Exception's (message only). A new class with its own
# __init__ must be added here: the test below fails until it is.
SAMPLE_ARGS = {
    "AwsError": ("s3.PutObject", "AccessDenied", "not allowed"),
    "TaskLaunchError": ([{"reason": "RESOURCE:CPU", "detail": "no room"}], ["arn:task/1"]),
}


def _exception_classes():
    for info in pkgutil.walk_packages(mrkit.__path__, "mrkit."):
        if info.name.endswith("__main__"):
            continue  # running it is what importing it does
        importlib.import_module(info.name)
    seen = {}
    for module_name, module in list(__import__("sys").modules.items()):
        if module_name != "mrkit" and not module_name.startswith("mrkit."):
            continue
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, BaseException) and cls.__module__.startswith("mrkit"):
                seen[f"{cls.__module__}.{cls.__qualname__}"] = cls
    return [seen[k] for k in sorted(seen)]


CLASSES = _exception_classes()


def test_the_package_defines_exceptions():
    names = {cls.__name__ for cls in CLASSES}
    assert {"MrkitError", "UsageError", "StorageError", "AwsError", "TaskLaunchError"} <= names


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__name__)
def test_exception_pickles(cls):
    own_init = any("__init__" in vars(k) for k in cls.__mro__ if k.__module__.startswith("mrkit"))
    if own_init:
        assert cls.__name__ in SAMPLE_ARGS, f"{cls.__name__} has its own __init__: add sample arguments to SAMPLE_ARGS"
    args = SAMPLE_ARGS.get(cls.__name__, ("something went wrong",))
    error = cls(*args)
    error.note = "extra state"  # attributes set after construction travel too
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is cls
    assert str(copy) == str(error)
    assert vars(copy) == vars(error)


# ---- a full disk and a read-only directory: one line, exit 2, on every command (real mounts, real processes)


def _mount(target, options):
    import subprocess

    target.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(target)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root and a sandbox that allows it): {done.stderr.strip()}")


def _fill(directory):
    """Write until the file system says it is full."""
    import errno

    with open(directory / "filler", "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 65536)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC


@pytest.fixture(params=["full", "read-only"])
def unwritable(request, tmp_path):
    """A directory that cannot be written: a full 1 MiB tmpfs, or a tmpfs mounted read-only; and its kind."""
    import subprocess

    target = tmp_path / request.param
    _mount(target, "size=1m" if request.param == "full" else "ro,size=1m")
    if request.param == "full":
        _fill(target)
    yield target, request.param
    subprocess.run(["umount", "-l", str(target)], check=True)


def _said_in_one_line(result, directory):
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and f"cannot write in {directory}" in lines[-1], result.stderr
    return lines


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    "command",
    [
        ["sequential", "wc"],
        ["master", "-r", "2"],
        ["run", "wc", "-r", "2"],
        ["run-workdir", "wc", "-r", "2"],
        ["run-workdir", "wc", "-r", "2", "--backend", "dask"],  # its check that the workers see the directory writes first
    ],
)
def test_commands_in_an_unwritable_directory_say_so_in_one_line(corpus, tmp_path, unwritable, command):
    from conftest import mrkit

    directory, _ = unwritable
    if command[0] == "run-workdir":
        result = mrkit("run", *command[1:], "--workdir", directory, *corpus[:2], cwd=tmp_path)
    else:
        result = mrkit(*command, *corpus[:2], cwd=directory)
    assert len(_said_in_one_line(result, directory)) == 1


@pytest.mark.timeout(120)
@pytest.mark.parametrize("backend", ["local", "dask"])
@pytest.mark.parametrize("where", [("--workdir", ""), ("--workdir", "/sub"), ("--storage", "")])
def test_a_file_in_the_way_of_the_jobs_directory_is_one_line(corpus, tmp_path, backend, where):
    from conftest import mrkit

    mine = tmp_path / "a-file"
    mine.write_text("mine\n")
    option, below = where
    result = mrkit("run", "wc", *corpus[:2], "-r", "2", "--backend", backend, option, f"{mine}{below}", cwd=tmp_path)
    assert len(_said_in_one_line(result, f"{mine}{below}")) == 1
    assert mine.read_text() == "mine\n"


@pytest.mark.timeout(120)
def test_a_worker_whose_directory_cannot_be_written_stops_the_job_in_one_line(corpus, tmp_path, unwritable):
    """The master elsewhere, the worker's files in a full or read-only directory: both exit 2, saying where."""
    import json
    import time

    from conftest import mrkit_popen

    directory, _ = unwritable
    (tmp_path / "m").mkdir()
    master = mrkit_popen("master", "-r", "2", *corpus[:2], cwd=tmp_path / "m")
    deadline = time.monotonic() + 60
    while not (tmp_path / "m" / "mr-master.json").exists():
        assert master.poll() is None and time.monotonic() < deadline, master.communicate()
        time.sleep(0.05)
    info = json.loads((tmp_path / "m" / "mr-master.json").read_text())
    worker = mrkit_popen("worker", "wc", "--master", info["url"], cwd=directory, env={"MRKIT_TOKEN": info["token"]})
    for process in (worker, master):
        out, err = process.communicate(timeout=90)
        _said_in_one_line(type("Result", (), {"returncode": process.returncode, "stderr": err}), directory)


@pytest.mark.timeout(120)
def test_a_disk_that_fills_under_a_running_master(corpus, tmp_path):
    """The issue's case: `mrkit master` on a small tmpfs, the disk fills, then its worker writes there."""
    import subprocess
    import time

    from conftest import mrkit_popen

    directory = tmp_path / "small"
    _mount(directory, "size=1m")
    try:
        master = mrkit_popen("master", "-r", "2", *corpus[:2], cwd=directory)
        deadline = time.monotonic() + 60
        while not (directory / "mr-master.json").exists():
            assert master.poll() is None and time.monotonic() < deadline, master.communicate()
            time.sleep(0.05)
        _fill(directory)
        worker = mrkit_popen("worker", "wc", cwd=directory)
        for process in (worker, master):
            _, err = process.communicate(timeout=90)
            lines = err.strip().splitlines()
            assert process.returncode == 2 and "Traceback" not in err, err
            assert f"cannot write in {directory}" in lines[-1] and "No space left" in lines[-1], err
    finally:
        subprocess.run(["umount", "-l", str(directory)], check=True)

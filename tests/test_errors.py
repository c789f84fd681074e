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

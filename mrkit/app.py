"""Loading apps: a built-in name, a dotted module, a .py path, or a Python object.

An app provides `map(filename, contents)` -> iterable of (key, value) strings
and `reduce(key, values)` -> str; optionally `combine(key, values)` -> list of
values (run on the map side), `map_combined(filename, contents)` -> mapping of
key -> values (map then combine in one fast step), and `configure(**options)`.
"""

import importlib
import importlib.util
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from mrkit.apps import BUILTIN
from mrkit.errors import AppError


@dataclass(frozen=True)
class App:
    """The functions of one app, plus what is needed to load it again elsewhere.

    `spec` is the string the app was loaded from (None for an object), so
    processes that do not share memory with the loader can load it again.
    """

    name: str
    map: Callable
    reduce: Callable
    combine: Callable | None = None
    map_combined: Callable | None = None
    spec: str | None = None
    options: dict = field(default_factory=dict)


def _import_path(path):
    """Import a .py file as a module of its own."""
    if not os.path.exists(path):
        raise AppError(f"app file {path!r} does not exist")
    if not os.path.isfile(path) or not path.endswith(".py"):  # a directory; notes.txt (no loader for it)
        raise AppError(f"app file {path!r} is not a Python file: give a .py file, a module name or a built-in app")
    stem = os.path.splitext(os.path.basename(path))[0]
    module_name = f"mrkit_user_app_{stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def _import_module(name):
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and (name == exc.name or name.startswith(exc.name + ".")):
            builtins = ", ".join(BUILTIN)
            raise AppError(f"unknown app {name!r}: not a built-in ({builtins}), an importable module, or a .py file") from None
        raise


def _resolve(spec):
    """The module or object behind a spec string."""
    if spec in BUILTIN:
        return importlib.import_module(BUILTIN[spec])
    if spec.endswith(".py") or os.sep in spec:
        return _import_path(spec)
    return _import_module(spec)


def _member(obj, name):
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)


def _described(exc):
    if isinstance(exc, SystemExit):
        return f"it called sys.exit({exc.code!r})"
    return f"{type(exc).__name__}: {exc}".replace("\n", " ")


def load_app(app: object, options: dict | None = None) -> App:
    """Turn `app` (App, spec string, module, object or dict of functions) into an App."""
    if isinstance(app, App):
        return app
    spec = app if isinstance(app, str) else None
    try:
        target = _resolve(app) if spec is not None else app
    except AppError:
        raise
    except (Exception, SystemExit) as exc:  # the user's module failed (or called sys.exit) while importing
        raise AppError(f"app {app!r} failed to import: {_described(exc)}") from exc
    label = spec or getattr(target, "__name__", type(target).__name__)
    functions = {name: _member(target, name) for name in ("map", "reduce", "combine", "map_combined")}
    for required, signature in (("map", "map(filename, contents)"), ("reduce", "reduce(key, values)")):
        if not callable(functions[required]):
            raise AppError(f"app {label!r} has no {signature} function")
    if options is not None and not isinstance(options, Mapping):
        raise AppError(f"app options must be a mapping such as {{'pattern': 'the'}}, got {options!r}")
    options = dict(options or {})
    configure = _member(target, "configure")
    if callable(configure):
        try:
            configure(**options)
        except (Exception, SystemExit) as exc:  # an option it does not take (TypeError), or a value it refuses
            given = ", ".join(f"{k}={v}" for k, v in options.items()) or "no options"
            raise AppError(f"app {label!r} refused its options ({given}): {_described(exc)}") from exc
    elif options:
        raise AppError(f"app {label!r} takes no options (it has no configure function), got {sorted(options)}")
    return App(name=label, spec=spec, options=options, **functions)

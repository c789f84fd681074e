"""Loading apps from names, modules, files and objects, and the messages when that fails."""

import types

import pytest
from conftest import app_path

from mrkit.app import App, load_app
from mrkit.errors import AppError


@pytest.mark.parametrize("name", ["wc", "indexer", "grep", "crash", "nocrash"])
def test_builtin_apps_load(name):
    app = load_app(name, {"pattern": "x"} if name == "grep" else None)
    assert callable(app.map) and callable(app.reduce)
    assert app.spec == name


def test_wc_has_a_combiner_and_a_fast_map():
    app = load_app("wc")
    assert app.combine("w", ["2", "3"]) == ["5"]
    assert dict(app.map_combined("f", "a b a")) == {"a": ["2"], "b": ["1"]}


def test_dotted_module_and_file_path():
    assert load_app("mrkit.apps.indexer").reduce("w", ["b", "a", "b"]) == "2 a,b"
    assert load_app(app_path("jobcount")).name.endswith("jobcount.py")


def test_objects_and_dicts_of_functions():
    def mapper(filename, contents):
        return [(w, "1") for w in contents.split()]

    def reducer(key, values):
        return str(len(values))

    for obj in ({"map": mapper, "reduce": reducer}, types.SimpleNamespace(map=mapper, reduce=reducer)):
        app = load_app(obj)
        assert isinstance(app, App) and app.spec is None
        assert list(app.map("f", "a b")) == [("a", "1"), ("b", "1")]


@pytest.mark.parametrize(
    "spec, message",
    [
        ("nosuch", "unknown app 'nosuch'"),
        (app_path("noreduce"), "has no reduce(key, values) function"),
        ({"reduce": len}, "has no map(filename, contents) function"),
        ("/no/such/app.py", "does not exist"),
    ],
)
def test_what_is_missing_is_named(spec, message):
    with pytest.raises(AppError, match=None) as err:
        load_app(spec)
    assert message in str(err.value)


@pytest.mark.parametrize("name", ["notes.txt", "folder.py", "folder.py/"])
def test_a_path_that_is_not_a_python_file_is_named(tmp_path, name):
    """notes.txt fell over in importlib (AttributeError: no loader); a directory was said not to exist."""
    (tmp_path / "notes.txt").write_text("def map(f, c):\n    return []\n")
    (tmp_path / "folder.py").mkdir()
    with pytest.raises(AppError, match=f"app file '.*{name}' is not a Python file: give a .py file"):
        load_app(str(tmp_path) + "/" + name)


def test_a_module_that_fails_to_import(tmp_path):
    broken = tmp_path / "broken.py"
    broken.write_text("import no_such_dependency_xyz\n")
    with pytest.raises(AppError, match="failed to import: ModuleNotFoundError"):
        load_app(str(broken))


def test_a_module_that_exits_while_importing_is_an_app_error(tmp_path):
    """sys.exit at import ended `mrkit run` with the app's exit status and no word (SystemExit is no Exception)."""
    leaving = tmp_path / "leaving.py"
    leaving.write_text("import sys\nsys.exit(3)\n")
    with pytest.raises(AppError, match=r"failed to import: it called sys.exit\(3\)"):
        load_app(str(leaving))


def test_options_the_app_refuses_are_an_app_error_naming_them(tmp_path):
    """configure(**options) raising went up as a bare TypeError (a traceback from the CLI)."""
    with pytest.raises(AppError, match=r"app 'grep' refused its options \(foo=bar\): TypeError: .*'foo'"):
        load_app("grep", {"foo": "bar"})
    strict = tmp_path / "strict.py"
    strict.write_text(
        "map = reduce = print\n\ndef configure(level='1'):\n    raise ValueError(f'level {level}: not\\nallowed')\n"
    )
    with pytest.raises(AppError, match=r"refused its options \(level=9\): ValueError: level 9: not allowed$"):
        load_app(str(strict), {"level": "9"})


def test_grep_options_and_environment(monkeypatch):
    app = load_app("grep", {"pattern": r"^\d+$"})
    assert list(app.map("f", "12\nx\n34")) == [("12", "f"), ("34", "f")]
    monkeypatch.setenv("MRKIT_GREP_PATTERN", "cat")
    assert list(load_app("grep").map("g", "a cat\ndog")) == [("a cat", "g")]
    with pytest.raises(AppError, match="takes no options"):
        load_app("wc", {"x": "1"})

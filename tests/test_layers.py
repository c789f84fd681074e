"""Imports point one way: every module of mrkit imports only its own layer or the layers below it.

The layers, lowest first, are LAYERS; this test is the one statement of the
rule (the README points here). Imports are read from the source (ast), those
inside functions included, so a lazy import cannot hide a wrong direction.
"""

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "mrkit"

# Lowest first. A module belongs to the layer of the longest prefix that names it.
LAYERS = (
    ("foundation", ("mrkit.errors", "mrkit.storage", "mrkit.version")),  # storage imports nothing else of mrkit
    (
        "core",
        (
            "mrkit.job",
            "mrkit.split",
            "mrkit.shuffle",
            "mrkit.tasks",
            "mrkit.timing",
            "mrkit.text",
            "mrkit.app",
            "mrkit.sequential",
            "mrkit.verify",
            "mrkit.corpus",
            "mrkit.contract",
            "mrkit.fanin",
            "mrkit.progress",
            "mrkit.pinning",
            "mrkit.extras",
            "mrkit.params",
            "mrkit.apps.__init__",
        ),
    ),  # the apps' registry: names only, which mrkit.app looks up
    ("apps", ("mrkit.apps",)),
    ("runtime", ("mrkit.runtime",)),
    ("backends", ("mrkit.backends",)),
    (
        "experiments",
        (
            "mrkit.experiments.__init__",
            "mrkit.experiments.analysis",
            "mrkit.experiments.formatting",
            "mrkit.experiments.meaning",
            "mrkit.experiments.laws",
        ),
    ),
    ("experiments.sweeps", ("mrkit.experiments.sweeps",)),
    ("experiments.model", ("mrkit.experiments.model",)),
    ("experiments.report", ("mrkit.experiments.report",)),
    ("cli", ("mrkit.cli", "mrkit.__init__", "mrkit.__main__")),  # the package's run() is a front door, as the CLI is
)
# Libraries a layer never imports, whatever the layer order allows.
FORBIDDEN = {"runtime": ("boto3", "botocore")}
RANK = {name: rank for rank, (name, _) in enumerate(LAYERS)}


def layer_of(module: str) -> str:
    """The layer of a dotted module name ("mrkit.experiments.sweeps.sweep"), or of a package's __init__."""
    found = [
        (len(prefix), name)
        for name, prefixes in LAYERS
        for prefix in prefixes
        if module == prefix
        or module.startswith(prefix + ".")
        or (prefix.endswith(".__init__") and module == prefix.removesuffix(".__init__"))
    ]
    if not found:
        raise LookupError(f"{module} is in no layer of tests/test_layers.py: add it to LAYERS")
    return max(found)[1]


def module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts)  # a package's __init__ keeps its name: "mrkit.runtime.__init__"


def imported(source: str, module: str) -> set[str]:
    """Every module `source` imports (top level or inside functions), as dotted names."""
    package = module.rsplit(".", 1)[0]
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            # "from x import y" counts as x.y: the module x.y where y is one, else x (see _mrkit_module)
            names |= {f"{base}.{alias.name}" for alias in node.names}
    return names


def _mrkit_module(name: str) -> str | None:
    """The mrkit module a dotted name refers to (a name imported from a module counts as that module)."""
    if name != "mrkit" and not name.startswith("mrkit."):
        return None
    parts = name.split(".")
    while parts:
        candidate = PACKAGE.parent.joinpath(*parts)
        if candidate.with_suffix(".py").is_file():
            return ".".join(parts)
        if (candidate / "__init__.py").is_file():
            return ".".join(parts) + ".__init__"
        parts.pop()
    return None


def wrong_imports(module: str, source: str) -> list[str]:
    """What `module` imports against the layer order or FORBIDDEN, as readable lines."""
    own = layer_of(module)
    problems = []
    for name in sorted(imported(source, module)):
        top = name.partition(".")[0]
        if top in FORBIDDEN.get(own, ()):
            problems.append(f"{module} ({own}) imports {name}, which the {own} layer never imports")
        target = _mrkit_module(name)
        if target is None:
            continue
        theirs = layer_of(target)
        if RANK[theirs] > RANK[own]:
            problems.append(f"{module} ({own}) imports {target} ({theirs}), a layer above it")
    return problems


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE.parent)))
def test_every_module_imports_only_its_layer_or_lower(path):
    assert wrong_imports(module_name(path), path.read_text(encoding="utf-8")) == []


def test_a_wrong_import_is_found_also_inside_a_function():
    lazy_upward = "def run():\n    from mrkit.experiments.sweeps.sweep import run_sweep\n"
    assert wrong_imports("mrkit.backends.local", lazy_upward) == [
        "mrkit.backends.local (backends) imports mrkit.experiments.sweeps.sweep (experiments.sweeps), a layer above it"
    ]
    assert wrong_imports("mrkit.experiments.sweeps.ecs_fault", "from mrkit.experiments.report import markdown\n") == [
        "mrkit.experiments.sweeps.ecs_fault (experiments.sweeps) imports mrkit.experiments.report.markdown "
        "(experiments.report), a layer above it"
    ]
    assert wrong_imports("mrkit.runtime.worker", "import boto3\n") == [
        "mrkit.runtime.worker (runtime) imports boto3, which the runtime layer never imports"
    ]
    assert wrong_imports("mrkit.experiments.report.display", "from mrkit.experiments.model import prediction\n") == []

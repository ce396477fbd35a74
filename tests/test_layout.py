"""The package's structure: no import cycles, and the generic parts free of Keras."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "sklearn_vision"


def _imports_of(path):
    """The package modules ``path`` imports, at module level or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.add(node.module)
            else:  # ``from . import name``: a module, or a name of the package's __init__
                found.update(
                    alias.name if (PACKAGE / f"{alias.name}.py").exists() else "__init__"
                    for alias in node.names
                )
    return found


def test_no_module_imports_one_that_imports_it_back():
    graph = {path.stem: _imports_of(path) for path in PACKAGE.glob("*.py")}

    def reaches(start, target, seen):
        for module in graph.get(start, ()):
            if module == target or (
                module not in seen and reaches(module, target, seen | {module})
            ):
                return True
        return False

    cycles = [name for name in graph if name != "__init__" and reaches(name, name, {name})]
    assert cycles == []


@pytest.mark.parametrize(
    "module",
    [
        "_learning_curve",
        "_power_law",
        "_plotting",
        "_cache",
        "_images",
        "_decoding",
        "_loaders",
        "_stages",
        "_record",
        "_backbones",
    ],  # fmt: skip
)
def test_generic_modules_import_no_keras(module):
    # In a fresh interpreter: whatever the test session imported does not count.
    code = (
        f"import sys, sklearn_vision.{module}; "
        "print(sorted(m for m in ('keras', 'tensorflow') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def _third_party_imports(path):
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("module", ["_learning_curve", "_power_law"])
def test_learning_curve_and_curve_models_know_nothing_of_keras(module):
    path = PACKAGE / f"{module}.py"
    assert not _third_party_imports(path) & {"keras", "tensorflow", "scikeras"}
    keras_side = {
        "_keras_utils", "_backbones", "_record", "_hub", "_layers", "_features", "_stages",
        "_training", "_transfer", "_tf_data", "_heads",
    }  # fmt: skip
    assert not _imports_of(path) & keras_side


def test_no_module_branches_on_a_backbone_family():
    """What differs between families is in their records: nothing compares names to pick one."""
    from sklearn_vision import BACKBONES

    families = {*BACKBONES, "dinov2", "dinov3", "siglip", "vit", "keras_hub"}
    found = []
    for path in sorted(PACKAGE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Compare):
                continue
            for part in ast.walk(node):
                named = isinstance(part, ast.Constant) and part.value in families
                # Only the registry itself looks names up in it.
                registry = isinstance(part, ast.Name) and part.id == "BACKBONES"
                if named or (registry and path.stem != "_backbones"):
                    found.append(f"{path.name}:{node.lineno} {ast.unparse(node)}")
    assert found == []


def test_saved_models_load_without_keras_hub():
    """The package's own layers need Keras alone; the loader imports them, not KerasHub's code."""
    assert _third_party_imports(PACKAGE / "_layers.py") == {"keras"}
    assert "_hub" not in _imports_of(PACKAGE / "_saving.py")
    assert "_layers" in _imports_of(PACKAGE / "_saving.py")


def test_tests_reach_no_private_names():
    """Tests go through the public API: no private module, no private attribute."""
    found = []
    for path in sorted((PACKAGE.parent / "tests").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                parts = node.module.split(".")
                if parts[0] == "sklearn_vision" and any(
                    p.startswith("_") and p != "__main__" for p in parts[1:]
                ):
                    found.append(f"{path.name}:{node.lineno} from {node.module}")
            elif isinstance(node, ast.Attribute) and node.attr.startswith("_"):
                if not node.attr.startswith("__"):
                    found.append(f"{path.name}:{node.lineno} .{node.attr}")
    assert found == []

"""The package's structure: no import cycles, and the generic parts free of Keras."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "sklearn_vision"


def _module_name(path):
    """The module a file of the package holds, relative to the package: ``_cli._study``."""
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts) or "__init__"


def _package_of(path):
    """The package parts a relative import in ``path`` starts from (``()``: the top)."""
    return path.parent.relative_to(PACKAGE).parts


def _is_module(parts):
    where = PACKAGE.joinpath(*parts)
    return where.with_suffix(".py").exists() or (where / "__init__.py").exists()


def _imports_of(path):
    """The package modules ``path`` imports, at module level or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level >= 1:
            base = _package_of(path)[: len(_package_of(path)) - (node.level - 1)]
            if node.module:
                found.add(".".join((*base, *node.module.split("."))))
            else:  # ``from . import name``: a module, or a name of the package's __init__
                found.update(
                    ".".join((*base, alias.name))
                    if _is_module((*base, alias.name))
                    else (".".join(base) or "__init__")
                    for alias in node.names
                )
    return found


def _package_files():
    return sorted(PACKAGE.rglob("*.py"))


def test_no_module_imports_one_that_imports_it_back():
    graph = {_module_name(path): _imports_of(path) for path in _package_files()}

    def reaches(start, target, seen):
        for module in graph.get(start, ()):
            if module == target or (
                module not in seen and reaches(module, target, seen | {module})
            ):
                return True
        return False

    cycles = [name for name in graph if name != "__init__" and reaches(name, name, {name})]
    assert cycles == []


def test_no_module_is_over_800_lines():
    lengths = {_module_name(path): len(path.read_text().splitlines()) for path in _package_files()}
    assert {name: n for name, n in lengths.items() if n > 800} == {}


@pytest.mark.parametrize(
    "module",
    [
        "_learning_curve",
        "_split",
        "_resume",
        "_validation",
        "_power_law",
        "_curves",
        "_calibration",
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


@pytest.mark.parametrize(
    "module",
    [
        "_learning_curve",
        "_split",
        "_resume",
        "_validation",
        "_power_law",
        "_curves",
        "_calibration",
    ],
)
def test_learning_curve_and_curve_models_know_nothing_of_keras(module):
    path = PACKAGE / f"{module}.py"
    assert not _third_party_imports(path) & {"keras", "tensorflow", "scikeras"}
    keras_side = {
        "_keras_utils", "_backbones", "_record", "_hub", "_layers", "_features", "_stages",
        "_training", "_transfer", "_tf_data", "_tf_backend", "_feeds", "_heads",
        "_backend", "_jax_backend",
    }  # fmt: skip
    assert not _imports_of(path) & keras_side


# The backend seam: the only modules that import TensorFlow (tf.data pipelines,
# traced functions, seeded augmentation, devices, distribution strategies), and
# their JAX twin, the only module that imports JAX; ``_backend`` picks the twin.
TENSORFLOW_SEAM = {"_tf_data", "_tf_backend"}
JAX_SEAM = {"_jax_backend"}
SEAM = TENSORFLOW_SEAM | JAX_SEAM
# What only TensorFlow's objects have: a tensor's or a dataset's ``.numpy()``,
# ``as_numpy_iterator``, ``element_spec``, a strategy's ``scope()``.
_TENSORFLOW_ATTRIBUTES = {"numpy", "as_numpy_iterator", "element_spec", "scope"}


@pytest.mark.parametrize("library, seam", [("tensorflow", TENSORFLOW_SEAM), ("jax", JAX_SEAM)])
def test_only_the_backend_seam_imports_a_backend(library, seam):
    """Everything outside the seam speaks Keras and ``keras.ops``: another backend is one change."""
    importers = {
        _module_name(path) for path in _package_files() if library in _third_party_imports(path)
    }
    assert importers <= seam, importers - seam


def test_the_seam_door_imports_no_backend_module_at_import():
    """``_backend`` picks a twin when called, so importing it imports neither twin nor Keras."""
    code = (
        "import sys, sklearn_vision._backend; "
        "print(sorted(m for m in sys.modules if m.split('.')[-1] in "
        "('keras', 'tensorflow', 'jax', '_tf_backend', '_jax_backend')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_no_implicit_tensorflow_ties_outside_the_seam():
    """No ``.numpy()`` on tensors (``keras.ops.convert_to_numpy``), specs or strategy scopes."""
    found = [
        f"{path.name}:{node.lineno} .{node.attr}"
        for path in _package_files()
        if _module_name(path) not in SEAM
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Attribute) and node.attr in _TENSORFLOW_ATTRIBUTES
    ]
    assert found == []


def test_input_kinds_are_compared_nowhere():
    """What a stage is fed is an object of ``_feeds``: its kind names it only in a saved plan."""
    kinds = {
        "rows", "images", "features", "feature_views", "activations", "activation_views",
    }  # fmt: skip
    found = []
    for path in _package_files():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Compare) and any(
                isinstance(part, ast.Constant) and part.value in kinds for part in ast.walk(node)
            ):
                found.append(f"{path.name}:{node.lineno} {ast.unparse(node)}")
    assert found == []


def _is_private(name):
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _root(node):
    """The name an expression such as ``a.b(c).d[0]`` starts from, or None."""
    while isinstance(node, (ast.Attribute, ast.Call, ast.Subscript)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def _names_from_other_packages(tree):
    """The names a module binds by importing from packages other than sklearn_vision."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(
                alias.asname or alias.name.split(".")[0]
                for alias in node.names
                if alias.name.split(".")[0] != "sklearn_vision"
            )
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            if node.module.split(".")[0] != "sklearn_vision":
                names.update(alias.asname or alias.name for alias in node.names)
    return names


def _private_module(dotted):
    parts = dotted.split(".")
    return parts[0] == "sklearn_vision" and any(_is_private(part) for part in parts[1:])


_BY_NAME = {"setattr", "getattr", "delattr", "hasattr"}


def private_reaches(source):
    """Where ``source`` reaches a private name of sklearn_vision: (line, what) pairs.

    A private module imported or named in a string (``import_module``,
    ``monkeypatch.setattr("sklearn_vision._x.f", ...)``), or a private
    attribute read (``obj._x``) or named to ``setattr``, ``getattr``,
    ``delattr``, ``hasattr`` or ``monkeypatch.setattr`` (``(obj, "_x")``).
    Attributes of what other packages' imports name (``sklearn.utils._x``,
    ``np._x``) and dunders are theirs to use.
    """
    tree = ast.parse(source)
    foreign = _names_from_other_packages(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if _private_module(node.module):
                found.append((node.lineno, f"from {node.module}"))
            elif node.module == "sklearn_vision":
                found += [
                    (node.lineno, f"from sklearn_vision import {alias.name}")
                    for alias in node.names
                    if _is_private(alias.name)
                ]
        elif isinstance(node, ast.Import):
            found += [
                (node.lineno, f"import {alias.name}")
                for alias in node.names
                if _private_module(alias.name)
            ]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if _private_module(node.value.strip()):
                found.append((node.lineno, repr(node.value)))
        elif isinstance(node, ast.Attribute) and _is_private(node.attr):
            if _root(node.value) not in foreign:
                found.append((node.lineno, f".{node.attr}"))
        elif isinstance(node, ast.Call) and len(node.args) >= 2:
            function = node.func
            called = function.attr if isinstance(function, ast.Attribute) else None
            called = function.id if isinstance(function, ast.Name) else called
            name = node.args[1]
            if (
                called in _BY_NAME
                and isinstance(name, ast.Constant)
                and isinstance(name.value, str)
                and _is_private(name.value)
                and _root(node.args[0]) not in foreign
            ):
                found.append((node.lineno, f"{called}(..., {name.value!r})"))
    return found


def test_no_module_branches_on_a_backbone_family():
    """What differs between families is in their records: nothing compares names to pick one."""
    from sklearn_vision import BACKBONES

    families = {*BACKBONES, "dinov2", "dinov3", "siglip", "vit", "keras_hub"}
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
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
    found = [
        f"{path.name}:{line} {what}"
        for path in sorted((PACKAGE.parent / "tests").glob("*.py"))
        for line, what in private_reaches(path.read_text())
    ]
    assert found == []


def test_private_reaches_flags_private_names_only():
    reaching = """
import sklearn_vision._cli
from sklearn_vision._learning_curve import balanced_subsample
from sklearn_vision import _power_law
from sklearn_vision import LearningCurveEstimator
importlib.import_module("sklearn_vision._split")
monkeypatch.setattr("sklearn_vision._cli._study._device", lambda: "CPU")
monkeypatch.setattr(LearningCurveEstimator, "_clone_estimator", clone)
setattr(lce, "_plan", None)
lce._plan(X, y)
"""
    assert sorted(line for line, _ in private_reaches(reaching)) == [2, 3, 4, 6, 7, 8, 9, 10]
    public = """
import numpy as np
import sklearn.utils._testing
from sklearn.utils import _safe_indexing
from sklearn_vision import LearningCurveEstimator
from sklearn_vision.__main__ import main
lce.classes_, lce.estimator_.n_features_in_, error.__notes__
sklearn.utils._testing.assert_allclose(np._NoValue, 1)
monkeypatch.setattr(builtins, "__import__", refuse)
monkeypatch.setattr(FailsSometimes, "fits", count())
"""
    assert private_reaches(public) == []

"""Keras backends: the core on TensorFlow and on JAX, and ``.keras`` files across them.

The main run (TensorFlow) runs these; the JAX pass runs this module again with
``KERAS_BACKEND=jax`` (``.ci/run``), and skips it whole where jax is not
installed. A file saved here is loaded on the other backend in a subprocess.
"""

import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest

BACKEND = os.environ.get("KERAS_BACKEND", "tensorflow")
if importlib.util.find_spec(BACKEND) is None:
    pytest.skip(f"{BACKEND} is not installed: pip install '.[{BACKEND}]'", allow_module_level=True)

from sklearn.model_selection import GroupKFold  # noqa: E402

from sklearn_vision import (  # noqa: E402
    LearningCurveEstimator,
    TransferImageClassifier,
    feature_cache_context,
    load_model,
)
from sklearn_vision.__main__ import main  # noqa: E402

from .conftest import TINY_MOBILENET, mobilenet, small_features  # noqa: E402

pytestmark = pytest.mark.backends
OTHER = {"tensorflow": "jax", "jax": "tensorflow"}[BACKEND]
on_jax = pytest.mark.skipif(BACKEND != "jax", reason="what only the JAX backend does")
# The main run covers these on TensorFlow (test_transfer, test_features, ...).
core = pytest.mark.skipif(BACKEND == "tensorflow", reason="the main run's modules cover TensorFlow")


def test_keras_runs_on_the_backend_asked_for():
    import keras

    assert keras.backend.backend() == BACKEND


@core
def test_frozen_and_two_stages_fit_predict_and_reproduce(digits, fresh_cache):
    X, y = digits
    frozen = mobilenet(fine_tune_from=None).fit(X[:90], y[:90])
    two_stage = mobilenet().fit(X[:90], y[:90])
    assert two_stage.fine_tune_index_ is not None and len(two_stage.history_["fine_tune"]["loss"])
    for clf in (frozen, two_stage):
        proba = clf.predict_proba(X[90:120])
        assert proba.shape == (30, 3)
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    # The same seed, the same fit: the cached outputs and the trained steps repeat.
    again = mobilenet().fit(X[:90], y[:90])
    expected = two_stage.predict_proba(X[90:120])
    np.testing.assert_array_equal(again.predict_proba(X[90:120]), expected)


@core
@pytest.mark.parametrize("cache", [True, False])
def test_augmentation_cached_views_and_fresh(digits, fresh_cache, cache):
    X, y = digits
    params = dict(augmentation="default", augmentation_views=2, cache=cache, epochs=1)
    clf = mobilenet(**params).fit(X[:60], y[:60])
    assert clf.stage_plan_.frozen_input == ("feature_views" if cache else "images")
    proba = clf.predict_proba(X[60:70])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    if cache:  # views are a function of the image and the seed: a refit sees the same ones
        again = mobilenet(**params).fit(X[:60], y[:60])
        np.testing.assert_array_equal(again.predict_proba(X[60:70]), proba)


@core
def test_class_weights_and_groups(digits, fresh_cache):
    X, y = digits
    groups = np.arange(90) // 3
    clf = mobilenet(class_weight="balanced", early_stopping=True, validation_fraction=0.2)
    clf.fit(X[:90], y[:90], groups=groups)
    assert clf.early_stopping_ and "val_loss" in clf.history_["frozen"]
    assert clf.predict(X[90:100]).shape == (10,)


@core
def test_backbone_features_through_the_cache(digits, fresh_cache):
    X, _ = digits
    features = small_features().fit(X[:20])
    first = features.transform(X[:20])
    assert first.shape == (20, features.n_features_out_) and fresh_cache.misses == 20
    np.testing.assert_array_equal(features.transform(X[:20]), first)
    assert fresh_cache.hits == 20
    # Rows are computed in padded batches: one image alone gives the same row.
    np.testing.assert_array_equal(features.transform(X[3:4]), first[3:4])


@core
def test_learning_curve(digits, fresh_cache):
    X, y = digits
    clf = TransferImageClassifier(
        "mobilenet_v2", **TINY_MOBILENET, epochs=2, early_stopping=False, random_state=0
    )
    lce = LearningCurveEstimator(clf, train_sizes=[15, 30, 60], n_repeats=2, random_state=0)
    lce.fit(X[:90], y[:90])
    assert lce.scores_.shape == (3, 2) and np.isfinite(lce.scores_).all()
    assert lce.predict(X[90:95]).shape == (5,)


@core
def test_mixed_precision(digits, fresh_cache):
    import keras

    X, y = digits
    clf = mobilenet(mixed_precision=True, fine_tune_from=None, epochs=1).fit(X[:30], y[:30])
    assert keras.mixed_precision.global_policy().name == "float32"
    assert clf.model_.output.dtype == "float32"
    np.testing.assert_allclose(clf.predict_proba(X[:5]).sum(axis=1), 1.0, rtol=1e-3)


@on_jax
def test_strategies_are_tensorflow_s(digits):
    X, y = digits
    with pytest.raises(ValueError, match="needs the TensorFlow backend"):
        mobilenet(strategy="mirrored").fit(X[:30], y[:30])


@core
def test_command_line_sample_size(capsys):
    args = ["sample-size", "--train-sizes", "20,40,80", "--repeats", "1", "--epochs", "1", "-q"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "sees no GPU)" in out or "Device: GPU (" in out


def _predict_on(backend, path, X, tmp_path):
    """``load_model(path).predict_proba(X)`` in a fresh process on ``backend``."""
    np.save(tmp_path / "X.npy", X)
    script = (
        "import numpy as np, keras\n"
        "from sklearn_vision import load_model\n"
        f"assert keras.backend.backend() == {backend!r}\n"
        f"clf = load_model({str(path)!r})\n"
        f"np.save({str(tmp_path / 'proba.npy')!r}, clf.predict_proba(np.load("
        f"{str(tmp_path / 'X.npy')!r})))\n"
    )
    env = {**os.environ, "KERAS_BACKEND": backend}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    return np.load(tmp_path / "proba.npy")


@pytest.mark.skipif(
    importlib.util.find_spec(OTHER) is None, reason=f"{OTHER} is not installed"
)  # fmt: skip
def test_saved_here_loads_on_the_other_backend(digits, tmp_path, fresh_cache):
    X, y = digits
    labels = np.array(["zero", "one", "two"], dtype=object)[y]
    clf = mobilenet().fit(X[:60], labels[:60])
    path = tmp_path / "model.keras"
    clf.save(path)
    here = load_model(path).predict_proba(X[60:90])
    np.testing.assert_allclose(here, clf.predict_proba(X[60:90]), atol=1e-6)
    there = _predict_on(OTHER, path, X[60:90], tmp_path)
    # Other kernels: the same probabilities to float32 rounding, not bit for bit.
    np.testing.assert_allclose(there, here, atol=1e-4)


@pytest.mark.skipif(
    importlib.util.find_spec(OTHER) is None, reason=f"{OTHER} is not installed"
)  # fmt: skip
def test_a_disk_cache_keeps_each_backend_s_features_apart(digits, tmp_path):
    X, _ = digits
    script = (
        "import numpy as np\n"
        "from sklearn_vision import BackboneFeatures, feature_cache_context\n"
        f"X = np.load({str(tmp_path / 'X.npy')!r})\n"
        f"with feature_cache_context(location={str(tmp_path)!r}) as cache:\n"
        f"    BackboneFeatures(**{TINY_MOBILENET!r}, random_state=0).fit_transform(X)\n"
        "    print(cache.misses)\n"
    )
    np.save(tmp_path / "X.npy", X[:10])
    env = {**os.environ, "KERAS_BACKEND": OTHER}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
    assert done.returncode == 0 and done.stdout.split()[-1] == "10", done.stderr[-2000:]
    with feature_cache_context(location=tmp_path) as cache:
        small_features().fit_transform(X[:10])
        # The other backend's features, on disk under other keys, are not served here.
        assert cache.misses == 10 and cache.hits == 0
        small_features().fit_transform(X[:10])
        assert cache.hits == 10


@core
def test_group_cross_validation_splits(digits, fresh_cache):
    X, y = digits
    groups = np.arange(60) // 4
    clf = mobilenet(fine_tune_from=None, epochs=1)
    lce = LearningCurveEstimator(
        clf, train_sizes=[10, 15, 20], n_repeats=1, cv=GroupKFold(2), random_state=0
    )
    lce.fit(X[:60], y[:60], groups=groups)
    assert np.isfinite(lce.scores_).all()

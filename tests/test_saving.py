"""Saved models: one .keras file, loaded without pickle, in a fresh process, refusing bad files."""

import json
import pickle
import subprocess
import sys
import zipfile
from contextlib import contextmanager

import joblib
import numpy as np
import pytest
from sklearn.base import clone

from sklearn_vision import BACKBONES, TransferImageClassifier, load_model

from .conftest import mobilenet

METADATA = "sklearn_vision.json"  # the metadata member of a saved model


@pytest.fixture(scope="module")
def fitted(digits):
    X, y = digits
    labels = np.array(["zero", "one", "two"], dtype=object)[y]
    clf = mobilenet(window=(0, 255), class_weight={"zero": 2.0, "one": 1.0, "two": 1.0})
    return clf.fit(X[:60], labels[:60]), X[90:120], labels


@pytest.fixture(scope="module")
def saved(fitted, tmp_path_factory):
    path = tmp_path_factory.mktemp("saved") / "model.keras"
    fitted[0].save(path)
    return path


def test_round_trip_in_a_fresh_process(fitted, saved, tmp_path):
    clf, X_test, _ = fitted
    np.save(tmp_path / "X.npy", X_test)
    script = (
        "import numpy as np, sys\n"
        "from sklearn_vision import load_model\n"
        f"clf = load_model({str(saved)!r})\n"
        f"X = np.load({str(tmp_path / 'X.npy')!r})\n"
        f"np.save({str(tmp_path / 'proba.npy')!r}, clf.predict_proba(X))\n"
        f"np.save({str(tmp_path / 'labels.npy')!r}, clf.predict(X).astype(str))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    np.testing.assert_allclose(
        np.load(tmp_path / "proba.npy"), clf.predict_proba(X_test), atol=1e-6
    )
    np.testing.assert_array_equal(np.load(tmp_path / "labels.npy"), clf.predict(X_test))


def test_loaded_classifier_is_fitted_clones_and_refits(fitted, saved, monkeypatch):
    clf, X_test, labels = fitted
    y_test = labels[90:120]
    refit_params = dict(epochs=1, fine_tune_epochs=0)
    # Fitted before loading, so nothing loading leaves behind can reach it.
    fresh = TransferImageClassifier(**clf.get_params()).set_params(**refit_params)
    fresh.fit(X_test, y_test)
    # No pickle anywhere in loading, nor joblib's unpickler (which bypasses pickle.load).
    for module, name in [
        (pickle, "load"),
        (pickle, "loads"),
        (joblib, "load"),
        (joblib.numpy_pickle, "load"),
    ]:
        where = f"{module.__name__}.{name}"
        monkeypatch.setattr(module, name, lambda *a, _at=where, **k: pytest.fail(f"{_at} called"))
    loaded = load_model(saved)
    assert loaded.classes_.tolist() == clf.classes_.tolist()
    assert loaded.classes_.dtype == clf.classes_.dtype
    assert loaded.image_size_ == clf.image_size_ and loaded.history_ == clf.history_
    assert loaded.fine_tune_index_ == clf.fine_tune_index_
    assert loaded.get_params() == clf.get_params()  # tuples and non-string keys kept
    np.testing.assert_allclose(loaded.predict_proba(X_test), clf.predict_proba(X_test), atol=1e-6)
    # A clone, and the loaded classifier itself, refit as a new one would: same random_state,
    # same data, same predictions; nothing of the saved model carries over.
    expected = fresh.predict_proba(X_test)
    for refit in (clone(loaded).set_params(**refit_params), loaded.set_params(**refit_params)):
        refit.fit(X_test, y_test)
        np.testing.assert_allclose(refit.predict_proba(X_test), expected, rtol=0, atol=1e-6)
        np.testing.assert_array_equal(refit.predict(X_test), fresh.predict(X_test))


@contextmanager
def unpickled_globals():
    """Every global any unpickler looks up inside the block, however it was called.

    Through the ``pickle.find_class`` audit event, raised by the C and Python
    unpicklers alike (joblib's included), even when a function was imported
    under another name. Audit hooks cannot be removed: this one goes quiet.
    """
    found, listening = [], [True]

    def hook(event, args):
        if listening[0] and event == "pickle.find_class":
            found.append(args)

    sys.addaudithook(hook)
    try:
        yield found
    finally:
        listening[0] = False


def test_loading_never_calls_pickle_or_joblib(fitted, saved, monkeypatch):
    called = []

    def refuse(name):
        def load(*args, **kwargs):
            called.append(name)
            pytest.fail(f"load_model called {name}")

        return load

    for module, name in [
        (pickle, "load"),
        (pickle, "loads"),
        (joblib, "load"),
        (joblib.numpy_pickle, "load"),
    ]:
        monkeypatch.setattr(module, name, refuse(f"{module.__name__}.{name}"))
    with unpickled_globals() as looked_up:
        loaded = load_model(saved)
    assert called == [] and looked_up == []  # even where an error was caught
    assert loaded.classes_.tolist() == fitted[0].classes_.tolist()


def test_file_holds_no_pickle_and_loads_in_keras_safe_mode(saved):
    import keras

    with zipfile.ZipFile(saved) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    assert set(members) == {"metadata.json", "config.json", "model.weights.h5", METADATA}
    for name, data in members.items():
        if name.endswith(".json"):
            json.loads(data)
        else:
            assert data.startswith(b"\x89HDF\r\n\x1a\n")  # HDF5 arrays, no pickle stream
    metadata = json.loads(members[METADATA])
    assert metadata["library"] == "sklearn-vision" and metadata["format"] == 1
    assert metadata["keras_version"] == keras.__version__
    serving = keras.saving.load_model(saved, safe_mode=True)
    assert serving.input_shape == (None, None, None, 3)


def test_serving_model_takes_raw_images_of_any_size(fitted, saved):
    import keras

    clf, X_test, _ = fitted
    serving = keras.saving.load_model(saved, safe_mode=True)
    # uint8 pixels at 32 px, and the same images at 64 px: resizing is inside.
    np.testing.assert_allclose(np.asarray(serving(X_test)), clf.predict_proba(X_test), atol=1e-5)
    big = X_test.repeat(2, axis=1).repeat(2, axis=2)
    np.testing.assert_allclose(np.asarray(serving(big)), clf.predict_proba(big), atol=1e-5)


def test_exported_saved_model_runs_in_plain_tensorflow(fitted, tmp_path):
    import tensorflow as tf

    clf, X_test, _ = fitted
    clf.export(tmp_path / "served")
    reloaded = tf.saved_model.load(str(tmp_path / "served"))
    proba = reloaded.serve(tf.constant(X_test, dtype=tf.float32)).numpy()
    np.testing.assert_allclose(proba, clf.predict_proba(X_test), atol=1e-5)


# The keras.applications module whose preprocess_input each registered backbone
# expects (None: preprocessing inside the model; small_cnn: x / 255).
_KERAS_MODULES = {
    "mobilenet_v2": "mobilenet_v2",
    "resnet50": "resnet",
    "resnet50_v2": "resnet_v2",
    "vgg16": "vgg16",
    "densenet121": "densenet",
    "xception": "xception",
    "inception_v3": "inception_v3",
}


@pytest.mark.parametrize("name", sorted(BACKBONES))
def test_preprocessing_function_and_layers_match_keras_applications(name):
    import importlib

    images = np.random.default_rng(0).uniform(0, 255, (2, 5, 7, 3)).astype("float32")
    preprocessing = BACKBONES[name].preprocessing
    if name in _KERAS_MODULES:
        module = importlib.import_module(f"keras.applications.{_KERAS_MODULES[name]}")
        expected = np.asarray(module.preprocess_input(images.copy()))
    elif name == "small_cnn":
        expected = images / 255
    else:
        assert preprocessing is None
        return
    np.testing.assert_allclose(preprocessing(images), expected, rtol=1e-5, atol=1e-4)
    x = images
    for layer in preprocessing.layers():
        x = layer(x)
    # The saved layers compute exactly what training fed the backbone.
    np.testing.assert_allclose(np.asarray(x), preprocessing(images), rtol=1e-6, atol=1e-5)


def test_bad_files_are_refused_with_reasons(saved, tmp_path, fitted):
    import keras

    pickled = tmp_path / "model.joblib"
    joblib.dump(fitted[0], pickled)
    with pytest.raises(ValueError, match="not a .keras zip file.*runs code"):
        load_model(pickled)
    truncated = tmp_path / "truncated.keras"
    truncated.write_bytes(saved.read_bytes()[: saved.stat().st_size // 2])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        load_model(truncated)
    plain = tmp_path / "plain.keras"
    keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)]).save(plain)
    with pytest.raises(ValueError, match="not one TransferImageClassifier.save wrote"):
        load_model(plain)
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "missing.keras")


def _rewrite(source, target, replace):
    with zipfile.ZipFile(source) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    members.update(replace(members))
    with zipfile.ZipFile(target, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def test_newer_format_and_tampered_files_are_refused(saved, tmp_path):
    import keras

    def newer(members):
        metadata = json.loads(members[METADATA])
        metadata.update(format=2, version="9.0.0")
        return {METADATA: json.dumps(metadata)}

    _rewrite(saved, tmp_path / "newer.keras", newer)
    with pytest.raises(ValueError, match="file format 2.*Upgrade sklearn-vision"):
        load_model(tmp_path / "newer.keras")

    # A file whose model would run code on loading (a Lambda layer), given our metadata.
    evil = tmp_path / "evil.keras"
    keras.Sequential([keras.Input((3,)), keras.layers.Lambda(lambda x: x * 2)]).save(evil)
    _rewrite(evil, tmp_path / "tampered.keras", lambda m: {METADATA: saved_metadata(saved)})
    with pytest.raises(ValueError, match="could not be loaded safely"):
        load_model(tmp_path / "tampered.keras")


def saved_metadata(path):
    with zipfile.ZipFile(path) as archive:
        return archive.read(METADATA)


def test_feature_rows_and_unsavable_backbones(tmp_path, digits):
    import keras

    X = np.random.default_rng(0).normal(size=(40, 4)).astype("float32")
    y = (X[:, 0] > 0).astype(int)
    clf = TransferImageClassifier(backbone=None, epochs=2, random_state=0).fit(X, y)
    clf.save(tmp_path / "rows.keras")
    loaded = load_model(tmp_path / "rows.keras")
    np.testing.assert_allclose(loaded.predict_proba(X), clf.predict_proba(X), atol=1e-6)
    assert loaded.classes_.dtype == clf.classes_.dtype
    # The default early_stopping="auto" is saved as given, with what the fit decided.
    assert loaded.get_params()["early_stopping"] == "auto"
    assert loaded.early_stopping_ is clf.early_stopping_ is True
    with pytest.raises(ValueError, match="are .keras files"):
        clf.save(tmp_path / "rows.joblib")
    backbone = keras.applications.MobileNetV2(
        input_shape=(32, 32, 3), alpha=0.35, include_top=False, weights=None
    )
    images, labels = digits
    own = TransferImageClassifier(
        backbone, epochs=1, fine_tune_from=None, early_stopping=False, random_state=0
    ).fit(images[:30], labels[:30])
    with pytest.raises(ValueError, match="by its registered name"):
        own.save(tmp_path / "own.keras")


def test_files_saved_before_the_stage_plan_still_predict(saved, fitted, tmp_path):
    # Files written before the stage plan and the early-stopping decision were
    # saved have neither field.
    def without_plan(members):
        metadata = json.loads(members[METADATA])
        del metadata["stage_plan"], metadata["early_stopping"]
        return {METADATA: json.dumps(metadata)}

    clf, X_test, _ = fitted
    _rewrite(saved, tmp_path / "older.keras", without_plan)
    older = load_model(tmp_path / "older.keras")
    np.testing.assert_allclose(older.predict_proba(X_test), clf.predict_proba(X_test), atol=1e-5)
    assert older.early_stopping_ is False  # read from the history: no validation loss
    X = np.random.default_rng(0).normal(size=(40, 4)).astype("float32")
    rows = TransferImageClassifier(backbone=None, epochs=2, random_state=0).fit(X, X[:, 0] > 0)
    rows.save(tmp_path / "rows.keras")
    _rewrite(tmp_path / "rows.keras", tmp_path / "older_rows.keras", without_plan)
    older_rows = load_model(tmp_path / "older_rows.keras")
    np.testing.assert_allclose(older_rows.predict_proba(X), rows.predict_proba(X), atol=1e-6)
    assert older_rows.early_stopping_ is True

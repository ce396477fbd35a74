"""Saved models whose sklearn-vision metadata was altered: one clear error, naming the file."""

import json
import re
import zipfile

import numpy as np
import pytest

from sklearn_vision import TransferImageClassifier, load_model

METADATA = "sklearn_vision.json"


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A classifier of feature rows saved to a .keras file: a second to fit."""
    X = np.random.default_rng(0).normal(size=(40, 4)).astype("float32")
    y = (X[:, 0] > 0).astype(int)
    path = tmp_path_factory.mktemp("saved") / "rows.keras"
    TransferImageClassifier(backbone=None, epochs=1, random_state=0).fit(X, y).save(path)
    return path


def _with_metadata(source, target, change):
    """Copy the saved model ``source`` to ``target``, its metadata rewritten by ``change``."""
    with zipfile.ZipFile(source) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    members[METADATA] = json.dumps(change(json.loads(members[METADATA])))
    with zipfile.ZipFile(target, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return target


def _without(name):
    return lambda metadata: {key: value for key, value in metadata.items() if key != name}


def _setting(**fields):
    return lambda metadata: {**metadata, **fields}


# Each alteration, and what the error must say was wrong. Before, each raised the bare
# error of wherever loading stumbled (KeyError, TypeError, AttributeError, ValueError).
TAMPERED = {
    "missing key": (_without("classes"), "'classes' is missing"),
    "bad classes_dtype": (
        _setting(classes_dtype="not-a-dtype"),
        "'classes_dtype' is \"not-a-dtype\" (a str), expected a NumPy dtype",
    ),
    "format as a string": (_setting(format="1"), "'format' is \"1\" (a str), expected an integer"),
    "params not an object": (_setting(params=[]), "'params' is [] (a list), expected an object"),
    "classes not of their dtype": (
        _setting(classes=["no", "yes"]),
        "'classes' [\"no\", \"yes\"] are not all of 'classes_dtype'",
    ),
    "not an object": (lambda metadata: [metadata], "it holds a list, not an object"),
    "unknown model layer": (_setting(model_layer="nowhere"), "no layer 'model_layer' 'nowhere'"),
}


@pytest.mark.parametrize("alteration", TAMPERED)
def test_tampered_metadata_is_refused_with_one_clear_error(saved, tmp_path, alteration):
    change, problem = TAMPERED[alteration]
    tampered = _with_metadata(saved, tmp_path / "tampered.keras", change)
    with pytest.raises(ValueError) as raised:
        load_model(tampered)
    message = str(raised.value)
    assert str(tampered) in message and METADATA in message
    assert problem in message
    assert re.search(r"re-save the model with TransferImageClassifier\.save", message)


def test_untampered_copy_still_loads(saved, tmp_path):
    copy = _with_metadata(saved, tmp_path / "copy.keras", lambda metadata: metadata)
    assert load_model(copy).classes_.tolist() == [0, 1]

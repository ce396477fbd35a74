"""Saving a fitted TransferImageClassifier as one ``.keras`` file, and loading it: no pickle.

The file is Keras's own zip format, holding a model that takes raw images of
any size (pixels in [0, 255]) and returns class probabilities, resizing and
the backbone's preprocessing being layers inside it, plus the estimator's
metadata as JSON (``sklearn_vision.json``). Loading goes through
:func:`keras.saving.load_model` with ``safe_mode=True``: no code in the file
is run.
"""

import json
import os
import zipfile
import zlib

import numpy as np

from ._dicom import regular_file_size
from ._version import __version__

METADATA = "sklearn_vision.json"
FORMAT = 1  # raised when a file this version writes cannot be read by older ones
SERVING_NAME = "sklearn_vision_classifier"


def serving_model(clf):
    """The fitted classifier as one Keras model: raw images (or rows) in, probabilities out."""
    import keras

    if clf.backbone is None:
        inputs = keras.Input(shape=(clf.n_features_in_,), name="features")
        return keras.Model(inputs, clf.model_(inputs, training=False), name=SERVING_NAME)
    inputs = keras.Input(shape=(None, None, 3), name="images")
    x = keras.layers.Resizing(*clf.image_size_, interpolation="bilinear", name="resize")(inputs)
    preprocessing = clf.stage_plan_.preprocessing  # what training fed the backbone
    for layer in [] if preprocessing is None else preprocessing.layers():
        x = layer(x)
    # Inference whatever a caller passes: the saved model only serves.
    return keras.Model(inputs, clf.model_(x, training=False), name=SERVING_NAME)


# ---------------------------------------------------------------- parameters as JSON


def _encode(value, dropped, name):
    """A parameter as JSON; tuples, non-string keys and Keras objects tagged."""
    import keras

    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float, np.integer, np.floating)):
        return value.item() if isinstance(value, np.generic) else value
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v, dropped, name) for v in value]}
    if isinstance(value, list):
        return [_encode(v, dropped, name) for v in value]
    if isinstance(value, dict):
        pairs = [[_encode(k, dropped, name), _encode(v, dropped, name)] for k, v in value.items()]
        return {"__dict__": pairs}
    if isinstance(value, (keras.layers.Layer, keras.optimizers.Optimizer)) and not isinstance(
        value, keras.Model
    ):
        return {"__keras__": keras.saving.serialize_keras_object(value)}
    dropped.append(name)
    return None


def _decode(value):
    import keras

    if isinstance(value, list):
        return [_decode(v) for v in value]
    if isinstance(value, dict):
        if "__tuple__" in value:
            return tuple(_decode(v) for v in value["__tuple__"])
        if "__dict__" in value:
            return {_decode(k): _decode(v) for k, v in value["__dict__"]}
        if "__keras__" in value:
            return keras.saving.deserialize_keras_object(value["__keras__"], safe_mode=True)
    return value


# ---------------------------------------------------------------- save and load


def save(clf, path):
    """Write the fitted ``clf`` to a ``.keras`` file: :meth:`TransferImageClassifier.save`."""
    import keras

    path = os.fspath(path)
    if not path.endswith(".keras"):
        raise ValueError(f"Saved models are .keras files; got {path!r}. Name it model.keras.")
    if clf.backbone is not None and not isinstance(clf.backbone, str):
        raise ValueError(
            "save() restores the backbone by its registered name; this classifier was given "
            f"a {type(clf.backbone).__name__} as backbone. Save clf.model_ with Keras "
            "(model_.save), or pickle the classifier if whoever loads it trusts you."
        )
    classes = clf.classes_
    if classes.dtype.kind not in "iubUSO" or not all(
        isinstance(c, (str, int, bool, np.integer, np.bool_, np.str_)) for c in classes.tolist()
    ):
        raise ValueError(f"save() writes class labels as JSON: numbers or text; got {classes!r}.")
    dropped = []
    params = {
        name: _encode(value, dropped, name) for name, value in clf.get_params(deep=False).items()
    }
    metadata = {
        "format": FORMAT,
        "library": "sklearn-vision",
        "version": __version__,
        "keras_version": keras.__version__,
        "backend": keras.backend.backend(),
        "estimator": type(clf).__name__,
        "params": params,
        "not_saved": sorted(set(dropped)),
        "classes": classes.tolist(),
        "classes_dtype": classes.dtype.str,
        "n_features_in": int(clf.n_features_in_),
        "image_size": None if clf.image_size_ is None else list(clf.image_size_),
        "fine_tune_index": clf.fine_tune_index_,
        "stage_plan": clf.stage_plan_.to_dict(),
        "history": clf.history_,
        "early_stopping": clf.early_stopping_,
        "model_layer": clf.model_.name,
    }
    serving_model(clf).save(path)
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(METADATA, json.dumps(metadata, indent=1, default=_plain))


def _plain(value):
    """NumPy scalars and arrays (in a history) as plain JSON numbers and lists."""
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


# Bounds on what a file may make loading read, checked from the zip's directory and
# the metadata before anything is inflated or built: the JSON members are a few
# kilobytes when saved, the weights as large as the model.
MAX_JSON_BYTES = 64 * 2**20
MAX_IMAGE_SIDE = 8192
MAX_BATCH_SIZE = 2**16
KERAS_MEMBERS = ("config.json", "model.weights.h5")


def read_metadata(path):
    """The JSON metadata of a saved model, with clear errors for files that are not one."""

    if not os.path.exists(path):
        raise FileNotFoundError(f"No such model file: {path!r}.")
    try:
        regular_file_size(path)
    except OSError as exc:  # a folder, a pipe, a device: never opened
        raise ValueError(f"{path!r} is {exc}; give a .keras file.") from None
    with open(path, "rb") as file:
        zipped = file.read(4) == b"PK\x03\x04"
    if zipped and not zipfile.is_zipfile(path):
        raise ValueError(f"{path!r} is truncated or corrupt (an incomplete zip); save it again.")
    if not zipped:
        raise ValueError(
            f"{path!r} is not a model saved by sklearn-vision (not a .keras zip file; "
            "TransferImageClassifier.save writes those). A pickle or joblib file is "
            "loaded with joblib.load, and runs code as it loads: only from a trusted source."
        )
    try:
        with zipfile.ZipFile(path) as archive:
            _check_members(path, archive)
            broken = archive.testzip()
            if broken is not None:
                raise ValueError(f"{path!r} is corrupt: its member {broken!r} fails its checksum.")
            with archive.open(METADATA) as member:
                metadata = json.loads(member.read(MAX_JSON_BYTES + 1))
    except (
        zipfile.BadZipFile,
        EOFError,
        zlib.error,
        NotImplementedError,  # a compression method zipfile does not read
        json.JSONDecodeError,
    ) as exc:
        raise ValueError(
            f"{path!r} is truncated or corrupt ({_one_line(exc)}); save the model again."
        ) from exc
    except (UnicodeDecodeError, RecursionError) as exc:
        problem = f"it is not JSON text that can be read ({_one_line(exc)})"
        raise _damaged_metadata_error(path, [problem]) from exc
    if not isinstance(metadata, dict):
        problem = f"it holds a {type(metadata).__name__}, not an object"
        raise _damaged_metadata_error(path, [problem])
    if metadata.get("library") != "sklearn-vision":
        raise ValueError(f"{path!r} was not written by sklearn-vision.")
    # The format first: a newer one may hold other fields, and says to upgrade.
    _check_fields(path, metadata, ["format"])
    if metadata["format"] > FORMAT:
        raise ValueError(
            f"{path!r} was saved by sklearn-vision {metadata.get('version')} in file format "
            f"{metadata['format']}; this is sklearn-vision {__version__}, which reads format "
            f"{FORMAT} and older. Upgrade sklearn-vision to load it."
        )
    # Files written before the stage plan (or the early-stopping decision) was
    # saved lack it.
    optional = {"stage_plan", "early_stopping"}
    _check_fields(path, metadata, [n for n in _FIELDS if n not in optional or n in metadata])
    return metadata


def saved_early_stopping(metadata):
    """Whether the saved fit stopped early; for older files, whether it held out a split."""
    if "early_stopping" in metadata:
        return metadata["early_stopping"]
    stages = metadata["history"].values()
    return any(isinstance(stage, dict) and "val_loss" in stage for stage in stages)


def _check_members(path, archive):
    """Refuse a zip whose members are missing, encrypted or too large, from its directory."""
    members = {info.filename: info for info in archive.infolist()}
    if METADATA not in members:
        raise ValueError(
            f"{path!r} is a Keras file, but not one TransferImageClassifier.save wrote "
            f"(it has no {METADATA}); load it with keras.saving.load_model."
        )
    missing = [name for name in KERAS_MEMBERS if name not in members]
    if missing:
        raise ValueError(
            f"{path!r} is damaged: the Keras model in it has no {' or '.join(missing)}; "
            "save the model again."
        )
    encrypted = sorted(name for name, info in members.items() if info.flag_bits & 0x1)
    if encrypted:
        raise ValueError(
            f"{path!r} has encrypted members ({', '.join(encrypted)}), which a saved model "
            "never has; save the model again, without encryption."
        )
    for name in (METADATA, "config.json", "metadata.json"):
        if name in members and members[name].file_size > MAX_JSON_BYTES:
            raise ValueError(
                f"{path!r} is damaged: its member {name!r} would inflate to "
                f"{members[name].file_size:,} bytes, over the {MAX_JSON_BYTES // 2**20} MiB "
                "a saved model's JSON takes; the file was altered: save the model again."
            )


def _one_line(exc):
    """An exception as one short line: its type and the start of its first line."""
    lines = str(exc).strip().splitlines()
    message = lines[0].rstrip(".") if lines else ""
    message = message if len(message) <= 200 else message[:197] + "..."
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


# ---------------------------------------------------------------- what loading reads


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _is_labels(value):
    return (
        isinstance(value, list)
        and len(value) > 0
        and all(isinstance(label, (str, int)) for label in value)
        and len({json.dumps(label) for label in value}) == len(value)
    )


def _is_image_size(value):
    return value is None or (
        isinstance(value, list)
        and len(value) == 2
        and all(_is_int(v) and 0 < v <= MAX_IMAGE_SIDE for v in value)
    )


def _is_stage_plan(value):
    from ._stages import StagePlan

    try:
        StagePlan.from_dict(value)
    except Exception:  # any damage: a missing key, a wrong type
        return False
    return True


def _label_dtype(value):
    """The NumPy dtype of numbers or text that ``value`` names, or None."""
    if not isinstance(value, str):
        return None
    try:
        dtype = np.dtype(value)
    except (TypeError, ValueError):
        return None
    return dtype if dtype.kind in "iubUO" else None


# What loading reads from the metadata: the field, what it must be, and a check of it.
_FIELDS = {
    "format": ("an integer", _is_int),
    "params": ("an object of parameters", lambda value: isinstance(value, dict)),
    "classes": ("a non-empty list of distinct numbers or strings", _is_labels),
    "classes_dtype": (
        "a NumPy dtype of numbers or text, such as '<i8', '<U5' or '|O'",
        lambda value: _label_dtype(value) is not None,
    ),
    "n_features_in": ("a positive integer", lambda value: _is_int(value) and value > 0),
    "image_size": (
        f"null or [height, width] in pixels, each at most {MAX_IMAGE_SIDE}",
        _is_image_size,
    ),
    "fine_tune_index": ("null or an integer", lambda value: value is None or _is_int(value)),
    "stage_plan": ("an object naming what each stage trained on", _is_stage_plan),
    "history": ("an object of training histories", lambda value: isinstance(value, dict)),
    "early_stopping": ("true or false", lambda value: isinstance(value, bool)),
    "model_layer": ("a layer name", lambda value: isinstance(value, str)),
}


def _check_fields(path, metadata, names):
    """Raise a ValueError naming each of the fields ``names`` that is missing or wrong."""
    problems = []
    for name in names:
        expected, check = _FIELDS[name]
        if name not in metadata:
            problems.append(f"{name!r} is missing (expected {expected})")
        elif not check(metadata[name]):
            value = metadata[name]
            problems.append(
                f"{name!r} is {_shown(value)} (a {type(value).__name__}), expected {expected}"
            )
    if not problems and {"classes", "classes_dtype"} <= set(names):
        classes, dtype = metadata["classes"], _label_dtype(metadata["classes_dtype"])
        try:
            same = np.asarray(classes, dtype=dtype).tolist() == classes
        except (TypeError, ValueError, OverflowError):
            same = False
        if not same:
            problems.append(
                f"'classes' {_shown(classes)} are not all of 'classes_dtype' {dtype.str!r}"
            )
    if problems:
        raise _damaged_metadata_error(path, problems)


def _shown(value):
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _damaged_metadata_error(path, problems):
    """The error for a saved model whose metadata was altered after saving."""
    return ValueError(
        f"{path!r} has damaged sklearn-vision metadata ({METADATA}): "
        f"{'; '.join(problems)}. The file was altered after TransferImageClassifier.save "
        "wrote it; re-save the model with TransferImageClassifier.save (or fit it again)."
    )


def read_saved(path, estimator):
    """The fitted ``model_``, the metadata and the parameters of a saved ``estimator`` class.

    Checks the file (:func:`read_metadata`) and its parameters against the
    estimator's constraints, then loads it with :func:`keras.saving.load_model`
    and ``safe_mode=True`` (nothing is unpickled, and a file whose
    configuration would run code is refused), then checks the metadata
    against the model: as many classes as outputs, a stage plan for its input.
    """
    import keras

    from ._layers import custom_objects

    path = os.fspath(path)
    metadata = read_metadata(path)
    params = _saved_params(path, metadata, estimator)
    try:
        serving = keras.saving.load_model(
            path, safe_mode=True, compile=False, custom_objects=custom_objects()
        )
    except Exception as exc:  # Keras and h5py raise many kinds on a damaged file
        raise ValueError(
            f"{path!r} could not be loaded safely ({_one_line(exc)}). Keras's safe mode "
            "refuses files that would run code, which a file saved by "
            "TransferImageClassifier.save never needs: this one was altered, damaged or "
            "is not ours; save the model again."
        ) from exc
    try:
        model = serving.get_layer(metadata["model_layer"])
    except ValueError:
        name = metadata["model_layer"]
        problem = f"its model has no layer 'model_layer' {name!r}"
        raise _damaged_metadata_error(path, [problem]) from None
    _check_against_model(path, metadata, params, serving)
    return model, metadata, params


def _saved_params(path, metadata, estimator):
    """The decoded parameters, each known to ``estimator`` and within its constraints."""
    from sklearn.utils._param_validation import validate_parameter_constraints

    try:
        params = {name: _decode(value) for name, value in metadata["params"].items()}
    except Exception as exc:  # anything a tampered value makes decoding raise
        problem = f"its 'params' cannot be decoded ({_one_line(exc)})"
        raise _damaged_metadata_error(path, [problem]) from exc
    unknown = sorted(set(params) - set(estimator._get_param_names()))
    if "backbone" not in params:  # its default would build another model than the file's
        raise _damaged_metadata_error(path, ["'params' has no 'backbone'"])
    if unknown:
        problem = f"'params' names {unknown}, not parameters of {estimator.__name__}"
        raise _damaged_metadata_error(path, [problem])
    try:
        validate_parameter_constraints(
            estimator._parameter_constraints, params, caller_name=estimator.__name__
        )
    except ValueError as exc:
        raise _damaged_metadata_error(path, [f"in 'params': {_one_line(exc)}"]) from exc
    if params.get("batch_size", 1) > MAX_BATCH_SIZE:
        problem = f"'params' batch_size {params['batch_size']} is over {MAX_BATCH_SIZE}"
        raise _damaged_metadata_error(path, [problem])
    return params


def _check_against_model(path, metadata, params, serving):
    """Refuse metadata that does not fit the model: class count, the stage plan's input."""
    outputs = serving.outputs[0].shape[-1]
    if outputs != len(metadata["classes"]):
        problem = (
            f"'classes' names {len(metadata['classes'])} classes, and the model has "
            f"{outputs} outputs"
        )
        raise _damaged_metadata_error(path, [problem])
    plan = metadata.get("stage_plan")
    if plan is not None:
        from ._feeds import RowsFeed, feed_of

        rows = params.get("backbone") is None
        if isinstance(feed_of(plan["frozen_input"]), RowsFeed) != rows:
            expected = f"{RowsFeed.kind!r}" if rows else f"not {RowsFeed.kind!r}"
            problem = (
                f"'stage_plan' frozen_input is {plan['frozen_input']!r}, for a model "
                f"{'without' if rows else 'with'} a backbone ({expected})"
            )
            raise _damaged_metadata_error(path, [problem])


def export(clf, path, format="tf_saved_model"):
    """Export the serving model with Keras's ``Model.export``: see the classifier's ``export``."""
    serving_model(clf).export(os.fspath(path), format=format, verbose=False)

"""Backbone registry: name -> keras.applications builder, preprocessing, sizes and blocks.

Nothing here imports Keras at module level: a spec names the constructor and the
preprocessing module, and :func:`build_backbone` imports them when a model is built.
"""

import importlib
import os
import re
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import Interval

from ._cache import get_feature_cache
from ._images import check_image_size
from ._keras_utils import clone_with_weights

# Parameter constraints of every estimator that builds a backbone.
BACKBONE_PARAMETER_CONSTRAINTS = {
    "weights": [str, os.PathLike, None],
    "image_size": [Interval(Integral, 1, None, closed="left"), tuple, None],
    "backbone_kwargs": [dict, None],
}


@dataclass(frozen=True)
class BackboneSpec:
    """How to build and feed one backbone.

    Attributes
    ----------
    constructor : str
        Name of the builder in ``keras.applications`` (or ``"small_cnn"``).
    preprocessing : str
        Module of ``keras.applications`` whose ``preprocess_input`` maps pixel
        values in [0, 255] to what the backbone expects, or ``"unit"`` for
        ``x / 255``.
    default_size : int
        Input height and width the weights were trained at.
    min_size : int
        Smallest height and width the architecture accepts.
    block_pattern : str
        Regular expression matching the layer-name prefix of a block; the valid
        ``fine_tune_from`` names are the prefixes it finds.
    fine_tune_from : str, int, float or None
        The recommended ``fine_tune_from`` (what ``"auto"`` means).
    pretrained : bool
        Whether ImageNet weights exist for it.
    """

    constructor: str
    preprocessing: str
    default_size: int
    min_size: int
    block_pattern: str
    fine_tune_from: object
    pretrained: bool = True


def _efficientnet(constructor, size):
    return BackboneSpec(constructor, "efficientnet", size, 32, r"block\d+[a-z]", "block6a")


# "auto" fine-tunes about the top fifth of each network: the last stage (or the
# last two blocks) whose features are the most specific to ImageNet.
BACKBONES = {
    "mobilenet_v2": BackboneSpec("MobileNetV2", "mobilenet_v2", 224, 32, r"block_\d+", "block_13"),
    "mobilenet_v3_small": BackboneSpec(
        "MobileNetV3Small", "mobilenet_v3", 224, 32, r"expanded_conv_\d+", "expanded_conv_9"
    ),
    "mobilenet_v3_large": BackboneSpec(
        "MobileNetV3Large", "mobilenet_v3", 224, 32, r"expanded_conv_\d+", "expanded_conv_12"
    ),
    "efficientnet_b0": _efficientnet("EfficientNetB0", 224),
    "efficientnet_b1": _efficientnet("EfficientNetB1", 240),
    "efficientnet_b2": _efficientnet("EfficientNetB2", 260),
    "efficientnet_b3": _efficientnet("EfficientNetB3", 300),
    "efficientnet_v2_b0": BackboneSpec(
        "EfficientNetV2B0", "efficientnet_v2", 224, 32, r"block\d+[a-z]", "block6a"
    ),
    "resnet50": BackboneSpec("ResNet50", "resnet", 224, 32, r"conv\d_block\d+", "conv5_block1"),
    "resnet50_v2": BackboneSpec(
        "ResNet50V2", "resnet_v2", 224, 32, r"conv\d_block\d+", "conv5_block1"
    ),
    "vgg16": BackboneSpec("VGG16", "vgg16", 224, 32, r"block\d+", "block5"),
    "densenet121": BackboneSpec(
        "DenseNet121", "densenet", 224, 32, r"conv\d_block\d+", "conv5_block9"
    ),
    "xception": BackboneSpec("Xception", "xception", 299, 71, r"block\d+", "block13"),
    # InceptionV3's branch layers are anonymous (conv2d_87); its top two
    # inception blocks are its last 62 layers (the Keras fine-tuning guide).
    "inception_v3": BackboneSpec("InceptionV3", "inception_v3", 299, 75, r"mixed\d+", 62),
    "convnext_tiny": BackboneSpec(
        "ConvNeXtTiny", "convnext", 224, 32, r"convnext_tiny_stage_\d+", "convnext_tiny_stage_3"
    ),
    # Chollet's "very little data" baseline: three conv/pool blocks trained from
    # scratch. Stage 1 trains all of it; there is nothing to fine-tune.
    "small_cnn": BackboneSpec("small_cnn", "unit", 150, 16, r"block\d+", None, pretrained=False),
}


def get_spec(name):
    """Return the :class:`BackboneSpec` of a registered backbone name."""
    try:
        return BACKBONES[name]
    except KeyError:
        raise ValueError(
            f"Unknown backbone {name!r}. Known backbones: {', '.join(sorted(BACKBONES))}; "
            "or pass a keras.Model (or a callable returning one)."
        ) from None


def preprocess_function(spec):
    """Return the function mapping [0, 255] float pixels to the backbone's input."""
    if spec is None:
        return None
    if spec.preprocessing == "unit":
        return lambda x: x / 255.0
    module = importlib.import_module(f"keras.applications.{spec.preprocessing}")
    return module.preprocess_input


# How each keras.applications module's preprocess_input maps [0, 255] pixels
# (keras/src/applications/imagenet_utils.py and the modules themselves): the
# layers below do the same inside the saved model.
_MODES = {
    "mobilenet_v2": "tf",
    "resnet_v2": "tf",
    "xception": "tf",
    "inception_v3": "tf",
    "resnet": "caffe",
    "vgg16": "caffe",
    "densenet": "torch",
    "mobilenet_v3": None,  # preprocessing is inside these models
    "efficientnet": None,
    "efficientnet_v2": None,
    "convnext": None,
    "unit": "unit",
}
_CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
_TORCH_MEAN = (0.485, 0.456, 0.406)
_TORCH_STD = (0.229, 0.224, 0.225)


def preprocessing_layers(spec):
    """Keras layers doing what :func:`preprocess_function` does, to save inside a model.

    What each ``keras.applications.<module>.preprocess_input`` does, as layers
    that Keras's safe mode loads (no Lambda); ``tests/test_saving.py`` checks
    that both give the same pixels for every backbone.
    """
    import keras

    mode = _MODES[spec.preprocessing]
    if mode is None:
        return []
    if mode == "unit":
        return [keras.layers.Rescaling(1 / 255, name="preprocess")]
    if mode == "tf":
        return [keras.layers.Rescaling(1 / 127.5, offset=-1.0, name="preprocess")]
    if mode == "torch":
        mean, std = np.multiply(_TORCH_MEAN, 255), np.multiply(_TORCH_STD, 255)
        return [keras.layers.Normalization(mean=mean, variance=std**2, name="preprocess")]
    # "caffe": RGB to BGR, then the ImageNet mean of each channel subtracted; a
    # 1x1 convolution with a fixed permutation kernel does both exactly.
    kernel = np.zeros((1, 1, 3, 3), dtype="float32")
    kernel[0, 0, [2, 1, 0], [0, 1, 2]] = 1.0
    bias = -np.asarray(_CAFFE_MEAN_BGR, dtype="float32")
    return [
        keras.layers.Conv2D(
            3,
            1,
            name="preprocess",
            trainable=False,
            kernel_initializer=keras.initializers.Constant(kernel),
            bias_initializer=keras.initializers.Constant(bias),
        )
    ]


def _small_cnn(input_shape, seed):
    import keras

    layers = keras.layers
    inputs = keras.Input(input_shape)
    x = inputs
    for block, filters in enumerate((32, 32, 64), start=1):
        x = layers.Conv2D(
            filters,
            3,
            padding="same",
            activation="relu",
            kernel_initializer=keras.initializers.HeUniform(seed=seed + block),
            name=f"block{block}_conv",
        )(x)
        x = layers.MaxPooling2D(name=f"block{block}_pool")(x)
    return keras.Model(inputs, x, name="small_cnn")


def build_backbone(spec, *, weights, image_size, backbone_kwargs, seed):
    """Build a headless backbone for RGB images of ``image_size``.

    ``weights`` is ``"imagenet"``, ``None`` or a path to a weights file.
    """
    input_shape = (*image_size, 3)
    if spec.constructor == "small_cnn":
        if weights is not None:
            raise ValueError(
                "backbone='small_cnn' is trained from scratch and has no pretrained "
                f"weights; got weights={weights!r}. Pass weights=None."
            )
        return _small_cnn(input_shape, seed)

    import keras

    constructor = getattr(keras.applications, spec.constructor)
    kwargs = {"include_top": False, "weights": weights, "input_shape": input_shape}
    kwargs.update(backbone_kwargs or {})
    identity = weights_identity(weights)
    if identity is None:
        return constructor(**kwargs)
    # Reading a weights file costs about as much as building the network, and
    # a learning curve builds it for every fit: the cache keeps the arrays of
    # the last files read.
    store = get_feature_cache()
    slot = (spec.constructor, identity, repr(sorted(kwargs.items())))
    arrays = store.pretrained_weights.get(slot)
    if arrays is None:
        model = _with_pretrained_weights(constructor, spec, kwargs)
        store.pretrained_weights.put(slot, [np.array(w, copy=True) for w in model.get_weights()])
        return model
    model = constructor(**{**kwargs, "weights": None})
    model.set_weights(arrays)
    return model


def _with_pretrained_weights(constructor, spec, kwargs):
    """Build with the pretrained weights, saying what to do when they cannot be had."""
    try:
        return constructor(**kwargs)
    except Exception as exc:
        if kwargs["weights"] != "imagenet" or not _looks_like_download_error(exc):
            raise
        raise OSError(
            f"Could not download the ImageNet weights of {spec.constructor} ({exc}). "
            "Without a network, pass weights=None, a path to a weights file, or put "
            "the file Keras asks for in its cache (KERAS_HOME/models, ~/.keras/models "
            "by default)."
        ) from exc


def weights_identity(weights):
    """What identifies pretrained weights: the name, or a file's path, size and mtime."""
    if weights is None:
        return None
    if weights == "imagenet":
        return "imagenet"
    stat = os.stat(weights)
    return f"{os.path.abspath(weights)}|{stat.st_size}|{stat.st_mtime_ns}"


def resolve_image_size(image_size, default, spec=None, name=None):
    """Return ``(height, width)`` from ``image_size`` (int or pair), else ``default``."""
    size = check_image_size(default if image_size is None else image_size)
    if size is None:
        raise ValueError("The backbone model has no fixed input size; pass image_size.")
    if spec is not None and min(size) < spec.min_size:
        raise ValueError(
            f"image_size={size} is smaller than the {spec.min_size}x{spec.min_size} "
            f"minimum of backbone {name!r}."
        )
    return size


def _copy_of_user_model(backbone, weights):
    """Return a trainable copy of a keras.Model backbone (or a callable's model)."""
    import keras

    model = backbone if isinstance(backbone, keras.Model) else backbone()
    if not isinstance(model, keras.Model):
        raise TypeError(
            f"backbone must be a registered name, a keras.Model or a callable returning "
            f"one; the callable returned {type(model).__name__}."
        )
    if model is backbone:
        model = clone_with_weights(model)  # never train the caller's model
    if weights not in (None, "imagenet"):
        model.load_weights(weights)
    return model


def make_backbone(backbone, *, weights, image_size, backbone_kwargs, seed):
    """Return ``(model, (height, width), spec)`` for any accepted ``backbone``.

    ``backbone`` is a registered name, a ``keras.Model`` (copied) or a callable
    returning one; ``spec`` is None for the latter two.
    """
    if isinstance(backbone, str):
        spec = get_spec(backbone)
        size = resolve_image_size(image_size, spec.default_size, spec, backbone)
        model = build_backbone(
            spec, weights=weights, image_size=size, backbone_kwargs=backbone_kwargs, seed=seed
        )
        return model, size, spec
    model = _copy_of_user_model(backbone, weights)
    shape = tuple(model.input_shape[1:3])
    size = resolve_image_size(image_size, None if None in shape else shape)
    return model, size, None


def _looks_like_download_error(exc):
    text = f"{type(exc).__name__} {exc}".lower()
    return any(word in text for word in ("url", "fetch", "download", "connection", "http"))


def block_names(backbone, pattern):
    """Return the distinct block prefixes of ``backbone``'s layers, in order."""
    regex = re.compile(pattern)
    names = []
    for layer in backbone.layers:
        match = regex.match(layer.name)
        if match and match.group(0) not in names:
            names.append(match.group(0))
    return names


def _matches_prefix(name, prefix):
    # "block_1" must not select "block_10_expand".
    return name == prefix or name.startswith(prefix + "_")


def fine_tune_index(backbone, fine_tune_from, pattern=None):
    """Return the index in ``backbone.layers`` of the first layer to unfreeze.

    ``fine_tune_from`` is a layer-name prefix, an int (the last n layers) or a
    float in (0, 1] (that fraction of the layers, from the top).
    """
    n_layers = len(backbone.layers)
    if isinstance(fine_tune_from, str):
        for index, layer in enumerate(backbone.layers):
            if _matches_prefix(layer.name, fine_tune_from):
                return index
        valid = block_names(backbone, pattern) if pattern else []
        if not valid:
            valid = [layer.name for layer in backbone.layers]
        raise ValueError(
            f"fine_tune_from={fine_tune_from!r} matches no layer of backbone "
            f"{backbone.name!r}. Valid block names: {', '.join(valid)}; or pass an int "
            "(the last n layers) or a float in (0, 1] (that fraction from the top)."
        )
    if isinstance(fine_tune_from, Integral):
        if not 1 <= fine_tune_from <= n_layers:
            raise ValueError(
                f"fine_tune_from={fine_tune_from} must be between 1 and the number of "
                f"backbone layers ({n_layers})."
            )
        return n_layers - int(fine_tune_from)
    if isinstance(fine_tune_from, Real):
        return n_layers - max(1, round(float(fine_tune_from) * n_layers))
    raise TypeError(f"Unsupported fine_tune_from={fine_tune_from!r}.")

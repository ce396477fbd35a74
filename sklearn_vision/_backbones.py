"""Backbone records: one per family, the only place that knows how to build and feed one.

A record says how to build its backbone (with or without pretrained weights),
its input size rule, its preprocessing (one definition, used as a function in
training and as layers in a saved model), how its output is pooled, and where
it can be split for fine-tuning. The classifier, the feature cache and saving
ask the record; none keeps a table of its own. Nothing here imports Keras at
module level.
"""

import functools
import os
from dataclasses import dataclass

import numpy as np

from ._cache import get_feature_cache
from ._images import check_image_size
from ._keras_utils import clone_with_weights
from ._record import (
    IMAGENET_NORMALIZATION,
    SIGNED_UNIT,
    BackboneRecord,
    Preprocessing,
    looks_like_download_error,
    weights_identity,
)

# What each keras.applications module's preprocess_input does to [0, 255]
# pixels (keras/src/applications/imagenet_utils.py): "tf" mode is SIGNED_UNIT,
# "torch" mode IMAGENET_NORMALIZATION, "caffe" mode _CAFFE; None: inside the model.
_CAFFE = Preprocessing(1.0, (-103.939, -116.779, -123.68), reverse_channels=True)


@dataclass(frozen=True)
class KerasApplication(BackboneRecord):
    """A ``keras.applications`` convnet: ImageNet weights, pooled feature maps.

    ``constructor`` names the builder in ``keras.applications``;
    ``block_pattern`` matches the layer-name prefix of a block, the valid
    ``fine_tune_from`` names.
    """

    constructor: str
    preprocessing: Preprocessing | None
    default_size: int
    min_size: int
    block_pattern: str
    fine_tune_from: object

    any_size = True
    weights_description = "ImageNet weights"

    @property
    def name(self):
        return self.constructor

    def build(self, *, weights, image_size, backbone_kwargs=None, seed=0):
        import keras

        constructor = getattr(keras.applications, self.constructor)
        kwargs = {"include_top": False, "weights": weights, "input_shape": (*image_size, 3)}
        kwargs.update(backbone_kwargs or {})
        identity = weights_identity(weights)
        if identity is None:
            return constructor(**kwargs)
        # Reading a weights file costs about as much as building the network, and
        # a learning curve builds it for every fit: the cache keeps the arrays of
        # the last files read.
        store = get_feature_cache()
        slot = (self.constructor, identity, repr(sorted(kwargs.items())))
        arrays = store.pretrained_weights.get(slot)
        if arrays is None:
            model = self._with_pretrained_weights(constructor, kwargs)
            store.pretrained_weights.put(
                slot, [np.array(w, copy=True) for w in model.get_weights()]
            )
            return model
        model = constructor(**{**kwargs, "weights": None})
        model.set_weights(arrays)
        return model

    def _with_pretrained_weights(self, constructor, kwargs):
        """Build with the pretrained weights, saying what to do when they cannot be had."""
        try:
            return constructor(**kwargs)
        except Exception as exc:
            if kwargs["weights"] != "imagenet" or not looks_like_download_error(exc):
                raise
            raise OSError(
                f"Could not download the ImageNet weights of {self.constructor} ({exc}). "
                "Without a network, pass weights=None, a path to a weights file, or put "
                "the file Keras asks for in its cache (KERAS_HOME/models, ~/.keras/models "
                "by default)."
            ) from exc

    def shared_key(self, weights, image_size, backbone_kwargs):
        # Random weights depend on the seed; a missing file is reported by build.
        if weights is None or (weights != "imagenet" and not os.path.isfile(weights)):
            return None
        kwargs = sorted((backbone_kwargs or {}).items())
        return (self.constructor, weights_identity(weights), repr(image_size), repr(kwargs))


@dataclass(frozen=True)
class SmallConvNet(BackboneRecord):
    """Chollet's "very little data" baseline: three conv/pool blocks trained from scratch.

    Stage 1 trains all of it; there is nothing to fine-tune.
    """

    name = "small_cnn"
    preprocessing = Preprocessing(1 / 255)
    default_size = 150
    min_size = 16
    block_pattern = r"block\d+"
    pretrained = False
    trains_from_scratch = True
    any_size = True

    def check_weights(self, weights):
        if weights is not None:
            raise ValueError(
                "backbone='small_cnn' is trained from scratch and has no pretrained "
                f"weights; got weights={weights!r}. Pass weights=None."
            )

    def build(self, *, weights, image_size, backbone_kwargs=None, seed=0):
        import keras

        self.check_weights(weights)
        layers = keras.layers
        inputs = keras.Input((*image_size, 3))
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


@dataclass(frozen=True)
class KerasModelBackbone(BackboneRecord):
    """Any ``keras.Model`` (or a callable returning one) taking preprocessed images.

    The model is copied, never trained in place; ``weights`` may name a
    weights file to load into the copy. It has no preprocessing of its own and
    no recommended fine-tuning point; its input size is its own, or
    ``image_size`` where it takes any.
    """

    model: object

    @property
    def name(self):
        return getattr(self.model, "name", type(self.model).__name__)

    @functools.cached_property
    def _given(self):
        """The caller's model, or the one its callable returns."""
        import keras

        model = self.model if isinstance(self.model, keras.Model) else self.model()
        if not isinstance(model, keras.Model):
            raise TypeError(
                f"backbone must be a registered name, a keras.Model or a callable returning "
                f"one; the callable returned {type(model).__name__}."
            )
        return model

    def resolve_size(self, image_size):
        shape = tuple(self._given.input_shape[1:3])
        size = check_image_size(None if None in shape else shape)
        size = check_image_size(image_size) or size
        if size is None:
            raise ValueError("The backbone model has no fixed input size; pass image_size.")
        return size

    def build(self, *, weights, image_size, backbone_kwargs=None, seed=0):
        model = self._given
        # The callable is called once per build (resolve_size read its model's
        # size first): the next build gets a model of its own.
        del self.__dict__["_given"]
        if model is self.model:
            model = clone_with_weights(model)  # never train the caller's model
        if weights not in (None, "imagenet"):
            model.load_weights(weights)
        return model


def _efficientnet(constructor, size, preprocessing=None, fine_tune_from="block6a"):
    return KerasApplication(constructor, preprocessing, size, 32, r"block\d+[a-z]", fine_tune_from)


# "auto" fine-tunes about the top fifth of each network: the last stage (or the
# last two blocks) whose features are the most specific to ImageNet.
BACKBONES = {
    "mobilenet_v2": KerasApplication("MobileNetV2", SIGNED_UNIT, 224, 32, r"block_\d+", "block_13"),
    "mobilenet_v3_small": KerasApplication(
        "MobileNetV3Small", None, 224, 32, r"expanded_conv_\d+", "expanded_conv_9"
    ),
    "mobilenet_v3_large": KerasApplication(
        "MobileNetV3Large", None, 224, 32, r"expanded_conv_\d+", "expanded_conv_12"
    ),
    "efficientnet_b0": _efficientnet("EfficientNetB0", 224),
    "efficientnet_b1": _efficientnet("EfficientNetB1", 240),
    "efficientnet_b2": _efficientnet("EfficientNetB2", 260),
    "efficientnet_b3": _efficientnet("EfficientNetB3", 300),
    "efficientnet_v2_b0": _efficientnet("EfficientNetV2B0", 224),
    "resnet50": KerasApplication("ResNet50", _CAFFE, 224, 32, r"conv\d_block\d+", "conv5_block1"),
    "resnet50_v2": KerasApplication(
        "ResNet50V2", SIGNED_UNIT, 224, 32, r"conv\d_block\d+", "conv5_block1"
    ),
    "vgg16": KerasApplication("VGG16", _CAFFE, 224, 32, r"block\d+", "block5"),
    "densenet121": KerasApplication(
        "DenseNet121", IMAGENET_NORMALIZATION, 224, 32, r"conv\d_block\d+", "conv5_block9"
    ),
    "xception": KerasApplication("Xception", SIGNED_UNIT, 299, 71, r"block\d+", "block13"),
    # InceptionV3's branch layers are anonymous (conv2d_87); its top two
    # inception blocks are its last 62 layers (the Keras fine-tuning guide).
    "inception_v3": KerasApplication("InceptionV3", SIGNED_UNIT, 299, 75, r"mixed\d+", 62),
    "convnext_tiny": KerasApplication(
        "ConvNeXtTiny", None, 224, 32, r"convnext_tiny_stage_\d+", "convnext_tiny_stage_3"
    ),
    "small_cnn": SmallConvNet(),
}


def backbone_record(backbone):
    """Return the :class:`BackboneRecord` of any accepted ``backbone`` (None for None).

    A registered name, a KerasHub preset name, handle, local preset directory
    or ``keras_hub.models.Backbone``, or any ``keras.Model`` (or callable).
    """
    if backbone is None:
        return None
    if isinstance(backbone, BackboneRecord):
        return backbone
    if isinstance(backbone, str) and backbone in BACKBONES:
        return BACKBONES[backbone]
    if isinstance(backbone, str) or _is_keras_hub(backbone):
        return _keras_hub_record(backbone)
    return KerasModelBackbone(backbone)


def _is_keras_hub(backbone):
    return any(cls.__module__.startswith("keras_hub") for cls in type(backbone).__mro__)


def _keras_hub_record(backbone):
    """The record of a KerasHub backbone; a clear error for a name that is none."""
    known = f"Known backbones: {', '.join(sorted(BACKBONES))}"
    try:
        from ._hub import hub_record

        record = hub_record(backbone)
    except ImportError as exc:
        raise ValueError(
            f"Unknown backbone {backbone!r}. {known}; a KerasHub preset name (such as "
            f"'dinov2_small'), handle or directory needs KerasHub: {exc}."
        ) from None
    if record is None:
        raise ValueError(
            f"Unknown backbone {backbone!r}. {known}; or a KerasHub preset name (such as "
            "'dinov2_small' or 'siglip2_base_patch16_224'), a kaggle:// or hf:// handle, a "
            "local KerasHub preset directory, or a keras.Model (or a callable returning one)."
        )
    return record

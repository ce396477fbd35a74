"""KerasHub foundation backbones (DINOv2, DINOv3, SigLIP, ViT) as backbone records.

A KerasHub backbone is given by a preset name (``"dinov2_small"``), a
``kaggle://`` or ``hf://`` handle, a local preset directory (as
``save_to_preset`` writes it) or a ``keras_hub.models.Backbone``. Its record
rebuilds it as a chain of its own layers (images, embedding, each
transformer block, the final norm), so that the classifier's two stages,
the feature cache and saving treat it as they treat a convnet: stage 2
unfreezes the last blocks, and the activations where they start are cached.

:class:`KerasHubBackbone` holds what the families share; each family is one
subclass below, registered by the KerasHub backbone classes it builds. As
``keras_hub.models.Backbone.from_preset`` does, the preset's configuration
names the class, and that class names the record. KerasHub
(``pip install "sklearn-vision[hub]"``) is imported only here, and only when
such a backbone is used.
"""

import functools
import json
import os
from dataclasses import dataclass
from numbers import Integral, Real

import keras
import numpy as np
from keras import ops

from ._layers import TokenPooling
from ._record import (
    IMAGENET_NORMALIZATION,
    SIGNED_UNIT,
    BackboneRecord,
    Preprocessing,
    looks_like_download_error,
    weights_identity,
)

_INSTALL = 'KerasHub backbones need the optional extra: pip install "sklearn-vision[hub]"'

# The record class of each KerasHub backbone class name, filled as families are defined.
_RECORDS = {}


def _keras_hub():
    try:
        import keras_hub
    except ImportError:
        raise ImportError(_INSTALL) from None
    return keras_hub


def hub_record(backbone):
    """The record of a preset name, handle or directory, or of a ``keras_hub`` Backbone.

    None for a string that names no KerasHub preset of a supported family.
    """
    if isinstance(backbone, str):
        return _record_of_preset(backbone, _preset_stamp(backbone))
    return _record_class(type(backbone).__name__)(backbone)


def _preset_stamp(preset):
    """What changes when a local preset directory is rewritten (None for names and handles)."""
    files = [os.path.join(preset, name) for name in ("config.json", "image_converter.json")]
    return tuple(os.stat(f).st_mtime_ns if os.path.isfile(f) else None for f in files)


@functools.lru_cache(maxsize=64)
def _record_of_preset(preset, stamp):
    class_name = _preset_class_name(preset)
    return None if class_name is None else _record_class(class_name)(preset)


def _preset_class_name(preset):
    """The name of the KerasHub backbone class that ``preset``'s configuration builds.

    A local directory's config.json names it; a built-in preset name is
    found among the presets KerasHub registers for each supported class
    (no download); a handle's configuration is read as ``from_preset`` reads
    it, the model built without its weights. None: no preset of a supported class.
    """
    if os.path.isdir(preset):
        path = os.path.join(preset, "config.json")
        if not os.path.isfile(path):
            raise ValueError(
                f"backbone={preset!r} is a directory without config.json: not a KerasHub "
                "preset. Save one with backbone.save_to_preset(directory) (and the image "
                "converter's save_to_preset), or give a preset name such as 'dinov2_small'."
            )
        with open(path) as file:
            return json.load(file).get("class_name", "")
    keras_hub = _keras_hub()
    if preset.startswith(("kaggle://", "hf://", "modelscope://")):
        with _download_errors(preset):
            backbone = keras_hub.models.Backbone.from_preset(preset, load_weights=False)
        return type(backbone).__name__
    for class_name in _RECORDS:
        cls = getattr(keras_hub.models, class_name, None)
        if cls is not None and preset in getattr(cls, "presets", {}):
            return class_name
    return None


def _record_class(class_name):
    """The record class of a KerasHub backbone class name; a clear error for another."""
    try:
        return _RECORDS[class_name]
    except KeyError:
        raise ValueError(
            f"KerasHub backbone {class_name or 'of unknown class'} is not supported as an "
            f"image backbone; supported: {', '.join(_RECORDS)}."
        ) from None


@dataclass(frozen=True)
class KerasHubBackbone(BackboneRecord):
    """A KerasHub vision transformer: what DINOv2, DINOv3, SigLIP and ViT share.

    ``source`` is a preset name, a handle, a local preset directory or a
    ``keras_hub.models.Backbone``. Pretrained weights are the preset's own;
    ``weights=None`` builds the same architecture with random weights.

    A family is a subclass naming its ``keras_hub_classes`` (which registers
    it), its ``block_class`` (the layer class of a transformer block), its
    ``token_pooling`` (see :class:`TokenPooling`), its ``default_preprocessing``
    (for a preset saved without an image converter), whether its position
    embeddings follow the input size (``interpolates_positions``), and how the
    blocks are chained (:meth:`_tokens`).
    """

    source: object

    keras_hub_classes = ()
    block_class = None
    token_pooling = "cls_mean"
    default_preprocessing = None
    # True: any multiple of the patch size, the backbone rebuilt for it; False:
    # the preset's size only.
    interpolates_positions = False
    # "auto" fine-tunes the last two transformer blocks.
    fine_tune_from = 2

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for class_name in cls.keras_hub_classes:
            _RECORDS[class_name] = cls

    @property
    def name(self):
        if isinstance(self.source, str):
            return self.source
        return getattr(self.source, "name", type(self.source).__name__)

    # ------------------------------------------------------------ loading

    def _tower(self, backbone):
        """The part of a KerasHub backbone that encodes images (all of it, but for SigLIP)."""
        return backbone

    def _tower_config(self, config):
        """The configuration of :meth:`_tower` within the backbone's ``config``."""
        return config

    def _load(self, load_weights, image_shape=None):
        """The KerasHub backbone's image tower, from the source."""
        keras_hub = _keras_hub()
        if image_shape is not None and not self.interpolates_positions:
            image_shape = None  # the preset's own
        if not isinstance(self.source, str):
            # A copy, never the caller's model: from its configuration (Keras's
            # clone_model loses KerasHub's classes), with its weights or new ones.
            config = self.source.get_config()
            if image_shape is not None:
                config["image_shape"] = image_shape
            copy = type(self.source).from_config(config)
            if load_weights:
                copy.set_weights(self.source.get_weights())
            return self._tower(copy)
        kwargs = {"load_weights": load_weights}
        if image_shape is not None:
            kwargs["image_shape"] = image_shape
        with _download_errors(self.source):
            backbone = keras_hub.models.Backbone.from_preset(self.source, **kwargs)
        return self._tower(backbone)

    @functools.cached_property
    def preprocessing(self):
        """The preset's image converter's ``scale`` and ``offset`` (the family's, without one)."""
        converter = None
        if isinstance(self.source, str):
            keras_hub = _keras_hub()
            try:
                with _download_errors(self.source):
                    converter = keras_hub.layers.ImageConverter.from_preset(self.source)
            except (FileNotFoundError, ValueError):
                converter = None  # a preset saved without its converter
        if converter is None or converter.scale is None:
            return self.default_preprocessing
        scale = converter.scale
        offset = 0.0 if converter.offset is None else converter.offset
        return Preprocessing(_numbers(scale), _numbers(offset))

    @property
    def default_size(self):
        shape = self.config.get("image_shape")
        return None if shape is None else int(shape[0])

    @functools.cached_property
    def config(self):
        """The configuration of the image tower (SigLIP's vision encoder's)."""
        if not isinstance(self.source, str):
            config = self.source.get_config()
        elif os.path.isdir(self.source):
            with open(os.path.join(self.source, "config.json")) as file:
                config = json.load(file)["config"]
        else:
            return self._load(load_weights=False).get_config()
        return self._tower_config(config)

    def resolve_size(self, image_size):
        size = super().resolve_size(image_size)
        patch = self.config.get("patch_size") or 1
        if self.interpolates_positions:
            if size[0] % patch or size[1] % patch:
                raise ValueError(
                    f"image_size={size} is not a multiple of {self.name!r}'s patch size "
                    f"{patch}; use, for instance, {patch * max(1, round(size[0] / patch))}."
                )
        elif image_size is not None and size != (self.default_size, self.default_size):
            raise ValueError(
                f"{type(self).__name__} backbone {self.name!r} has position embeddings for "
                f"{self.default_size}x{self.default_size} images only; got image_size={size}. "
                "Leave image_size=None (images are resized to it)."
            )
        return size

    def build(self, *, weights, image_size, backbone_kwargs=None, seed=0):
        if backbone_kwargs:
            raise ValueError(
                f"backbone_kwargs are for keras.applications constructors; KerasHub backbone "
                f"{self.name!r} takes its configuration from its preset. Got {backbone_kwargs}."
            )
        # The preset's weights, random ones, or random ones then a weights file.
        backbone = self._load(load_weights=weights == "imagenet", image_shape=(*image_size, 3))
        if weights not in (None, "imagenet"):
            backbone.load_weights(weights)
        return self._chain(backbone, image_size)

    def _chain(self, backbone, image_size):
        """The backbone as a model whose top-level layers are its embedding, blocks and norm.

        KerasHub keeps the blocks inside one encoder layer; calling them one by
        one on a new input gives the same function, with each block a layer of
        its own that stage 2 can unfreeze and the cache can cut before.
        """
        images = keras.Input((*image_size, 3), name="images")
        return keras.Model(images, self._tokens(backbone, images), name=f"{backbone.name}_blocks")

    def _tokens(self, backbone, images):
        """The backbone's output tokens of ``images``, its blocks called one by one."""
        raise NotImplementedError

    def shared_key(self, weights, image_size, backbone_kwargs):
        if weights is None or not isinstance(self.source, str):
            return None
        if weights != "imagenet" and not os.path.isfile(weights):
            return None
        stamp = _preset_stamp(self.source)
        return ("keras_hub", self.source, stamp, weights_identity(weights), repr(image_size))

    # ------------------------------------------------------------ pooling, stages

    def pooled(self, model, *, pooling="avg", head=None, name=None):
        inputs = keras.Input(model.input_shape[1:])
        x = model(inputs, training=False)
        n_prefix = 1 + int(self.config.get("num_register_tokens", 0) or 0)
        x = TokenPooling(self.token_pooling, n_prefix, name="token_pool")(x)
        return keras.Model(inputs, x if head is None else head(x), name=name)

    def _blocks(self, backbone):
        """Indices of the transformer blocks in ``backbone.layers``."""
        return [
            i for i, layer in enumerate(backbone.layers) if type(layer).__name__ == self.block_class
        ]

    def block_names(self, backbone):
        return [backbone.layers[i].name for i in self._blocks(backbone)]

    def _blocks_from(self, blocks, fine_tune_from):
        """How many of ``blocks`` (from the top) ``fine_tune_from`` (int or float) trains."""
        if isinstance(fine_tune_from, Integral):
            return int(fine_tune_from)
        return max(1, round(float(fine_tune_from) * len(blocks)))

    def fine_tune_index(self, backbone, fine_tune_from):
        """Index of the first layer stage 2 trains: ``fine_tune_from`` counts blocks.

        An int is the last n transformer blocks, a float that fraction of the
        blocks (from the top), a string a layer name.
        """
        if isinstance(fine_tune_from, str):
            return super().fine_tune_index(backbone, fine_tune_from)
        blocks = self._blocks(backbone)
        if not isinstance(fine_tune_from, Real):
            raise TypeError(f"Unsupported fine_tune_from={fine_tune_from!r}.")
        if isinstance(fine_tune_from, Integral) and not 1 <= fine_tune_from <= len(blocks):
            raise ValueError(
                f"fine_tune_from={fine_tune_from} counts transformer blocks of "
                f"{self.name!r}: between 1 and {len(blocks)}."
            )
        return blocks[len(blocks) - self._blocks_from(blocks, fine_tune_from)]

    def split(self, backbone, index):
        """(bottom, top) at the input of layer ``index``: the chain's layers re-applied.

        The top gets an input of the activations' real shape (SigLIP's
        embedding reports one token too many). None where there is nothing
        below the cut.
        """
        if index < 2:
            return None
        # The layers are called anew: they already belong to two graphs (the
        # KerasHub backbone's and the chain's), so their .input is ambiguous.
        images = x = keras.Input(backbone.input_shape[1:])
        for layer in backbone.layers[1:index]:
            x = layer(x)
        bottom = keras.Model(images, x)
        shape = ops.shape(bottom(np.zeros((1, *backbone.input_shape[1:]), "float32")))
        inputs = x = keras.Input(tuple(shape[1:]))
        for layer in backbone.layers[index:]:
            x = layer(x)
        return bottom, keras.Model(inputs, x)


# ---------------------------------------------------------------- DINOv2


@dataclass(frozen=True)
class DINOv2(KerasHubBackbone):
    """DINOv2: the class token and the mean patch token, at any multiple of its patch."""

    keras_hub_classes = ("DINOV2Backbone",)
    block_class = "DINOV2Layer"
    default_preprocessing = IMAGENET_NORMALIZATION
    default_size = 224
    interpolates_positions = True

    def _tokens(self, backbone, images):
        x = backbone.embeddings(images)
        for block in backbone.encoder.layers:
            x = block(x)
        return backbone.layernorm(x)


# ---------------------------------------------------------------- DINOv3


@dataclass(frozen=True)
class DINOv3(KerasHubBackbone):
    """DINOv3: as DINOv2, with register tokens and rotary position embeddings."""

    keras_hub_classes = ("DINOV3Backbone",)
    block_class = "DINOV3Layer"
    default_preprocessing = IMAGENET_NORMALIZATION
    default_size = 224
    interpolates_positions = True

    def _tokens(self, backbone, images):
        x = backbone.embeddings(images)
        rotary = backbone.rope_embedding(images)
        n_prefix = 1 + backbone.num_register_tokens
        for block in backbone.encoder.layers:
            x = block(x, position_embeddings=rotary, num_prefix_tokens=n_prefix)
        return backbone.layernorm(x)

    def split(self, backbone, index):
        return None  # its blocks also take the rotary embeddings: no one tensor between them


# ---------------------------------------------------------------- SigLIP


@dataclass(frozen=True)
class SigLIP(KerasHubBackbone):
    """SigLIP's vision tower (its text tower unused): one attention-pooled vector."""

    keras_hub_classes = ("SigLIPBackbone", "SigLIPVisionEncoder")
    block_class = "SigLIPEncoderLayer"
    token_pooling = "pooled"
    default_preprocessing = SIGNED_UNIT

    def _tower(self, backbone):
        return getattr(backbone, "vision_encoder", backbone)

    def _tower_config(self, config):
        vision = config.get("vision_encoder")
        return vision.get("config", vision) if isinstance(vision, dict) else config

    def _tokens(self, backbone, images):
        x = backbone.embedding(images)
        for block in backbone.encoder_layers:
            x = block(x)
        return backbone.head(backbone.post_layer_norm(x))


# ---------------------------------------------------------------- ViT


@dataclass(frozen=True)
class ViT(KerasHubBackbone):
    """ViT: the class token; its blocks stay inside its encoder layer.

    KerasHub's ViT layers cannot be rebuilt one by one from their
    configurations: the backbone is used as it is, and the encoder layer's
    index stands for each of its blocks.
    """

    keras_hub_classes = ("ViTBackbone",)
    token_pooling = "cls"
    default_preprocessing = SIGNED_UNIT

    def _chain(self, backbone, image_size):
        return backbone  # images in, tokens out; its blocks inside one layer

    def _blocks(self, backbone):
        encoder = backbone.get_layer("vit_encoder")
        return [backbone.layers.index(encoder)] * len(encoder.encoder_layers)

    def block_names(self, backbone):
        return [block.name for block in backbone.get_layer("vit_encoder").encoder_layers]

    def fine_tune_index(self, backbone, fine_tune_from):
        if isinstance(fine_tune_from, str):
            raise ValueError(
                f"fine_tune_from for ViT backbone {self.name!r} counts transformer "
                "blocks: pass an int (the last n blocks) or a float in (0, 1]."
            )
        return super().fine_tune_index(backbone, fine_tune_from)

    def unfreeze(self, backbone, index, fine_tune_from):
        super().unfreeze(backbone, index, fine_tune_from)
        # The last blocks inside the encoder layer, and its final norm.
        blocks = backbone.get_layer("vit_encoder").encoder_layers
        n = len(blocks) - self._blocks_from(blocks, fine_tune_from)
        for position, block in enumerate(blocks):
            block.trainable = position >= n

    def split(self, backbone, index):
        return None  # its blocks sit inside one layer: no cut between them


def _numbers(value):
    """A converter's scale or offset as a float or a tuple of floats."""
    array = np.asarray(value, dtype=float).ravel()
    return float(array[0]) if array.size == 1 else tuple(float(v) for v in array)


class _download_errors:
    """Turn a failed download of a KerasHub preset into one line saying what to do."""

    def __init__(self, preset):
        self.preset = preset

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, traceback):
        if exc is None or os.path.isdir(self.preset) or not looks_like_download_error(exc):
            return False
        raise OSError(
            f"Could not download KerasHub preset {self.preset!r} ({type(exc).__name__}): "
            "no network? Without one, save the preset once where there is a network "
            "(keras_hub.models.Backbone.from_preset(name).save_to_preset(directory), and "
            "the image converter's save_to_preset) and pass that directory as backbone."
        ) from None

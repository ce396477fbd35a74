"""KerasHub foundation backbones (DINOv2, DINOv3, SigLIP, ViT) as backbone records.

A KerasHub backbone is given by a preset name (``"dinov2_small"``), a
``kaggle://`` or ``hf://`` handle, a local preset directory (as
``save_to_preset`` writes it) or a ``keras_hub.models.Backbone``. Its record
rebuilds it as a chain of its own layers (images, embedding, each
transformer block, the final norm), so that the classifier's two stages,
the feature cache and saving treat it as they treat a convnet: stage 2
unfreezes the last blocks, and the activations where they start are cached.
KerasHub (``pip install "sklearn-vision[hub]"``) is imported only here, and
only when such a backbone is used.
"""

import functools
import json
import os
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


# Each family: its KerasHub backbone classes, transformer block class, pooling,
# default preprocessing (when a preset has no image converter), default size,
# whether its position embeddings follow the input size, and "auto" blocks.
_FAMILIES = {
    "dinov2": dict(
        classes=("DINOV2Backbone",),
        block="DINOV2Layer",
        pooling="cls_mean",
        preprocessing=IMAGENET_NORMALIZATION,
        size=224,
        any_size=True,
        label="DINOv2",
    ),
    "dinov3": dict(
        classes=("DINOV3Backbone",),
        block="DINOV3Layer",
        pooling="cls_mean",
        preprocessing=IMAGENET_NORMALIZATION,
        size=224,
        any_size=True,
        label="DINOv3",
    ),
    "siglip": dict(
        classes=("SigLIPBackbone", "SigLIPVisionEncoder"),
        block="SigLIPEncoderLayer",
        pooling="pooled",
        preprocessing=SIGNED_UNIT,
        size=None,
        any_size=False,
        label="SigLIP",
    ),
    "vit": dict(
        classes=("ViTBackbone",),
        block="ViTEncoderBlock",
        pooling="cls",
        preprocessing=SIGNED_UNIT,
        size=None,
        any_size=False,
        label="ViT",
    ),
}
# "auto" fine-tunes the last two transformer blocks.
_AUTO_BLOCKS = 2


def _keras_hub():
    try:
        import keras_hub
    except ImportError:
        raise ImportError(_INSTALL) from None
    return keras_hub


def hub_record(backbone):
    """The :class:`KerasHubBackbone` of a preset name, handle, directory or Backbone."""
    if isinstance(backbone, str):
        return _record_of_preset(backbone, _preset_stamp(backbone))
    return KerasHubBackbone(backbone, _family_of_class(type(backbone).__name__))


def _preset_stamp(preset):
    """What changes when a local preset directory is rewritten (None for names and handles)."""
    files = [os.path.join(preset, name) for name in ("config.json", "image_converter.json")]
    return tuple(os.stat(f).st_mtime_ns if os.path.isfile(f) else None for f in files)


@functools.lru_cache(maxsize=64)
def _record_of_preset(preset, stamp):
    if os.path.isdir(preset):
        path = os.path.join(preset, "config.json")
        if not os.path.isfile(path):
            raise ValueError(
                f"backbone={preset!r} is a directory without config.json: not a KerasHub "
                "preset. Save one with backbone.save_to_preset(directory) (and the image "
                "converter's save_to_preset), or give a preset name such as 'dinov2_small'."
            )
        with open(path) as file:
            class_name = json.load(file).get("class_name", "")
        return KerasHubBackbone(preset, _family_of_class(class_name))
    if preset.startswith(("kaggle://", "hf://", "modelscope://")):
        return KerasHubBackbone(preset, None)  # the family is read once it is loaded
    keras_hub = _keras_hub()
    for family, facts in _FAMILIES.items():
        for class_name in facts["classes"]:
            cls = getattr(keras_hub.models, class_name, None)
            if cls is not None and preset in getattr(cls, "presets", {}):
                return KerasHubBackbone(preset, family)
    return None


def _family_of_class(class_name):
    for family, facts in _FAMILIES.items():
        if class_name in facts["classes"]:
            return family
    supported = ", ".join(c for facts in _FAMILIES.values() for c in facts["classes"])
    raise ValueError(
        f"KerasHub backbone {class_name or 'of unknown class'} is not supported as an image "
        f"backbone; supported: {supported}."
    )


class KerasHubBackbone(BackboneRecord):
    """A KerasHub vision transformer: DINOv2, DINOv3, SigLIP (its vision tower) or ViT.

    ``source`` is a preset name, a handle, a local preset directory or a
    ``keras_hub.models.Backbone``; ``family`` is None for a handle until it is
    loaded. Pretrained weights are the preset's own; ``weights=None`` builds
    the same architecture with random weights.
    """

    def __init__(self, source, family):
        self.source = source
        self._family = family

    def __repr__(self):
        return f"KerasHubBackbone({self.name!r})"

    @property
    def name(self):
        if isinstance(self.source, str):
            return self.source
        return getattr(self.source, "name", type(self.source).__name__)

    @property
    def family(self):
        if self._family is None:
            self._family = _family_of_class(type(self._load(load_weights=False)).__name__)
        return self._family

    @property
    def facts(self):
        return _FAMILIES[self.family]

    # ------------------------------------------------------------ loading

    def _load(self, load_weights, image_shape=None):
        """The KerasHub backbone (its vision tower for SigLIP), from the source."""
        keras_hub = _keras_hub()
        if not isinstance(self.source, str):
            # A copy, never the caller's model: from its configuration (Keras's
            # clone_model loses KerasHub's classes), with its weights or new ones.
            config = self.source.get_config()
            if image_shape is not None and self.facts["any_size"]:
                config["image_shape"] = image_shape
            copy = type(self.source).from_config(config)
            if load_weights:
                copy.set_weights(self.source.get_weights())
            return _vision_tower(copy)
        kwargs = {"load_weights": load_weights}
        if image_shape is not None and self.family in ("dinov2", "dinov3"):
            kwargs["image_shape"] = image_shape
        with _download_errors(self.source):
            backbone = keras_hub.models.Backbone.from_preset(self.source, **kwargs)
        return _vision_tower(backbone)

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
            return self.facts["preprocessing"]
        scale = converter.scale
        offset = 0.0 if converter.offset is None else converter.offset
        return Preprocessing(_numbers(scale), _numbers(offset))

    @property
    def default_size(self):
        if self.facts["size"] is not None:
            return self.facts["size"]
        return self._config_size()

    def _config_size(self):
        shape = self.config.get("image_shape")
        return None if shape is None else int(shape[0])

    @functools.cached_property
    def config(self):
        """The vision backbone's configuration (SigLIP's vision encoder's)."""
        if not isinstance(self.source, str):
            config = self.source.get_config()
        elif os.path.isdir(self.source):
            with open(os.path.join(self.source, "config.json")) as file:
                config = json.load(file)["config"]
        else:
            return _vision_tower(self._load(load_weights=False)).get_config()
        vision = config.get("vision_encoder")
        return vision.get("config", vision) if isinstance(vision, dict) else config

    def resolve_size(self, image_size):
        size = super().resolve_size(image_size)
        patch = self.config.get("patch_size") or 1
        if self.facts["any_size"]:
            if size[0] % patch or size[1] % patch:
                raise ValueError(
                    f"image_size={size} is not a multiple of {self.name!r}'s patch size "
                    f"{patch}; use, for instance, {patch * max(1, round(size[0] / patch))}."
                )
        elif image_size is not None and size != (self.default_size, self.default_size):
            raise ValueError(
                f"{self.facts['label']} backbone {self.name!r} has position embeddings for "
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
        return _chain(backbone, self.family, image_size)

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
        x = TokenPooling(self.facts["pooling"], n_prefix, name="token_pool")(x)
        return keras.Model(inputs, x if head is None else head(x), name=name)

    def _blocks(self, backbone):
        """Indices of the transformer blocks in ``backbone.layers``.

        ViT's blocks stay inside its encoder layer (KerasHub's ViT layers cannot
        be rebuilt one by one from their configurations): that layer's index
        stands for each of them.
        """
        if self.family == "vit":
            encoder = backbone.get_layer("vit_encoder")
            return [backbone.layers.index(encoder)] * len(encoder.encoder_layers)
        return [
            i
            for i, layer in enumerate(backbone.layers)
            if type(layer).__name__ == self.facts["block"]
        ]

    def block_names(self, backbone):
        if self.family == "vit":
            return [block.name for block in backbone.get_layer("vit_encoder").encoder_layers]
        return [backbone.layers[i].name for i in self._blocks(backbone)]

    def unfreeze(self, backbone, index, fine_tune_from):
        super().unfreeze(backbone, index, fine_tune_from)
        if self.family == "vit":
            # The last blocks inside the encoder layer, and its final norm.
            blocks = backbone.get_layer("vit_encoder").encoder_layers
            n = len(blocks) - self._blocks_from(blocks, fine_tune_from)
            for position, block in enumerate(blocks):
                block.trainable = position >= n

    def _blocks_from(self, blocks, fine_tune_from):
        """How many of ``blocks`` (from the top) ``fine_tune_from`` (int or float) trains."""
        if isinstance(fine_tune_from, Integral):
            return int(fine_tune_from)
        return max(1, round(float(fine_tune_from) * len(blocks)))

    @property
    def fine_tune_from(self):
        return _AUTO_BLOCKS

    def fine_tune_index(self, backbone, fine_tune_from):
        """Index of the first layer stage 2 trains: ``fine_tune_from`` counts blocks.

        An int is the last n transformer blocks, a float that fraction of the
        blocks (from the top), a string a layer name.
        """
        if isinstance(fine_tune_from, str):
            if self.family == "vit":
                raise ValueError(
                    f"fine_tune_from for ViT backbone {self.name!r} counts transformer "
                    "blocks: pass an int (the last n blocks) or a float in (0, 1]."
                )
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
        embedding reports one token too many). None where the input is not one
        tensor (DINOv3's blocks also take rotary embeddings) or the layers
        cannot be rebuilt from their configurations (ViT's).
        """
        if index < 2 or self.family in ("dinov3", "vit"):
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


def _vision_tower(backbone):
    """SigLIP's image encoder alone (its text encoder unused); any other backbone as it is."""
    return getattr(backbone, "vision_encoder", backbone)


def _chain(backbone, family, image_size):
    """The backbone as a model whose top-level layers are its embedding, blocks and norm.

    KerasHub keeps DINOv2's and ViT's blocks inside one encoder layer; calling
    them one by one on a new input gives the same function, with each block a
    layer of its own that stage 2 can unfreeze and the cache can cut before.
    """
    if family == "vit":
        return backbone  # images in, tokens out; its blocks inside one layer
    images = keras.Input((*image_size, 3), name="images")
    if family == "siglip":
        x = backbone.embedding(images)
        for block in backbone.encoder_layers:
            x = block(x)
        x = backbone.head(backbone.post_layer_norm(x))
    elif family == "dinov3":
        x = backbone.embeddings(images)
        rotary = backbone.rope_embedding(images)
        n_prefix = 1 + backbone.num_register_tokens
        for block in backbone.encoder.layers:
            x = block(x, position_embeddings=rotary, num_prefix_tokens=n_prefix)
        x = backbone.layernorm(x)
    else:
        x = backbone.embeddings(images)
        for block in backbone.encoder.layers:
            x = block(x)
        x = backbone.layernorm(x)
    return keras.Model(images, x, name=f"{backbone.name}_blocks")


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

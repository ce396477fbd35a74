"""What a backbone record is: the questions every backbone family answers, and preprocessing.

The families themselves live in :mod:`._backbones` (``keras.applications``,
the small convnet, any ``keras.Model``) and :mod:`._hub` (KerasHub's DINOv2,
DINOv3, SigLIP and ViT). Nothing here imports Keras at module level.
"""

import os
import re
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import Interval

from ._images import check_image_size
from ._keras_utils import pooled_model

# Parameter constraints of every estimator that builds a backbone.
BACKBONE_PARAMETER_CONSTRAINTS = {
    "weights": [str, os.PathLike, None],
    "image_size": [Interval(Integral, 1, None, closed="left"), tuple, None],
    "backbone_kwargs": [dict, None],
}


@dataclass(frozen=True)
class Preprocessing:
    """What maps RGB pixels in [0, 255] to a backbone's input: ``x * scale + offset``.

    ``scale`` and ``offset`` are one number or one per channel; with
    ``reverse_channels`` the channels are put in BGR order first. Called, it
    maps an array or tensor (training, the feature cache); :meth:`layers` does
    the same as Keras layers inside a saved model, which safe mode loads.
    """

    scale: float | tuple = 1.0
    offset: float | tuple = 0.0
    reverse_channels: bool = False

    def __call__(self, x):
        if self.reverse_channels:
            x = x[..., ::-1]
        return x * np.float32(self.scale) + np.float32(self.offset)

    def layers(self):
        """Keras layers computing the same thing, named ``preprocess``."""
        import keras

        if not self.reverse_channels:
            return [keras.layers.Rescaling(self.scale, offset=self.offset, name="preprocess")]
        # The channel reversal and the affine map as a fixed 1x1 convolution.
        kernel = np.zeros((1, 1, 3, 3), dtype="float32")
        kernel[0, 0, [2, 1, 0], [0, 1, 2]] = np.broadcast_to(np.float32(self.scale), 3)
        bias = np.broadcast_to(np.float32(self.offset), 3)
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

    @classmethod
    def normalize(cls, mean, std):
        """``(x / 255 - mean) / std`` per channel, as ImageNet-normalizing models expect."""
        mean, std = np.asarray(mean, dtype=float), np.asarray(std, dtype=float)
        # Plain floats: their repr, part of the feature cache's keys, is NumPy's own.
        return cls(tuple(map(float, 1 / (255 * std))), tuple(map(float, -mean / std)))

    @classmethod
    def from_dict(cls, values):
        """The preprocessing :func:`dataclasses.asdict` gave (lists back to tuples)."""
        return cls(
            *(tuple(v) if isinstance(v, list) else v for v in (values["scale"], values["offset"])),
            values["reverse_channels"],
        )


# [0, 255] to [-1, 1] (Keras's "tf" mode, SigLIP, ViT), and ImageNet's
# normalization of [0, 1] pixels (Keras's "torch" mode, DINOv2, DINOv3).
SIGNED_UNIT = Preprocessing(1 / 127.5, -1.0)
IMAGENET_NORMALIZATION = Preprocessing.normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))


@dataclass(frozen=True)
class BackboneRecord:
    """What the package knows about one backbone family.

    Every record class is built the same way: a frozen dataclass whose fields
    are what one backbone is made from (a constructor's name, a model, a
    preset), whose class attributes are the facts its family shares, and
    which overrides :meth:`build` (and the hooks its family needs, such as
    :meth:`resolve_size` or :meth:`split`); :meth:`make` is the base's alone.

    Attributes
    ----------
    name : str
        What the backbone is called in messages and keys.
    preprocessing : Preprocessing or None
        The map from [0, 255] pixels to the backbone's input (None: none).
    default_size : int or None
        Input height and width its weights were trained at.
    min_size : int
        Smallest height and width the architecture accepts.
    fine_tune_from : str, int, float or None
        The recommended ``fine_tune_from`` (what ``"auto"`` means).
    pretrained : bool
        Whether pretrained weights exist (the default ``weights``).
    trains_from_scratch : bool
        Whether stage 1 trains the whole backbone.
    any_size : bool
        Whether any ``image_size`` from ``min_size`` up suits it as well as
        ``default_size`` (a convnet), rather than the size its weights and
        position embeddings were made for.
    weights_description : str
        What its pretrained weights (``weights="imagenet"``) are, in words.
    """

    name = "backbone"
    preprocessing = None
    default_size = None
    min_size = 1
    fine_tune_from = None
    pretrained = True
    trains_from_scratch = False
    any_size = False
    weights_description = "pretrained weights"
    block_pattern = None

    def build(self, *, weights, image_size, backbone_kwargs=None, seed=0):
        """Return the headless backbone for RGB images of ``image_size``."""
        raise NotImplementedError

    def resolve_size(self, image_size):
        """Return ``(height, width)`` from ``image_size`` (int or pair), else the default."""
        size = check_image_size(self.default_size if image_size is None else image_size)
        if size is None:
            raise ValueError("The backbone model has no fixed input size; pass image_size.")
        if min(size) < self.min_size:
            raise ValueError(
                f"image_size={size} is smaller than the {self.min_size}x{self.min_size} "
                f"minimum of backbone {self.name!r}."
            )
        return size

    def make(self, *, weights, image_size, backbone_kwargs=None, seed=0):
        """Return ``(backbone, (height, width))``: the size resolved, the backbone built."""
        size = self.resolve_size(image_size)
        model = self.build(
            weights=weights, image_size=size, backbone_kwargs=backbone_kwargs, seed=seed
        )
        return model, size

    def pooled(self, model, *, pooling="avg", head=None, name=None):
        """``model`` (a backbone or its top) in inference mode, pooled, then ``head``."""
        return pooled_model(model, pooling=pooling, head=head, name=name)

    def block_names(self, backbone):
        """The distinct block prefixes of ``backbone``'s layers, in order."""
        if self.block_pattern is None:
            return []
        regex = re.compile(self.block_pattern)
        names = []
        for layer in backbone.layers:
            match = regex.match(layer.name)
            if match and match.group(0) not in names:
                names.append(match.group(0))
        return names

    def fine_tune_index(self, backbone, fine_tune_from):
        """Index in ``backbone.layers`` of the first layer stage 2 unfreezes.

        ``fine_tune_from`` is a block or layer name prefix, an int (the last n
        layers) or a float in (0, 1] (that fraction of the layers, from the top).
        """
        n_layers = len(backbone.layers)
        if isinstance(fine_tune_from, str):
            for index, layer in enumerate(backbone.layers):
                if _matches_prefix(layer.name, fine_tune_from):
                    return index
            valid = self.block_names(backbone) or [layer.name for layer in backbone.layers]
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

    def unfreeze(self, backbone, index, fine_tune_from):
        """Make ``backbone`` trainable from layer ``index`` up, BatchNormalization excepted.

        BatchNormalization layers stay frozen (and in inference mode), so the
        small batches of fine-tuning never overwrite their statistics.
        """
        import keras

        backbone.trainable = True
        for position, layer in enumerate(backbone.layers):
            layer.trainable = position >= index and not isinstance(
                layer, keras.layers.BatchNormalization
            )

    def split(self, backbone, index):
        """Return (bottom, top) models of ``backbone`` cut at the input of layer ``index``.

        None when the cut is not one tensor (a skip connection crosses it, or the
        layer has several inputs) or there is nothing below it.
        """
        import keras

        cut = backbone.layers[index].input
        if index >= 1 and isinstance(cut, keras.KerasTensor):
            try:
                return keras.Model(backbone.input, cut), keras.Model(cut, backbone.output)
            except ValueError:
                pass
        return None

    def shared_key(self, weights, image_size, backbone_kwargs):
        """What names this backbone among fits that may share one built copy; None: never."""
        return None

    def check_weights(self, weights):
        """Refuse ``weights`` the family cannot have, before anything is built."""


def _matches_prefix(name, prefix):
    # "block_1" must not select "block_10_expand".
    return name == prefix or name.startswith(prefix + "_")


def weights_identity(weights):
    """What identifies pretrained weights: the name, or a file's path, size and mtime."""
    if weights is None:
        return None
    if weights == "imagenet":
        return "imagenet"
    stat = os.stat(weights)
    return f"{os.path.abspath(weights)}|{stat.st_size}|{stat.st_mtime_ns}"


def looks_like_download_error(exc):
    """Whether ``exc`` reads as a failed download (no network, a refused connection)."""
    text = f"{type(exc).__name__} {exc}".lower()
    words = ("url", "fetch", "download", "connection", "resolve", "timeout", "timed out", "http")
    return any(word in text for word in words)

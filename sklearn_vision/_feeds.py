"""What a stage is fed, and how prediction runs: one object per kind of input.

A stage of a fit trains on feature rows (no backbone), on images through the
whole model, or on the cached outputs of the part of the network it does not
train, with or without a bank of augmented views. Each kind is a feed: it cuts
the model into the part whose outputs it caches and the part it trains,
makes the stage's training and validation datasets (:meth:`training`), and
predicts (:meth:`predict`), as skorch's ``NeuralNet`` splits ``get_iterator``
from ``infer``. The stage plan (:class:`StagePlan`) hands out the feed of each
stage and of prediction; a feed's :attr:`kind` is the key a saved plan keeps.
Keras is imported only inside the methods that cut or call a model.
"""

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ._augmentation import AugmentedViews, resolve_augmentation
from ._backend import inference
from ._features import cached_outputs, cached_view_outputs
from ._tf_data import (
    ImagePipeline,
    image_read_errors,
    images_dataset,
    rows_dataset,
    views_dataset,
)


@dataclass(frozen=True)
class Feeding:
    """What every feed needs of a fit: how images reach the model, batches, the views' bank.

    ``pipeline`` (None for feature rows) is the training images' pipeline,
    augmentation included; validation and prediction use it without.
    ``augmentation`` and ``augmentation_views`` are the estimator's
    parameters: the layers and the size of a bank of cached views.
    """

    batch_size: int
    pipeline: ImagePipeline | None = None
    verbose: int = 0
    augmentation: object = None
    augmentation_views: int = 8

    @property
    def plain(self):
        """The pipeline without augmentation: for validation, caching and prediction."""
        return dataclasses.replace(self.pipeline, augmentation=None)


def call_in_chunks(model, X, chunk_size):
    """Return ``model``'s inference output on the rows of ``X``, called chunk by chunk.

    For the trained part of a model on cached inputs (or feature rows): called
    directly, it needs no traced predict function, whose tracing costs more
    than the call. The last chunk is padded to ``chunk_size`` rows, so every
    call has one shape: a row's output, to the last float32 digit, does not
    depend on how many rows share its call.
    """
    from keras import ops

    outputs = []
    for start in range(0, len(X), chunk_size):
        chunk = X[start : start + chunk_size]
        n = len(chunk)
        if n < chunk_size:
            chunk = np.concatenate(
                [chunk, np.zeros((chunk_size - n, *chunk.shape[1:]), chunk.dtype)]
            )
        outputs.append(ops.convert_to_numpy(model(chunk, training=False))[:n])
    return np.concatenate(outputs)


@dataclass(frozen=True)
class RowsFeed:
    """Feature rows given by the user (``backbone=None``): the whole model trains on them."""

    kind: ClassVar[str] = "rows"
    caches: ClassVar[bool] = False
    views: ClassVar[bool] = False

    def training(self, model, X, data, feeding):
        """Return ``(trained model, (training dataset, validation dataset or None))``."""
        train = rows_dataset(
            X[data.train],
            data.targets(data.train),
            batch_size=feeding.batch_size,
            shuffle_seed=data.shuffle_seed,
        )
        return model, (train, _rows_validation(X, data, feeding))

    def predict(self, model, X, feeding):
        """``model``'s probabilities for the rows of ``X``."""
        return call_in_chunks(model, X, feeding.batch_size)


@dataclass(frozen=True)
class ImagesFeed:
    """Images through the whole model every epoch, augmented afresh in training."""

    kind: ClassVar[str] = "images"
    caches: ClassVar[bool] = False
    views: ClassVar[bool] = False

    def training(self, model, X, data, feeding):
        """Return ``(trained model, (training dataset, validation dataset or None))``."""
        train = images_dataset(
            X[data.train],
            data.targets(data.train),
            pipeline=feeding.pipeline,
            batch_size=feeding.batch_size,
            shuffle_seed=data.shuffle_seed,
        )
        if data.validation is None:
            return model, (train, None)
        validation = images_dataset(
            X[data.validation],
            data.targets(data.validation),
            pipeline=feeding.plain,
            batch_size=feeding.batch_size,
        )
        return model, (train, validation)

    def predict(self, model, X, feeding):
        """``model``'s probabilities for the images ``X``."""
        # Not Model.predict: its traced function would stay on the model (and in
        # TensorFlow's registry) after the estimator is gone.
        dataset = images_dataset(X, pipeline=feeding.plain, batch_size=feeding.batch_size)
        with image_read_errors():
            return inference(model, dataset, batch_size=feeding.batch_size)


@dataclass(frozen=True)
class Cut:
    """Where a fine-tuned backbone is cut: below it nothing was trained.

    ``record`` is the backbone's :class:`BackboneRecord`, ``backbone_name``
    its layer's name in the classifier, ``index`` the first layer trained.
    """

    record: object
    backbone_name: str
    index: int

    def parts(self, model, head):
        """``(bottom, top)``: the backbone below the cut, and above it with ``head``."""
        bottom, top = self.record.split(model.get_layer(self.backbone_name), self.index)
        return bottom, self.record.pooled(top, head=head, name="fine_tune_top")


@dataclass(frozen=True)
class CachedFeed:
    """Cached outputs of the part of the model a stage does not train.

    Without a ``cut``, the pooled features of the frozen backbone, and the
    head trains; with one, the activations at the cut, and the backbone's top
    and the head train. The outputs come from the process-wide cache, shared
    by every fit whose fixed part and images are the same.
    """

    cut: Cut | None = None
    caches: ClassVar[bool] = True
    views: ClassVar[bool] = False
    kinds: ClassVar[tuple] = ("features", "activations")

    @property
    def kind(self):
        """``"features"``, or ``"activations"`` at a cut."""
        return self.kinds[self.cut is not None]

    @classmethod
    def kind_at_cut(cls):
        """The kind of this feed at a cut (what stage 2 trains on after stage 1 on this one)."""
        return cls.kinds[1]

    def parts(self, model):
        """``(fixed, trained)`` parts of ``model``: the fixed part's outputs are cached."""
        import keras

        head = model.get_layer("head")
        if self.cut is not None:
            return self.cut.parts(model, head)
        features = model.layers[model.layers.index(head) - 1].output
        return keras.Model(model.inputs, features), head

    def training(self, model, X, data, feeding):
        """Return ``(trained part, (training dataset, validation dataset or None))``."""
        fixed, trained = self.parts(model)
        train, validation = self._outputs(fixed, X, data, feeding)
        train_ds = self._training_dataset(train, data, feeding)
        if validation is None:
            return trained, (train_ds, None)
        targets = data.targets(data.validation)
        return trained, (train_ds, rows_dataset(validation, targets, batch_size=feeding.batch_size))

    def _outputs(self, fixed, X, data, feeding):
        """The fixed part's cached outputs of the (training, validation or None) images."""
        outputs = cached_outputs(
            fixed, X, feeding.plain, batch_size=feeding.batch_size, verbose=feeding.verbose
        )
        validation = None if data.validation is None else outputs[data.validation]
        return outputs[data.train], validation

    def _training_dataset(self, train, data, feeding):
        return rows_dataset(
            train,
            data.targets(data.train),
            batch_size=feeding.batch_size,
            shuffle_seed=data.shuffle_seed,
        )

    def predict(self, model, X, feeding):
        """``model``'s probabilities: its fixed part's outputs through the cache, then the rest.

        Clones whose fixed parts are the same (all fits of a learning curve)
        score a test set for the cost of one pass of that part and of their
        trained parts each.
        """
        fixed, trained = self.parts(model)
        inputs = cached_outputs(
            fixed, X, feeding.plain, batch_size=feeding.batch_size, verbose=feeding.verbose
        )
        return call_in_chunks(trained, inputs, feeding.batch_size)


@dataclass(frozen=True)
class CachedViewsFeed(CachedFeed):
    """Cached outputs of a bank of augmented views of each training image.

    Each epoch draws one view of each image; validation and prediction are
    on the plain images, as for :class:`CachedFeed`.
    """

    views: ClassVar[bool] = True
    kinds: ClassVar[tuple] = ("feature_views", "activation_views")

    def _outputs(self, fixed, X, data, feeding):
        pipeline, keys = feeding.plain, dict(batch_size=feeding.batch_size, verbose=feeding.verbose)
        # Fixed seeds for "default": every fit, whatever its random_state, shares
        # these views (fits differ in the views they draw); images augmented
        # afresh use the fit's seed (feeding.pipeline).
        augmentation = resolve_augmentation(feeding.augmentation, 0)
        bank = AugmentedViews(augmentation, feeding.augmentation_views, pipeline.image_size)
        train = cached_view_outputs(fixed, X[data.train], pipeline, bank, **keys)
        validation = None
        if data.validation is not None:
            validation = cached_outputs(fixed, X[data.validation], pipeline, **keys)
        return train, validation

    def _training_dataset(self, train, data, feeding):
        return views_dataset(
            train,
            data.targets(data.train),
            batch_size=feeding.batch_size,
            shuffle_seed=data.shuffle_seed,
            view_seed=data.shuffle_seed + 1,
        )


def _rows_validation(X, data, feeding):
    if data.validation is None:
        return None
    targets = data.targets(data.validation)
    return rows_dataset(X[data.validation], targets, batch_size=feeding.batch_size)


# A saved plan names its stages' feeds by kind: (feed class, at a cut).
_KINDS = {
    RowsFeed.kind: (RowsFeed, False),
    ImagesFeed.kind: (ImagesFeed, False),
    **{
        kind: (cls, i == 1)
        for cls in (CachedFeed, CachedViewsFeed)
        for i, kind in enumerate(cls.kinds)
    },
}
STAGE_1_KINDS = frozenset(kind for kind, (_, at_cut) in _KINDS.items() if not at_cut)
STAGE_2_KINDS = frozenset(
    [ImagesFeed.kind, *(kind for kind, (_, at_cut) in _KINDS.items() if at_cut)]
)


def feed_of(kind, cut=None):
    """The feed of ``kind`` (a saved plan's key); ``cut`` for cached activations."""
    cls, at_cut = _KINDS[kind]
    if not cls.caches:
        return cls()
    if at_cut and cut is None:
        raise ValueError(f"the feed {kind!r} needs the cut of the backbone it is fed at")
    return cls(cut if at_cut else None)

"""The stage plan of a TransferImageClassifier fit, and the data every stage shares.

:func:`plan_stages` decides once, from explicit values, what each stage trains
and what it is fed; :meth:`StagePlan.settle` completes the decision with the
facts of the built network (where it is cut, how big a bank of views is).
``fit`` stores the plan as ``stage_plan_``; it hands out the feed (:mod:`._feeds`)
of each stage, which :mod:`._training` trains on, and of ``predict_proba``.
What each stage trains on and how long is one :class:`Schedule` each; what
the network is built from, :class:`BuildSettings`; where it runs,
:class:`Runtime`. No Keras here.
"""

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import compute_sample_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, check_consistent_length, column_or_1d

from ._augmentation import can_cache_views
from ._feeds import (
    STAGE_1_KINDS,
    STAGE_2_KINDS,
    CachedFeed,
    CachedViewsFeed,
    Cut,
    ImagesFeed,
    RowsFeed,
    feed_of,
)
from ._record import Preprocessing
from ._split import shuffled_folds


def resolve_cache(cache, *, record, augmentation):
    """How stage 1 is fed: a :class:`CachedFeed`, :class:`CachedViewsFeed` or :class:`ImagesFeed`.

    A frozen backbone (not one trained from scratch) is a fixed function of its
    input, so its outputs can be cached: those of each image without
    augmentation, those of a fixed bank of augmented views of each image with
    augmentation by Keras layers, whose random draws can be seeded per image and
    whose configuration keys the views. ``"auto"`` caches where it can;
    ``True`` raises where it cannot; ``False`` never caches.
    """
    if record.trains_from_scratch:
        possible = None
    elif augmentation is None:
        possible = CachedFeed()
    elif (isinstance(augmentation, str) and augmentation == "default") or can_cache_views(
        augmentation
    ):
        possible = CachedViewsFeed()
    else:
        possible = None
    if cache is True and possible is None:
        raise ValueError(
            "cache=True needs a frozen stage-1 backbone, and an augmentation that is "
            "Keras layers (their views are cached) or none: a backbone trained from "
            "scratch changes every step, and an augmentation function (or a custom "
            "layer with arguments and no get_config) cannot be seeded per image and "
            "keyed by its configuration. Use cache='auto' or cache=False."
        )
    return possible if cache in ("auto", True) and possible else ImagesFeed()


@dataclass(frozen=True)
class StagePlan:
    """What each stage of a fit trains and what it is fed.

    The inputs are named by kind, as a saved plan keeps them; :meth:`frozen_feed`,
    :meth:`fine_tune_feed` and :meth:`predict_feed` hand out the feeds they name.

    Attributes
    ----------
    frozen_input : str
        What stage 1 trains on: ``"rows"``, ``"images"``, ``"features"`` or
        ``"feature_views"``.
    fine_tune_from : str, int, float or None
        Where stage 2 starts (``"auto"`` resolved); None: no stage 2.
    fine_tune_input : str or None
        What stage 2 trains on: ``"images"``, ``"activations"`` or
        ``"activation_views"``; None when it does not run.
    fine_tune_index : int or None
        Index in the backbone's layers of the first layer stage 2 trains.
    cut : bool
        Whether the backbone cuts in two at ``fine_tune_index``.
    share_backbone : bool
        Whether the built backbone is shared with other fits (frozen throughout).
    shared_trainers : bool
        Whether stages borrow training steps traced by other fits of the same
        architecture (the plain runtime, no callbacks).
    cache_required : bool
        Whether the user asked for the cache (``cache=True``): not caching raises.
    backbone_name : str or None
        The name of the backbone's layer in the classifier's model.
    preprocessing : Preprocessing or None
        What mapped [0, 255] pixels to the backbone's input, as the backbone's
        record said at fit time (a saved model keeps it).
    """

    frozen_input: str
    fine_tune_from: object = None
    fine_tune_input: str | None = None
    fine_tune_index: int | None = None
    cut: bool = False
    share_backbone: bool = False
    shared_trainers: bool = False
    cache_required: bool = False
    backbone_name: str | None = None
    preprocessing: Preprocessing | None = None

    @property
    def caches(self):
        """Whether stage 1 trains on cached backbone outputs."""
        return self.frozen_feed().caches

    def frozen_feed(self):
        """What stage 1 is fed: a feed of :mod:`._feeds`."""
        return feed_of(self.frozen_input)

    def fine_tune_feed(self, record):
        """What stage 2 is fed (None: it does not run); ``record`` is the backbone's."""
        if self.fine_tune_input is None:
            return None
        return feed_of(self.fine_tune_input, self._cut(record))

    def predict_feed(self, backbone):
        """What ``predict_proba`` feeds the model: rows, images, features or activations.

        Through the cache where stage 1 went through it: after fine-tuning, the
        activations where the trained top starts (below it nothing was trained).
        ``backbone`` is the estimator's parameter, whose record cuts the model.
        """
        frozen = self.frozen_feed()
        if not frozen.caches:
            return frozen
        if self.fine_tune_input is not None and self.cut:
            from ._backbones import backbone_record

            return CachedFeed(self._cut(backbone_record(backbone)))
        return CachedFeed()

    @property
    def trains_on_shared_rows(self):
        """Whether stage 1 trains the head on rows every fit shares.

        Feature rows, or the cached features of a backbone shared by all fits
        (one of random weights depends on each fit's seed).
        """
        frozen = self.frozen_feed()
        return isinstance(frozen, RowsFeed) or (frozen == CachedFeed() and self.share_backbone)

    def _cut(self, record):
        return Cut(record, self.backbone_name, self.fine_tune_index) if self.cut else None

    def settle(self, *, backbone_name, fine_tune_index, cut, bank_nbytes, cache_bounds, epochs):
        """The plan completed with the built network's facts.

        ``backbone_name``: the backbone's layer name; ``epochs``: stage 2's;
        ``cut``: whether the backbone cuts in two at ``fine_tune_index``;
        ``bank_nbytes``: the size of the views' activations at the cut;
        ``cache_bounds``: the cache's ``(max_bytes, on_disk)``.
        """
        settled = dataclasses.replace(
            self, backbone_name=backbone_name, fine_tune_index=fine_tune_index
        )
        if fine_tune_index is None or epochs == 0:
            return settled
        frozen = self.frozen_feed()
        fine_tune_input = ImagesFeed.kind
        if self.caches and not cut:
            self._cannot_cache(
                "the input of the first layer it trains does not cut the network in two "
                "(a skip connection crosses it, or the layer has several inputs)"
            )
        elif self.caches:
            max_bytes, on_disk = cache_bounds
            if frozen.views and bank_nbytes > max_bytes and not on_disk:
                self._cannot_cache(
                    f"the views' activations at the split point take "
                    f"{bank_nbytes / 2**30:.1f} GiB, over the feature cache's max_bytes "
                    f"({max_bytes / 2**30:.1f} GiB). Raise it or give it a location on disk "
                    "(set_feature_cache), lower augmentation_views"
                )
            else:
                fine_tune_input = frozen.kind_at_cut()
        return dataclasses.replace(settled, fine_tune_input=fine_tune_input, cut=cut)

    def _cannot_cache(self, reason):
        if self.cache_required:
            raise ValueError(
                f"cache=True cannot cache stage 2: {reason}; or use cache='auto', or "
                "another fine_tune_from."
            )

    def to_dict(self):
        """The plan as JSON-ready values (for a saved model)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values):
        """The plan :meth:`to_dict` gave; ValueError for anything else."""
        names = {field.name for field in dataclasses.fields(cls)}
        if not (isinstance(values, dict) and set(values) <= names):
            raise ValueError(f"not a stage plan (its fields are {sorted(names)})")
        if values.get("frozen_input") not in STAGE_1_KINDS:
            raise ValueError(f"'frozen_input' is not one of {sorted(STAGE_1_KINDS)}")
        if values.get("fine_tune_input") not in {None, *STAGE_2_KINDS}:
            raise ValueError("'fine_tune_input' is not a stage-2 input")
        if isinstance(values.get("preprocessing"), dict):
            values = {**values, "preprocessing": Preprocessing.from_dict(values["preprocessing"])}
        return cls(**values)


def saved_plan(values, backbone):
    """The stage plan of a saved model, that predicts from the file alone.

    Never through activations at a cut, which needs the backbone's record (its
    preset, perhaps a download). Files written before the plan was saved
    (``values`` None) predict through the whole model.
    """
    if values is not None:
        return dataclasses.replace(StagePlan.from_dict(values), cut=False)
    if backbone is None:
        return StagePlan(RowsFeed.kind)
    from ._backbones import backbone_record

    return StagePlan(ImagesFeed.kind, preprocessing=backbone_record(backbone).preprocessing)


def plan_stages(record, *, cache, fine_tune_from, build, runtime, callbacks):
    """Decide once what each stage trains and is fed; a :class:`StagePlan` to settle.

    ``record`` is the backbone's :class:`BackboneRecord` (None without a
    backbone); ``build`` the fit's :class:`BuildSettings`, ``runtime`` its
    :class:`Runtime`, ``callbacks`` the user's.
    """
    if record is None:
        return StagePlan(RowsFeed.kind)
    frozen_feed = resolve_cache(cache, record=record, augmentation=build.augmentation)
    if fine_tune_from == "auto":
        fine_tune_from = record.fine_tune_from
    share = (
        frozen_feed.caches
        and fine_tune_from is None
        and runtime.plain
        and record.shared_key(build.weights, build.image_size, build.backbone_kwargs) is not None
    )
    return StagePlan(
        frozen_feed.kind,
        fine_tune_from=fine_tune_from,
        share_backbone=share,
        shared_trainers=runtime.plain and not callbacks,
        cache_required=cache is True,
        preprocessing=record.preprocessing,
    )


@dataclass(frozen=True)
class Schedule:
    """How one stage trains: its epochs and learning rate, and what both stages share."""

    epochs: int
    learning_rate: float
    optimizer: object = "adam"
    batch_size: int = 32
    n_iter_no_change: int = 5
    callbacks: object = None
    verbose: int = 0


@dataclass(frozen=True)
class BuildSettings:
    """What the network is built from, besides the backbone's record and the data."""

    weights: object = None
    image_size: object = None
    backbone_kwargs: object = None
    dropout: float = 0.0
    window: object = "auto"
    augmentation: object = None


@dataclass(frozen=True)
class Runtime:
    """Where a fit builds and trains: a distribution strategy, a dtype policy."""

    strategy: object = None
    mixed_precision: bool = False

    @property
    def plain(self):
        """No strategy and float32: models and traced steps may be shared between fits."""
        return self.strategy is None and not self.mixed_precision


@dataclass(frozen=True)
class StageData:
    """What every stage trains on besides its inputs: targets, weights, split, shuffling."""

    y: np.ndarray
    sample_weight: np.ndarray
    train: np.ndarray
    validation: np.ndarray
    shuffle_seed: int

    def targets(self, indices):
        weights = () if self.sample_weight is None else (self.sample_weight[indices],)
        return (self.y[indices], *weights)


def encode_targets(y, sample_weight, class_weight, n_samples):
    """Return ``(classes, y_encoded, weights)``; weights None when all are equal.

    ``weights`` multiply ``sample_weight`` and ``class_weight``; at least two
    classes must have a positive weight.
    """
    y = column_or_1d(y, warn=True)
    check_consistent_length(np.empty(n_samples), y)
    check_classification_targets(y)
    encoder = LabelEncoder().fit(y)
    classes = encoder.classes_
    y_encoded = encoder.transform(y).astype(np.int32)
    weights = _check_sample_weight(
        sample_weight, np.empty(n_samples), dtype=np.float32, ensure_non_negative=True
    )
    if class_weight is not None:
        weights = weights * compute_sample_weight(class_weight, y).astype(np.float32)
    present = np.bincount(y_encoded, weights=weights, minlength=len(classes)) > 0
    if present.sum() < 2:
        raise ValueError(
            f"Classification needs samples of at least 2 classes; got {present.sum()} "
            f"class with positive weight ({list(classes[present])})."
        )
    if sample_weight is None and class_weight is None:
        weights = None
    return classes, y_encoded, weights


def resolve_early_stopping(early_stopping, y_encoded, classes, validation_fraction, groups=None):
    """Whether a fit stops early: ``"auto"`` where its data hold a validation split.

    The split needs every class on both sides (at least 2 images of each, and
    ``validation_fraction`` of the images giving as many as there are classes
    on each side); with ``groups``, whole groups on both sides (at least 2
    groups). ``"auto"`` stops early where it can and otherwise trains every
    epoch on all the data, as scikit-learn's
    ``HistGradientBoostingClassifier(early_stopping="auto")`` decides by the
    data's size; ``True`` raises where it cannot; ``False`` never stops early.
    """
    if isinstance(early_stopping, str):  # "auto"
        return _split_problem(y_encoded, classes, validation_fraction, groups) is None
    if not early_stopping:
        return False
    problem = _split_problem(y_encoded, classes, validation_fraction, groups)
    if problem is not None:
        raise ValueError(
            f"{problem} Add images, or set early_stopping='auto' (which trains every "
            "epoch on all the images of a fit that cannot hold the split) or False."
        )
    return True


def _split_problem(y_encoded, classes, validation_fraction, groups):
    """Why the validation split of early stopping cannot be made; None when it can."""
    if groups is not None:
        n_groups = len(np.unique(groups))
        if n_groups < 2:
            return (
                "Early stopping with groups holds out whole groups for validation and "
                f"needs at least 2 groups; got {n_groups}."
            )
        return None
    counts = np.bincount(y_encoded, minlength=len(classes))
    too_small = [str(classes[k]) for k in np.flatnonzero(counts < 2)]
    if too_small:
        return (
            f"Class {', '.join(too_small)} has fewer than 2 images: early stopping "
            "holds out a stratified validation split and needs at least 2 images of "
            "each class."
        )
    n_samples = len(y_encoded)
    n_validation = math.ceil(validation_fraction * n_samples)
    if min(n_validation, n_samples - n_validation) < len(classes):
        return (
            f"validation_fraction={validation_fraction} of {n_samples} images "
            f"gives {n_validation} validation images; a stratified split of "
            f"{len(classes)} classes needs at least {len(classes)} on each side."
        )
    return None


def validation_split(y_encoded, validation_fraction, seed, groups=None):
    """Return the (train, validation) indices of early stopping.

    Stratified; with ``groups``, whole groups for validation, stratified as far
    as the groups allow (one fold of ``round(1 / validation_fraction)``).
    :func:`resolve_early_stopping` has checked that the split can be made.
    """
    n_samples = len(y_encoded)
    if groups is not None:
        n_groups = len(np.unique(groups))
        # Folds capped by the groups and by the largest class, which each fold samples.
        largest = int(np.bincount(y_encoded).max())
        n_splits = max(2, min(round(1 / validation_fraction), n_groups, largest))
        return shuffled_folds(y_encoded, groups, n_splits, True, seed)[0]
    n_validation = math.ceil(validation_fraction * n_samples)
    return train_test_split(
        np.arange(n_samples), test_size=n_validation, stratify=y_encoded, random_state=seed
    )

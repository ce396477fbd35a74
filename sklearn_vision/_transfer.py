"""TransferImageClassifier: a pretrained Keras backbone and a new head, as a classifier."""

import math
import os
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state, compute_sample_weight
from sklearn.utils._param_validation import HasMethods, Interval, RealNotInt, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    _check_sample_weight,
    check_consistent_length,
    check_is_fitted,
    column_or_1d,
    validate_data,
)

from ._augmentation import AugmentedViews, can_cache_views, default_augmentation
from ._backbones import (
    BACKBONE_PARAMETER_CONSTRAINTS,
    BACKBONES,
    fine_tune_index,
    get_spec,
    make_backbone,
    preprocess_function,
    weights_identity,
)
from ._cache import get_feature_cache
from ._features import cached_predict
from ._images import check_images
from ._intensity import check_window
from ._keras_utils import (
    dtype_policy,
    gpu_available,
    inference,
    pooled_model,
    release_step_functions,
    seeded_keras,
    weights_digest,
)
from ._learning_curve import shuffled_folds
from ._saving import export, read_saved, save
from ._tf_data import image_read_errors, make_dataset
from ._training import LOSS, Trainer, call_in_chunks, make_optimizer, split_models, trainer_key

_OPTIMIZERS = {"adam", "adamw", "nadam", "rmsprop", "sgd"}


def resolve_cache(cache, *, backbone, augmentation):
    """How a classifier's frozen part is fed: ``"features"``, ``"views"`` or None.

    The one decision ``fit`` and ``predict_proba`` share. A frozen backbone
    (not ``small_cnn``, which trains all its layers, nor ``backbone=None``,
    whose input already is features) is a fixed function of its input, so its
    outputs can be cached: those of each image without augmentation
    (``"features"``), those of a fixed bank of augmented views of each image
    with augmentation by Keras layers, whose random draws can be seeded per
    image and whose configuration keys the views (``"views"``). None: images
    go through the whole model every epoch.
    ``"auto"`` caches where it can; ``True`` raises where it cannot; ``False``
    never caches.
    """
    trains_backbone = backbone is None or (isinstance(backbone, str) and backbone == "small_cnn")
    if trains_backbone:
        possible = None
    elif augmentation is None:
        possible = "features"
    elif (isinstance(augmentation, str) and augmentation == "default") or can_cache_views(
        augmentation
    ):
        possible = "views"
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
    return possible if cache in ("auto", True) else None


def _check_not_text(X):
    """Refuse strings, such as image file paths, where backbone=None takes feature rows."""
    if isinstance(X, (list, tuple)):
        try:
            X = np.asarray(X)
        except ValueError:  # ragged: validate_data says so
            return
    if not isinstance(X, np.ndarray) or X.dtype.kind not in "USO":
        return  # numbers, or a table validate_data checks
    text = [value for value in X.ravel() if isinstance(value, (str, bytes, os.PathLike))]
    if text:
        raise ValueError(
            "backbone=None takes feature rows (a 2-D numeric array of shape (n_samples, "
            f"n_features)); got file paths or strings, such as {str(text[0])!r}. Give a backbone "
            "name, such as backbone='mobilenet_v2', to read the images, or compute features "
            "first with BackboneFeatures and fit on them."
        )


def validation_split_fits(n_samples, n_classes, validation_fraction):
    """Whether a stratified validation split of ``n_samples`` has every class on both sides."""
    n_validation = math.ceil(validation_fraction * n_samples)
    return min(n_validation, n_samples - n_validation) >= n_classes


@dataclass(frozen=True)
class _Network:
    """The parts of a built classifier.

    ``model`` maps inputs to probabilities; ``features`` maps them to the
    pooled backbone output ``head`` takes (None without a backbone).
    """

    model: object
    backbone: object
    features: object
    head: object
    image_size: tuple


@dataclass(frozen=True)
class _StageData:
    """What every stage trains on besides its inputs: targets, weights, split, shuffling."""

    y: np.ndarray
    sample_weight: np.ndarray
    train: np.ndarray
    validation: np.ndarray
    shuffle_seed: int


@dataclass(frozen=True)
class _Cached:
    """Cached outputs a stage trains on: training rows (a views axis with ``views``), validation."""

    train: np.ndarray
    validation: np.ndarray
    views: bool


class TransferImageClassifier(ClassifierMixin, BaseEstimator):
    """Image classifier that fine-tunes a pretrained Keras backbone, in two stages.

    A new head (global average pooling, dropout, softmax) is put on a
    ``keras.applications`` backbone. Stage 1 trains the head with the backbone
    frozen; stage 2 unfreezes the backbone from ``fine_tune_from`` to the top and
    trains it at ``fine_tune_learning_rate``. BatchNormalization layers stay
    frozen and in inference mode in both stages, so the small batches of a
    fine-tuning run never overwrite the statistics learnt on ImageNet. Both stages
    stop early on a held-out stratified split and keep their best weights.

    Parameters
    ----------
    backbone : str, keras.Model, callable or None, default="mobilenet_v2"
        A registered name (see ``sklearn_vision.BACKBONES``), a ``keras.Model``
        mapping images to feature maps or vectors (copied, never modified), or a
        callable returning one. ``"small_cnn"`` is a three-block convnet trained
        from scratch: stage 1 trains all of it and ``"auto"`` skips stage 2.
        ``None`` means no backbone: ``X`` holds feature vectors (for instance
        :class:`BackboneFeatures` output) and only the head is trained.
    weights : "imagenet", path or None, default="imagenet"
        Backbone weights: ImageNet (downloaded once into the Keras cache; offline,
        a file already in the cache is used), random (``None``), or a weights
        file. For a ``keras.Model`` backbone, only a path changes its weights.
    image_size : int, (int, int) or None, default=None
        Height and width images are resized to; ``None`` is the backbone's default
        (the input shape of a ``keras.Model`` backbone).
    window : "auto", "minmax" or a pair, default="auto"
        How image files deeper than 8 bits (16-bit PNG and TIFF, float TIFF,
        DICOM) are scaled to [0, 255] when read, as in :func:`read_image`:
        their bit depth (a DICOM file's own window), their minimum and
        maximum, ``(low, high)`` values such as ``(-160, 240)`` Hounsfield
        units, or percentiles such as ``("1%", "99%")``. Arrays are not
        rescaled: give them in [0, 255].
    backbone_kwargs : dict, default=None
        Extra keyword arguments for the ``keras.applications`` constructor, such
        as ``{"alpha": 0.35}`` for MobileNetV2.
    dropout : float, default=0.3
        Dropout rate before the softmax layer.
    epochs : int, default=10
        Stage-1 epochs (an upper bound with ``early_stopping``).
    learning_rate : float, default=1e-3
        Stage-1 learning rate.
    optimizer : {"adam", "adamw", "nadam", "rmsprop", "sgd"} or keras optimizer, default="adam"
        Optimizer kind; each stage gets a new one at its own learning rate.
    fine_tune_from : str, int, float, "auto" or None, default="auto"
        Where stage 2 starts unfreezing: a block name prefix (``"block_10"`` for
        MobileNetV2, ``"block6a"`` for EfficientNet, ``"conv5_block1"`` for
        ResNet50), the last ``n`` backbone layers (int), that fraction of the
        layers from the top (float in (0, 1]), the backbone's recommended block
        (``"auto"``; none for a ``keras.Model`` backbone), or ``None`` to skip
        stage 2.
    fine_tune_epochs : int, default=20
        Stage-2 epochs (an upper bound with ``early_stopping``).
    fine_tune_learning_rate : float, default=1e-4
        Stage-2 learning rate.
    batch_size : int, default=32
        Images per gradient step.
    early_stopping : bool, default=True
        Hold out a stratified ``validation_fraction`` of the training data, stop
        each stage when its validation loss has not improved for
        ``n_iter_no_change`` epochs and restore the best weights. With ``False``
        no data is held out and every epoch runs. With ``groups`` given to
        :meth:`fit`, the validation split holds whole groups.
    validation_fraction : float, default=0.1
        Fraction held out for early stopping; with ``groups``, one fold of a
        :class:`~sklearn.model_selection.StratifiedGroupKFold` of
        ``round(1 / validation_fraction)`` folds (fewer when there are fewer
        groups, down to 2).
    n_iter_no_change : int, default=5
        Patience of early stopping, in epochs.
    augmentation : None, "default" or keras layer, default=None
        Random transformations of the training images (flip, small rotation,
        zoom and contrast for ``"default"``), applied in training only, to pixels
        in [0, 255] before the backbone's preprocessing. With Keras layers and
        the cache, the backbone's outputs of ``augmentation_views`` augmented
        views of each image are computed once and each epoch trains on one
        view of each image drawn at random; with ``cache=False`` (or a
        function that is not a Keras layer) every epoch augments afresh.
    augmentation_views : int, default=8
        Augmented views of each training image kept in the cache, with
        ``augmentation`` and the cache. Each view is a fixed function of the
        image, the augmentation's configuration (seeds included) and the
        view's index, so every fit, fold, grid point and learning-curve
        subsample shares them. More views come closer to fresh augmentation
        every epoch, at the cost of a backbone pass each.
    class_weight : dict, "balanced" or None, default=None
        Weights per class, multiplied into ``sample_weight``.
    cache : {"auto", True, False}, default="auto"
        Whether to train on backbone outputs computed once per image (through
        the process-wide cache, so shared by clones, folds and grid points)
        instead of running the frozen layers every epoch: stage 1 trains the head
        on pooled embeddings, stage 2 trains the unfrozen top on the activations
        at its input. With ``augmentation``, stages train on the outputs of a
        fixed bank of augmented views (see ``augmentation_views``) instead of
        new pixels every epoch. ``"auto"`` caches where it can: a frozen
        backbone (not ``small_cnn``, which trains all its layers), and an
        augmentation that is a Keras layer or none; for stage 2 also a split
        point that cuts the network in two and, with augmentation, a bank
        that fits the cache's ``max_bytes`` (or a cache ``location`` on disk).
        ``True`` raises where it cannot cache; ``False`` is the plain Keras
        path. Stages trained on cached inputs also reuse the traced training
        steps of earlier fits of the same architecture in the process (not
        with ``callbacks``, a ``strategy`` or ``mixed_precision``); the result
        is the same.
    strategy : None, "mirrored" or tf.distribute.Strategy, default=None
        Strategy under whose scope the model is built, compiled and trained.
    mixed_precision : bool, default=False
        Build the model under the ``mixed_float16`` policy (the softmax output
        stays float32); the global policy is restored afterwards.
    callbacks : list of keras.callbacks.Callback, default=None
        Extra callbacks for both stages.
    random_state : int, RandomState instance or None, default=None
        Seeds the weights of new layers, the validation split, shuffling,
        dropout and augmentation (with cached views, which view each epoch
        draws; the views themselves are the augmentation's): the same value
        gives the same predictions on CPU.
    verbose : int, default=0
        Keras's ``verbose`` for ``fit``; above 0, also a progress bar while
        the backbone computes the features the cache lacks.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    n_classes_ : int
        Number of classes.
    model_ : keras.Model
        The trained model. It takes images already resized to ``image_size_``
        and preprocessed for the backbone (or feature rows with
        ``backbone=None``) and returns class probabilities.
    history_ : dict
        ``{"frozen": {...}, "fine_tune": {...}}``, per-epoch metric lists of each
        stage (``loss``, ``accuracy`` and, with early stopping, ``val_loss``,
        ``val_accuracy``); the stage-2 dict is empty when it was skipped.
    image_size_ : tuple of int or None
        ``(height, width)`` the images are resized to (``None`` with
        ``backbone=None``).
    fine_tune_index_ : int or None
        Index in the backbone's layers of the first layer stage 2 trained, or
        ``None`` when stage 2 was skipped.
    n_features_in_ : int
        Values per sample seen in ``fit``: ``height * width * channels`` of image
        arrays (images of other sizes are resized, not refused), 1 for a column
        of file paths, the number of columns with ``backbone=None``.

    See Also
    --------
    sklearn.linear_model.LogisticRegression : A linear model on fixed features.

    Examples
    --------
    >>> from sklearn_vision import TransferImageClassifier
    >>> from sklearn_vision.datasets import load_digits_images
    >>> X, y = load_digits_images(image_size=32, return_X_y=True)
    >>> clf = TransferImageClassifier("small_cnn", weights=None, image_size=32, epochs=3,
    ...                               fine_tune_from=None, random_state=0)
    >>> clf.fit(X[:300], y[:300]).predict(X[300:303]).shape
    (3,)
    """

    _parameter_constraints = {
        "backbone": [StrOptions(set(BACKBONES)), callable, None],
        **BACKBONE_PARAMETER_CONSTRAINTS,
        "window": [StrOptions({"auto", "minmax"}), tuple, list],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "epochs": [Interval(Integral, 0, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "optimizer": [StrOptions(_OPTIMIZERS), HasMethods(["get_config", "apply_gradients"])],
        "fine_tune_from": [
            str,
            Interval(Integral, 1, None, closed="left"),
            Interval(RealNotInt, 0, 1, closed="right"),
            None,
        ],
        "fine_tune_epochs": [Interval(Integral, 0, None, closed="left")],
        "fine_tune_learning_rate": [Interval(Real, 0, None, closed="neither")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "augmentation": [StrOptions({"default"}), callable, None],
        "augmentation_views": [Interval(Integral, 1, None, closed="left")],
        "class_weight": [StrOptions({"balanced"}), dict, None],
        "cache": [StrOptions({"auto"}), "boolean"],
        "strategy": [StrOptions({"mirrored"}), HasMethods(["scope"]), None],
        "mixed_precision": ["boolean"],
        "callbacks": [list, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        backbone="mobilenet_v2",
        *,
        weights="imagenet",
        image_size=None,
        window="auto",
        backbone_kwargs=None,
        dropout=0.3,
        epochs=10,
        learning_rate=1e-3,
        optimizer="adam",
        fine_tune_from="auto",
        fine_tune_epochs=20,
        fine_tune_learning_rate=1e-4,
        batch_size=32,
        early_stopping=True,
        validation_fraction=0.1,
        n_iter_no_change=5,
        augmentation=None,
        augmentation_views=8,
        class_weight=None,
        cache="auto",
        strategy=None,
        mixed_precision=False,
        callbacks=None,
        random_state=None,
        verbose=0,
    ):
        self.backbone = backbone
        self.weights = weights
        self.image_size = image_size
        self.window = window
        self.backbone_kwargs = backbone_kwargs
        self.dropout = dropout
        self.epochs = epochs
        self.learning_rate = learning_rate
        self.optimizer = optimizer
        self.fine_tune_from = fine_tune_from
        self.fine_tune_epochs = fine_tune_epochs
        self.fine_tune_learning_rate = fine_tune_learning_rate
        self.batch_size = batch_size
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.augmentation = augmentation
        self.augmentation_views = augmentation_views
        self.class_weight = class_weight
        self.cache = cache
        self.strategy = strategy
        self.mixed_precision = mixed_precision
        self.callbacks = callbacks
        self.random_state = random_state
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        if self.backbone is not None:
            # Images (n, h, w[, c]) or a column of file paths, not a table.
            tags.input_tags.two_d_array = False
            tags.input_tags.three_d_array = True
            tags.input_tags.string = True
        # GPU kernels (cuDNN convolutions, reductions) are not deterministic.
        tags.non_deterministic = gpu_available()
        return tags

    # ------------------------------------------------------------------ checks

    def _spec(self):
        return get_spec(self.backbone) if isinstance(self.backbone, str) else None

    def _check_params(self):
        """Check the combinations of parameters; return whether backbone outputs are cached."""
        if self.backbone is None and self.augmentation is not None:
            raise ValueError(
                "augmentation transforms images; with backbone=None X holds feature "
                "vectors. Set augmentation=None."
            )
        if self.backbone == "small_cnn" and self.weights is not None:
            raise ValueError(
                "backbone='small_cnn' is trained from scratch and has no pretrained "
                f"weights; got weights={self.weights!r}. Pass weights=None."
            )
        check_window(self.window)
        return resolve_cache(self.cache, backbone=self.backbone, augmentation=self.augmentation)

    def _validate_X(self, X, *, reset):
        if self.backbone is None:
            _check_not_text(X)
            return validate_data(self, X, reset=reset, dtype=np.float32)
        images = check_images(X)
        if reset:
            self.n_features_in_ = images.n_features
        return images

    def _encode_targets(self, y, sample_weight, n_samples):
        y = column_or_1d(y, warn=True)
        check_consistent_length(np.empty(n_samples), y)
        check_classification_targets(y)
        encoder = LabelEncoder().fit(y)
        self.classes_ = encoder.classes_
        self.n_classes_ = len(self.classes_)
        y_encoded = encoder.transform(y).astype(np.int32)
        weights = _check_sample_weight(
            sample_weight, np.empty(n_samples), dtype=np.float32, ensure_non_negative=True
        )
        if self.class_weight is not None:
            weights = weights * compute_sample_weight(self.class_weight, y).astype(np.float32)
        present = np.bincount(y_encoded, weights=weights, minlength=self.n_classes_) > 0
        if present.sum() < 2:
            raise ValueError(
                f"Classification needs samples of at least 2 classes; got {present.sum()} "
                f"class with positive weight ({list(self.classes_[present])})."
            )
        if sample_weight is None and self.class_weight is None:
            weights = None
        return y_encoded, weights

    def _validation_split(self, y_encoded, seed, groups=None):
        """Return (train, validation) indices, or (all, None) without early stopping."""
        n_samples = len(y_encoded)
        if not self.early_stopping:
            return np.arange(n_samples), None
        if groups is not None:
            return self._group_validation_split(y_encoded, seed, groups)
        counts = np.bincount(y_encoded, minlength=self.n_classes_)
        too_small = [str(self.classes_[k]) for k in np.flatnonzero(counts < 2)]
        if too_small:
            raise ValueError(
                f"Class {', '.join(too_small)} has fewer than 2 images: early stopping "
                "holds out a stratified validation split and needs at least 2 images of "
                "each class. Add images or set early_stopping=False."
            )
        n_validation = math.ceil(self.validation_fraction * n_samples)
        if not validation_split_fits(n_samples, self.n_classes_, self.validation_fraction):
            raise ValueError(
                f"validation_fraction={self.validation_fraction} of {n_samples} images "
                f"gives {n_validation} validation images; a stratified split of "
                f"{self.n_classes_} classes needs at least {self.n_classes_} on each side. "
                "Change validation_fraction or set early_stopping=False."
            )
        return train_test_split(
            np.arange(n_samples),
            test_size=n_validation,
            stratify=y_encoded,
            random_state=seed,
        )

    def _group_validation_split(self, y_encoded, seed, groups):
        """Whole groups for validation, stratified as far as the groups allow."""
        n_groups = len(np.unique(groups))
        if n_groups < 2:
            raise ValueError(
                f"Early stopping with groups holds out whole groups for validation and "
                f"needs at least 2 groups; got {n_groups}. Give images of more groups "
                "or set early_stopping=False."
            )
        n_splits = min(max(2, round(1 / self.validation_fraction)), n_groups)
        return shuffled_folds(y_encoded, groups, n_splits, True, seed)[0]

    # ------------------------------------------------------------------ model

    def _build(self, n_features, seed, cached):
        """Build the network: the backbone (shared where it may be) and a new head."""
        import keras

        if self.backbone is None:
            inputs = keras.Input((n_features,))
            features, backbone, image_size = None, None, None
            pooled = inputs
        else:
            backbone, image_size = self._backbone(seed, cached)
            features = pooled_model(backbone)
            inputs, pooled = features.input, features.output
        head_seed = seed + 101
        head = keras.Sequential(
            [
                keras.Input((pooled.shape[-1],)),
                keras.layers.Dropout(self.dropout, seed=head_seed),
                keras.layers.Dense(
                    self.n_classes_,
                    activation="softmax",
                    dtype="float32",
                    kernel_initializer=keras.initializers.GlorotUniform(seed=head_seed),
                    name="predictions",
                ),
            ],
            name="head",
        )
        model = keras.Model(inputs, head(pooled), name="transfer_classifier")
        return _Network(model, backbone, features, head, image_size)

    def _backbone(self, seed, cached):
        """The backbone and its input size; one shared by clones where none can change it."""

        def build():
            backbone, image_size, _ = make_backbone(
                self.backbone,
                weights=self.weights,
                image_size=self.image_size,
                backbone_kwargs=self.backbone_kwargs,
                seed=seed,
            )
            return backbone, image_size

        key = self._shared_backbone_key(cached)
        if key is None:
            return build()
        return get_feature_cache().shared_backbone(key, build, weights_digest)

    def _shared_backbone_key(self, cached):
        """What names this fit's backbone when clones may share it; None otherwise.

        Shared only when nothing can change it: a registered backbone with
        pretrained weights (random ones depend on the seed), frozen throughout
        (no fine-tuning stage), features from the cache, default strategy and
        dtype policy.
        """
        if not (
            cached
            and isinstance(self.backbone, str)
            and self.weights is not None
            and self._fine_tune_from() is None
            and self.strategy is None
            and not self.mixed_precision
        ):
            return None
        if self.weights != "imagenet" and not os.path.isfile(self.weights):
            return None  # building says what is wrong with it
        kwargs = sorted((self.backbone_kwargs or {}).items())
        return (
            self.backbone,
            weights_identity(self.weights),
            repr(self.image_size),
            repr(kwargs),
        )

    def _strategy_scope(self):
        if self.strategy is None:
            return nullcontext()
        if self.strategy == "mirrored":
            import tensorflow as tf

            return tf.distribute.MirroredStrategy().scope()
        return self.strategy.scope()

    @contextmanager
    def _building(self, seed):
        """The contexts a model is built and trained in: seeds, dtype policy, strategy."""
        with (
            image_read_errors(),
            seeded_keras(seed),
            dtype_policy(self.mixed_precision),
            self._strategy_scope(),
        ):
            yield

    # ------------------------------------------------------------------ fit

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, groups=None):
        """Fit the head, then fine-tune the top of the backbone.

        Parameters
        ----------
        X : array-like of shape (n_samples, height, width[, channels]) or (n_samples,)
            Images with pixel values in [0, 255], or image file paths (read
            lazily). With ``backbone=None``, feature rows ``(n_samples, n_features)``.
        y : array-like of shape (n_samples,)
            Class labels, of any hashable type.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the samples in the loss.
        groups : array-like of shape (n_samples,), default=None
            Group labels, such as the patient each image comes from: the
            early-stopping validation split holds whole groups, so it scores
            the model on groups it was not trained on. Unused without early
            stopping. In a pipeline under metadata routing, request them with
            ``set_fit_request(groups=True)``.

        Returns
        -------
        self : TransferImageClassifier
            The fitted classifier.
        """
        self._release_model()
        cached = self._check_params()
        X = self._validate_X(X, reset=True)
        y_encoded, weights = self._encode_targets(y, sample_weight, len(X))
        rng = check_random_state(self.random_state)
        seed, split_seed, shuffle_seed = (int(s) for s in rng.randint(2**31 - 1, size=3))
        if groups is not None:
            groups = column_or_1d(groups)
            check_consistent_length(y_encoded, groups)
        train, validation = self._validation_split(y_encoded, split_seed, groups)
        data = _StageData(y_encoded, weights, train, validation, shuffle_seed)

        with self._building(seed):
            n_features = X.shape[1] if self.backbone is None else None
            network = self._build(n_features, seed, cached)
            self.image_size_ = network.image_size
            images = None if self.backbone is None else self._image_feed(seed)
            self.history_ = {
                "frozen": self._fit_frozen_stage(network, X, data, cached, images),
                "fine_tune": self._fit_fine_tune_stage(network, X, data, cached, images),
            }
        self.model_ = network.model
        return self

    def _release_model(self):
        if hasattr(self, "model_"):
            release_step_functions(self.model_)
            del self.model_

    def _fit_frozen_stage(self, network, X, data, cached, images):
        """Stage 1: the head on the frozen backbone (all of ``small_cnn``); its history."""
        if network.backbone is not None and self.backbone != "small_cnn":
            network.backbone.trainable = False
        if self.epochs == 0:
            return {}
        if cached:
            # The frozen backbone is a fixed function of each image (or view):
            # its features come from the shared cache, the head trains on them.
            inputs = self._cached_inputs(network.features, X, data, cached)
            model, images = network.head, None
        else:
            inputs, model = X, network.model
        return self._train_stage(
            model,
            self._stage_datasets(inputs, data, images),
            self.epochs,
            self.learning_rate,
            pooled=bool(cached) and self._pools_trainers(),
        )

    def _fit_fine_tune_stage(self, network, X, data, cached, images):
        """Stage 2: the backbone's top, BatchNorm frozen; its history (empty when skipped)."""
        self.fine_tune_index_ = self._unfreeze_top(network.backbone)
        if self.fine_tune_index_ is None or self.fine_tune_epochs == 0:
            return {}
        split = self._split_at(network.backbone, self.fine_tune_index_) if cached else None
        if split is not None and cached == "views" and not self._bank_fits(split[0], data):
            split = None
        if split is not None:
            # Below the first unfrozen layer nothing changes: train the top
            # on cached activations (of each image or view) at the split point.
            bottom, top = split
            inputs = self._cached_inputs(bottom, X, data, cached)
            model, images = pooled_model(top, head=network.head, name="fine_tune_top"), None
        else:
            inputs, model = X, network.model
        return self._train_stage(
            model,
            self._stage_datasets(inputs, data, images),
            self.fine_tune_epochs,
            self.fine_tune_learning_rate,
            pooled=split is not None and self._pools_trainers(),
        )

    def _cache_keys(self):
        """The arguments of :func:`cached_predict` that, with the model, key its outputs."""
        return dict(
            image_size=self.image_size_,
            preprocessing=self.backbone if isinstance(self.backbone, str) else None,
            batch_size=self.batch_size,
            window=check_window(self.window),
        )

    def _views(self):
        """The bank of augmented views: the augmentation, seeded per image and view.

        ``"default"`` is built with fixed seeds, so that every fit, whatever its
        ``random_state``, shares one bank; fits differ in the views they draw.
        """
        augmentation = (
            default_augmentation(0) if self.augmentation == "default" else self.augmentation
        )
        return AugmentedViews(augmentation, self.augmentation_views, self.image_size_)

    def _cached_inputs(self, model, X, data, cached):
        """Cached outputs of ``model`` for (training, validation) rows: a :class:`_Cached`.

        With ``cached="views"``, the training rows' outputs have a views axis
        (one view is drawn per epoch); validation is always on the plain images.
        """
        keys = dict(self._cache_keys(), verbose=self.verbose)
        if cached == "views":
            train = cached_predict(model, X[data.train], views=self._views(), **keys)
            validation = None
            if data.validation is not None:
                validation = cached_predict(model, X[data.validation], **keys)
            return _Cached(train, validation, views=True)
        outputs = cached_predict(model, X, **keys)
        validation = None if data.validation is None else outputs[data.validation]
        return _Cached(outputs[data.train], validation, views=False)

    def _bank_fits(self, model, data):
        """Whether the views' outputs of ``model`` for the training rows fit the cache.

        In memory within its ``max_bytes``, or on disk with a ``location``;
        otherwise stage 2 augments afresh (``cache=True`` raises).
        """
        store = get_feature_cache()
        output = model.outputs[0]
        nbytes = (
            len(data.train)
            * self.augmentation_views
            * math.prod(output.shape[1:])
            * np.dtype(output.dtype).itemsize
        )
        if nbytes <= store.max_bytes or store.location is not None:
            return True
        if self.cache is True:
            raise ValueError(
                f"cache=True cannot cache stage 2 with augmentation: the views' "
                f"activations at the split point take {nbytes / 2**30:.1f} GiB, over the "
                f"feature cache's max_bytes ({store.max_bytes / 2**30:.1f} GiB). Raise it "
                "or give it a location on disk (set_feature_cache), lower "
                "augmentation_views, or use cache='auto'."
            )
        return False

    def _image_feed(self, seed):
        """How images are fed to the whole model: size, preprocessing, augmentation."""
        augmentation = (
            default_augmentation(seed) if self.augmentation == "default" else self.augmentation
        )
        return dict(
            image_size=self.image_size_,
            preprocess=preprocess_function(self._spec()),
            augmentation=augmentation,
            window=check_window(self.window),
        )

    def _split_at(self, backbone, index):
        """Return (frozen bottom, trainable top) models cut at layer ``index``, or None.

        None when the cut is not one tensor (a skip connection crosses it, or the
        layer has several inputs) or there is nothing below it: then stage 2
        runs on images. ``cache=True`` asks for the split and raises instead.
        """
        split = split_models(backbone, index)
        if split is None and self.cache is True:
            raise ValueError(
                f"cache=True cannot cache stage 2 of this backbone: the input of layer "
                f"{backbone.layers[index].name!r} does not cut the network in two. "
                "Use cache='auto', or another fine_tune_from."
            )
        return split

    def _stage_datasets(self, inputs, data, images=None):
        """Return the (shuffled, augmented) training and the validation dataset.

        ``inputs`` are the samples ``X`` with ``images`` (from
        :meth:`_image_feed`) for the whole model, or a :class:`_Cached` of
        backbone outputs.
        """
        images = dict(images or {})
        augmentation = images.pop("augmentation", None)
        if isinstance(inputs, _Cached):
            train, validation, views = inputs.train, inputs.validation, inputs.views
        else:
            train, views = inputs[data.train], False
            validation = None if data.validation is None else inputs[data.validation]

        def dataset(X, indices, training):
            return make_dataset(
                X,
                data.y[indices],
                None if data.sample_weight is None else data.sample_weight[indices],
                batch_size=self.batch_size,
                shuffle_seed=data.shuffle_seed if training else None,
                augmentation=augmentation if training else None,
                view_seed=data.shuffle_seed + 1 if training and views else None,
                **images,
            )

        if validation is not None:
            validation = dataset(validation, data.validation, False)
        return dataset(train, data.train, True), validation

    def _fine_tune_from(self):
        if self.fine_tune_from != "auto":
            return self.fine_tune_from
        spec = self._spec()
        return None if spec is None else spec.fine_tune_from

    def _unfreeze_top(self, backbone):
        """Make the backbone trainable from ``fine_tune_from`` up, BatchNorm excepted."""
        fine_tune_from = self._fine_tune_from()
        if backbone is None or fine_tune_from is None:
            return None
        import keras

        spec = self._spec()
        index = fine_tune_index(backbone, fine_tune_from, spec.block_pattern if spec else None)
        backbone.trainable = True
        for position, layer in enumerate(backbone.layers):
            layer.trainable = position >= index and not isinstance(
                layer, keras.layers.BatchNormalization
            )
        return index

    def _train_stage(self, model, datasets, epochs, learning_rate, *, pooled=False):
        """Train ``model``; with ``pooled``, through a trainer shared with other fits."""
        import keras

        train_ds, val_ds = datasets
        callbacks = list(self.callbacks or [])
        if val_ds is not None:
            callbacks.append(
                keras.callbacks.EarlyStopping(
                    monitor="val_loss",
                    patience=self.n_iter_no_change,
                    restore_best_weights=True,
                )
            )
        fit_params = dict(
            validation_data=val_ds,
            epochs=epochs,
            callbacks=callbacks,
            shuffle=False,  # the dataset reshuffles itself, reproducibly
            verbose=self.verbose,
        )
        optimizer = make_optimizer(self.optimizer, learning_rate)
        if pooled:
            key = trainer_key(model, optimizer)
            with get_feature_cache().borrowed_trainer(
                key, lambda: Trainer(model, optimizer)
            ) as trainer:
                history = trainer.fit(model, learning_rate, train_ds, **fit_params)
        else:
            model.compile(optimizer=optimizer, loss=LOSS, metrics=["accuracy"])
            history = model.fit(train_ds, **fit_params)
            release_step_functions(model)
        return {name: [float(v) for v in values] for name, values in history.history.items()}

    def _pools_trainers(self):
        """Whether stages trained on cached inputs borrow a trainer shared across fits.

        Not with user callbacks (they would see the trainer, not this model), a
        strategy or mixed precision (the trainer is built outside their scope).
        """
        return not self.callbacks and self.strategy is None and not self.mixed_precision

    # ------------------------------------------------------------------ predict

    def predict_proba(self, X):
        """Return class probabilities, rows summing to 1.

        Parameters
        ----------
        X : array-like of images or file paths
            As in :meth:`fit`; images of another size are resized.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probability of each class, in the order of ``classes_``.
        """
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        if resolve_cache(self.cache, backbone=self.backbone, augmentation=self.augmentation):
            # Through the shared cache: clones whose frozen parts are the same
            # (all fits of a learning curve) score a test set for the cost of
            # one pass of that part and of their trained parts each.
            fixed, trained = self._cached_parts()
            inputs = cached_predict(fixed, X, **self._cache_keys(), verbose=self.verbose)
            proba = call_in_chunks(trained, inputs, self.batch_size)
        else:
            # Not Model.predict: its traced function would stay on model_ (and in
            # TensorFlow's registry) after the estimator is gone.
            dataset = make_dataset(
                X,
                batch_size=self.batch_size,
                image_size=self.image_size_,
                preprocess=preprocess_function(self._spec()),
                window=check_window(self.window),
            )
            with image_read_errors():
                proba = inference(self.model_, dataset)
        proba = np.asarray(proba, dtype=np.float64)
        return proba / proba.sum(axis=1, keepdims=True)

    def _cached_parts(self):
        """Return (fixed, trained) parts of ``model_``; the fixed part's output is cached.

        The pooled features and the head while the backbone stayed frozen; after
        fine-tuning, the activations at the split point (below which nothing
        was trained) and the top with the head.
        """
        import keras

        head = self.model_.get_layer("head")
        if self.fine_tune_index_ is not None and self.history_["fine_tune"]:
            split = split_models(self.model_.layers[1], self.fine_tune_index_)
            if split is not None:
                bottom, top = split
                return bottom, pooled_model(top, head=head, name="fine_tune_top")
        features = self.model_.layers[self.model_.layers.index(head) - 1].output
        return keras.Model(self.model_.inputs, features), head

    def save(self, path):
        """Save the fitted classifier to one ``.keras`` file, without pickle.

        The file is Keras's zip format: a model taking raw images of any size
        (uint8 or float pixels in [0, 255], RGB) to class probabilities, with
        the resizing and the backbone's preprocessing as layers inside it, so
        it serves on its own; and this estimator's metadata as JSON (classes,
        parameters, ``image_size_``, history, library and Keras versions).
        :func:`load_model` reads it back with Keras's safe mode.

        Parameters
        ----------
        path : str or path-like
            A file name ending in ``.keras``.
        """
        check_is_fitted(self, "model_")
        save(self, path)

    def export(self, path, format="tf_saved_model"):
        """Export the serving model (raw images in, probabilities out) with Keras's ``export``.

        Parameters
        ----------
        path : str or path-like
            Where to write: a folder for ``"tf_saved_model"``, a file for ``"onnx"``.
        format : {"tf_saved_model", "onnx"}, default="tf_saved_model"
            A TensorFlow SavedModel, with a ``serve`` endpoint taking float32
            images of shape (n, height, width, 3) for TensorFlow Serving or
            :func:`tf.saved_model.load`; or ONNX, when the ``tf2onnx`` and
            ``onnx`` packages are installed.
        """
        check_is_fitted(self, "model_")
        export(self, path, format=format)

    def predict(self, X):
        """Return the most probable class of each sample.

        Parameters
        ----------
        X : array-like of images or file paths
            As in :meth:`fit`.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Predicted labels.
        """
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]


def load_model(path):
    """Load a classifier saved by :meth:`TransferImageClassifier.save`, without pickle.

    The file is read by :func:`keras.saving.load_model` with ``safe_mode=True``,
    which refuses files whose configuration would run code (``Lambda`` layers,
    arbitrary functions); nothing in the file is unpickled.

    Parameters
    ----------
    path : str or path-like
        A ``.keras`` file written by :meth:`TransferImageClassifier.save`.

    Returns
    -------
    clf : TransferImageClassifier
        Fitted: ``predict`` and ``predict_proba`` give what they gave before
        saving; ``clone`` and ``fit`` work as for a new one. Parameters that
        are run-time objects (callbacks, a ``tf.distribute`` strategy object)
        are not saved and are None.

    Raises
    ------
    ValueError
        For a file that is not a model saved by sklearn-vision (a pickle, a
        plain Keras file), a truncated or corrupt file, a file from a newer
        file format, or one that safe mode refuses.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import numpy as np
    >>> from sklearn_vision import TransferImageClassifier, load_model
    >>> X = np.random.default_rng(0).normal(size=(40, 4)).astype("float32")
    >>> y = (X[:, 0] > 0).astype(int)
    >>> clf = TransferImageClassifier(backbone=None, epochs=2, random_state=0).fit(X, y)
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "model.keras"
    >>> clf.save(path)
    >>> loaded = load_model(path)
    >>> bool(np.allclose(loaded.predict_proba(X), clf.predict_proba(X), atol=1e-6))
    True
    """

    model, metadata, params = read_saved(path)
    clf = TransferImageClassifier(**params)
    clf.model_ = model
    clf.classes_ = np.asarray(metadata["classes"], dtype=np.dtype(metadata["classes_dtype"]))
    clf.n_classes_ = len(clf.classes_)
    clf.n_features_in_ = metadata["n_features_in"]
    size = metadata["image_size"]
    clf.image_size_ = None if size is None else tuple(size)
    clf.fine_tune_index_ = metadata["fine_tune_index"]
    clf.history_ = metadata["history"]
    return clf

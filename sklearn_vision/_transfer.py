"""TransferImageClassifier: a pretrained Keras backbone and a new head, as a classifier."""

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context, clone
from sklearn.utils import _safe_indexing, check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, RealNotInt, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import (
    check_is_fitted,
    validate_data,
)

from ._backbones import backbone_record
from ._backend import gpu_available
from ._features import cached_outputs
from ._feeds import Feeding
from ._heads import HeadJob, HeadPredictions, heads_proba, train_heads
from ._images import check_feature_rows, check_images
from ._intensity import check_window
from ._keras_utils import release_step_functions
from ._record import BACKBONE_PARAMETER_CONSTRAINTS
from ._saving import export, read_saved, save, saved_early_stopping
from ._split import check_groups
from ._stages import (
    BuildSettings,
    Runtime,
    Schedule,
    StageData,
    encode_targets,
    plan_stages,
    resolve_early_stopping,
    saved_plan,
    validation_split,
)
from ._tf_data import ImagePipeline
from ._training import (
    build_network,
    building,
    initial_head,
    settle_plan,
    train_fine_tune_stage,
    train_frozen_stage,
)

_OPTIMIZERS = {"adam", "adamw", "nadam", "rmsprop", "sgd"}


class TransferImageClassifier(ClassifierMixin, BaseEstimator):
    """Image classifier that fine-tunes a pretrained Keras backbone, in two stages.

    A new head (global average pooling, dropout, softmax) is put on a
    `keras.applications <https://keras.io/api/applications/>`__ backbone. Stage 1
    trains the head with the backbone frozen; stage 2 unfreezes the backbone from
    ``fine_tune_from`` up and trains it at ``fine_tune_learning_rate``.
    BatchNormalization layers stay frozen and in inference mode in both stages,
    so the small batches of fine-tuning never overwrite the statistics learnt on
    ImageNet. When the training data can hold a stratified validation split,
    both stages stop early on it and keep their best weights.

    Parameters
    ----------
    backbone : str, keras.Model, callable or None, default="mobilenet_v2"
        A registered name (see :data:`BACKBONES`); with KerasHub installed, a
        KerasHub preset name (``"dinov2_small"``, ``"siglip2_base_patch16_224"``),
        a ``kaggle://`` or ``hf://`` handle, a local preset directory or a
        ``keras_hub.models.Backbone`` (DINOv2, DINOv3, SigLIP, ViT); a
        ``keras.Model`` mapping images to feature maps or vectors (copied, never
        modified), or a callable returning one. ``"small_cnn"`` is trained from
        scratch: stage 1 trains all of it and ``"auto"`` skips stage 2. ``None``:
        ``X`` holds feature vectors and only the head is trained.
    weights : "imagenet", path or None, default="imagenet"
        Pretrained weights (ImageNet's for ``keras.applications``, the preset's
        own for KerasHub; downloaded once), random (``None``), or a weights file.
    image_size : int, (int, int) or None, default=None
        Height and width images are resized to; ``None`` is the backbone's default
        (the input shape of a ``keras.Model`` backbone).
    window : "auto", "minmax" or a pair, default="auto"
        How image files deeper than 8 bits (16-bit PNG and TIFF, DICOM) are
        scaled to [0, 255] when read, as in :func:`read_image`, such as
        ``(-160, 240)`` Hounsfield units. Arrays are not rescaled.
    backbone_kwargs : dict, default=None
        Extra keyword arguments for the ``keras.applications`` constructor, such
        as ``{"alpha": 0.35}`` for MobileNetV2.
    dropout : float, default=0.3
        Dropout rate before the softmax layer.
    epochs : int, default=10
        Stage-1 epochs (an upper bound when the fit stops early).
    learning_rate : float, default=1e-3
        Stage-1 learning rate.
    optimizer : {"adam", "adamw", "nadam", "rmsprop", "sgd"} or keras optimizer, default="adam"
        Optimizer kind; each stage gets a new one at its own learning rate.
    fine_tune_from : str, int, float, "auto" or None, default="auto"
        Where stage 2 starts unfreezing: a block name prefix (``"block_10"`` for
        MobileNetV2, ``"block6a"`` for EfficientNet, ``"conv5_block1"`` for
        ResNet50), the last ``n`` backbone layers (int), that fraction of the
        layers from the top (float in (0, 1]; for KerasHub backbones both count
        transformer blocks), the recommended block (``"auto"``: the last two
        blocks of a KerasHub backbone, none for a ``keras.Model``), or ``None``.
    fine_tune_epochs : int, default=20
        Stage-2 epochs (an upper bound when the fit stops early).
    fine_tune_learning_rate : float, default=1e-4
        Stage-2 learning rate.
    batch_size : int, default=32
        Images per gradient step.
    early_stopping : "auto" or bool, default="auto"
        Hold out a stratified ``validation_fraction`` of the training data, stop
        each stage when its validation loss has not improved for
        ``n_iter_no_change`` epochs and restore the best weights. The split
        needs every class on both sides: at least 2 images of each class, and
        as many images as classes on each side; with ``groups`` given to
        :meth:`fit`, it holds whole groups, and needs at least 2 groups.
        ``"auto"`` stops early when the fit's data can hold that split, and
        otherwise trains every epoch on all the data, so each fit of a learning
        curve decides for itself (``early_stopping_`` says what it did).
        ``True`` raises when the data cannot hold the split; ``False`` holds
        nothing out and runs every epoch.
    validation_fraction : float, default=0.1
        Fraction held out for early stopping; with ``groups``, one fold of a
        :class:`~sklearn.model_selection.StratifiedGroupKFold` of
        ``round(1 / validation_fraction)`` folds (fewer, down to 2, with fewer
        groups or fewer images in the largest class).
    n_iter_no_change : int, default=5
        Patience of early stopping, in epochs.
    augmentation : None, "default" or keras layer, default=None
        Random transformations of the training images (flip, small rotation,
        zoom and contrast for ``"default"``), on pixels in [0, 255] before the
        backbone's preprocessing, in training only. With Keras layers and the
        cache, each epoch trains on one of ``augmentation_views`` cached views
        of each image; otherwise every epoch augments afresh.
    augmentation_views : int, default=8
        Augmented views of each training image kept in the cache. Each is a
        fixed function of the image, the augmentation's configuration and its
        index, so every fit, fold and subsample shares them; more views come
        closer to fresh augmentation, for a backbone pass each.
    class_weight : dict, "balanced" or None, default=None
        Weights per class, multiplied into ``sample_weight``.
    cache : {"auto", True, False}, default="auto"
        Whether stages train on backbone outputs computed once per image (or
        augmented view) through the process-wide cache, shared by clones, folds
        and grid points: stage 1 on pooled features, stage 2 on the activations
        where its trainable top starts. ``"auto"`` caches where it can (a
        frozen backbone, augmentation by Keras layers or none, a split point
        that cuts the network in two, a bank of views within the cache's
        bounds); ``True`` raises where it cannot; ``False`` is the plain Keras
        path. The result is the same; ``stage_plan_`` says what was cached.
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
        draws): the same value gives the same predictions on CPU.
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
    early_stopping_ : bool
        Whether this fit held out a validation split and stopped each stage on
        it (``history_`` then has ``val_loss``); with ``early_stopping="auto"``,
        whether the fit's data could hold the split.
    image_size_ : tuple of int or None
        ``(height, width)`` the images are resized to (``None`` with
        ``backbone=None``).
    fine_tune_index_ : int or None
        Index in the backbone's layers of the first layer stage 2 trained, or
        ``None`` when stage 2 was skipped.
    stage_plan_ : StagePlan
        What each stage trained and was fed, decided once in ``fit`` from the
        backbone, ``cache``, ``augmentation``, ``fine_tune_from`` and the
        feature cache's bounds (``frozen_input``, ``fine_tune_input``,
        ``fine_tune_index``, ...); ``predict_proba`` follows it.
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
        "backbone": [str, callable, None],
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
        "early_stopping": [StrOptions({"auto"}), "boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "augmentation": [StrOptions({"default"}), callable, None],
        "augmentation_views": [Interval(Integral, 1, None, closed="left")],
        "class_weight": [StrOptions({"balanced"}), dict, None],
        "cache": [StrOptions({"auto"}), "boolean"],
        "strategy": [StrOptions({"mirrored"}), HasMethods(["scope"]), None],
        "mixed_precision": ["boolean"],
        "callbacks": [list, None],  # of keras.callbacks.Callback: checked in fit
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
        early_stopping="auto",
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

    def _check_params(self):
        """Check the combinations of parameters; return the backbone's record (None: none)."""
        if self.backbone is None and self.augmentation is not None:
            raise ValueError(
                "augmentation transforms images; with backbone=None X holds feature "
                "vectors. Set augmentation=None."
            )
        check_window(self.window)
        self._check_callbacks()
        record = backbone_record(self.backbone)
        if record is not None:
            record.check_weights(self.weights)
        return record

    def _check_callbacks(self):
        import keras

        wrong = [c for c in self.callbacks or [] if not isinstance(c, keras.callbacks.Callback)]
        if wrong:
            raise ValueError(
                f"callbacks must be keras.callbacks.Callback objects, such as "
                f"keras.callbacks.CSVLogger('log.csv'); got {wrong[0]!r}."
            )

    def _schedule(self, epochs, learning_rate):
        """How a stage of ``epochs`` at ``learning_rate`` trains: a :class:`Schedule`."""
        return Schedule(
            epochs,
            learning_rate,
            optimizer=self.optimizer,
            batch_size=self.batch_size,
            n_iter_no_change=self.n_iter_no_change,
            callbacks=self.callbacks,
            verbose=self.verbose,
        )

    def _build_settings(self):
        """What the network is built from: a :class:`BuildSettings`."""
        return BuildSettings(
            weights=self.weights,
            image_size=self.image_size,
            backbone_kwargs=self.backbone_kwargs,
            dropout=self.dropout,
            window=check_window(self.window),
            augmentation=self.augmentation,
        )

    def _runtime(self):
        return Runtime(self.strategy, self.mixed_precision)

    def _validate_X(self, X, *, reset):
        if self.backbone is None:
            check_feature_rows(X)
            return validate_data(self, X, reset=reset, dtype=np.float32)
        images = check_images(X)
        if reset:
            self.n_features_in_ = images.n_features
        return images

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
        record = self._check_params()
        X = self._validate_X(X, reset=True)
        data, seed = self._stage_data(X, y, sample_weight, groups)
        build = self._build_settings()
        plan = self._plan_stages(record, build)
        with building(seed, self._runtime()):
            network = build_network(
                record,
                plan,
                build,
                n_features=X.shape[1] if record is None else None,
                n_classes=self.n_classes_,
                seed=seed,
            )
            plan = settle_plan(
                plan,
                network,
                data,
                fine_tune_epochs=self.fine_tune_epochs,
                augmentation_views=self.augmentation_views,
            )
            self.image_size_ = None if network.pipeline is None else network.pipeline.image_size
            self.stage_plan_, self.fine_tune_index_ = plan, plan.fine_tune_index
            feeding = Feeding(
                self.batch_size,
                pipeline=network.pipeline,
                verbose=self.verbose,
                augmentation=self.augmentation,
                augmentation_views=self.augmentation_views,
            )
            frozen = self._schedule(self.epochs, self.learning_rate)
            fine_tune = self._schedule(self.fine_tune_epochs, self.fine_tune_learning_rate)
            self.history_ = {
                "frozen": train_frozen_stage(network, X, data, plan, frozen, feeding),
                "fine_tune": train_fine_tune_stage(network, X, data, plan, fine_tune, feeding),
            }
        self.model_ = network.model
        return self

    def _plan_stages(self, record, build, fine_tune_from="auto"):
        """What each stage trains on, from the parameters: :func:`plan_stages`."""
        return plan_stages(
            record,
            cache=self.cache,
            fine_tune_from=self.fine_tune_from if fine_tune_from == "auto" else fine_tune_from,
            build=build,
            runtime=self._runtime(),
            callbacks=self.callbacks,
        )

    def _stage_data(self, X, y, sample_weight, groups):
        """Encoded targets, weights, the early-stopping split and shuffling; the model's seed."""
        self.classes_, y_encoded, weights = encode_targets(
            y, sample_weight, self.class_weight, len(X)
        )
        self.n_classes_ = len(self.classes_)
        rng = check_random_state(self.random_state)
        seed, split_seed, shuffle_seed = (int(s) for s in rng.randint(2**31 - 1, size=3))
        if groups is not None:
            groups = check_groups(groups, len(y_encoded))
        self.early_stopping_ = resolve_early_stopping(
            self.early_stopping, y_encoded, self.classes_, self.validation_fraction, groups
        )
        train, validation = np.arange(len(X)), None
        if self.early_stopping_:
            train, validation = validation_split(
                y_encoded, self.validation_fraction, split_seed, groups
            )
        return StageData(y_encoded, weights, train, validation, shuffle_seed), seed

    def _trains_heads_together(self):
        """Whether fits of this classifier can train their heads together.

        Where only a new head is trained, with Keras's Adam, on cached features
        that every fit shares (a pretrained backbone) or on feature rows, in
        the plain runtime and with no callbacks.
        """
        try:
            record = self._check_params()
            plan = self._plan_stages(record, self._build_settings())
        except (ValueError, TypeError):
            return False
        return (
            plan.trains_on_shared_rows
            and (plan.fine_tune_from is None or self.fine_tune_epochs == 0)
            and self._runtime().plain
            and not self.callbacks
            and isinstance(self.optimizer, str)
            and self.optimizer == "adam"
            and self.epochs > 0
        )

    @available_if(_trains_heads_together)
    def score_subsamples(self, X, y, jobs, scorer, groups=None):
        """Fit and score one copy of this classifier per job, their heads trained together.

        Each job is a fit of a clone at its own ``random_state`` on ``X[train]``
        and its score on ``X[test]``, as a learning curve runs them: the same
        validation split, head initialization and early stopping as that fit,
        but all the heads trained in one loop on the cached features, so the
        study costs about one fit. Their dropout masks and shuffling are drawn
        otherwise, so a score differs from the one-at-a-time fit's as another
        draw of the same fit would. A job whose subsample lacks a class of
        ``y`` is fitted on its own. Offered only where fits train nothing but
        a new head, with Adam and no callbacks, on feature rows or on the
        cached features of a pretrained backbone.

        Parameters
        ----------
        X : array-like of images or file paths (or feature rows)
            As in :meth:`fit`: every row a job may use.
        y : array-like of shape (n_samples,)
            Class labels.
        jobs : list of (train, test, random_state)
            Indices into ``X`` of each fit's training and test samples, and
            the ``random_state`` of its clone.
        scorer : callable
            ``scorer(estimator, X_test, y_test)``, such as
            :func:`sklearn.metrics.check_scoring` returns.
        groups : array-like of shape (n_samples,), default=None
            Group labels, as :meth:`fit` takes them: each fit's validation
            split holds whole groups of its subsample.

        Returns
        -------
        scores : list of float
            Each job's score.
        """
        y = np.asarray(y)
        if groups is not None:
            groups = check_groups(groups, len(y))
        classes = np.unique(y)
        has_all = [len(np.unique(y[train])) == len(classes) for train, _, _ in jobs]
        together = [i for i, whole in enumerate(has_all) if whole]
        scores = [None] * len(jobs)
        for i in [i for i, whole in enumerate(has_all) if not whole]:
            train, test, seed = jobs[i]
            fitted = clone(self).set_params(random_state=seed)
            fitted.fit(_safe_indexing(X, train), y[train], groups=_rows(groups, train))
            scores[i] = float(scorer(fitted, _safe_indexing(X, test), y[test]))
        if not together:
            return scores
        features = self._study_features(X)
        y_encoded = np.searchsorted(classes, y).astype(np.int32)
        head_jobs = [
            self._head_job(jobs[i], y, y_encoded, groups, (features.shape[1], len(classes)))
            for i in together
        ]
        kernels, biases = train_heads(
            features,
            head_jobs,
            epochs=self.epochs,
            learning_rate=self.learning_rate,
            batch_size=self.batch_size,
            dropout=self.dropout,
            patience=self.n_iter_no_change,
            seed=head_jobs[0].shuffle_seed,
        )
        tests = [jobs[i][1] for i in together]
        probas = heads_proba(features, kernels, biases, tests)
        for i, test, proba in zip(together, tests, probas, strict=True):
            head = HeadPredictions(classes, proba)
            scores[i] = float(scorer(head, _safe_indexing(X, test), y[test]))
        return scores

    def _study_features(self, X):
        """The frozen backbone's pooled features of every sample (without one: the rows)."""
        template = clone(self)
        record = template._check_params()
        X = template._validate_X(X, reset=True)
        if record is None:
            return np.asarray(X, dtype=np.float32)
        build = template._build_settings()
        plan = template._plan_stages(record, build, fine_tune_from=None)
        with building(0, Runtime()):
            network = build_network(record, plan, build, n_features=None, n_classes=2, seed=0)
            network.backbone.trainable = False  # as in stage 1: its outputs are keyed so
            return cached_outputs(
                network.features,
                X,
                network.pipeline,
                batch_size=self.batch_size,
                verbose=self.verbose,
            )

    def _head_job(self, job, y, y_encoded, groups, shape):
        """A :class:`HeadJob`: what the fit of ``job`` would decide, in rows of the whole ``X``.

        ``shape`` is the head's ``(n_features, n_classes)``.
        """
        train, _, seed = job
        fit = clone(self).set_params(random_state=seed)
        data, fit_seed = fit._stage_data(train, y[train], None, _rows(groups, train))
        weights = None
        if data.sample_weight is not None:
            weights = np.zeros(len(y), dtype=np.float32)
            weights[train] = data.sample_weight
        validation = None if data.validation is None else train[data.validation]
        return HeadJob(
            train=train[data.train],
            validation=validation,
            y=y_encoded,
            sample_weight=weights,
            init=initial_head(*shape, fit_seed),
            shuffle_seed=data.shuffle_seed,
        )

    def _release_model(self):
        if hasattr(self, "model_"):
            release_step_functions(self.model_)
            del self.model_

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
        feeding = Feeding(self.batch_size, pipeline=self._pipeline(), verbose=self.verbose)
        feed = self.stage_plan_.predict_feed(self.backbone)
        proba = np.asarray(feed.predict(self.model_, X, feeding), dtype=np.float64)
        return proba / proba.sum(axis=1, keepdims=True)

    def _pipeline(self):
        """How images reach ``model_`` at prediction (None for feature rows)."""
        if self.image_size_ is None:
            return None
        return ImagePipeline(
            self.image_size_,
            preprocessing=self.stage_plan_.preprocessing,
            window=check_window(self.window),
        )

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
            `tf.saved_model.load
            <https://www.tensorflow.org/api_docs/python/tf/saved_model/load>`__;
            or ONNX, when the ``tf2onnx`` and ``onnx`` packages are installed.
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


def _rows(values, rows):
    """``values[rows]``, or None for None."""
    return None if values is None else values[rows]


def load_model(path):
    """Load a classifier saved by :meth:`TransferImageClassifier.save`, without pickle.

    The file is read by `keras.saving.load_model
    <https://keras.io/api/models/model_saving_apis/model_saving_and_loading/>`__
    with ``safe_mode=True``, which refuses files whose configuration would run
    code (``Lambda`` layers, arbitrary functions); nothing in the file is
    unpickled.

    Parameters
    ----------
    path : str or path-like
        A ``.keras`` file written by :meth:`TransferImageClassifier.save`.

    Returns
    -------
    clf : TransferImageClassifier
        Fitted: ``predict`` and ``predict_proba`` give what they gave before
        saving; :func:`~sklearn.base.clone` and ``fit`` work as for a new one.
        Run-time objects (callbacks, a strategy object) are not saved: None.

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
    model, metadata, params = read_saved(path, TransferImageClassifier)
    clf = TransferImageClassifier(**params)
    clf.model_ = model
    clf.classes_ = np.asarray(metadata["classes"], dtype=np.dtype(metadata["classes_dtype"]))
    clf.n_classes_ = len(clf.classes_)
    clf.n_features_in_ = metadata["n_features_in"]
    clf.image_size_ = None if metadata["image_size"] is None else tuple(metadata["image_size"])
    clf.fine_tune_index_ = metadata["fine_tune_index"]
    clf.stage_plan_ = saved_plan(metadata.get("stage_plan"), params.get("backbone"))
    clf.history_ = metadata["history"]
    clf.early_stopping_ = saved_early_stopping(metadata)
    return clf

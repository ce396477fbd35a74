"""The training machinery of TransferImageClassifier: the stages of a plan, trainers, cuts.

The two stages as functions of the :class:`StagePlan`, the network they
train, trainers shared by fits, optimizers and the cut of a backbone in two.
Keras is imported only inside the functions that build or run a model.
"""

import dataclasses
import json
import math
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass

import numpy as np

from ._augmentation import AugmentedViews, resolve_augmentation
from ._cache import get_feature_cache
from ._features import cached_outputs, cached_view_outputs
from ._keras_utils import (
    architecture,
    dtype_policy,
    release_step_functions,
    seeded_keras,
    weights_digest,
)
from ._stages import ACTIVATION_VIEWS, FEATURE_VIEWS, IMAGES, ROWS
from ._tf_data import ImageFeed, image_read_errors, images_dataset, rows_dataset, views_dataset

LOSS = "sparse_categorical_crossentropy"
# Training steps per call of Keras's traced train function: the same steps, in
# one call where a small model's step costs less than its call from Python.
STEPS_PER_EXECUTION = 32


def make_optimizer(optimizer, learning_rate):
    """Return a new optimizer of the given kind at ``learning_rate``."""
    import keras

    template = keras.optimizers.get(optimizer)
    config = {**template.get_config(), "learning_rate": learning_rate}
    return type(template).from_config(config)


class Trainer:
    """A compiled copy of a stage model whose traced training steps serve many fits.

    Each fit copies its own model's state (weights and the random layers'
    seeds) in, resets the optimizer to its starting state at the fit's learning
    rate, trains, and copies the result back: the same computation as compiling
    and fitting that model, without tracing its steps again.
    """

    def __init__(self, model, optimizer):
        import keras

        self.model = keras.models.clone_model(model)
        self.model.compile(
            optimizer=optimizer,
            loss=LOSS,
            metrics=["accuracy"],
            steps_per_execution=STEPS_PER_EXECUTION,
        )
        self.model.optimizer.build(self.model.trainable_variables)
        self._optimizer_start = [v.numpy() for v in self.model.optimizer.variables]

    def fit(self, model, learning_rate, dataset, **fit_params):
        """Train ``model`` (of the trainer's architecture) from its state; return the History."""
        copy_state(model, self.model)
        for variable, value in zip(
            self.model.optimizer.variables, self._optimizer_start, strict=True
        ):
            variable.assign(value)
        self.model.optimizer.learning_rate = learning_rate
        history = self.model.fit(dataset, **fit_params)
        copy_state(self.model, model)
        return history

    def release(self):
        release_step_functions(self.model)


def copy_state(source, target):
    """Assign ``source``'s variables (weights and seeds) to ``target``'s, which match."""
    pairs = list(zip(source.variables, target.variables, strict=True))
    if any(tuple(a.shape) != tuple(b.shape) for a, b in pairs):
        raise RuntimeError("A pooled trainer does not match the model it trains.")
    for a, b in pairs:
        b.assign(a)


def trainer_key(model, optimizer):
    """What a trainer must share with a fit to serve it: architecture and optimizer.

    Seeds and initializers are left out: the state they give (weights, random
    layers' seed state) is copied in at every fit.
    """
    layers = [
        (kind, {k: v for k, v in config.items() if k != "seed" and not k.endswith("initializer")})
        for kind, config in architecture(model)
    ]
    shapes = [[tuple(t.shape) for t in model.inputs], [tuple(v.shape) for v in model.variables]]
    config = {k: v for k, v in optimizer.get_config().items() if k not in ("name", "learning_rate")}
    return json.dumps(
        [layers, shapes, type(optimizer).__name__, config], sort_keys=True, default=repr
    )


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
class Network:
    """The parts of a built classifier.

    ``model`` maps inputs to probabilities; ``features`` maps them to the
    pooled backbone output ``head`` takes (None without a backbone); ``feed``
    says how images reach ``model`` (None without a backbone).
    """

    model: object
    backbone: object
    features: object
    head: object
    record: object
    feed: ImageFeed | None


@contextmanager
def building(seed, mixed_precision, strategy):
    """The contexts a model is built and trained in: seeds, dtype policy, strategy.

    ``strategy`` is None, ``"mirrored"`` or a ``tf.distribute.Strategy``.
    """
    if strategy == "mirrored":
        import tensorflow as tf

        strategy = tf.distribute.MirroredStrategy()
    with (
        image_read_errors(),
        seeded_keras(seed),
        dtype_policy(mixed_precision),
        nullcontext() if strategy is None else strategy.scope(),
    ):
        yield


# The head's seed is the fit's seed plus this: its dropout and its kernel's initializer.
HEAD_SEED_OFFSET = 101


def initial_head(n_features, n_classes, seed):
    """The ``(kernel, bias)`` a fit of seed ``seed`` starts its head's dense layer from."""
    import keras

    initializer = keras.initializers.GlorotUniform(seed=seed + HEAD_SEED_OFFSET)
    kernel = keras.ops.convert_to_numpy(initializer((n_features, n_classes), dtype="float32"))
    return kernel, np.zeros(n_classes, dtype=np.float32)


def build_network(record, plan, settings, *, n_features, n_classes, seed):
    """Build the network: the backbone (shared where it may be) and a new head.

    ``record`` None: no backbone, the input is ``n_features`` feature rows.
    """
    import keras

    if record is None:
        inputs = pooled = keras.Input((n_features,))
        features = backbone = feed = None
    else:
        backbone, image_size = _backbone(record, plan, settings, seed)
        features = record.pooled(backbone)
        inputs, pooled = features.input, features.output
        feed = ImageFeed(
            image_size,
            preprocessing=record.preprocessing,
            window=settings.window,
            augmentation=resolve_augmentation(settings.augmentation, seed),
        )
    head_seed = seed + HEAD_SEED_OFFSET
    head = keras.Sequential(
        [
            keras.Input((pooled.shape[-1],)),
            keras.layers.Dropout(settings.dropout, seed=head_seed),
            keras.layers.Dense(
                n_classes,
                activation="softmax",
                dtype="float32",
                kernel_initializer=keras.initializers.GlorotUniform(seed=head_seed),
                name="predictions",
            ),
        ],
        name="head",
    )
    model = keras.Model(inputs, head(pooled), name="transfer_classifier")
    return Network(model, backbone, features, head, record, feed)


def _backbone(record, plan, settings, seed):
    """The backbone and its input size; one shared by clones where none can change it."""

    def build():
        return record.make(
            weights=settings.weights,
            image_size=settings.image_size,
            backbone_kwargs=settings.backbone_kwargs,
            seed=seed,
        )

    if not plan.share_backbone:
        return build()
    key = record.shared_key(settings.weights, settings.image_size, settings.backbone_kwargs)
    return get_feature_cache().shared_backbone(key, build, weights_digest)


def settle_plan(plan, network, data, settings):
    """``plan`` settled on the built ``network``: the fine-tuning index and the cut."""
    index = None
    if plan.fine_tune_from is not None and network.backbone is not None:
        index = network.record.fine_tune_index(network.backbone, plan.fine_tune_from)
    # The cut matters only to a stage 2 on cached inputs.
    split = None
    if index is not None and plan.caches and settings.fine_tune_epochs:
        split = network.record.split(network.backbone, index)
    bank_nbytes = 0
    if split is not None:
        output = split[0].outputs[0]
        bank_nbytes = (
            len(data.train)
            * settings.augmentation_views
            * math.prod(output.shape[1:])
            * np.dtype(output.dtype).itemsize
        )
    store = get_feature_cache()
    return plan.settle(
        backbone_name=None if network.backbone is None else network.backbone.name,
        fine_tune_index=index,
        cut=split is not None,
        bank_nbytes=bank_nbytes,
        cache_bounds=(store.max_bytes, store.location is not None),
        epochs=settings.fine_tune_epochs,
    )


# ---------------------------------------------------------------- the stages


def train_frozen_stage(network, X, data, plan, settings):
    """Stage 1: the head on the frozen backbone (all of one trained from scratch)."""
    if network.backbone is not None and not network.record.trains_from_scratch:
        network.backbone.trainable = False
    if settings.epochs == 0:
        return {}
    if plan.caches:
        # The frozen backbone is a fixed function of each image (or view):
        # its features come from the shared cache, the head trains on them.
        inputs = _cached_inputs(network.features, X, data, plan.frozen_input, network, settings)
        model = network.head
    else:
        inputs, model = X, network.model
    datasets = _stage_datasets(inputs, plan.frozen_input, data, network.feed, settings)
    stage = (settings.epochs, settings.learning_rate)
    pooled = plan.caches and plan.shared_trainers
    return train_stage(model, datasets, stage, settings, pooled=pooled)


def train_fine_tune_stage(network, X, data, plan, settings):
    """Stage 2: the backbone's top, BatchNorm frozen; its history (empty when skipped)."""
    if plan.fine_tune_index is None:
        return {}
    network.record.unfreeze(network.backbone, plan.fine_tune_index, plan.fine_tune_from)
    if plan.fine_tune_input is None:
        return {}
    cached = plan.fine_tune_input != IMAGES
    if cached:
        # Below the first unfrozen layer nothing changes: train the top on
        # cached activations (of each image or view) at the split point.
        bottom, top = network.record.split(network.backbone, plan.fine_tune_index)
        inputs = _cached_inputs(bottom, X, data, plan.fine_tune_input, network, settings)
        model = network.record.pooled(top, head=network.head, name="fine_tune_top")
    else:
        inputs, model = X, network.model
    datasets = _stage_datasets(inputs, plan.fine_tune_input, data, network.feed, settings)
    stage = (settings.fine_tune_epochs, settings.fine_tune_learning_rate)
    return train_stage(model, datasets, stage, settings, pooled=cached and plan.shared_trainers)


def _cached_inputs(model, X, data, kind, network, settings):
    """Cached outputs of ``model`` for the (training, validation) rows.

    With views, the training rows' outputs have a views axis (one view is
    drawn per epoch); validation is always on the plain images.
    """
    feed = dataclasses.replace(network.feed, augmentation=None)
    keys = dict(batch_size=settings.batch_size, verbose=settings.verbose)
    if kind in (FEATURE_VIEWS, ACTIVATION_VIEWS):
        # Fixed seeds for "default": every fit, whatever its random_state, shares
        # these views (fits differ in the views they draw); images augmented
        # afresh use the fit's seed (network.feed).
        augmentation = resolve_augmentation(settings.augmentation, 0)
        bank = AugmentedViews(augmentation, settings.augmentation_views, feed.image_size)
        train = cached_view_outputs(model, X[data.train], feed, bank, **keys)
        validation = None
        if data.validation is not None:
            validation = cached_outputs(model, X[data.validation], feed, **keys)
        return train, validation
    outputs = cached_outputs(model, X, feed, **keys)
    validation = None if data.validation is None else outputs[data.validation]
    return outputs[data.train], validation


def _stage_datasets(inputs, kind, data, feed, settings):
    """The shuffled (augmented) training dataset and the validation dataset of a stage."""
    batch_size, seed = settings.batch_size, data.shuffle_seed
    if kind in (IMAGES, ROWS):
        inputs = (inputs[data.train], None if data.validation is None else inputs[data.validation])
    train, validation = inputs
    if kind in (FEATURE_VIEWS, ACTIVATION_VIEWS):
        train_ds = views_dataset(
            train,
            data.targets(data.train),
            batch_size=batch_size,
            shuffle_seed=seed,
            view_seed=seed + 1,
        )
    elif kind == IMAGES:
        train_ds = images_dataset(
            train, data.targets(data.train), feed=feed, batch_size=batch_size, shuffle_seed=seed
        )
    else:
        train_ds = rows_dataset(
            train, data.targets(data.train), batch_size=batch_size, shuffle_seed=seed
        )
    if validation is None:
        return train_ds, None
    targets = data.targets(data.validation)
    if kind == IMAGES:
        plain = dataclasses.replace(feed, augmentation=None)
        return train_ds, images_dataset(validation, targets, feed=plain, batch_size=batch_size)
    return train_ds, rows_dataset(validation, targets, batch_size=batch_size)


def train_stage(model, datasets, stage, settings, *, pooled=False):
    """Train ``model`` for ``stage`` (epochs, learning rate); its history as lists of floats.

    With ``pooled``, through a trainer shared with other fits of the same
    architecture (its traced steps reused).
    """
    import keras

    (train_ds, val_ds), (epochs, learning_rate) = datasets, stage
    callbacks = list(settings.callbacks or [])
    if val_ds is not None:
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=settings.n_iter_no_change, restore_best_weights=True
            )
        )
    fit_params = dict(
        validation_data=val_ds,
        epochs=epochs,
        callbacks=callbacks,
        shuffle=False,  # the dataset reshuffles itself, reproducibly
        verbose=settings.verbose,
    )
    optimizer = make_optimizer(settings.optimizer, learning_rate)
    if pooled:
        key = trainer_key(model, optimizer)
        with get_feature_cache().borrowed_trainer(
            key, lambda: Trainer(model, optimizer)
        ) as trainer:
            history = trainer.fit(model, learning_rate, train_ds, **fit_params)
    else:
        # Callbacks of the user's see every batch: one step per call for them.
        steps = 1 if settings.callbacks else STEPS_PER_EXECUTION
        model.compile(
            optimizer=optimizer, loss=LOSS, metrics=["accuracy"], steps_per_execution=steps
        )
        history = model.fit(train_ds, **fit_params)
        release_step_functions(model)
    return {name: [float(v) for v in values] for name, values in history.history.items()}

"""The training machinery of TransferImageClassifier: the stages of a plan, trainers.

The two stages as functions of the :class:`StagePlan`, each trained on the
feed the plan hands out (:mod:`._feeds`), the network they train, trainers
shared by fits and optimizers. Keras is imported only inside the functions
that build or run a model.
"""

import json
import math
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from ._augmentation import resolve_augmentation
from ._backend import ready_to_fit, strategy_scope
from ._cache import get_feature_cache
from ._keras_utils import (
    architecture,
    dtype_policy,
    release_step_functions,
    seeded_keras,
    weights_digest,
)
from ._tf_data import ImagePipeline, image_read_errors

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
        self._optimizer_start = [
            keras.ops.convert_to_numpy(v) for v in self.model.optimizer.variables
        ]

    def fit(self, model, learning_rate, dataset, **fit_params):
        """Train ``model`` (of the trainer's architecture) from its state; return the History."""
        copy_state(model, self.model)
        for variable, value in zip(
            self.model.optimizer.variables, self._optimizer_start, strict=True
        ):
            variable.assign(value)
        self.model.optimizer.learning_rate = learning_rate
        ready_to_fit(self.model, dataset)
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


@dataclass(frozen=True)
class Network:
    """The parts of a built classifier.

    ``model`` maps inputs to probabilities; ``features`` maps them to the
    pooled backbone output ``head`` takes (None without a backbone);
    ``pipeline`` says how training images reach ``model`` (None without a
    backbone).
    """

    model: object
    backbone: object
    features: object
    head: object
    record: object
    pipeline: ImagePipeline | None


@contextmanager
def building(seed, runtime):
    """The contexts a model is built and trained in: seeds, dtype policy, strategy.

    ``runtime`` is the fit's :class:`Runtime`.
    """
    with (
        image_read_errors(),
        seeded_keras(seed),
        dtype_policy(runtime.mixed_precision),
        strategy_scope(runtime.strategy),
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


def build_network(record, plan, build, *, n_features, n_classes, seed):
    """Build the network: the backbone (shared where it may be) and a new head.

    ``record`` None: no backbone, the input is ``n_features`` feature rows;
    ``build`` is the fit's :class:`BuildSettings`.
    """
    import keras

    if record is None:
        inputs = pooled = keras.Input((n_features,))
        features = backbone = pipeline = None
    else:
        backbone, image_size = _backbone(record, plan, build, seed)
        features = record.pooled(backbone)
        inputs, pooled = features.input, features.output
        pipeline = ImagePipeline(
            image_size,
            preprocessing=record.preprocessing,
            window=build.window,
            augmentation=resolve_augmentation(build.augmentation, seed),
        )
    head_seed = seed + HEAD_SEED_OFFSET
    head = keras.Sequential(
        [
            keras.Input((pooled.shape[-1],)),
            keras.layers.Dropout(build.dropout, seed=head_seed),
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
    return Network(model, backbone, features, head, record, pipeline)


def _backbone(record, plan, build, seed):
    """The backbone and its input size; one shared by clones where none can change it."""

    def make():
        return record.make(
            weights=build.weights,
            image_size=build.image_size,
            backbone_kwargs=build.backbone_kwargs,
            seed=seed,
        )

    if not plan.share_backbone:
        return make()
    key = record.shared_key(build.weights, build.image_size, build.backbone_kwargs)
    return get_feature_cache().shared_backbone(key, make, weights_digest)


def settle_plan(plan, network, data, *, fine_tune_epochs, augmentation_views):
    """``plan`` settled on the built ``network``: the fine-tuning index and the cut."""
    index = None
    if plan.fine_tune_from is not None and network.backbone is not None:
        index = network.record.fine_tune_index(network.backbone, plan.fine_tune_from)
    # The cut matters only to a stage 2 on cached inputs.
    split = None
    if index is not None and plan.caches and fine_tune_epochs:
        split = network.record.split(network.backbone, index)
    bank_nbytes = 0
    if split is not None:
        output = split[0].outputs[0]
        bank_nbytes = (
            len(data.train)
            * augmentation_views
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
        epochs=fine_tune_epochs,
    )


# ---------------------------------------------------------------- the stages


def train_frozen_stage(network, X, data, plan, schedule, feeding):
    """Stage 1: the head on the frozen backbone (all of one trained from scratch).

    ``schedule`` is the stage's :class:`Schedule`; ``feeding`` what its feed needs.
    """
    if network.backbone is not None and not network.record.trains_from_scratch:
        network.backbone.trainable = False
    if schedule.epochs == 0:
        return {}
    # On cached inputs, the frozen backbone is a fixed function of each image
    # (or view): its features come from the shared cache, the head trains on them.
    feed = plan.frozen_feed()
    model, datasets = feed.training(network.model, X, data, feeding)
    stage = (schedule.epochs, schedule.learning_rate)
    # A pooled trainer is a clone: it keeps which layers train where the whole
    # model trains (feature rows, a network from scratch) or on cached inputs,
    # not a frozen backbone's nested layers (KerasHub's).
    whole = network.record is None or network.record.trains_from_scratch
    pooled = plan.shared_trainers and (feed.caches or whole)
    return train_stage(model, datasets, stage, schedule, pooled=pooled)


def train_fine_tune_stage(network, X, data, plan, schedule, feeding):
    """Stage 2: the backbone's top, BatchNorm frozen; its history (empty when skipped)."""
    if plan.fine_tune_index is None:
        return {}
    network.record.unfreeze(network.backbone, plan.fine_tune_index, plan.fine_tune_from)
    feed = plan.fine_tune_feed(network.record)
    if feed is None:
        return {}
    # On cached inputs, below the first unfrozen layer nothing changes: the
    # top trains on cached activations (of each image or view) at the cut.
    model, datasets = feed.training(network.model, X, data, feeding)
    stage = (schedule.epochs, schedule.learning_rate)
    pooled = plan.shared_trainers and feed.caches
    return train_stage(model, datasets, stage, schedule, pooled=pooled)


def train_stage(model, datasets, stage, settings, *, pooled=False):
    """Train ``model`` for ``stage`` (epochs, learning rate); its history as lists of floats.

    ``settings`` is the stage's :class:`Schedule`.

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
        ready_to_fit(model, train_ds)
        history = model.fit(train_ds, **fit_params)
        release_step_functions(model)
    return {name: [float(v) for v in values] for name, values in history.history.items()}

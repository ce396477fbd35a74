"""The training machinery of TransferImageClassifier: trainers shared by fits, optimizers, cuts.

Keras is imported only inside the functions that build or run a model.
"""

import json

import numpy as np

from ._keras_utils import architecture, release_step_functions

LOSS = "sparse_categorical_crossentropy"


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
        self.model.compile(optimizer=optimizer, loss=LOSS, metrics=["accuracy"])
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


def split_models(backbone, index):
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


def call_in_chunks(model, X, chunk_size):
    """Return ``model``'s inference output on the rows of ``X``, called chunk by chunk.

    For the trained part of a model on cached inputs: called directly, it needs
    no traced predict function, whose tracing costs more than the call.
    """
    from keras import ops

    chunks = [X[start : start + chunk_size] for start in range(0, len(X), chunk_size)]
    return np.concatenate([ops.convert_to_numpy(model(c, training=False)) for c in chunks])

"""Keras helpers shared by the modules that build or run a model.

The one home of what touches Keras beyond the estimators themselves: seeding
and dtype-policy contexts, copies with weights, the "backbone -> pooled
output" builder, releasing traced functions, and the fingerprints of an
architecture and of its weights. Keras alone (what only TensorFlow does is in
:mod:`._tf_backend`), imported inside the functions, so importing this module
stays cheap.
"""

import random
from contextlib import contextmanager

import numpy as np


@contextmanager
def seeded_keras(seed):
    """Make Keras's unseeded initializers and layers reproducible, then restore.

    Keras draws the default seed of every initializer and random layer from
    Python's ``random`` module; seeding it for the duration of model building
    makes the model a function of ``seed`` without leaving global state changed.
    """
    state = random.getstate()
    random.seed(int(seed))
    try:
        yield
    finally:
        random.setstate(state)


@contextmanager
def dtype_policy(mixed_precision):
    """Build under the ``mixed_float16`` policy when asked, then restore the old one."""
    if not mixed_precision:
        yield
        return
    import keras

    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


def clone_with_weights(model, *, trainable=None):
    """A new model of ``model``'s architecture holding its current weights.

    ``trainable`` not None sets the copy's ``trainable`` flag (``False``: a copy
    no fit will train).
    """
    import keras

    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    if trainable is not None:
        copy.trainable = trainable
    return copy


def pooled_model(model, *, pooling="avg", head=None, name=None):
    """``model`` in inference mode, its 4-D output globally pooled, then ``head``.

    ``training=False`` keeps BatchNormalization in inference mode whatever is
    later made trainable. A vector output is left as it is. The pooling layer
    is named ``avg_pool`` (or ``max_pool``).
    """
    import keras

    inputs = keras.Input(model.input_shape[1:])
    x = model(inputs, training=False)
    if len(x.shape) == 4:
        pool = {"avg": keras.layers.GlobalAveragePooling2D, "max": keras.layers.GlobalMaxPooling2D}
        x = pool[pooling](name=f"{pooling}_pool")(x)
    return keras.Model(inputs, x if head is None else head(x), name=name)


def release_step_functions(model):
    """Drop the traced train/test/predict functions of ``model`` and its sub-models.

    Keras keeps them on the model, and TensorFlow keeps their traces, which
    close over the model: without this a discarded model stays alive.
    """
    import keras

    model.train_function = model.test_function = model.predict_function = None
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            release_step_functions(layer)


def leaf_layers(model):
    """The layers of ``model``, nested models flattened, in order (a layer: itself)."""
    import keras

    if not isinstance(model, keras.Model):
        yield model
        return
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from leaf_layers(layer)
        else:
            yield layer


def architecture(model):
    """Describe ``model``'s layers, in order: their kind and configuration.

    Layer names are left out: Keras numbers them per process (input_layer_7),
    so the same network built twice would describe differently.
    """
    return [
        (type(layer).__name__, {k: v for k, v in layer.get_config().items() if k != "name"})
        for layer in leaf_layers(model)
    ]


def hash_weights(digest, model):
    """Feed every weight array of ``model`` (dtype, shape, bytes) to ``digest``; return it."""
    for weights in model.get_weights():
        digest.update(f"{weights.dtype.str}{weights.shape}".encode())
        digest.update(np.ascontiguousarray(weights).tobytes())
    return digest


def weights_digest(model):
    """A hex digest of ``model``'s weights: equal digests, equal weights."""
    import hashlib

    return hash_weights(hashlib.blake2b(digest_size=16), model).hexdigest()

"""The JAX side of running a Keras model: compiled functions, devices, no strategies.

The twin of :mod:`._tf_backend` for ``KERAS_BACKEND=jax`` (:mod:`._backend`
picks one), and the only module that imports JAX, inside its functions.
Inputs still come from tf.data (:mod:`._tf_data`), whose batches Keras and
this module turn into NumPy arrays. A model runs through
``jax.jit(model.stateless_call)``: its variables are arguments, not
constants compiled in, and every batch is padded to one shape, so a model
compiles once and a row's output does not depend on how many rows share its
batch.
"""

import functools
from dataclasses import dataclass

import numpy as np

# Images augmented per call of the compiled augmentation (the last call padded).
_AUGMENTATION_BLOCK = 32


@functools.cache
def gpu_names():
    """The kinds of the GPUs JAX sees (empty: none)."""
    import jax

    return tuple(device.device_kind for device in jax.devices() if device.platform == "gpu")


def strategy_scope(strategy):
    """No scope: distribution strategies are TensorFlow's; ``strategy`` must be None."""
    from contextlib import nullcontext

    if strategy is not None:
        raise ValueError(
            f"strategy={strategy!r} needs the TensorFlow backend: tf.distribute strategies do "
            "not run on JAX. Set strategy=None (JAX uses one device), or KERAS_BACKEND="
            "tensorflow for a MirroredStrategy."
        )
    return nullcontext()


@dataclass(frozen=True)
class BatchSpec:
    """The shape every batch is padded to, and its dtype: one compiled shape."""

    shape: tuple
    dtype: str


def input_spec(dataset, batch_size):
    """The :class:`BatchSpec` of ``dataset``'s batches, padded to ``batch_size`` rows."""
    spec = dataset.element_spec
    return BatchSpec((int(batch_size), *spec.shape[1:]), spec.dtype.name)


def traced_inference(model, spec):
    """``model`` in inference mode, compiled once for batches of ``spec`` (padded to it)."""
    import jax

    @jax.jit
    def call(trainable, non_trainable, batch):
        outputs, _ = model.stateless_call(trainable, non_trainable, batch, training=False)
        return outputs

    def function(batch):
        n = len(batch)
        batch = _padded(np.asarray(batch, dtype=spec.dtype), spec.shape[0])
        trainable = [v.value for v in model.trainable_variables]
        non_trainable = [v.value for v in model.non_trainable_variables]
        return np.asarray(call(trainable, non_trainable, batch))[:n]

    return function


def inference(model, dataset, *, batch_size, function=None, progress=None):
    """Return ``model``'s inference-mode output on every batch of ``dataset``.

    ``function`` is a :func:`traced_inference` of ``model`` (compiled here when
    None); ``progress`` (a :class:`ProgressBar`-like object) is told of each
    batch's rows.
    """
    function = function or traced_inference(model, input_spec(dataset, batch_size))
    outputs = []
    for batch in dataset.as_numpy_iterator():
        outputs.append(function(batch))
        if progress is not None:
            progress.update(len(outputs[-1]))
    return np.concatenate(outputs)


def ready_to_fit(model, dataset):
    """Build ``model``'s compiled loss and metrics from ``dataset``'s signature, before ``fit``.

    Keras's JAX trainer builds them in the first ``fit`` after ``compile`` from a
    batch it draws from the dataset, and that draw costs one of the dataset's
    reshuffles: the first fit of a compiled model would train on other orders
    than a later fit of the same model (a pooled trainer) and than TensorFlow.
    One row of zeros through ``compute_loss`` and ``compute_metrics`` builds
    them instead; ``fit`` resets the metrics it leaves.
    """
    import keras

    zeros = keras.tree.map_structure(
        lambda spec: np.zeros((1, *spec.shape[1:]), spec.dtype.as_numpy_dtype),
        dataset.element_spec,
    )
    x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(zeros)
    y_pred = model(x, training=False)
    model.compute_loss(x, y, y_pred, sample_weight, training=False)
    model.compute_metrics(x, y, y_pred, sample_weight)


def seeded_per_image(augmentation, states, image_size):
    """``augmentation`` compiled once, applied image by image with its seed states set first.

    ``states`` are the augmentation's seed-generator state variables; the
    function returned takes float32 images ``(n, h, w, 3)`` and integer seeds
    ``(n, max(1, len(states)), 2)`` and returns the float32 views as an array.
    Each image's seed states replace the generators' in a stateless call, so
    nothing is assigned and the layers are left as they were.
    """
    import jax

    variables = augmentation.non_trainable_variables
    position = {id(variable): i for i, variable in enumerate(variables)}
    slots = [position[id(state)] for state in states]
    dtypes = [state.dtype for state in states]

    def one(trainable, non_trainable, image, seeds):
        values = list(non_trainable)
        for j, (slot, dtype) in enumerate(zip(slots, dtypes, strict=True)):
            values[slot] = seeds[j].astype(dtype)
        view, _ = augmentation.stateless_call(trainable, values, image[None], training=True)
        return view[0].astype("float32")

    @jax.jit
    def augment(trainable, non_trainable, images, seeds):
        return jax.lax.map(lambda pair: one(trainable, non_trainable, *pair), (images, seeds))

    def function(images, seeds):
        trainable = [v.value for v in augmentation.trainable_variables]
        non_trainable = [v.value for v in augmentation.non_trainable_variables]
        # Seeds are 31-bit: they fit the generators' uint32 state.
        seeds = seeds.astype(np.uint32)
        views = []
        for start in range(0, len(images), _AUGMENTATION_BLOCK):
            block = images[start : start + _AUGMENTATION_BLOCK]
            padded = _padded(block, _AUGMENTATION_BLOCK)
            block_seeds = _padded(seeds[start : start + _AUGMENTATION_BLOCK], _AUGMENTATION_BLOCK)
            out = augment(trainable, non_trainable, padded, block_seeds)
            views.append(np.asarray(out)[: len(block)])
        return np.concatenate(views) if views else np.zeros((0, *image_size, 3), np.float32)

    return function


def batch_augmentation(augmentation):
    """The function that augments a batch inside ``tf.data``: the layers one at a time.

    Keras's preprocessing layers switch to TensorFlow inside a ``tf.data``
    pipeline whatever the backend, one layer at a time; a ``Sequential`` of
    them does not (keras-team/keras#18396), so its layers are called in turn.
    """
    from ._keras_utils import leaf_layers

    layers = list(leaf_layers(augmentation))

    def augment(images):
        for layer in layers:
            try:
                images = layer(images, training=True)
            except NotImplementedError as exc:
                raise ValueError(
                    f"The augmentation layer {layer.name!r} ({type(layer).__name__}) cannot run "
                    "inside the tf.data input pipeline on the JAX backend: only Keras's "
                    "preprocessing layers (keras.layers.RandomFlip, ...) can. Use those, cache "
                    "the views (cache=True), or KERAS_BACKEND=tensorflow."
                ) from exc
        return images

    return augment


def _padded(rows, n):
    """``rows`` with zero rows appended up to ``n``."""
    if len(rows) >= n:
        return rows
    return np.concatenate([rows, np.zeros((n - len(rows), *rows.shape[1:]), rows.dtype)])

"""The TensorFlow side of running a Keras model: traced functions, devices, strategies.

With :mod:`._tf_data` (the input pipelines), the only module that imports
TensorFlow, and only inside its functions: traced inference and its input
signature, the per-image seeded augmentation (a traced loop that sets the
seed generators' state), augmentation inside tf.data, the GPUs TensorFlow
sees, the scope of a distribution strategy, and TensorFlow's quiet import for
the command line. :mod:`._jax_backend` has the same functions for JAX;
:mod:`._backend` picks one.
"""

import functools
import os
import sys
from contextlib import nullcontext

import numpy as np


@functools.cache
def gpu_names():
    """The names of the GPUs TensorFlow sees (empty: none)."""
    import tensorflow as tf

    return tuple(
        tf.config.experimental.get_device_details(gpu).get("device_name", gpu.name)
        for gpu in tf.config.list_physical_devices("GPU")
    )


def gpu_available():
    """Whether TensorFlow sees a GPU (where its kernels are not deterministic)."""
    return bool(gpu_names())


def strategy_scope(strategy):
    """The scope models are built and trained in: ``strategy``'s, or none.

    ``strategy`` is None, ``"mirrored"`` or a ``tf.distribute.Strategy``.
    """
    if strategy is None:
        return nullcontext()
    if strategy == "mirrored":
        import tensorflow as tf

        strategy = tf.distribute.MirroredStrategy()
    return strategy.scope()


def input_spec(dataset, batch_size):
    """The signature of a dataset's batches, for :func:`traced_inference` (any batch size)."""
    return dataset.element_spec


def traced_inference(model, spec):
    """One ``tf.function`` of ``model`` in inference mode, for any batch size.

    ``Model.predict`` traces the model once per batch shape, so a last, smaller
    batch costs a second trace of the whole backbone.
    """
    import tensorflow as tf

    return tf.function(lambda batch: model(batch, training=False), input_signature=[spec])


def inference(model, dataset, *, batch_size, function=None, progress=None):
    """Return ``model``'s inference-mode output on every batch of ``dataset``.

    ``function`` is a :func:`traced_inference` of ``model`` (traced here when
    None); ``progress`` (a :class:`ProgressBar`-like object) is told of each
    batch's rows.
    """
    function = function or traced_inference(model, input_spec(dataset, batch_size))
    outputs = []
    for batch in dataset:
        outputs.append(function(batch).numpy())
        if progress is not None:
            progress.update(len(outputs[-1]))
    return np.concatenate(outputs)


def ready_to_fit(model, dataset):
    """Nothing: TensorFlow's trainer builds a compiled model's state without drawing a batch."""


def seeded_per_image(augmentation, states, image_size):
    """``augmentation`` traced once, applied image by image with its seed states set first.

    ``states`` are the augmentation's seed-generator state variables; the
    function returned takes float32 images ``(n, h, w, 3)`` and int64 seeds
    ``(n, max(1, len(states)), 2)`` and returns the float32 views as an array.
    """
    import tensorflow as tf

    images_spec = tf.TensorSpec((None, *image_size, 3), tf.float32)
    seeds_spec = tf.TensorSpec((None, max(1, len(states)), 2), tf.int64)

    @tf.function(input_signature=[images_spec, seeds_spec])
    def augment(images, seeds):
        views = tf.TensorArray(tf.float32, size=tf.shape(images)[0])
        for i in tf.range(tf.shape(images)[0]):
            for j, state in enumerate(states):
                state.assign(tf.cast(seeds[i, j], state.dtype))
            view = augmentation(images[i : i + 1], training=True)[0]
            views = views.write(i, tf.cast(view, tf.float32))
        return views.stack()

    return lambda images, seeds: augment(images, seeds).numpy()


def batch_augmentation(augmentation):
    """The function that augments a batch inside ``tf.data``: the layers, in training mode."""
    return lambda images: augmentation(images, training=True)


def import_tensorflow_quietly(noise):
    """Import TensorFlow with its C++ start-up notices kept off stderr; other lines pass.

    The notices are written by C++ to file descriptor 2 at import, where
    Python's own filters cannot reach: stderr goes to a temporary file for the
    import, and every line that ``noise`` (a compiled pattern) does not match
    is written back (so an import error still shows in full).
    """
    import tempfile

    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow  # noqa: F401
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            for line in captured.read().decode(errors="replace").splitlines():
                if not noise.search(line):
                    print(line, file=sys.stderr)

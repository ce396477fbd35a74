"""The door of the backend seam: what runs a model, from the Keras backend that runs.

Traced inference, the seeded per-image augmentation, augmentation inside an
input pipeline, the GPUs and a distribution strategy's scope differ between
Keras backends; :mod:`._tf_backend` and :mod:`._jax_backend` each hold their
backend's, with the same functions. The rest of the package calls these,
which ask ``keras.backend.backend()`` at call time: importing this module
imports neither Keras nor a backend.
"""

BACKENDS = ("tensorflow", "jax")


def backend_name():
    """The Keras backend that runs (``KERAS_BACKEND``), one of :data:`BACKENDS`."""
    import keras

    name = keras.backend.backend()
    if name not in BACKENDS:
        raise RuntimeError(
            f"sklearn-vision runs on the Keras backends {', '.join(BACKENDS)}; Keras runs on "
            f"{name!r}. Set KERAS_BACKEND=tensorflow or KERAS_BACKEND=jax before importing Keras."
        )
    return name


def _backend():
    if backend_name() == "jax":
        from . import _jax_backend as module
    else:
        from . import _tf_backend as module
    return module


def gpu_names():
    """The names of the GPUs the backend sees (empty: none)."""
    return _backend().gpu_names()


def gpu_available():
    """Whether the backend sees a GPU (where its kernels are not deterministic)."""
    return bool(gpu_names())


def strategy_scope(strategy):
    """The scope models are built and trained in: a TensorFlow ``strategy``'s, or none."""
    return _backend().strategy_scope(strategy)


def input_spec(dataset, batch_size):
    """The signature of a dataset's batches of ``batch_size``, for :func:`traced_inference`."""
    return _backend().input_spec(dataset, batch_size)


def traced_inference(model, spec):
    """One compiled function of ``model`` in inference mode, for the batches ``spec`` describes."""
    return _backend().traced_inference(model, spec)


def inference(model, dataset, *, batch_size, function=None, progress=None):
    """Return ``model``'s inference-mode output on every batch of ``dataset``.

    ``function`` is a :func:`traced_inference` of ``model`` (traced here when
    None); ``progress`` (a :class:`ProgressBar`-like object) is told of each
    batch's rows.
    """
    return _backend().inference(
        model, dataset, batch_size=batch_size, function=function, progress=progress
    )


def ready_to_fit(model, dataset):
    """Make the next ``model.fit`` on ``dataset`` train on its first reshuffle, as all fits do."""
    _backend().ready_to_fit(model, dataset)


def seeded_per_image(augmentation, states, image_size):
    """``augmentation`` compiled once, applied image by image with its seed states set first.

    ``states`` are the augmentation's seed-generator state variables; the
    function returned takes float32 images ``(n, h, w, 3)`` and integer seeds
    ``(n, max(1, len(states)), 2)`` and returns the float32 views as an array.
    """
    return _backend().seeded_per_image(augmentation, states, image_size)


def batch_augmentation(augmentation):
    """The function that augments a batch of images inside a ``tf.data`` pipeline."""
    return _backend().batch_augmentation(augmentation)

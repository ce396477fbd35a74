"""Feeding a Keras model: images, paths or feature rows as a ``tf.data.Dataset``.

The only module of the image input that imports TensorFlow, and only inside
its functions.
"""

import re
from contextlib import contextmanager

import numpy as np

from ._decoding import JPEG_SCALES, read_file
from ._images import Images

_READ_ERROR = re.compile(r"Cannot read image file .*")


@contextmanager
def image_read_errors():
    """Re-raise a file that failed to decode inside tf.data as a plain ``OSError``.

    TensorFlow wraps the error of :func:`read_image` in an ``UnknownError`` with
    its own traceback; the user needs the one line that names the file.
    """
    import tensorflow as tf

    try:
        yield
    except tf.errors.OpError as exc:
        match = _READ_ERROR.search(str(exc))
        if match is None:
            raise
        raise OSError(match.group(0)) from None


def make_dataset(
    X,
    y=None,
    sample_weight=None,
    *,
    batch_size,
    shuffle_seed=None,
    image_size=None,
    preprocess=None,
    augmentation=None,
    window="auto",
    view_seed=None,
):
    """Return a batched, prefetched ``tf.data.Dataset`` feeding a model.

    ``X`` is :class:`Images` or a 2-D array of feature rows. Paths are decoded in
    parallel as batches are needed, so a folder larger than memory streams; image
    arrays are resized per batch to ``image_size``. ``augmentation`` (a Keras
    layer) runs on the [0, 255] pixels before ``preprocess``. ``shuffle_seed`` not
    None reshuffles every epoch, reproducibly. ``window`` scales deep image files
    as :func:`read_image` does. ``view_seed`` not None means ``X`` holds cached
    outputs of augmented views, ``(n, n_views, ...)``: every epoch draws one view
    of each sample, reproducibly.
    """
    import tensorflow as tf

    autotune = tf.data.AUTOTUNE
    if not isinstance(X, Images):
        first = tf.data.Dataset.from_tensor_slices(X)
    elif X.is_paths:
        height, width = image_size

        def decode(path):
            # float32: 16-bit and DICOM files keep their precision (read_image).
            return read_file(path.decode(), (height, width), window).astype(np.float32)

        def load(path):
            image = tf.numpy_function(decode, [path], tf.float32, stateful=False)
            return tf.ensure_shape(image, (height, width, 3))

        first = tf.data.Dataset.from_tensor_slices(X.data.astype(str))
        first = first.map(load, num_parallel_calls=autotune)
    else:
        first = tf.data.Dataset.from_tensor_slices(X.data)

    parts = [first] + [
        tf.data.Dataset.from_tensor_slices(part) for part in (y, sample_weight) if part is not None
    ]
    dataset = tf.data.Dataset.zip(tuple(parts)) if len(parts) > 1 else first
    if shuffle_seed is not None:
        dataset = dataset.shuffle(len(X), seed=shuffle_seed, reshuffle_each_iteration=True)
    if view_seed is not None:
        n_views = X.shape[1]
        draws = tf.data.Dataset.random(seed=view_seed, rerandomize_each_iteration=True)

        def one_view(sample, draw):
            views, *rest = sample if isinstance(sample, tuple) else (sample,)
            view = views[draw % n_views]
            return (view, *rest) if rest else view

        dataset = tf.data.Dataset.zip((dataset, draws)).map(one_view)
    dataset = dataset.batch(batch_size)
    if isinstance(X, Images):

        def prepare(x, *rest):
            x = tf.cast(x, tf.float32)
            if x.shape[-1] == 1:
                x = tf.image.grayscale_to_rgb(x)
            if tuple(x.shape[1:3]) != tuple(image_size):
                x = tf.image.resize(x, image_size)
            if augmentation is not None:
                x = augmentation(x, training=True)
            if preprocess is not None:
                x = preprocess(x)
            return (x, *rest) if rest else x

        dataset = dataset.map(prepare, num_parallel_calls=autotune)
    return dataset.prefetch(autotune)


def read_with_tensorflow(files, codes, size, n_jobs):
    """Decode and resize files in tf.data; yield ``(indices, images)`` batches.

    ``codes`` are :func:`tensorflow_decoder`'s, one per file. Files TensorFlow fails to
    decode (truncated, corrupt) are in no batch: the caller asks Pillow why.
    """
    import tensorflow as tf
    from joblib import effective_n_jobs

    @tf.autograph.experimental.do_not_convert
    def load(index, path, code):
        data = tf.io.read_file(path)
        branches = [lambda: tf.io.decode_png(data, channels=3)] + [
            lambda scale=scale: tf.io.decode_jpeg(
                data, channels=3, ratio=scale, dct_method="INTEGER_ACCURATE"
            )
            for scale in JPEG_SCALES
        ]
        image = tf.image.resize(tf.switch_case(code, branches), size)
        return index, tf.cast(tf.round(image), tf.uint8)

    options = tf.data.Options()
    options.threading.private_threadpool_size = effective_n_jobs(n_jobs)
    dataset = (
        tf.data.Dataset.from_tensor_slices((np.arange(len(files)), files, codes))
        .map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=False)
        .ignore_errors()
        .batch(64)
        .prefetch(1)
        .with_options(options)
    )
    yield from dataset.as_numpy_iterator()

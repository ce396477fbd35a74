"""Input pipelines: images, paths or feature rows as a ``tf.data.Dataset``.

The only module of the image input that imports TensorFlow, and only inside
its functions.
"""

import os
import re
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from ._decoding import JPEG_SCALES, read_file

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


@dataclass(frozen=True)
class ImagePipeline:
    """How images reach a model: their size, deep files' window, preprocessing, augmentation.

    ``preprocessing`` maps [0, 255] pixels to the model's input (a backbone
    record's, or None); ``augmentation`` (Keras layers, in training only) runs
    before it.
    """

    image_size: tuple
    preprocessing: object = None
    window: object = "auto"
    augmentation: object = None


def rows_dataset(rows, targets=(), *, batch_size, shuffle_seed=None):
    """A dataset of fixed rows (features, or cached backbone outputs), with ``targets``.

    ``targets`` are arrays aligned with the rows (labels, then sample weights);
    ``shuffle_seed`` not None reshuffles every epoch, reproducibly.
    """
    import tensorflow as tf

    dataset = _with_targets(tf.data.Dataset.from_tensor_slices(rows), targets)
    return _batched(_shuffled(dataset, len(rows), shuffle_seed), batch_size)


def views_dataset(views, targets, *, batch_size, shuffle_seed, view_seed):
    """A training dataset of cached outputs of augmented views, ``(n, n_views, ...)``.

    Every epoch draws one view of each sample, reproducibly from ``view_seed``.
    """
    import tensorflow as tf

    n_views = views.shape[1]
    dataset = _with_targets(tf.data.Dataset.from_tensor_slices(views), targets)
    dataset = _shuffled(dataset, len(views), shuffle_seed)
    draws = tf.data.Dataset.random(seed=view_seed, rerandomize_each_iteration=True)

    def one_view(sample, draw):
        views, *rest = sample if isinstance(sample, tuple) else (sample,)
        view = views[draw % n_views]
        return (view, *rest) if rest else view

    return _batched(tf.data.Dataset.zip((dataset, draws)).map(one_view), batch_size)


def images_dataset(images, targets=(), *, pipeline, batch_size, shuffle_seed=None):
    """A dataset of :class:`Images` (arrays or paths) prepared by an :class:`ImagePipeline`.

    Paths are decoded in parallel as batches are needed, so a folder larger than
    memory streams; arrays are resized per batch to ``pipeline.image_size``.
    """
    import tensorflow as tf

    autotune = tf.data.AUTOTUNE
    if images.is_paths:
        names = np.array([os.fsencode(path) for path in images.data], dtype=object)
        first = tf.data.Dataset.from_tensor_slices(names)  # bytes: any file name
        first = first.map(_file_reader(pipeline), num_parallel_calls=autotune)
    else:
        first = tf.data.Dataset.from_tensor_slices(images.data)
    dataset = _shuffled(_with_targets(first, targets), len(images), shuffle_seed)
    dataset = dataset.batch(batch_size).map(_preparer(pipeline), num_parallel_calls=autotune)
    return dataset.prefetch(autotune)


def dataset_arrays(dataset):
    """The batches of ``dataset`` concatenated, as one array."""
    return np.concatenate(list(dataset.as_numpy_iterator()))


def _file_reader(pipeline):
    import tensorflow as tf

    height, width = pipeline.image_size

    def decode(path):
        # float32: 16-bit and DICOM files keep their precision (read_image).
        return read_file(os.fsdecode(path), (height, width), pipeline.window).astype(np.float32)

    def load(path):
        image = tf.numpy_function(decode, [path], tf.float32, stateful=False)
        return tf.ensure_shape(image, (height, width, 3))

    return load


def _preparer(pipeline):
    """The per-batch map of images: float, RGB, resized, augmented, preprocessed."""
    import tensorflow as tf

    from ._backend import batch_augmentation

    augment = None if pipeline.augmentation is None else batch_augmentation(pipeline.augmentation)

    def prepare(x, *rest):
        x = tf.cast(x, tf.float32)
        if x.shape[-1] == 1:
            x = tf.image.grayscale_to_rgb(x)
        if tuple(x.shape[1:3]) != tuple(pipeline.image_size):
            x = tf.image.resize(x, pipeline.image_size)
        if augment is not None:
            x = augment(x)
        if pipeline.preprocessing is not None:
            x = pipeline.preprocessing(x)
        return (x, *rest) if rest else x

    return prepare


def _with_targets(dataset, targets):
    import tensorflow as tf

    if not targets:
        return dataset
    parts = [tf.data.Dataset.from_tensor_slices(part) for part in targets]
    return tf.data.Dataset.zip((dataset, *parts))


def _shuffled(dataset, n, seed):
    if seed is None:
        return dataset
    return dataset.shuffle(n, seed=seed, reshuffle_each_iteration=True)


def _batched(dataset, batch_size):
    import tensorflow as tf

    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)


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

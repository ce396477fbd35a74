"""Image input: validation of arrays and file paths, decoding, and the tf.data pipeline.

Validation and decoding use NumPy and Pillow only; TensorFlow is imported inside
:func:`make_dataset`, the one function that feeds a model.
"""

import os
import re
import warnings
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Images:
    """Validated image input: an array ``(n, h, w, c)`` or a 1-D array of paths."""

    data: np.ndarray
    is_paths: bool

    def __len__(self):
        return len(self.data)

    @property
    def n_features(self):
        """Values per sample: ``h * w * c`` for arrays, 1 for a column of paths."""
        return 1 if self.is_paths else int(np.prod(self.data.shape[1:]))

    def __getitem__(self, indices):
        return Images(self.data[indices], self.is_paths)


def _is_path(value):
    return isinstance(value, (str, os.PathLike))


def _as_paths(X):
    paths = np.asarray([os.fspath(p) for p in np.ravel(X)], dtype=object)
    if len(paths) == 0:
        raise ValueError("Found an empty list of image paths; at least 1 image is required.")
    return Images(paths, True)


def check_images(X):
    """Validate image input and return it as :class:`Images`.

    Accepted: uint8 or float arrays ``(n, h, w, 3)``, grayscale ``(n, h, w)`` or
    ``(n, h, w, 1)``; a list of equally shaped images; a 1-D sequence or an
    ``(n, 1)`` column of file paths. Pixel values are expected in [0, 255].
    """
    if hasattr(X, "tocsr") or hasattr(X, "todense"):
        raise TypeError("Sparse input is not supported: images must be dense arrays or file paths.")
    if isinstance(X, (list, tuple)):
        if len(X) and all(_is_path(x) for x in X):
            return _as_paths(X)
        X = _stack_images(X)
    X = np.asarray(X)
    if X.dtype.kind in "USO" and (X.ndim == 1 or (X.ndim == 2 and X.shape[1] == 1)):
        if X.size and all(_is_path(x) for x in X.ravel()):
            return _as_paths(X)
    if X.dtype.kind == "c":
        raise ValueError("Complex data not supported: images must hold real pixel values.")
    if X.dtype.kind == "O":
        try:
            X = X.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"Images must be numbers or file paths; an object array held other values ({exc})."
            ) from exc
    if X.dtype.kind not in "uif":
        raise ValueError(
            f"Images must be a numeric array (uint8 or float pixels in [0, 255]) or file "
            f"paths; got an array of dtype {X.dtype}."
        )
    if X.ndim == 2:
        raise ValueError(
            f"Expected images of shape (n_samples, height, width[, channels]) or a column "
            f"of file paths; got a 2-D array of shape {X.shape}. Flattened images need a "
            "reshape, e.g. X.reshape(-1, 8, 8); feature vectors go with backbone=None."
        )
    if X.ndim == 3:
        X = X[..., np.newaxis]
    if X.ndim != 4:
        raise ValueError(
            f"Expected images of shape (n_samples, height, width[, channels]); got an "
            f"array with {X.ndim} dimensions, shape {X.shape}."
        )
    if X.shape[-1] not in (1, 3):
        raise ValueError(
            f"Expected 1 (grayscale) or 3 (RGB) channels; got {X.shape[-1]} channels "
            f"(shape {X.shape}). Drop an alpha channel with X[..., :3]."
        )
    if X.shape[0] == 0:
        raise ValueError(f"Found array with 0 images (shape {X.shape}); at least 1 is required.")
    if min(X.shape[1:3]) == 0:
        raise ValueError(f"Found images of size 0 (shape {X.shape}).")
    if X.dtype.kind == "f":
        if not np.isfinite(X).all():
            raise ValueError("Input images contain NaN or infinity; pixels must be finite.")
        if X.max() <= 1.0 and X.max() > 0:
            warnings.warn(
                "Float images with all pixels in [0, 1]: sklearn-vision expects pixel "
                "values in [0, 255], as keras.applications do. Multiply by 255.",
                UserWarning,
                stacklevel=3,
            )
    return Images(X, False)


def _stack_images(images):
    if not images:
        raise ValueError("Found an empty list of images; at least 1 image is required.")
    arrays = [np.asarray(image) for image in images]
    first = arrays[0].shape
    for index, array in enumerate(arrays):
        if array.shape != first:
            raise ValueError(
                f"Images of mixed sizes: image 0 has shape {first}, image {index} has "
                f"shape {array.shape}. Resize them to one size, or pass file paths "
                "(they are resized as they are read)."
            )
    return np.stack(arrays)


def read_image(path, size=None):
    """Decode one image file to an RGB uint8 array, optionally resized to ``(h, w)``.

    EXIF orientation is applied; grayscale, palette, CMYK and alpha images are
    converted to RGB. Raises ``OSError`` naming the file when it cannot be read.
    """
    from PIL import Image, ImageOps

    path = os.fspath(path)
    try:
        if os.path.getsize(path) == 0:
            raise OSError("empty file")
        with Image.open(path) as image:
            image = ImageOps.exif_transpose(image)
            image = image.convert("RGB")
            if size is not None and image.size != (size[1], size[0]):
                image = image.resize((size[1], size[0]), Image.Resampling.BILINEAR)
            return np.asarray(image, dtype=np.uint8)
    except (OSError, ValueError, SyntaxError) as exc:
        raise OSError(f"Cannot read image file {path!r}: {exc}") from exc


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
):
    """Return a batched, prefetched ``tf.data.Dataset`` feeding a model.

    ``X`` is :class:`Images` or a 2-D array of feature rows. Paths are decoded in
    parallel as batches are needed, so a folder larger than memory streams; image
    arrays are resized per batch to ``image_size``. ``augmentation`` (a Keras
    layer) runs on the [0, 255] pixels before ``preprocess``. ``shuffle_seed`` not
    None reshuffles every epoch, reproducibly.
    """
    import tensorflow as tf

    autotune = tf.data.AUTOTUNE
    if not isinstance(X, Images):
        first = tf.data.Dataset.from_tensor_slices(X)
    elif X.is_paths:
        height, width = image_size

        def decode(path):
            return read_image(path.decode(), (height, width))

        def load(path):
            image = tf.numpy_function(decode, [path], tf.uint8, stateful=False)
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

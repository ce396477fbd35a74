"""Image input validation: arrays and file paths in, :class:`Images` out.

NumPy only; decoding files is :mod:`._decoding`'s, feeding a model :mod:`._tf_data`'s.
"""

import os
import warnings
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
    ``(n, 1)`` column of file paths. Pixel values must lie in [0, 255]: others
    are refused, never clipped.
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
    X = _image_batch(_numeric(X))
    if X.dtype.kind == "f" and not np.isfinite(X).all():
        raise ValueError("Input images contain NaN or infinity; pixels must be finite.")
    _check_pixel_range(X)
    if X.dtype.kind == "f":
        if X.max() <= 1.0 and X.max() > 0:
            warnings.warn(
                "Float images with all pixels in [0, 1]: sklearn-vision expects pixel "
                "values in [0, 255], as keras.applications do. Multiply by 255.",
                UserWarning,
                stacklevel=3,
            )
    return Images(X, False)


def _numeric(X):
    """``X``, an array that is not paths, as real numbers: an object array as float64."""
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
    return X


def _image_batch(X):
    """A numeric array as ``(n, h, w, c)``, c being 1 or 3 (a grey ``(n, h, w)`` gains c)."""
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
    return X


def _check_pixel_range(X):
    """Refuse pixel values outside [0, 255], saying what to do: never clip them."""
    if X.dtype == np.uint8:
        return
    low, high = X.min(), X.max()
    if low >= 0 and high <= 255:
        return
    raise ValueError(
        f"Images have pixel values from {low:g} to {high:g}, outside the [0, 255] range "
        "the pretrained backbones expect (16-bit, CT or standardised data?). Nothing is "
        "clipped: scale the array yourself, e.g. 255 * (X - X.min()) / (X.max() - X.min()), "
        "or give the image files: read_image and load_image_folder scale 16-bit, float "
        "and DICOM files to [0, 255] by their bit depth or a window=(low, high) you choose."
    )


def _stack_images(images):
    if not images:
        raise ValueError("Found an empty list of images; at least 1 image is required.")
    arrays = [np.asarray(image) for image in images]
    _check_same_channels(arrays)
    if len({array.ndim for array in arrays}) > 1:
        # A grey image may come as (h, w) or (h, w, 1): the same single channel.
        arrays = [array[..., np.newaxis] if array.ndim == 2 else array for array in arrays]
    first = arrays[0].shape
    for index, array in enumerate(arrays):
        if array.shape != first:
            raise ValueError(
                f"Images of mixed sizes: image 0 has shape {first}, image {index} has "
                f"shape {array.shape}. Resize them to one size, or pass file paths "
                "(they are resized as they are read)."
            )
    return np.stack(arrays)


def _check_same_channels(arrays):
    """Refuse a list of images with different channel counts (grey and RGBA, say).

    A 2-D image is grey: one channel. Arrays of other dimensions are left to
    the checks of the stacked array.
    """
    if any(array.ndim not in (2, 3) for array in arrays):
        return
    channels = [1 if array.ndim == 2 else array.shape[-1] for array in arrays]
    found = sorted(set(channels))
    if len(found) < 2:
        return
    other = next(i for i, count in enumerate(channels) if count != channels[0])
    counts = ", ".join(map(str, found[:-1])) + f" and {found[-1]}"
    raise ValueError(
        f"Images with mixed channel counts: found {counts} channels (image 0 has shape "
        f"{arrays[0].shape}, image {other} has shape {arrays[other].shape}). Convert them "
        "all to RGB (3 channels), e.g. with PIL's Image.convert('RGB'), or pass file paths, "
        "which are read as RGB."
    )


def check_image_size(image_size):
    """Return ``image_size`` (a positive int or pair of them) as ``(height, width)``.

    None stays None.
    """
    if image_size is None:
        return None
    size = (image_size, image_size) if np.isscalar(image_size) else tuple(image_size)
    if len(size) != 2 or not all(isinstance(s, (int, np.integer)) and s > 0 for s in size):
        raise ValueError(
            f"image_size must be a positive int or a (height, width) pair; got {image_size!r}."
        )
    return tuple(int(s) for s in size)


def check_feature_rows(X):
    """Refuse strings, such as image file paths, where backbone=None takes feature rows."""
    if isinstance(X, (list, tuple)):
        try:
            X = np.asarray(X)
        except ValueError:  # ragged: validate_data says so
            return
    if not isinstance(X, np.ndarray) or X.dtype.kind not in "USO":
        return  # numbers, or a table validate_data checks
    text = [value for value in X.ravel() if isinstance(value, (str, bytes, os.PathLike))]
    if text:
        raise ValueError(
            "backbone=None takes feature rows (a 2-D numeric array of shape (n_samples, "
            f"n_features)); got file paths or strings, such as {str(text[0])!r}. Give a backbone "
            "name, such as backbone='mobilenet_v2', to read the images, or compute features "
            "first with BackboneFeatures and fit on them."
        )

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
    converted to RGB (alpha dropped). A JPEG much larger than ``size`` is decoded
    at a reduced scale first (libjpeg's DCT scaling), then resized bilinearly.

    Parameters
    ----------
    path : str or path-like
        The image file. Any format Pillow reads: JPEG, PNG, BMP, GIF, TIFF, WebP...
    size : tuple of int (height, width), default=None
        Resize to this size; None keeps the file's size.

    Returns
    -------
    image : ndarray of shape (height, width, 3), dtype uint8

    Raises
    ------
    OSError
        Naming the file and the reason in words (empty file, not an image,
        truncated file...) when it cannot be decoded.
    """
    path = os.fspath(path)
    try:
        return _decode(path, size)
    except Exception as exc:
        reason = _failure_reason(exc)
        if reason is None:
            raise
        raise OSError(f"Cannot read image file {path!r}: {reason}") from exc


_ORIENTATION = 0x0112  # the EXIF tag


class _EmptyFile(OSError):
    pass


def _decode(path, size, *, check_only=False):
    from PIL import Image, ImageOps

    if os.path.getsize(path) == 0:
        raise _EmptyFile
    with Image.open(path) as image:
        if check_only:
            # A small draft still reads every byte, so truncation is caught, faster.
            image.draft("RGB", (8, 8))
            image.load()
            return None
        if size is not None:
            # draft only ever shrinks to a scale still >= the requested size.
            image.draft("RGB", (max(size), max(size)))
        if image.getexif().get(_ORIENTATION, 1) != 1:
            image = ImageOps.exif_transpose(image)
        if image.mode != "RGB":
            image = image.convert("RGB")
        if size is not None and image.size != (size[1], size[0]):
            image = image.resize((size[1], size[0]), Image.Resampling.BILINEAR)
        return np.asarray(image, dtype=np.uint8)


def _failure_reason(exc):
    """Why an image file could not be decoded, in words; None for a bug of ours."""
    from PIL import Image, UnidentifiedImageError

    if isinstance(exc, _EmptyFile):
        return "empty file"
    if isinstance(exc, UnidentifiedImageError):
        return "not an image (cannot identify image file)"
    if isinstance(exc, Image.DecompressionBombError):
        return f"too large to decode safely ({exc})"
    if isinstance(exc, (FileNotFoundError, IsADirectoryError, PermissionError)):
        return exc.strerror.lower() if exc.strerror else type(exc).__name__
    message = str(exc)
    if isinstance(exc, OSError) and "truncated" in message.lower():
        return f"truncated file ({message})"
    if isinstance(exc, OSError) and ("decoder" in message or "not supported" in message):
        return f"unsupported format ({message})"
    if isinstance(exc, (OSError, ValueError, SyntaxError, EOFError)):
        return f"corrupt image ({message or type(exc).__name__})"
    return None


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


def load_image_folder(
    path, *, image_size=None, classes=None, extensions=None, n_jobs=None, verbose=0
):
    """Load a folder of images sorted into one subfolder per class.

    The layout is ``path/<class>/<image>`` (images in nested folders below a
    class folder count for that class); give ``path/train`` for a folder split
    into ``train/<class>`` and ``test/<class>``. Every file is decoded once to
    check it: empty files, files that are not images, truncated downloads and
    formats Pillow cannot decode are left out and listed in ``skipped`` with the
    reason, instead of stopping the load at the first one. Nothing under
    ``path`` is ever written, moved or deleted.

    Parameters
    ----------
    path : str or path-like
        The folder holding one subfolder per class.
    image_size : int or tuple of int (height, width), default=None
        Also decode every image to this size and return them as ``images``.
        None returns the file names only (each file is still decoded to check
        it), the input the classifier and :class:`BackboneFeatures` stream from.
    classes : list of str, default=None
        The class subfolders to load, in this order (their index is the
        target). None loads every subfolder whose name does not start with a
        dot, in sorted order.
    extensions : list of str, default=None
        Only consider files with these extensions (``[".jpg", ".png"]``, any
        case); others are skipped as such. None tries every file: whether it is
        an image is decided by its content, not its name.
    n_jobs : int, default=None
        Threads decoding the files. ``None`` means 1 unless in a
        :func:`joblib.parallel_config` context; ``-1`` means all processors.
    verbose : int, default=0
        Above 0, a progress bar on stderr and a summary of the skipped files.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        With the attributes:

        - ``filenames``, ndarray of shape (n_samples,): the paths of the images;
        - ``target``, ndarray of shape (n_samples,): class indices;
        - ``target_names``, list of str: the class names, ``target_names[target]``;
        - ``skipped``, list of ``(path, reason)``: every file not used, and why;
        - ``images``, ndarray of shape (n_samples, height, width, 3), uint8: the
          decoded, resized images (RGB, EXIF orientation applied), only with
          ``image_size``;
        - ``DESCR``: what was loaded, in words.

    See Also
    --------
    read_image : Decode one image file.
    sklearn.datasets.load_files : The same layout for text files.

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib
    >>> from PIL import Image
    >>> from sklearn_vision import load_image_folder
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> for name in ["cats", "dogs"]:
    ...     (root / name).mkdir()
    ...     Image.new("RGB", (40, 30), "white").save(root / name / "a.jpg")
    >>> (root / "dogs" / "empty.jpg").touch()
    >>> data = load_image_folder(root, image_size=16)
    >>> data.target_names, data.target, data.images.shape
    (['cats', 'dogs'], array([0, 1]), (2, 16, 16, 3))
    >>> [(pathlib.Path(p).name, reason) for p, reason in data.skipped]
    [('empty.jpg', 'empty file')]
    """
    from joblib import Parallel, delayed
    from sklearn.utils import Bunch, gen_even_slices

    from ._progress import ProgressBar

    root = os.fspath(path)
    size = check_image_size(image_size)
    class_names = _class_folders(root, classes)
    files, labels, skipped = _list_files(root, class_names, extensions)

    n_chunks = max(1, min(len(files) // 32, 4 * os.cpu_count()))
    chunks = [files[part] for part in gen_even_slices(len(files), n_chunks)]
    progress = ProgressBar(len(files), verbose > 0, unit="files")
    results = Parallel(n_jobs=n_jobs, prefer="threads", return_as="generator")(
        delayed(_check_files)(chunk, size) for chunk in chunks
    )
    keep, images, reasons = [], [], {}
    for chunk, outcomes in zip(chunks, results, strict=True):
        for file, (image, reason) in zip(chunk, outcomes, strict=True):
            if reason is None:
                keep.append(True)
                images.append(image)
            else:
                keep.append(False)
                reasons[file] = reason
        progress.update(len(chunk), detail=f"{len(reasons)} skipped")
    keep = np.asarray(keep, dtype=bool)
    skipped = sorted(skipped + list(reasons.items()))

    filenames = np.asarray(files, dtype=object)[keep]
    labels = np.asarray(labels, dtype=int)[keep]
    if len(filenames) == 0:
        raise ValueError(
            f"No readable image in {root!r}: "
            + (
                f"all {len(skipped)} files skipped ({_summary(skipped)})."
                if skipped
                else "the class folders are empty."
            )
        )
    present = np.unique(labels)
    if len(present) < len(class_names):
        empty = [name for index, name in enumerate(class_names) if index not in present]
        warnings.warn(
            f"Class folders with no readable image, left out: {empty}.", UserWarning, stacklevel=2
        )
        labels = np.searchsorted(present, labels)
        class_names = [class_names[index] for index in present]

    data = Bunch(
        filenames=filenames,
        target=labels,
        target_names=class_names,
        skipped=skipped,
        DESCR=f"{len(filenames)} images of {len(class_names)} classes from {root!r}; "
        f"{len(skipped)} files skipped.",
    )
    if size is not None:
        data.images = np.stack(images)
    if verbose > 0:
        _report_skipped(data)
    return data


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


def _class_folders(root, classes):
    if not os.path.isdir(root):
        if not os.path.exists(root):
            raise FileNotFoundError(f"No such folder: {root!r}.")
        raise NotADirectoryError(f"Expected a folder of class subfolders; {root!r} is a file.")
    found = sorted(
        entry.name
        for entry in os.scandir(root)
        if entry.is_dir() and not entry.name.startswith(".")
    )
    if classes is None:
        if not found:
            raise ValueError(
                f"No class subfolders in {root!r}: expected the layout path/<class>/<image>."
            )
        return found
    classes = [os.fspath(name) for name in classes]
    missing = [name for name in classes if not os.path.isdir(os.path.join(root, name))]
    if missing:
        raise ValueError(f"Class folders {missing} not found in {root!r}; it holds {found}.")
    if len(set(classes)) != len(classes):
        raise ValueError(f"classes lists a folder twice: {classes}.")
    return classes


def _list_files(root, class_names, extensions):
    """Candidate files with their class index, and the files skipped by name."""
    if extensions is not None:
        extensions = {("." + e.lstrip(".")).lower() for e in extensions}
    files, labels, skipped = [], [], []
    for entry in sorted(os.scandir(root), key=lambda entry: entry.name):
        if entry.is_file():
            skipped.append((entry.path, "not in a class folder"))
    for index, name in enumerate(class_names):
        for folder, subfolders, names in os.walk(os.path.join(root, name)):
            subfolders.sort()
            for file_name in sorted(names):
                file = os.path.join(folder, file_name)
                if extensions is not None and os.path.splitext(file)[1].lower() not in extensions:
                    skipped.append((file, f"extension not in {sorted(extensions)}"))
                else:
                    files.append(file)
                    labels.append(index)
    return files, labels, skipped


def _check_files(files, size):
    """``(image or None, reason or None)`` for each file; decoding checks it."""
    outcomes = []
    for file in files:
        try:
            outcomes.append((_decode(file, size, check_only=size is None), None))
        except Exception as exc:
            reason = _failure_reason(exc)
            if reason is None:
                raise
            outcomes.append((None, reason))
    return outcomes


def _summary(skipped):
    """'2 not an image, 1 empty file': the reasons counted, details dropped."""
    from collections import Counter

    counts = Counter(reason.split(" (")[0] for _, reason in skipped)
    return ", ".join(f"{count} {reason}" for reason, count in counts.most_common())


def _report_skipped(data):
    import sys

    summary = f" Skipped: {_summary(data.skipped)}." if data.skipped else ""
    sys.stderr.write(f"{data.DESCR}{summary}\n")

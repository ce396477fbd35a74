"""Image input: validation of arrays and file paths, decoding, and the tf.data pipeline.

Validation and decoding use NumPy and Pillow. TensorFlow is imported only by
:func:`make_dataset`, which feeds a model, and by :func:`load_image_folder` given
an ``image_size``, which decodes JPEG and PNG files with TensorFlow's decoders in
tf.data, as Keras's own loader does, to the same pixels Pillow gives.
"""

import os
import re
import struct
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
    converted to RGB (alpha dropped). With ``size``, a JPEG at least twice as
    large is decoded at a reduced scale first (libjpeg's DCT scaling, 1/2, 1/4
    or 1/8, never below ``size``), then resized bilinearly as
    :func:`tf.image.resize` does (no antialiasing): the pixels Keras's own
    loaders give, and those of :func:`load_image_folder`.

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


def _open(path):
    from PIL import Image

    if os.path.getsize(path) == 0:
        raise _EmptyFile
    return Image.open(path)


def _check(path, size=None):
    """Decode a file only to check it: a small draft still reads every byte, faster."""
    with _open(path) as image:
        image.draft("RGB", (8, 8))
        image.load()


def _decode(path, size):
    from PIL import ImageOps

    with _open(path) as image:
        orientation = image.getexif().get(_ORIENTATION, 1)
        if size is not None:
            # Orientations 5 to 8 turn the stored image a quarter turn.
            height, width = size[::-1] if orientation in (5, 6, 7, 8) else size
            image.draft("RGB", (width, height))  # the scale _jpeg_scale picks
        if orientation != 1:
            image = ImageOps.exif_transpose(image)
        if image.mode != "RGB":
            image = image.convert("RGB")
        image = np.asarray(image, dtype=np.uint8)
    return image if size is None else resize_bilinear(image, size)


def _jpeg_scale(width, height, size):
    """The DCT scale of a JPEG decoded for ``size``: the largest keeping it as large (as draft)."""
    fits = [s for s in _JPEG_SCALES if width >= s * size[1] and height >= s * size[0]]
    return max(fits, default=1)


def _interpolation(in_size, out_size):
    """Source indices and weights of bilinear resizing along one axis, as TensorFlow's.

    ``tf.image.resize`` (half-pixel centres, float32): output ``i`` samples the
    input at ``(i + 0.5) * in_size / out_size - 0.5``.
    """
    scale = np.float32(in_size) / np.float32(out_size)
    position = (np.arange(out_size, dtype=np.float32) + np.float32(0.5)) * scale - np.float32(0.5)
    floor = np.floor(position)
    lower = np.maximum(floor, 0).astype(np.intp)
    upper = np.minimum(np.ceil(position), in_size - 1).astype(np.intp)
    return lower, upper, (position - floor).astype(np.float32)


def resize_bilinear(image, size):
    """Resize an ``(h, w, c)`` uint8 image to ``size`` as ``tf.image.resize`` does, in NumPy.

    Bilinear, without antialiasing, rounded to uint8: the same pixels as the
    TensorFlow op (the one :func:`load_image_folder` runs in tf.data), without
    importing TensorFlow.
    """
    height, width = size
    if image.shape[:2] == (height, width):
        return image
    top, bottom, dy = _interpolation(image.shape[0], height)
    left, right, dx = _interpolation(image.shape[1], width)
    dx = dx[:, np.newaxis]

    def along_width(rows):
        rows = image[rows].astype(np.float32)
        start = rows[:, left]
        return start + (rows[:, right] - start) * dx

    upper = along_width(top)
    resized = upper + (along_width(bottom) - upper) * dy[:, np.newaxis, np.newaxis]
    return np.rint(resized).astype(np.uint8)


# The files TensorFlow's decoders read to the very pixels Pillow gives: 8-bit JPEG
# and PNG in these raw modes (CMYK, 16-bit and 1-4 bit files are left to Pillow).
_TENSORFLOW_READS = {"JPEG": {"RGB", "L"}, "PNG": {"RGB", "RGBA", "L", "LA", "P"}}
_JPEG_SCALES = (1, 2, 4, 8)


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
        Also decode every image to this size and return them as ``images``
        (JPEG and PNG files with TensorFlow's decoders in tf.data, the others
        with Pillow, all to the pixels :func:`read_image` gives). None returns
        the file names only (each file is still decoded to check it), the
        input the classifier and :class:`BackboneFeatures` stream from.
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
    from sklearn.utils import Bunch

    from ._progress import ProgressBar

    root = os.fspath(path)
    size = check_image_size(image_size)
    class_names = _class_folders(root, classes)
    files, labels, skipped = _list_files(root, class_names, extensions)

    progress = ProgressBar(len(files), verbose > 0, unit="files")
    images, reasons = _read_files(files, size, n_jobs, progress)
    keep = np.ones(len(files), dtype=bool)
    keep[list(reasons)] = False
    reasons = {files[index]: reason for index, reason in reasons.items()}
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
        data.images = images if keep.all() else images[keep]
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


def _read_files(files, size, n_jobs, progress):
    """Decode every file to check it: ``(images or None, {index: reason})``.

    Without ``size`` Pillow reads every file (no image kept). With it,
    ``images`` holds one slot per file (those of skipped files unset): JPEG and
    PNG files that TensorFlow decodes to the same pixels as Pillow go through
    tf.data, as in Keras's loader; the others, and those TensorFlow fails on,
    through Pillow, which also says what is wrong with a bad file.
    """
    reasons = {}

    def record(indices, outcomes):
        for index, (image, reason) in zip(indices, outcomes, strict=True):
            if reason is not None:
                reasons[index] = reason
            elif size is not None:
                images[index] = image
        progress.update(len(indices), detail=f"{len(reasons)} skipped")

    if size is None:
        for indices, outcomes in _in_threads(_check, files, range(len(files)), size, n_jobs):
            record(indices, outcomes)
        return None, reasons

    images = np.empty((len(files), *size, 3), dtype=np.uint8)
    done = np.zeros(len(files), dtype=bool)
    # Headers first, in one thread: opening them is Python work (the GIL).
    codes = {}
    for index, (code, reason) in enumerate(_outcomes(_tensorflow_decoder, files, size)):
        if reason is not None:
            record([index], [(None, reason)])
        elif code is not None:
            codes[index] = code
    if codes:
        chosen = np.fromiter(codes, dtype=np.intp, count=len(codes))
        batches = _read_with_tensorflow(
            [os.fsencode(files[index]) for index in chosen],  # any name, as bytes
            np.fromiter(codes.values(), dtype=np.int32, count=len(codes)),
            size,
            n_jobs,
        )
        for positions, batch in batches:
            indices = chosen[positions]
            images[indices] = batch
            done[indices] = True
            progress.update(len(indices), detail=f"{len(reasons)} skipped")
    done[list(reasons)] = True
    rest = np.flatnonzero(~done)
    for indices, outcomes in _in_threads(_decode, files, rest, size, n_jobs):
        record(indices, outcomes)
    return images, reasons


def _read_with_tensorflow(files, codes, size, n_jobs):
    """Decode and resize files in tf.data; yield ``(indices, images)`` batches.

    ``codes`` are :func:`_tensorflow_decoder`'s, one per file. Files TensorFlow fails to
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
            for scale in _JPEG_SCALES
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


def _tensorflow_decoder(path, size):
    """Read a file's header: its decoder in :func:`_read_with_tensorflow`, or None for Pillow.

    0 is TensorFlow's PNG decoder, 1 to 4 its JPEG decoder at the scale
    ``_JPEG_SCALES[code - 1]``. None when the file needs Pillow (another format
    or mode, a JPEG with an EXIF orientation, a PNG with EXIF data). Raises as
    :func:`_decode` for empty files and files that are not images.
    """
    with _open(path) as image:
        args = image.tile[0][3] if len(image.tile) == 1 else None
        raw_mode = args[0] if isinstance(args, tuple) else args
        if raw_mode not in _TENSORFLOW_READS.get(image.format, ()):
            return None
        if image.format == "PNG":
            return None if _png_has_exif(path) else 0
        if image.getexif().get(_ORIENTATION, 1) != 1:
            return None
        return 1 + _JPEG_SCALES.index(_jpeg_scale(*image.size, size))


def _png_has_exif(path):
    """Whether a PNG file holds an eXIf chunk, before or after its image data.

    Pillow sees one after the image data only by decoding the image; walking
    the chunk headers (8 bytes each, seeking over the data) finds it cheaply.
    """
    with open(path, "rb") as file:
        file.seek(8)  # the PNG signature
        while len(header := file.read(8)) == 8:
            length, kind = struct.unpack(">I4s", header)
            if kind in (b"eXIf", b"IEND"):
                return kind == b"eXIf"
            file.seek(length + 4, os.SEEK_CUR)  # the data and its CRC
    return False


def _in_threads(function, files, indices, size, n_jobs):
    """Yield ``(indices, [(function(file, size), None) or (None, reason), ...])`` by chunk."""
    from joblib import Parallel, delayed
    from sklearn.utils import gen_even_slices

    indices = np.asarray(indices, dtype=np.intp)
    if len(indices) == 0:
        return
    n_chunks = max(1, min(len(indices) // 32, 4 * os.cpu_count()))
    chunks = [indices[part] for part in gen_even_slices(len(indices), n_chunks)]
    results = Parallel(n_jobs=n_jobs, prefer="threads", return_as="generator")(
        delayed(_outcomes)(function, [files[index] for index in chunk], size) for chunk in chunks
    )
    yield from zip(chunks, results, strict=True)


def _outcomes(function, files, size):
    outcomes = []
    for file in files:
        try:
            outcomes.append((function(file, size), None))
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

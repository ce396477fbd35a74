"""Decoding image files: Pillow's decoders, and the resize TensorFlow's matches.

Also reads a file's header to tell whether TensorFlow's decoders give the very
pixels Pillow gives (8-bit JPEG and PNG without an EXIF rotation), so
:func:`load_image_folder` can decode those in tf.data. NumPy and Pillow only.
"""

import os
import struct

import numpy as np
from sklearn.utils._param_validation import validate_params

from ._images import check_image_size

_ORIENTATION = 0x0112  # the EXIF tag


# The files TensorFlow's decoders read to the very pixels Pillow gives: 8-bit JPEG
# and PNG in these raw modes (CMYK, 16-bit and 1-4 bit files are left to Pillow).
TENSORFLOW_READS = {"JPEG": {"RGB", "L"}, "PNG": {"RGB", "RGBA", "L", "LA", "P"}}


JPEG_SCALES = (1, 2, 4, 8)


class _EmptyFile(OSError):
    pass


@validate_params(
    {"path": [str, os.PathLike], "size": [tuple, list, None]},
    prefer_skip_nested_validation=True,
)
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
    return read_file(os.fspath(path), check_image_size(size))


def read_file(path, size):
    """:func:`read_image` without its checks, for the loops that call it per file."""
    try:
        return decode_file(path, size)
    except Exception as exc:
        reason = failure_reason(exc)
        if reason is None:
            raise
        raise OSError(f"Cannot read image file {path!r}: {reason}") from exc


def _open(path):
    from PIL import Image

    if os.path.getsize(path) == 0:
        raise _EmptyFile
    return Image.open(path)


def check_file(path, size=None):
    """Decode a file only to check it: a small draft still reads every byte, faster."""
    with _open(path) as image:
        image.draft("RGB", (8, 8))
        image.load()


def decode_file(path, size):
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
    fits = [s for s in JPEG_SCALES if width >= s * size[1] and height >= s * size[0]]
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


def failure_reason(exc):
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


def tensorflow_decoder(path, size):
    """Read a file's header: its decoder in :func:`read_with_tensorflow`, or None for Pillow.

    0 is TensorFlow's PNG decoder, 1 to 4 its JPEG decoder at the scale
    ``JPEG_SCALES[code - 1]``. None when the file needs Pillow (another format
    or mode, a JPEG with an EXIF orientation, a PNG with EXIF data). Raises as
    :func:`decode_file` for empty files and files that are not images.
    """
    with _open(path) as image:
        args = image.tile[0][3] if len(image.tile) == 1 else None
        raw_mode = args[0] if isinstance(args, tuple) else args
        if raw_mode not in TENSORFLOW_READS.get(image.format, ()):
            return None
        if image.format == "PNG":
            return None if _png_has_exif(path) else 0
        if image.getexif().get(_ORIENTATION, 1) != 1:
            return None
        return 1 + JPEG_SCALES.index(_jpeg_scale(*image.size, size))


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

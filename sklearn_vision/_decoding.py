"""Decoding image files: Pillow's decoders, and the resize TensorFlow's matches.

Also reads a file's header to tell whether TensorFlow's decoders give the very
pixels Pillow gives (8-bit JPEG and PNG without an EXIF rotation), so
:func:`load_image_folder` can decode those in tf.data. NumPy and Pillow only.
"""

import os
import struct

import numpy as np
from sklearn.utils._param_validation import validate_params

from ._dicom import (
    UnreadableImage,
    check_pixel_count,
    has_dicom_extension,
    has_dicom_preamble,
    read_dicom,
    regular_file_size,
)
from ._images import check_image_size
from ._intensity import check_window, scale_to_255

_ORIENTATION = 0x0112  # the EXIF tag


# The files TensorFlow's decoders read to the very pixels Pillow gives: 8-bit JPEG
# and PNG in these raw modes (CMYK, 16-bit and 1-4 bit files are left to Pillow).
TENSORFLOW_READS = {"JPEG": {"RGB", "L"}, "PNG": {"RGB", "RGBA", "L", "LA", "P"}}


JPEG_SCALES = (1, 2, 4, 8)

# Pillow's modes for more than 8 bits a channel: 16-bit integers (PNG, TIFF),
# 32-bit integers and 32-bit floats (TIFF). They are read at full depth and
# scaled by the window rule; ``convert("RGB")`` would clip them to 255.
_DEEP_MODES = {"I;16": 16, "I;16L": 16, "I;16B": 16, "I;16N": 16, "I": 32, "F": None}


class _EmptyFile(OSError):
    pass


@validate_params(
    {
        "path": [str, os.PathLike],
        "size": [tuple, list, None],
        "window": [str, tuple, list],
    },
    prefer_skip_nested_validation=True,
)
def read_image(path, size=None, *, window="auto"):
    """Decode one image file to an RGB array, optionally resized to ``(h, w)``.

    EXIF orientation is applied; grayscale, palette, CMYK and alpha images are
    converted to RGB (alpha dropped). With ``size``, a JPEG at least twice as
    large is decoded at a reduced scale first (libjpeg's DCT scaling, 1/2, 1/4
    or 1/8, never below ``size``), then resized bilinearly as
    `tf.image.resize <https://www.tensorflow.org/api_docs/python/tf/image/resize>`__
    does (no antialiasing): the pixels Keras's own
    loaders give, and those of :func:`load_image_folder`.

    8-bit files give their pixels as they are (uint8). Deeper files (16-bit
    PNG and TIFF, 32-bit integer and float TIFF, DICOM) are read at full depth
    and scaled linearly to float32 values in [0, 255], the range the
    pretrained backbones expect, by ``window``; nothing is clipped unless a
    window asks for it.

    Parameters
    ----------
    path : str or path-like
        The image file. Any format Pillow reads: JPEG, PNG, BMP, GIF, TIFF,
        WebP...; and DICOM with the ``sklearn-vision[dicom]`` extra (pydicom).
    size : tuple of int (height, width), default=None
        Resize to this size; None keeps the file's size.
    window : "auto", "minmax" or a pair, default="auto"
        How deep pixel values map to [0, 255] (8-bit files are never changed):

        - ``"auto"``: integer files by their bit depth, 0 to ``2**bits - 1``
          with the significant bits a PNG declares in its sBIT chunk, the
          stored bits otherwise (16 for a 16-bit PNG or TIFF, so 12-bit data
          in a 16-bit file without sBIT comes out dark: give
          ``window=(0, 4095)``); float files by ``"minmax"``; DICOM by the
          file's VOI window (WindowCenter, WindowWidth), or ``"minmax"``
          without one.
        - ``"minmax"``: the image's own minimum to maximum.
        - ``(low, high)``: these values (after RescaleSlope and
          RescaleIntercept for DICOM, so Hounsfield units for CT, e.g.
          ``(-160, 240)`` for soft tissue); values outside are set to 0 and 255.
        - ``("1%", "99%")``: the image's own percentiles, the same way.

    Returns
    -------
    image : ndarray of shape (height, width, 3)
        uint8 for 8-bit files, float32 in [0, 255] for deeper ones.

    Only regular files are opened (a named pipe, a socket or a device is
    refused unopened), and only images of at most ``2**25`` pixels (5792 x
    5792), checked from the header before decoding, so that a small file
    cannot claim gigabytes. Float files and DICOM files whose values are NaN
    or infinite are refused: no window scales them, and no pixel is replaced
    silently.

    Raises
    ------
    OSError
        Naming the file and the reason in words (empty file, not an image,
        truncated file, not a regular file, too many pixels, NaN values, a
        damaged DICOM file, a DICOM file without pydicom...) when it cannot
        be decoded.
    """
    return read_file(os.fspath(path), check_image_size(size), check_window(window))


def read_file(path, size, window="auto"):
    """:func:`read_image` without its checks, for the loops that call it per file."""
    try:
        return decode_file(path, size, window)
    except Exception as exc:
        reason = failure_reason(exc)
        if reason is None:
            raise
        raise OSError(f"Cannot read image file {path!r}: {reason}") from exc


def _open(path):
    """The file as a Pillow image, its header read; None for a DICOM file.

    Only regular files are opened, and only images within :data:`MAX_PIXELS`
    are returned. Pillow tries first: a PNG with 'DICM' at byte 128 is a PNG;
    a file named .dcm, or one Pillow does not know with the DICOM preamble, is
    left to pydicom.
    """
    from PIL import Image, UnidentifiedImageError

    if regular_file_size(path) == 0:
        raise _EmptyFile
    if has_dicom_extension(path):
        return None
    try:
        image = Image.open(path)
    except UnidentifiedImageError:
        if has_dicom_preamble(path):
            return None
        raise
    try:
        check_pixel_count(image.height, image.width)
    except UnreadableImage:
        image.close()
        raise
    return image


def check_file(path, size=None, window="auto"):
    """Decode a file only to check it: a small draft still reads every byte, faster."""
    image = _open(path)
    if image is None:
        read_dicom(path, window)
        return
    with image:
        image.draft("RGB", (8, 8))
        image.load()
        if image.mode == "F":
            _check_finite(np.asarray(image))


def decode_file(path, size, window="auto"):
    from PIL import ImageOps

    image = _open(path)
    if image is None:
        image = read_dicom(path, window)
        return image if size is None else resize_bilinear(image, size)
    with image:
        orientation = image.getexif().get(_ORIENTATION, 1)
        if size is not None:
            # Orientations 5 to 8 turn the stored image a quarter turn.
            height, width = size[::-1] if orientation in (5, 6, 7, 8) else size
            image.draft("RGB", (width, height))  # the scale _jpeg_scale picks
        if orientation != 1:
            image = ImageOps.exif_transpose(image)
        if image.mode in _DEEP_MODES:
            return _deep_to_rgb(path, image, window, size)
        if image.mode != "RGB":
            image = image.convert("RGB")
        image = np.asarray(image, dtype=np.uint8)
    return image if size is None else resize_bilinear(image, size)


def _check_finite(values):
    """UnreadableImage for float pixel values holding NaN or infinity."""
    if values.dtype.kind == "f" and not np.isfinite(values).all():
        raise UnreadableImage(
            "NaN or infinite pixel values in a float image (no window can scale "
            "them): fix or drop the file"
        )


def _deep_to_rgb(path, image, window, size):
    """A 16-bit or 32-bit single-channel Pillow image as float32 RGB in [0, 255].

    Scaled, then resized to ``size``, then made RGB: one float32 copy at the
    file's size, the three channels only at the size asked for.
    """
    values = np.asarray(image)
    _check_finite(values)
    image.close()  # its pixels are in ``values`` now
    if values.dtype.byteorder not in ("=", "|"):
        values = values.astype(values.dtype.newbyteorder("="))
    bits = _DEEP_MODES[image.mode]
    if bits is not None and image.format == "PNG":
        declared = _png_significant_bits(path)
        if declared is not None and values.max() < 2**declared:
            bits = declared
    if bits == 32:
        bits = None  # 32-bit integers: their range, not 2**32
    scaled = scale_to_255(values, window, bits)
    del values
    if size is not None:
        scaled = resize_bilinear(scaled[..., np.newaxis], size)[..., 0]
    return np.repeat(scaled[..., np.newaxis], 3, axis=-1)


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
    """Resize an ``(h, w, c)`` image to ``size`` as ``tf.image.resize`` does, in NumPy.

    Bilinear, without antialiasing; uint8 images are rounded back to uint8
    (the same pixels as the TensorFlow op :func:`load_image_folder` runs in
    tf.data), float32 ones stay float32. TensorFlow is not imported.
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
    if image.dtype != np.uint8:
        return resized.astype(np.float32)
    return np.rint(resized).astype(np.uint8)


def failure_reason(exc):
    """Why an image file could not be decoded, in words; None for a bug of ours."""
    from PIL import Image, UnidentifiedImageError

    if isinstance(exc, _EmptyFile):
        return "empty file"
    if isinstance(exc, UnreadableImage):
        return str(exc)
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
    if _raised_in_pillow(exc):  # its decoders meet damaged data with any error
        return f"corrupt image ({type(exc).__name__}: {message[:150]})"
    return None


def _raised_in_pillow(exc):
    """Whether ``exc`` was raised inside Pillow (not in our code)."""
    import PIL

    traceback = exc.__traceback__
    while traceback is not None and traceback.tb_next is not None:
        traceback = traceback.tb_next
    if traceback is None:
        return False
    pillow = os.path.dirname(PIL.__file__) + os.sep
    return traceback.tb_frame.f_code.co_filename.startswith(pillow)


def tensorflow_decoder(path, size):
    """Read a file's header: its decoder in :func:`read_with_tensorflow`, or None for Pillow.

    0 is TensorFlow's PNG decoder, 1 to 4 its JPEG decoder at the scale
    ``JPEG_SCALES[code - 1]``. None when the file needs Pillow (another format
    or mode, a JPEG with an EXIF orientation, a PNG with EXIF data). Raises as
    :func:`decode_file` for empty files and files that are not images.
    """
    image = _open(path)
    if image is None:
        return None
    with image:
        args = image.tile[0][3] if len(image.tile) == 1 else None
        raw_mode = args[0] if isinstance(args, tuple) else args
        if raw_mode not in TENSORFLOW_READS.get(image.format, ()):
            return None
        if image.format == "PNG":
            return None if _png_has_exif(path) else 0
        if image.getexif().get(_ORIENTATION, 1) != 1:
            return None
        return 1 + JPEG_SCALES.index(_jpeg_scale(*image.size, size))


def _png_chunk(path, wanted, stop=b"IEND"):
    """The data of a PNG file's first ``wanted`` chunk before ``stop``, or None.

    Walks the chunk headers (8 bytes each, seeking over the data): cheap, and
    it finds chunks Pillow reads only by decoding the image, or not at all.
    """
    regular_file_size(path)
    with open(path, "rb") as file:
        file.seek(8)  # the PNG signature
        while len(header := file.read(8)) == 8:
            length, kind = struct.unpack(">I4s", header)
            if kind == wanted:
                return file.read(length)
            if kind == stop:
                return None
            file.seek(length + 4, os.SEEK_CUR)  # the data and its CRC
    return None


def _png_has_exif(path):
    """Whether a PNG file holds an eXIf chunk, before or after its image data."""
    return _png_chunk(path, b"eXIf") is not None


def _png_significant_bits(path):
    """The bits a grayscale PNG declares significant in its sBIT chunk, or None."""
    data = _png_chunk(path, b"sBIT", stop=b"IDAT")
    return data[0] if data else None

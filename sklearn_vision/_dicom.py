"""Reading DICOM files with pydicom (the optional ``sklearn-vision[dicom]`` extra).

The stored values go through the file's Modality LUT (RescaleSlope and
RescaleIntercept: Hounsfield units for CT), then its VOI window (WindowCenter
and WindowWidth, as a DICOM viewer shows the image) unless a window is given,
and MONOCHROME1 images are inverted so that high values are bright.
"""

from collections.abc import Sequence

import os
import stat

import numpy as np

from ._intensity import check_window, scale_to_255

DICOM_EXTENSIONS = (".dcm", ".dicom")

# The most pixels a file may hold: refused from its header, before decoding, so that
# a small file cannot claim gigabytes (a 16-bit image of this size decodes in about
# 0.5 GB at most). 2**25 is 5792 x 5792, above any mammogram or radiograph.
MAX_PIXELS = 2**25


class UnreadableImage(OSError):
    """A file that is an image format we know, but that cannot be read here; says why."""


_FILE_KINDS = {
    stat.S_ISFIFO: "a named pipe (FIFO)",
    stat.S_ISSOCK: "a socket",
    stat.S_ISCHR: "a character device",
    stat.S_ISBLK: "a block device",
    stat.S_ISDIR: "a folder",
}


def regular_file_size(path):
    """The size of ``path`` in bytes; UnreadableImage unless it is a regular file.

    Pipes, sockets and devices are never opened: opening a named pipe waits
    forever for a writer, and a device can be read without end.
    """
    mode = os.stat(path).st_mode
    if not stat.S_ISREG(mode):
        kind = next((name for test, name in _FILE_KINDS.items() if test(mode)), "not a file")
        raise UnreadableImage(f"not a regular file ({kind}); never opened")
    return os.stat(path).st_size


def check_pixel_count(height, width):
    """UnreadableImage for an image larger than :data:`MAX_PIXELS`, from its header."""
    if height * width > MAX_PIXELS:
        raise UnreadableImage(
            f"too large: {width} x {height} pixels, over the limit of {MAX_PIXELS:,} "
            "(checked from the header before decoding); crop or downsample the file"
        )


def has_dicom_extension(path):
    """Whether ``path`` is named as a DICOM file (.dcm, .dicom)."""
    return str(path).lower().endswith(DICOM_EXTENSIONS)


def has_dicom_preamble(path):
    """Whether the regular file ``path`` has the 'DICM' marker at byte 128."""
    with open(path, "rb") as file:
        file.seek(128)
        return file.read(4) == b"DICM"


def _first(value):
    """The first of a multi-valued DICOM element (WindowCenter may hold several)."""
    if isinstance(value, Sequence) and not isinstance(value, str):
        value = value[0]
    return float(value)


def voi_window(dataset):
    """The file's first VOI window as (low, high) in modality units, or None.

    The linear function of DICOM PS3.3 C.11.2.1.2: values up to
    ``center - 0.5 - (width - 1) / 2`` are black, from ``center - 0.5 + (width - 1) / 2``
    white (``LINEAR_EXACT``: ``center -+ width / 2``).
    """
    if "WindowCenter" not in dataset or "WindowWidth" not in dataset:
        return None
    center, width = _first(dataset.WindowCenter), _first(dataset.WindowWidth)
    if dataset.get("VOILUTFunction", "LINEAR") == "LINEAR_EXACT":
        return (center - width / 2, center + width / 2) if width > 0 else None
    if width < 1:
        return None
    half = (width - 1) / 2
    return center - 0.5 - half, center - 0.5 + half


def read_dicom(path, window="auto"):
    """Decode a single-frame DICOM file to a float32 RGB array in [0, 255].

    ``window="auto"`` uses the file's VOI window when it has one and the
    image's minimum and maximum otherwise; any other ``window`` applies to the
    values after the Modality LUT (Hounsfield units for CT). A file pydicom
    cannot parse, or whose elements are missing or malformed (no Rows, a
    non-numeric RescaleSlope, a short LUT...), raises UnreadableImage saying
    why; so does one whose values are NaN or infinite.
    """
    window = check_window(window)
    try:
        import pydicom
    except ImportError:
        raise UnreadableImage(
            "a DICOM file, and pydicom is not installed: install sklearn-vision[dicom]"
        ) from None
    try:
        dataset = pydicom.dcmread(path)
    except pydicom.errors.InvalidDicomError as exc:
        raise UnreadableImage(f"not a valid DICOM file ({exc})") from None
    except UnreadableImage:
        raise
    except Exception as exc:  # pydicom's parser raises many kinds on damaged files
        raise UnreadableImage(f"a damaged DICOM file ({_in_words(exc)})") from exc
    try:
        return _dicom_pixels(dataset, window)
    except UnreadableImage:
        raise
    except Exception as exc:  # a missing, mistyped or inconsistent element
        raise UnreadableImage(f"a damaged DICOM file ({_in_words(exc)})") from exc


def _in_words(exc):
    """An exception as one short line: its type and the start of its message."""
    message = " ".join(str(exc).split())
    message = message if len(message) <= 150 else message[:147] + "..."
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def _dicom_pixels(dataset, window):
    from pydicom.pixels import apply_modality_lut

    if not any(key in dataset for key in ("PixelData", "FloatPixelData", "DoubleFloatPixelData")):
        raise UnreadableImage("a DICOM file without pixel data (not an image)")
    frames = int(dataset.get("NumberOfFrames", 1) or 1)
    if frames > 1:
        raise UnreadableImage(
            f"a multi-frame DICOM file ({frames} frames); only single-frame images are "
            "read: export the frames you need as single files"
        )
    check_pixel_count(int(dataset.Rows), int(dataset.Columns))
    try:
        pixels = dataset.pixel_array
    except (RuntimeError, NotImplementedError) as exc:
        syntax = dataset.file_meta.get("TransferSyntaxUID")
        name = getattr(syntax, "name", "an unknown transfer syntax")
        detail = " ".join(str(exc).split())
        raise UnreadableImage(
            f"compressed DICOM ({name}) that no installed pixel-data decoder reads: {detail}"
        ) from None
    photometric = dataset.get("PhotometricInterpretation", "MONOCHROME2")
    if photometric in ("MONOCHROME1", "MONOCHROME2"):
        values = apply_modality_lut(pixels, dataset)
        if not np.isfinite(values).all():
            raise UnreadableImage(
                "NaN or infinite values after the Modality LUT (RescaleSlope "
                f"{dataset.get('RescaleSlope', 1)}, RescaleIntercept "
                f"{dataset.get('RescaleIntercept', 0)}): fix or drop the file"
            )
        if window == "auto":
            file_window = voi_window(dataset)
            window = file_window if file_window is not None else "minmax"
        image = scale_to_255(values, window)
        if photometric == "MONOCHROME1":
            image = 255.0 - image
        return np.repeat(image[..., np.newaxis], 3, axis=-1)
    if pixels.ndim != 3 or pixels.shape[-1] != 3:
        raise UnreadableImage(
            f"a DICOM image of {photometric} with pixel array shape {pixels.shape}, "
            "neither grayscale nor RGB"
        )
    bits = int(dataset.get("BitsStored", 8))
    if window == "auto" and bits == 8:
        return pixels.astype(np.float32)
    return scale_to_255(pixels, window, bits)

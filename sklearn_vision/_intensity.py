"""Scaling deep pixel values (16-bit, float, DICOM) to the [0, 255] range backbones expect.

One rule, in one place, for every reader: :func:`read_image`, the folder and
manifest loaders, and file paths given to the estimators. NumPy only.
"""

import numbers

import numpy as np

WINDOW_HELP = (
    '"auto", "minmax", a pair of numbers (low, high) or a pair of percentiles '
    'written as strings such as ("1%", "99%")'
)


def _percentile(value):
    if isinstance(value, str) and value.endswith("%"):
        try:
            number = float(value[:-1])
        except ValueError:
            return None
        return number if 0 <= number <= 100 else None
    return None


def check_window(window):
    """Return ``window`` checked: ``"auto"``, ``"minmax"``, or ``(kind, low, high)``.

    ``kind`` is ``"values"`` or ``"percentiles"``.
    """
    if isinstance(window, str) and window in ("auto", "minmax"):
        return window
    if isinstance(window, tuple) and len(window) == 3 and window[0] in ("values", "percentiles"):
        return window  # checked already
    if isinstance(window, (tuple, list)) and len(window) == 2:
        low, high = window
        if all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in window):
            if np.isfinite([low, high]).all() and low < high:
                return ("values", float(low), float(high))
        percentiles = [_percentile(v) for v in window]
        if None not in percentiles and percentiles[0] < percentiles[1]:
            return ("percentiles", *percentiles)
    raise ValueError(f"window must be {WINDOW_HELP}, with low < high; got {window!r}.")


def scale_to_255(values, window, bits=None):
    """Map deep pixel ``values`` linearly to float32 in [0, 255] by ``window``.

    ``"auto"``: integers by their bit depth ``bits`` (0 to ``2**bits - 1``),
    floats (and integers without a depth) by ``"minmax"``. ``"minmax"``: the
    image's own minimum and maximum. A pair of values or percentiles: that
    window, values below and above it at 0 and 255 (what a window means).
    A constant image under ``"minmax"`` is all 0.
    """
    values = np.asarray(values)
    window = check_window(window)
    if window == "auto":
        if values.dtype.kind in "ui" and bits is not None and values.min() >= 0:
            low, high = 0.0, float(2**bits - 1)
        else:
            window = "minmax"
    if window == "minmax":
        low, high = float(values.min()), float(values.max())
    elif window != "auto":
        kind, low, high = window
        if kind == "percentiles":
            low, high = (float(v) for v in np.percentile(values, [low, high]))
    if high <= low:
        return np.zeros(values.shape, dtype=np.float32)
    # In place on one float64 copy: a large image costs that copy and the result only.
    scaled = values.astype(np.float64)
    scaled -= low
    scaled *= 255.0 / (high - low)
    np.clip(scaled, 0.0, 255.0, out=scaled)
    return scaled.astype(np.float32)

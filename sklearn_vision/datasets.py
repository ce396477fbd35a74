"""Demo data bundled with the package (through scikit-learn): nothing is downloaded."""

from numbers import Integral, Real

import numpy as np
from scipy.ndimage import affine_transform, zoom
from sklearn.datasets import load_digits
from sklearn.utils import Bunch, check_random_state
from sklearn.utils._param_validation import Interval, validate_params


@validate_params(
    {
        "image_size": [Interval(Integral, 1, None, closed="left")],
        "n_class": [Interval(Integral, 1, 10, closed="both")],
        "return_X_y": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def load_digits_images(*, image_size=32, n_class=10, return_X_y=False):
    """Load scikit-learn's handwritten digits as RGB images.

    The 1797 8x8 grayscale digits that ship with scikit-learn, upscaled
    (bilinear) to ``image_size`` pixels and repeated to three uint8 channels in
    [0, 255], the input a Keras image model takes. Small enough to train a
    convnet on a CPU in seconds; nothing is downloaded.

    Parameters
    ----------
    image_size : int, default=32
        Height and width of the returned images (8 keeps the original pixels).
    n_class : int, default=10
        Number of classes to return (digits 0 to ``n_class - 1``).
    return_X_y : bool, default=False
        Return ``(images, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``images`` of shape (n_samples, image_size, image_size, 3), dtype uint8;
        ``target`` of shape (n_samples,); ``target_names``; ``DESCR``.
    (images, target) : tuple
        With ``return_X_y=True``.

    Examples
    --------
    >>> from sklearn_vision.datasets import load_digits_images
    >>> X, y = load_digits_images(image_size=32, return_X_y=True)
    >>> X.shape, X.dtype, y[:5]
    ((1797, 32, 32, 3), dtype('uint8'), array([0, 1, 2, 3, 4]))
    """
    digits = load_digits(n_class=n_class)
    gray = digits.images * (255.0 / 16.0)
    if image_size != 8:
        factor = image_size / 8
        gray = zoom(gray, (1, factor, factor), order=1, grid_mode=True, mode="nearest")
    images = np.repeat(np.clip(np.rint(gray), 0, 255).astype(np.uint8)[..., None], 3, axis=-1)
    if return_X_y:
        return images, digits.target
    return Bunch(
        images=images,
        target=digits.target,
        target_names=digits.target_names,
        DESCR="scikit-learn's 8x8 digits upscaled to RGB images of "
        f"{image_size}x{image_size} pixels.",
    )


@validate_params(
    {
        "n_views": [Interval(Integral, 1, None, closed="left"), tuple, list],
        "shift": [Interval(Real, 0, None, closed="left")],
        "rotation": [Interval(Real, 0, 180, closed="both")],
        "noise": [Interval(Real, 0, None, closed="left")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_patient_digits(*, n_views=(4, 8), shift=0.5, rotation=5.0, noise=1.0, random_state=None):
    """scikit-learn's digits as patients: several correlated views of each digit.

    Medical datasets hold several images per patient, far more alike than
    images of different patients. Here each of the 1797 digits is a patient,
    seen in ``n_views`` views: the digit shifted by up to ``shift`` pixels,
    rotated by up to ``rotation`` degrees (bilinear, :func:`scipy.ndimage.affine_transform`)
    and with Gaussian pixel noise of standard deviation ``noise``, clipped to
    the digits' range [0, 16]. A split that puts views of one patient on both
    sides scores a model on near-copies of its training images: the data to
    show why ``groups`` matter.

    Parameters
    ----------
    n_views : int or tuple of int (low, high), default=(4, 8)
        Views per patient, or the range they are drawn from (both included).
    shift : float, default=0.5
        Largest shift, in pixels, along each axis.
    rotation : float, default=5.0
        Largest rotation, in degrees.
    noise : float, default=1.0
        Standard deviation of the pixel noise (pixels range from 0 to 16).
    random_state : int, RandomState instance or None, default=None
        Seeds the views.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``data`` of shape (n_views_total, 64) and ``images`` of shape
        (n_views_total, 8, 8), floats in [0, 16] as :func:`~sklearn.datasets.load_digits`;
        ``target``; ``groups``, the patient (digit) of each view; ``DESCR``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_vision.datasets import make_patient_digits
    >>> data = make_patient_digits(n_views=5, random_state=0)
    >>> data.data.shape, len(np.unique(data.groups))
    ((8985, 64), 1797)
    """
    rng = check_random_state(random_state)
    digits = load_digits()
    low, high = (n_views, n_views) if np.isscalar(n_views) else n_views
    counts = rng.randint(low, high + 1, size=len(digits.images))
    patients = np.repeat(np.arange(len(digits.images)), counts)
    views = np.stack([_random_view(digits.images[p], shift, rotation, rng) for p in patients])
    views = np.clip(views + rng.normal(0.0, noise, views.shape), 0.0, 16.0)
    return Bunch(
        data=views.reshape(len(views), -1),
        images=views,
        target=digits.target[patients],
        groups=patients,
        DESCR=f"scikit-learn's 1797 digits as patients: {len(views)} views, {low} to {high} "
        "per digit (shifted, rotated, noisy).",
    )


def _random_view(image, shift, rotation, rng):
    """An 8x8 digit rotated about its centre and shifted, by angles and pixels drawn from rng."""
    angle = np.deg2rad(rng.uniform(-rotation, rotation))
    turn = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    centre = np.array([3.5, 3.5])
    offset = centre - turn @ centre + rng.uniform(-shift, shift, 2)
    return affine_transform(image, turn, offset=offset, order=1, mode="constant")

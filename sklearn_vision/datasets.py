"""Demo data bundled with the package (through scikit-learn): nothing is downloaded."""

import numpy as np
from scipy.ndimage import zoom
from sklearn.datasets import load_digits
from sklearn.utils import Bunch


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

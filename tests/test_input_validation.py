"""Image input validation: arrays and paths in, clear errors out (``_images.py``)."""

import numpy as np
import pytest

from sklearn_vision._images import check_images


def test_check_images_forms():
    rgb = np.zeros((4, 8, 8, 3), np.uint8)
    assert check_images(rgb).data.shape == (4, 8, 8, 3)
    assert check_images(rgb[..., 0]).data.shape == (4, 8, 8, 1)
    assert check_images(list(rgb)).data.shape == (4, 8, 8, 3)
    paths = check_images(["a.png", "b.jpg"])
    assert paths.is_paths and list(paths.data) == ["a.png", "b.jpg"]
    assert check_images(np.array([["a.png"], ["b.png"]])).is_paths
    assert check_images(rgb).n_features == 8 * 8 * 3


def test_float_images_in_unit_range_warn():
    with pytest.warns(UserWarning, match=r"pixel values in \[0, 255\]"):
        check_images(np.full((2, 8, 8, 3), 0.5))


def test_empty_input_is_refused():
    with pytest.raises(ValueError, match="0 images"):
        check_images(np.zeros((0, 8, 8, 3)))
    with pytest.raises(ValueError, match="empty list"):
        check_images([])

"""Image input validation: arrays and paths in, clear errors out (``_images.py``).

Through :class:`BackboneFeatures`, whose ``fit`` checks its input before it builds a model.
"""

import numpy as np
import pytest
from PIL import Image

from sklearn_vision import BackboneFeatures

from .conftest import small_features


def test_image_forms(tmp_path, fresh_cache):
    grey = np.random.default_rng(0).integers(0, 256, (4, 32, 32), dtype=np.uint8)
    rgb = np.repeat(grey[..., np.newaxis], 3, axis=-1)
    features = small_features().fit(rgb)
    assert features.n_features_in_ == 32 * 32 * 3
    expected = features.transform(rgb)
    np.testing.assert_allclose(features.transform(list(rgb)), expected, rtol=1e-5, atol=1e-6)
    # Grey (n, h, w) is one channel, read as RGB.
    np.testing.assert_allclose(features.transform(grey), expected, rtol=1e-5, atol=1e-6)
    paths = [str(tmp_path / "a.png"), str(tmp_path / "b.png")]
    for image, path in zip(rgb[:2], paths, strict=True):
        Image.fromarray(image).save(path)
    assert small_features().fit(paths).n_features_in_ == 1  # a column of paths
    for form in [paths, np.array(paths)[:, np.newaxis]]:
        np.testing.assert_allclose(features.transform(form), expected[:2], rtol=1e-4, atol=1e-5)


def test_float_images_in_unit_range_warn():
    with pytest.warns(UserWarning, match=r"pixel values in \[0, 255\]"):
        small_features().fit(np.full((2, 8, 8, 3), 0.5))


def test_empty_input_is_refused():
    with pytest.raises(ValueError, match="0 images"):
        BackboneFeatures().fit(np.zeros((0, 8, 8, 3)))
    with pytest.raises(ValueError, match="empty list"):
        BackboneFeatures().fit([])

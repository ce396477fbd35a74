"""Decoding one file: modes, EXIF orientation, bad files, the resize TensorFlow's matches."""

import numpy as np
import pytest
from PIL import Image

from sklearn_vision import read_image
from sklearn_vision._decoding import resize_bilinear


@pytest.mark.parametrize(
    "mode, color",
    [("L", 128), ("RGBA", (10, 20, 30, 0)), ("CMYK", (0, 255, 255, 0)), ("P", 3)],
)
def test_read_image_converts_to_rgb(tmp_path, mode, color):
    extension = "jpg" if mode == "CMYK" else "png"
    path = tmp_path / f"image.{extension}"
    Image.new(mode, (6, 4), color).save(path)
    image = read_image(path)
    assert image.shape == (4, 6, 3) and image.dtype == np.uint8
    if mode == "CMYK":  # cyan-free, magenta and yellow full: red
        assert image[0, 0, 0] > 200 and image[0, 0, 1] < 60
    assert read_image(path, (10, 12)).shape == (10, 12, 3)


def test_read_image_applies_exif_orientation(tmp_path):
    path = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    Image.new("RGB", (6, 4)).save(path, exif=exif)
    assert read_image(path).shape == (6, 4, 3)


@pytest.mark.parametrize(
    "content, reason",
    [(b"", "empty file"), (b"not an image at all", "cannot identify"), ("truncated", "truncated")],
)
def test_read_image_names_bad_files(tmp_path, content, reason):
    path = tmp_path / "bad.jpg"
    if content == "truncated":
        Image.new("RGB", (64, 64), (200, 10, 10)).save(path, quality=95)
        content = path.read_bytes()[:300]
    path.write_bytes(content)
    with pytest.raises(OSError, match=f"(?i)Cannot read image file '{path}'.*{reason}"):
        read_image(path)
    assert path.read_bytes() == content  # never modified


def test_resize_bilinear_matches_tensorflow():
    tf = pytest.importorskip("tensorflow")
    rng = np.random.default_rng(0)
    for _ in range(40):
        height, width = rng.integers(1, 300, 2)
        size = tuple(int(s) for s in rng.integers(1, 200, 2))
        image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        expected = np.rint(tf.image.resize(image, size).numpy()).astype(np.uint8)
        np.testing.assert_array_equal(resize_bilinear(image, size), expected)

"""Decoding one file: modes, EXIF orientation, bad files, the resize TensorFlow's matches."""

import numpy as np
import pytest
from PIL import Image

from sklearn_vision import read_image

GREY = (np.arange(24, dtype=np.uint8) * 10).reshape(4, 6)
ALPHA = np.resize(np.array([0, 1, 128, 255], np.uint8), (4, 6))
PALETTE = np.array([[255, 0, 0], [0, 128, 0], [10, 20, 30], [200, 100, 50]], np.uint8)
INDICES = np.arange(24, dtype=np.uint8).reshape(4, 6) % 4


def _palette_image():
    image = Image.new("P", (6, 4))
    image.putdata(INDICES.ravel().tolist())
    image.putpalette(PALETTE.ravel().tolist())
    return image


@pytest.mark.parametrize(
    "mode, image, expected",
    [
        # Grey replicated to the three channels.
        ("L", lambda: Image.fromarray(GREY), np.repeat(GREY[..., np.newaxis], 3, axis=-1)),
        # Alpha dropped, as read_image documents: the colours as stored, not composited.
        (
            "RGBA",
            lambda: Image.fromarray(np.stack([GREY, 255 - GREY, GREY // 2, ALPHA], axis=-1)),
            np.stack([GREY, 255 - GREY, GREY // 2], axis=-1),
        ),
        # Each index looked up in the palette.
        ("P", _palette_image, PALETTE[INDICES]),
        ("CMYK", lambda: Image.new("CMYK", (6, 4), (0, 255, 255, 0)), None),
    ],
)
def test_read_image_converts_to_rgb(tmp_path, mode, image, expected):
    extension = "jpg" if mode == "CMYK" else "png"
    path = tmp_path / f"image.{extension}"
    image = image()
    assert image.mode == mode
    image.save(path)
    pixels = read_image(path)
    assert pixels.shape == (4, 6, 3) and pixels.dtype == np.uint8
    if mode == "CMYK":  # cyan-free, magenta and yellow full: red (JPEG is lossy)
        assert pixels[0, 0, 0] > 200 and pixels[0, 0, 1] < 60
    else:
        np.testing.assert_array_equal(pixels, expected)
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


def test_read_image_resizes_as_tensorflow_does(tmp_path):
    # PNG is lossless: read_image gives the stored pixels, resized as tf.image.resize does.
    tf = pytest.importorskip("tensorflow")
    rng = np.random.default_rng(0)
    for _ in range(40):
        height, width = rng.integers(1, 300, 2)
        size = tuple(int(s) for s in rng.integers(1, 200, 2))
        image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        Image.fromarray(image).save(tmp_path / "image.png")
        expected = np.rint(tf.image.resize(image, size).numpy()).astype(np.uint8)
        np.testing.assert_array_equal(read_image(tmp_path / "image.png", size), expected)

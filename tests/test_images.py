import numpy as np
import pytest
from PIL import Image

from sklearn_vision import read_image
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

"""Loading a folder of class subfolders: bad files listed, pixels as read_image gives."""

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sklearn_vision import load_image_folder, read_image


def _snapshot(root):
    """Every path under root with its bytes and modification time."""
    return {
        path: (path.read_bytes(), path.stat().st_mtime_ns) if path.is_file() else None
        for path in sorted(root.rglob("*"))
    }


@pytest.fixture
def messy_folder(tmp_path):
    """A folder as they come: good images in many modes, and bad files of each kind."""
    root = tmp_path / "photos"
    for name in ["birds", "cats", "dogs", ".ipynb_checkpoints"]:
        (root / name).mkdir(parents=True)
    Image.new("RGB", (40, 30), (255, 0, 0)).save(root / "cats" / "red.jpg")
    Image.new("L", (30, 30), 90).save(root / "cats" / "gray.jpg")
    Image.new("CMYK", (30, 30), (0, 255, 255, 0)).save(root / "cats" / "cmyk.jpg")
    Image.new("RGBA", (20, 30), (0, 0, 255, 0)).save(root / "dogs" / "alpha.png")
    (root / "dogs" / "puppies").mkdir()
    Image.new("P", (30, 20), 2).save(root / "dogs" / "puppies" / "palette.gif")
    Image.new("RGB", (30, 30), (0, 255, 0)).save(root / "birds" / "green.bmp")
    Image.new("RGB", (30, 30)).save(root / ".ipynb_checkpoints" / "copy.png")
    (root / "cats" / "empty.jpg").touch()
    (root / "cats" / "Thumbs.db").write_bytes(b"\xd0\xcf\x11\xe0 not an image")
    (root / "dogs" / "notes.txt").write_text("the power cut")
    truncated = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(truncated).save(root / "birds" / "download.jpg", quality=95)
    data = (root / "birds" / "download.jpg").read_bytes()
    (root / "birds" / "download.jpg").write_bytes(data[: len(data) // 2])
    (root / "README.md").write_text("photos by class")
    return root


def test_load_image_folder_survives_bad_files(messy_folder):
    root = messy_folder
    before = _snapshot(root)
    data = load_image_folder(root, image_size=(12, 16))
    assert _snapshot(root) == before  # nothing written, moved or deleted

    assert data.target_names == ["birds", "cats", "dogs"]
    names = [Path(path).relative_to(root).as_posix() for path in data.filenames]
    assert names == [
        "birds/green.bmp",
        "cats/cmyk.jpg",
        "cats/gray.jpg",
        "cats/red.jpg",
        "dogs/alpha.png",
        "dogs/puppies/palette.gif",
    ]
    np.testing.assert_array_equal(data.target, [0, 1, 1, 1, 2, 2])
    skipped = {Path(path).relative_to(root).as_posix(): reason for path, reason in data.skipped}
    assert set(skipped) == {
        "README.md", "birds/download.jpg", "cats/Thumbs.db", "cats/empty.jpg", "dogs/notes.txt"
    }  # fmt: skip
    assert skipped["README.md"] == "not in a class folder"
    assert skipped["cats/empty.jpg"] == "empty file"
    assert skipped["cats/Thumbs.db"].startswith("not an image")
    assert skipped["dogs/notes.txt"].startswith("not an image")
    assert skipped["birds/download.jpg"].startswith("truncated file")

    assert data.images.shape == (6, 12, 16, 3) and data.images.dtype == np.uint8
    green, cmyk, gray, red, alpha = data.images[:5, 6, 8]
    np.testing.assert_array_equal(green, [0, 255, 0])
    assert cmyk[0] > 200 and cmyk[1] < 60  # CMYK converted to RGB
    assert gray[0] == gray[1] == gray[2] == 90
    np.testing.assert_array_equal(red[1:], [0, 0])
    np.testing.assert_array_equal(alpha, [0, 0, 255])  # alpha dropped, colour kept
    for path, image in zip(data.filenames, data.images, strict=True):
        np.testing.assert_array_equal(read_image(path, (12, 16)), image)


def _png_bytes(image):
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def _with_chunk_before_end(png, kind, data):
    """``png`` with a chunk added just before its IEND chunk."""
    chunk = struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    end = png.rindex(b"IEND") - 4  # the IEND chunk starts with its length
    return png[:end] + chunk + png[end:]


def test_load_image_folder_pixels_match_read_image(tmp_path):
    """TensorFlow's decoders (JPEG at reduced DCT scales, PNG) give Pillow's pixels."""
    rng = np.random.default_rng(0)
    (tmp_path / "a").mkdir()

    def noise(width, height, mode="RGB"):
        pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        return Image.fromarray(pixels).convert(mode)

    for index, width in enumerate([20, 37, 70, 150, 310]):  # DCT scales 1 to 8 for (16, 18)
        noise(width, width * 3 // 4 + 1).save(tmp_path / "a" / f"{index}.jpg", quality=90)
    noise(45, 40, "L").save(tmp_path / "a" / "gray.jpg")
    noise(45, 40, "CMYK").save(tmp_path / "a" / "cmyk.jpg")
    exif = Image.Exif()
    exif[0x0112] = 6
    noise(80, 50).save(tmp_path / "a" / "rotated.jpg", exif=exif)
    for mode in ["RGB", "RGBA", "P", "L"]:
        noise(33, 25, mode).save(tmp_path / "a" / f"{mode}.png")
    noise(33, 25).save(tmp_path / "a" / "rotated.png", exif=exif)
    late = tmp_path / "a" / "rotated_late.png"  # its eXIf chunk after the image data
    late.write_bytes(_with_chunk_before_end(_png_bytes(noise(33, 25)), b"eXIf", exif.tobytes()[6:]))
    assert read_image(late).shape == (33, 25, 3)  # turned a quarter
    data = load_image_folder(tmp_path, image_size=(16, 18), n_jobs=2)
    assert len(data.filenames) == 14 and not data.skipped
    for path, image in zip(data.filenames, data.images, strict=True):
        np.testing.assert_array_equal(image, read_image(path, (16, 18)), err_msg=path)


def test_load_image_folder_without_size_returns_paths(messy_folder):
    data = load_image_folder(messy_folder)
    assert "images" not in data and len(data.filenames) == 6 and len(data.skipped) == 5
    parallel = load_image_folder(messy_folder, n_jobs=2)
    np.testing.assert_array_equal(parallel.filenames, data.filenames)
    assert parallel.skipped == data.skipped


def test_load_image_folder_classes_and_extensions(messy_folder):
    data = load_image_folder(messy_folder, classes=["dogs", "cats"], extensions=["JPG", ".png"])
    assert data.target_names == ["dogs", "cats"]
    names = [Path(path).name for path in data.filenames]
    assert names == ["alpha.png", "cmyk.jpg", "gray.jpg", "red.jpg"]
    np.testing.assert_array_equal(data.target, [0, 1, 1, 1])
    reasons = dict(data.skipped)
    assert reasons[str(messy_folder / "dogs" / "puppies" / "palette.gif")].startswith("extension")
    with pytest.raises(ValueError, match=r"Class folders \['fish'\] not found.*'birds'"):
        load_image_folder(messy_folder, classes=["fish", "cats"])


def test_load_image_folder_bad_folders(tmp_path, messy_folder):
    with pytest.raises(FileNotFoundError, match="No such folder"):
        load_image_folder(tmp_path / "missing")
    with pytest.raises(NotADirectoryError, match="is a file"):
        load_image_folder(messy_folder / "README.md")
    with pytest.raises(ValueError, match="No class subfolders"):
        load_image_folder(messy_folder / "cats")
    message = r"No readable image.*9 files skipped \(6 extension.*, 2 not an image"
    with pytest.raises(ValueError, match=message):
        load_image_folder(messy_folder, classes=["cats", "dogs"], extensions=[".db", ".txt"])
    with pytest.raises(ValueError, match="image_size"):
        load_image_folder(messy_folder, image_size=(0, 3))
    with pytest.warns(UserWarning, match=r"no readable image, left out: \['birds'\]"):
        data = load_image_folder(messy_folder, extensions=[".jpg", ".png"])
    assert data.target_names == ["cats", "dogs"]
    np.testing.assert_array_equal(data.target, [0, 0, 0, 1])


def test_load_image_folder_progress(messy_folder, capsys):
    load_image_folder(messy_folder, verbose=1)
    err = capsys.readouterr().err
    assert "10/10 files" in err
    assert "6 images of 3 classes" in err and "1 empty file" in err and "2 not an image" in err


def test_load_image_folder_takes_classes_as_any_array_like(tmp_path):
    for name in ["cats", "dogs"]:
        (tmp_path / name).mkdir()
        Image.new("RGB", (8, 8), "white").save(tmp_path / name / "a.png")
    data = load_image_folder(tmp_path, classes=np.array(["dogs", "cats"]), extensions=(".png",))
    assert data.target_names == ["dogs", "cats"]
    with pytest.raises(ValueError, match="classes"):
        load_image_folder(tmp_path, classes="cats")

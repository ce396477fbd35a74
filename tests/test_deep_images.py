"""16-bit and float files, DICOM, and CSV manifests: read at full depth, never clipped silently."""

import shutil
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from sklearn_vision import BackboneFeatures, load_image_csv, load_image_folder, read_image

from .conftest import small_features


def _add_sbit(path, bits):
    """Insert a PNG sBIT chunk (significant bits) after IHDR, as imaging software writes it."""
    data = path.read_bytes()
    end = data.index(b"IHDR") + 4 + 13 + 4  # type, 13 bytes of data, CRC
    chunk = b"sBIT" + bytes([bits])
    chunk = struct.pack(">I", 1) + chunk + struct.pack(">I", zlib.crc32(chunk))
    path.write_bytes(data[:end] + chunk + data[end:])


@pytest.fixture
def twelve_bit(tmp_path):
    """A 12-bit gradient stored as 16-bit PNG, with and without sBIT, and as 16-bit TIFF."""
    values = (np.arange(48 * 64).reshape(48, 64) * 4095 // (48 * 64 - 1)).astype(np.uint16)
    plain = tmp_path / "plain.png"
    Image.fromarray(values).save(plain)
    declared = tmp_path / "declared.png"
    shutil.copy(plain, declared)
    _add_sbit(declared, 12)
    tiff = tmp_path / "deep.tif"
    Image.fromarray(values * 16).save(tiff)
    return values, plain, declared, tiff


def test_12_bit_png_reads_at_full_depth(twelve_bit):
    values, plain, declared, _ = twelve_bit
    image = read_image(declared)
    assert image.dtype == np.float32 and image.shape == (48, 64, 3)
    np.testing.assert_allclose(image[..., 0], values * (255 / 4095), rtol=1e-6)
    assert (image == 255).mean() < 0.01  # was 94% at 255 with convert("RGB")
    # Without sBIT, the stored 16 bits: dark, but nothing clipped.
    np.testing.assert_allclose(read_image(plain)[..., 1], values * (255 / 65535), rtol=1e-6)
    np.testing.assert_allclose(
        read_image(plain, window=(0, 4095))[..., 2], values * (255 / 4095), rtol=1e-6
    )


def test_16_bit_and_float_tiff(twelve_bit, tmp_path):
    values, _, _, tiff = twelve_bit
    np.testing.assert_allclose(read_image(tiff)[..., 0], values * 16 * (255 / 65535), rtol=1e-6)
    hounsfield = np.linspace(-1000, 3000, 48 * 64, dtype=np.float32).reshape(48, 64)
    Image.fromarray(hounsfield).save(tmp_path / "ct.tif")
    minmax = read_image(tmp_path / "ct.tif")
    np.testing.assert_allclose(minmax[..., 0], (hounsfield + 1000) * (255 / 4000), atol=1e-3)
    windowed = read_image(tmp_path / "ct.tif", window=(-160, 240))[..., 0]
    inside = (hounsfield > -160) & (hounsfield < 240)
    expected = (hounsfield[inside] + 160) * (255 / 400)
    np.testing.assert_allclose(windowed[inside], expected, atol=1e-3)
    assert windowed[hounsfield <= -160].max() == 0 and windowed[hounsfield >= 240].min() == 255
    percent = read_image(tmp_path / "ct.tif", window=("1%", "99%"))[..., 0]
    assert percent.min() == 0 and percent.max() == 255 and 0.01 < (percent == 0).mean() < 0.02


def test_deep_files_keep_precision_when_resized(twelve_bit):
    _, _, declared, _ = twelve_bit
    small = read_image(declared, (12, 16))
    assert small.dtype == np.float32 and small.shape == (12, 16, 3)
    assert len(np.unique(small)) > 150  # more levels than uint8 rounding of a 0..255 ramp


def test_eight_bit_files_are_unchanged(tmp_path):
    pixels = np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "rgb.png")
    image = read_image(tmp_path / "rgb.png", window="minmax")
    assert image.dtype == np.uint8
    np.testing.assert_array_equal(image, pixels)


@pytest.mark.parametrize("window", ["max", (5, 5), (1, "b"), ("99%", "1%"), (0, 1, 2)])
def test_bad_windows_are_refused(twelve_bit, window):
    with pytest.raises(ValueError, match="window must be"):
        read_image(twelve_bit[1], window=window)


def test_folder_of_deep_images_is_float(twelve_bit, tmp_path):
    _, plain, declared, tiff = twelve_bit
    root = tmp_path / "folder"
    for name, file in [("a", plain), ("a", declared), ("b", tiff)]:
        (root / name).mkdir(parents=True, exist_ok=True)
        shutil.copy(file, root / name / file.name)
    Image.new("RGB", (40, 30), (10, 20, 30)).save(root / "b" / "eight.jpg")
    data = load_image_folder(root, image_size=16, window=(0, 4095))
    assert data.images.dtype == np.float32 and data.images.shape == (4, 16, 16, 3)
    assert data.images.max() <= 255 and data.images.min() >= 0
    by_name = dict(zip([p.rsplit("/", 1)[-1] for p in data.filenames], data.images, strict=True))
    np.testing.assert_allclose(by_name["eight.jpg"][0, 0], [10, 20, 30], atol=1.5)


def test_arrays_outside_0_255_are_refused_not_clipped():
    deep = np.random.default_rng(0).integers(0, 4096, (4, 8, 8, 1)).astype(np.uint16)
    with pytest.raises(ValueError, match=r"values from \d+ to 4\d\d\d, outside the \[0, 255\]"):
        BackboneFeatures().fit(deep)
    with pytest.raises(ValueError, match="Nothing is clipped"):
        BackboneFeatures().fit(np.full((2, 8, 8, 3), -1.0))
    small_features().fit(np.full((2, 8, 8, 3), 255.0))  # the bounds themselves are fine


def test_deep_file_paths_stream_to_the_backbone(twelve_bit, fresh_cache):
    _, plain, declared, _ = twelve_bit
    paths = [str(declared), str(plain)]
    from_paths = small_features().fit_transform(paths)
    arrays = np.stack([read_image(p, (32, 32)) for p in paths])
    from_arrays = small_features().fit_transform(arrays)
    np.testing.assert_allclose(from_paths, from_arrays, rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------- manifests


def test_manifest_lists_missing_and_broken_files(tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    for name, value in [("p1_a.png", 10), ("p1_b.png", 20), ("p2_a.png", 30), ("p3_a.png", 40)]:
        Image.new("L", (20, 20), value).save(images / name)
    (images / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (images / "empty.png").touch()
    manifest = tmp_path / "labels.csv"
    manifest.write_text(
        "file,finding,patient,age\n"
        "images/p1_a.png,normal,P1,40\n"
        "images/p1_b.png,nodule,P1,40\n"
        "images/p2_a.png,normal,P2,51\n"
        f"{images / 'p3_a.png'},nodule,P3,62\n"  # an absolute path
        "images/missing.png,normal,P4,30\n"
        "images/broken.png,normal,P5,30\n"
        "images/empty.png,nodule,P6,30\n"
        ",normal,P7,30\n"
        "images/p2_a.png,,P2,51\n"
    )
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    data = load_image_csv(
        manifest,
        path_column="file",
        label_column="finding",
        group_column="patient",
        image_size=8,
    )
    assert data.target_names == ["nodule", "normal"]
    assert data.target.tolist() == [1, 0, 1, 0]
    assert data.groups.tolist() == ["P1", "P1", "P2", "P3"]
    np.testing.assert_array_equal(data.images[:, 0, 0, 0], [10, 20, 30, 40])
    reasons = {str(p).rsplit("/", 1)[-1]: r for p, r in data.skipped}
    assert reasons["missing.png"] == "no such file or directory"
    assert reasons["empty.png"] == "empty file"
    assert reasons["broken.png"].startswith(("not an image", "corrupt", "truncated"))
    assert reasons["labels.csv:9"] == "no path in column 'file'"
    assert reasons["p2_a.png"] == "no label in column 'finding' (line 10)"
    assert "3 groups" in data.DESCR
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before


def test_manifest_errors_name_the_columns(tmp_path):
    manifest = tmp_path / "labels.csv"
    manifest.write_text("path,label\nimages/a.png,x\n")
    with pytest.raises(ValueError, match=r"no column 'file'.*header names \['path', 'label'\]"):
        load_image_csv(manifest, path_column="file", label_column="label")
    with pytest.raises(FileNotFoundError, match="No such CSV file"):
        load_image_csv(tmp_path / "nope.csv", path_column="path", label_column="label")
    with pytest.raises(ValueError, match="No readable image"):
        load_image_csv(manifest, path_column="path", label_column="label")

"""DICOM files through pydicom (the sklearn-vision[dicom] extra), with pydicom's own test files."""

import shutil

import numpy as np
import pytest
from PIL import Image

from sklearn_vision import load_image_folder, read_image

pydicom = pytest.importorskip("pydicom", reason="DICOM needs pydicom (sklearn-vision[dicom])")


def _testdata(name):
    from pydicom.data import get_testdata_file

    path = get_testdata_file(name, download=False)
    if path is None:
        pytest.skip(f"pydicom's {name} is not installed")
    return path


def test_ct_is_read_in_hounsfield_units():
    from pydicom.pixels import apply_modality_lut

    path = _testdata("CT_small.dcm")
    dataset = pydicom.dcmread(path)
    hounsfield = apply_modality_lut(dataset.pixel_array, dataset)  # RescaleIntercept -1024
    assert "WindowCenter" not in dataset  # so "auto" is min-max
    image = read_image(path)
    assert image.shape == (128, 128, 3) and image.dtype == np.float32
    expected = (hounsfield - hounsfield.min()) * (255 / np.ptp(hounsfield))
    np.testing.assert_allclose(image[..., 0], expected, atol=1e-3)
    soft_tissue = read_image(path, window=(-160, 240))[..., 0]
    inside = (hounsfield > -160) & (hounsfield < 240)
    expected = (hounsfield[inside] + 160) * (255 / 400)
    np.testing.assert_allclose(soft_tissue[inside], expected, atol=1e-3)


def test_mr_uses_the_files_voi_window():
    path = _testdata("MR_small.dcm")
    dataset = pydicom.dcmread(path)
    center, width = float(dataset.WindowCenter), float(dataset.WindowWidth)  # 600, 1600
    low = center - 0.5 - (width - 1) / 2
    high = center - 0.5 + (width - 1) / 2
    values = dataset.pixel_array.astype(float)
    expected = np.clip((values - low) / (high - low) * 255, 0, 255)
    np.testing.assert_allclose(read_image(path)[..., 0], expected, atol=1e-3)
    minmax = read_image(path, window="minmax")[..., 0]
    assert minmax.min() == 0 and minmax.max() == 255


def test_monochrome1_is_inverted(tmp_path):
    dataset = pydicom.dcmread(_testdata("MR_small.dcm"))
    normal = read_image(_testdata("MR_small.dcm"))
    dataset.PhotometricInterpretation = "MONOCHROME1"
    dataset.save_as(tmp_path / "inverted.dcm")
    np.testing.assert_allclose(read_image(tmp_path / "inverted.dcm"), 255 - normal, atol=1e-4)


@pytest.mark.parametrize(
    "name, reason",
    [
        ("examples_ybr_color.dcm", r"multi-frame DICOM file \(30 frames\)"),
        ("MR_small_jpeg_ls_lossless.dcm", r"compressed DICOM \(JPEG-LS Lossless.*pylibjpeg"),
        ("rtplan.dcm", "DICOM file without pixel data"),
    ],
)
def test_unreadable_dicom_files_say_why(name, reason):
    with pytest.raises(OSError, match=reason):
        read_image(_testdata(name))


def test_folder_and_manifest_with_dicom(tmp_path):
    root = tmp_path / "scans"
    (root / "ct").mkdir(parents=True)
    (root / "mr").mkdir()
    shutil.copy(_testdata("CT_small.dcm"), root / "ct" / "p1.dcm")
    shutil.copy(_testdata("MR_small.dcm"), root / "mr" / "p2.dcm")
    shutil.copy(_testdata("MR_small_RLE.dcm"), root / "mr" / "p3.dcm")  # RLE: pydicom decodes it
    shutil.copy(_testdata("examples_ybr_color.dcm"), root / "mr" / "movie.dcm")
    before = {p: p.read_bytes() for p in root.rglob("*.dcm")}
    data = load_image_folder(root, image_size=32)
    assert data.target.tolist() == [0, 1, 1] and data.images.dtype == np.float32
    assert [(p.rsplit("/", 1)[-1], r.split(" (")[0]) for p, r in data.skipped] == [
        ("movie.dcm", "a multi-frame DICOM file")
    ]
    np.testing.assert_allclose(data.images[1], data.images[2], atol=1e-3)  # RLE = uncompressed
    assert {p: p.read_bytes() for p in root.rglob("*.dcm")} == before


def test_without_pydicom_dicom_files_are_skipped_with_the_extra_named(tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_pydicom(name, *args, **kwargs):
        if name.startswith("pydicom"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    root = tmp_path / "scans"
    (root / "ct").mkdir(parents=True)
    shutil.copy(_testdata("CT_small.dcm"), root / "ct" / "p1.dcm")
    Image.new("L", (8, 8), 3).save(root / "ct" / "p2.png")
    monkeypatch.setattr(builtins, "__import__", no_pydicom)
    data = load_image_folder(root)
    assert data.skipped[0][1].endswith("install sklearn-vision[dicom]")
    assert len(data.filenames) == 1

"""A seeded fuzz of the inputs: damaged images, pipes, manifests, saved models, paths.

Every case runs under a time limit and must end in one of: a result without
NaN, a file skipped with a reason, or an error of ours naming the file. The
input tree is fingerprinted before and after: nothing in it is ever written.
"""

import contextlib
import gzip
import hashlib
import io
import json
import os
import signal
import socket
import stat
import struct
import warnings
import zipfile
import zlib

import numpy as np
import pytest
from PIL import Image

from sklearn_vision import load_image_csv, load_image_folder, read_image

SEED = 36
N_MUTATIONS = 24  # per base file
TIME_LIMIT = 10  # seconds a case may take


class Hang(Exception):
    """A case ran past its time limit."""


@contextlib.contextmanager
def time_limit(seconds=TIME_LIMIT):
    """Raise :class:`Hang` in the block after ``seconds`` (SIGALRM interrupts a blocked open)."""

    def hang(signum, frame):
        raise Hang(f"no answer in {seconds} s")

    previous = signal.signal(signal.SIGALRM, hang)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def fingerprint(root):
    """Every entry under ``root``: its kind, size and content hash (regular files)."""
    found = {}
    for folder, subfolders, names in os.walk(root):
        for name in subfolders + names:
            path = os.path.join(folder, name)
            info = os.lstat(path)
            digest = None
            if stat.S_ISREG(info.st_mode) and info.st_mode & stat.S_IRUSR:
                with open(path, "rb") as file:
                    digest = hashlib.sha256(file.read()).hexdigest()
            found[path] = (stat.S_IFMT(info.st_mode), info.st_size, info.st_mtime_ns, digest)
    return found


# ---------------------------------------------------------------- the files


def _encoded(image, format, **options):
    buffer = io.BytesIO()
    image.save(buffer, format=format, **options)
    return buffer.getvalue()


def _dicom_bytes(name):
    pydicom = pytest.importorskip("pydicom")
    with open(pydicom.data.get_testdata_file(name), "rb") as file:
        return file.read()


def base_files():
    """The intact files the mutations start from: ``{name: bytes}``, several formats and depths."""
    rng = np.random.default_rng(SEED)
    rgb = Image.fromarray(rng.integers(0, 256, (24, 32, 3), dtype=np.uint8))
    deep = rng.integers(0, 2**16, (24, 32)).astype(np.uint16)
    floats = rng.normal(size=(24, 32)).astype(np.float32)
    files = {
        "rgb.jpg": _encoded(rgb, "JPEG"),
        "rgb.png": _encoded(rgb, "PNG"),
        "grey16.png": _encoded(Image.fromarray(deep), "PNG"),
        "grey16.tif": _encoded(Image.fromarray(deep), "TIFF"),
        "float.tif": _encoded(Image.fromarray(floats), "TIFF"),
        "rgb.gif": _encoded(rgb, "GIF"),
    }
    with contextlib.suppress(pytest.skip.Exception):
        files["ct.dcm"] = _dicom_bytes("CT_small.dcm")
        files["mr.dcm"] = _dicom_bytes("MR_small.dcm")
    return files


def mutations(name, data, n=N_MUTATIONS):
    """``n`` damaged copies of ``data``, seeded: truncations and byte flips."""
    rng = np.random.default_rng([SEED, int.from_bytes(name.encode(), "little") % 2**32])
    cases = []
    for k in range(n):
        if k % 3 == 0:
            cut = int(rng.integers(1, len(data)))
            cases.append((f"cut{cut}", data[:cut]))
        else:
            damaged = bytearray(data)
            # Most flips in the header, where the parsers decide sizes and kinds.
            limit = min(len(data), 512) if k % 3 == 1 else len(data)
            for position in rng.integers(0, limit, int(rng.integers(1, 9))):
                damaged[position] = int(rng.integers(0, 256))
            cases.append((f"flip{k}", bytes(damaged)))
    return cases


def png_bytes(width, height, mode="I;16"):
    """A PNG of zeros written chunk by chunk: a few hundred KB for any size, no big array."""
    depth, colour = {"I;16": (16, 0), "L": (8, 0)}[mode]
    row = b"\x00" * (1 + width * depth // 8)
    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()

    def chunk(kind, body):
        crc = struct.pack(">I", zlib.crc32(kind + body))
        return struct.pack(">I", len(body)) + kind + body + crc

    header = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    chunks = chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + chunks


def special_files():
    """Crafted files, one per problem the issue lists: ``{name: bytes}``."""
    floats = np.ones((16, 16), dtype=np.float32)
    with_nan, with_inf = floats.copy(), floats.copy()
    with_nan[3, 4], with_inf[5, 6] = np.nan, np.inf
    dicm_png = bytearray(_encoded(Image.new("RGB", (64, 64), "white"), "PNG"))
    text_chunk = b"x" * 85 + b"DICM" + b"y" * 20  # a tEXt chunk puts 'DICM' at byte 128
    dicm_png[33:33] = (
        struct.pack(">I", len(b"k\x00" + text_chunk))
        + b"tEXt"
        + b"k\x00"
        + text_chunk
        + struct.pack(">I", zlib.crc32(b"tEXtk\x00" + text_chunk))
    )
    assert dicm_png[128:132] == b"DICM"
    files = {
        "nan.tif": _encoded(Image.fromarray(with_nan), "TIFF"),
        "inf.tif": _encoded(Image.fromarray(with_inf), "TIFF"),
        "huge16.png": png_bytes(9000, 9000),
        "dicm_at_128.png": bytes(dicm_png),
    }
    with contextlib.suppress(pytest.skip.Exception):
        files.update(_damaged_dicom())
    return files


def _damaged_dicom():
    """DICOM files with one element made wrong, as the fuzzing found them."""
    pydicom = pytest.importorskip("pydicom")
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    source = pydicom.data.get_testdata_file("CT_small.dcm")

    def edited(change):
        dataset = pydicom.dcmread(source)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pydicom warns of the invalid values written
            change(dataset)
        buffer = io.BytesIO()
        dataset.save_as(buffer, enforce_file_format=True)
        return buffer.getvalue()

    def with_slope(text):  # written over a valid value: pydicom refuses to set these
        data = edited(lambda d: setattr(d, "RescaleSlope", "7.25"))
        assert data.count(b"7.25") == 1
        return data.replace(b"7.25", text)

    def nested(depth=2000):  # spliced in as bytes: pydicom itself cannot write this deep
        data = edited(lambda d: setattr(d, "ReferencedImageSequence", Sequence([Dataset()])))
        header = b"\x08\x00\x40\x11SQ\x00\x00"  # (0008,1140) SQ, explicit VR little endian
        start = data.index(header)
        end = start + 12 + struct.unpack("<I", data[start + 8 : start + 12])[0]
        element = b""
        for _ in range(depth):
            element = (
                header + b"\xff" * 4 + b"\xfe\xff\x00\xe0" + b"\xff" * 4 + element
                + b"\xfe\xff\x0d\xe0" + b"\x00" * 4 + b"\xfe\xff\xdd\xe0" + b"\x00" * 4
            )
        return data[:start] + element + data[end:]

    def empty_window(dataset):
        dataset.WindowCenter, dataset.WindowWidth = None, 400

    def short_lut(dataset):
        dataset.ModalityLUTSequence = Sequence([Dataset()])
        item = dataset.ModalityLUTSequence[0]
        item.LUTDescriptor = [4096, 0, 16]
        item.ModalityLUTType = "HU"
        item.add_new(0x00283006, "US", [1, 2, 3])  # LUTData, 3 of the 4096 entries
        del dataset.RescaleSlope, dataset.RescaleIntercept

    return {
        "no_rows.dcm": edited(lambda d: delattr(d, "Rows")),
        "no_bits.dcm": edited(lambda d: delattr(d, "BitsAllocated")),
        "empty_window.dcm": edited(empty_window),
        "slope_nan.dcm": with_slope(b"nan "),
        "slope_abc.dcm": with_slope(b"abc "),
        "short_lut.dcm": edited(short_lut),
        "deep_sequences.dcm": nested(),
    }




# ---------------------------------------------------------------- checking one case


def outcome(call, path=None):
    """Run ``call()`` under the time limit: ``("ok", result)`` or ``("error", exc)``.

    Fails the test on a hang, a foreign exception, an error not naming
    ``path``, or a result holding NaN.
    """
    try:
        with time_limit():
            result = call()
    except Hang as exc:
        pytest.fail(f"hang on {path}: {exc}")
    except (OSError, ValueError) as exc:
        message = str(exc)
        assert "\n" not in message.strip() or "Traceback" not in message
        if path is not None:
            assert os.path.basename(os.fsdecode(path)) in message, message
        return "error", exc
    images = getattr(result, "images", result)
    if isinstance(images, np.ndarray) and images.dtype.kind == "f":
        assert np.isfinite(images).all(), f"NaN or infinite pixels from {path}"
    return "ok", result


@pytest.fixture(scope="module")
def damaged_tree(tmp_path_factory):
    """A class folder of every mutation and crafted file, plus a pipe, a socket, a locked folder."""
    root = tmp_path_factory.mktemp("fuzz")
    folder = root / "a"
    folder.mkdir()
    (root / "b").mkdir()
    Image.new("RGB", (20, 20), "red").save(root / "b" / "good.png")
    for name, data in base_files().items():
        for label, damaged in mutations(name, data):
            (folder / f"{label}_{name}").write_bytes(damaged)
    for name, data in special_files().items():
        (folder / name).write_bytes(data)
    os.mkfifo(folder / "pipe.png")
    listening = socket.socket(socket.AF_UNIX)
    listening.bind(os.fspath(folder / "socket.png"))
    locked = folder / "locked"
    locked.mkdir()
    Image.new("RGB", (20, 20), "red").save(locked / "hidden.png")
    locked.chmod(0)
    yield root
    locked.chmod(0o700)
    listening.close()


def _files(root):
    return sorted(
        entry.path for entry in os.scandir(root / "a") if entry.is_file(follow_symlinks=False)
    ) + [os.path.join(root, "a", "pipe.png"), os.path.join(root, "a", "socket.png")]


# ---------------------------------------------------------------- image files


def test_read_image_on_damaged_files_answers_or_names_the_file(damaged_tree):
    before = fingerprint(damaged_tree)
    kinds = {"ok": 0, "error": 0}
    for path in _files(damaged_tree):
        kind, _ = outcome(lambda path=path: read_image(path, (16, 16)), path)
        kinds[kind] += 1
    assert kinds["error"] > 0 and kinds["ok"] > 0
    assert fingerprint(damaged_tree) == before


@pytest.mark.parametrize(
    "name, reason",
    [
        ("pipe.png", "named pipe"),
        ("socket.png", "socket"),
        ("nan.tif", "NaN or infinite"),
        ("inf.tif", "NaN or infinite"),
        ("huge16.png", "too large"),
        ("no_rows.dcm", "damaged DICOM"),
        ("no_bits.dcm", "damaged DICOM"),
        ("empty_window.dcm", "damaged DICOM"),
        ("short_lut.dcm", "damaged DICOM"),
        ("slope_nan.dcm", "NaN or infinite"),
        ("slope_abc.dcm", "damaged DICOM"),
        ("deep_sequences.dcm", "damaged DICOM"),
    ],
)
def test_each_problem_the_issue_lists_is_refused_with_its_reason(damaged_tree, name, reason):
    path = damaged_tree / "a" / name
    if not os.path.lexists(path):
        pytest.skip(f"{name} needs pydicom")
    kind, exc = outcome(lambda: read_image(path), path)
    assert kind == "error" and reason in str(exc)


def test_a_png_with_dicm_at_byte_128_is_read_as_a_png(damaged_tree):
    image = read_image(damaged_tree / "a" / "dicm_at_128.png")
    assert image.shape == (64, 64, 3) and (image == 255).all()


def test_the_folder_loads_with_every_bad_file_skipped_with_a_reason(damaged_tree):
    before = fingerprint(damaged_tree)
    kind, data = outcome(lambda: load_image_folder(damaged_tree), damaged_tree)
    assert kind == "ok"
    reasons = dict(data.skipped)
    assert "named pipe" in reasons[os.path.join(damaged_tree, "a", "pipe.png")]
    locked = os.path.join(damaged_tree, "a", "locked")
    if not os.access(locked, os.R_OK):  # root reads it all the same
        assert "not listed (permission denied)" in reasons[locked]
    assert all(isinstance(reason, str) and reason for reason in reasons.values())
    assert len(data.filenames) + len(data.skipped) == len(_files(damaged_tree)) + 2
    assert fingerprint(damaged_tree) == before


@pytest.mark.slow
def test_the_folder_decodes_to_finite_pixels(damaged_tree):
    kind, data = outcome(lambda: load_image_folder(damaged_tree, image_size=16), damaged_tree)
    assert kind == "ok" and np.isfinite(data.images).all()


def test_a_file_name_that_is_not_utf8_reads(tmp_path):
    folder = os.fsencode(tmp_path / "a")
    os.mkdir(folder)
    Image.new("RGB", (20, 20), "blue").save(folder + b"/caf\xe9.png")
    data = load_image_folder(tmp_path)
    assert len(data.filenames) == 1 and not data.skipped
    assert read_image(data.filenames[0]).shape == (20, 20, 3)


@pytest.mark.parametrize("classes", [["", "a"], [".", "a"], ["../x"], ["a/b"], [1, 2]])
def test_classes_must_be_plain_subfolder_names(tmp_path, classes):
    (tmp_path / "a").mkdir()
    Image.new("RGB", (20, 20), "blue").save(tmp_path / "a" / "x.png")
    with pytest.raises(ValueError, match="names of subfolders"):
        load_image_folder(tmp_path, classes=classes)


# ---------------------------------------------------------------- manifests


def manifests():
    """Damaged CSV manifests: ``{name: (bytes, what the error or skip must say)}``."""
    text = "file,label\nx.png,cat\ny.png,dog\n"
    rng = np.random.default_rng(SEED)
    cases = {
        "latin1.csv": ("file,label\ncaf\xe9.png,cat\n".encode("latin-1"), "UTF-8"),
        "utf16.csv": (text.encode("utf-16"), "UTF-8"),
        "gzip.csv": (gzip.compress(text.encode()), "UTF-8"),
        "xlsx.csv": (b"PK\x03\x04" + bytes(rng.integers(0, 256, 200, dtype=np.uint8)), "UTF-8"),
        "long_field.csv": (("file,label\n" + "x" * 200_000 + ",cat\n").encode(), "line 2"),
        "nul.csv": (b"file,label\nx.png\x00,cat\n", None),
        "no_header.csv": (b"", "no column"),
    }
    for k in range(12):
        data = bytearray(text.encode())
        for position in rng.integers(0, len(data), 3):
            data[position] = int(rng.integers(0, 256))
        cases[f"flip{k}.csv"] = (bytes(data), None)
    return cases


@pytest.fixture
def two_images(tmp_path):
    for name in ["x.png", "y.png"]:
        Image.new("RGB", (20, 20), "green").save(tmp_path / name)
    return tmp_path


@pytest.mark.parametrize("name", sorted(manifests()))
def test_damaged_manifests_name_the_file(two_images, name):
    data, expected = manifests()[name]
    path = two_images / name
    path.write_bytes(data)
    before = fingerprint(two_images)
    kind, result = outcome(
        lambda: load_image_csv(path, path_column="file", label_column="label"), path
    )
    if expected is not None:
        assert kind == "error" and expected in str(result), result
    assert fingerprint(two_images) == before


@pytest.mark.parametrize("label", ["nan", "NA", "None", "null", "N/A", "NaN", "n/a"])
def test_missing_value_labels_are_refused_with_the_row(two_images, label):
    path = two_images / "labels.csv"
    path.write_text(f"file,label\nx.png,cat\ny.png,{label}\n")
    data = load_image_csv(path, path_column="file", label_column="label")
    assert data.target_names == ["cat"]
    (reason,) = [reason for file, reason in data.skipped if file.endswith("y.png")]
    assert "missing value" in reason and "line 3" in reason


def test_a_path_listed_twice_is_refused(two_images):
    path = two_images / "labels.csv"
    path.write_text("file,label\nx.png,cat\ny.png,dog\nx.png,dog\n")
    with pytest.raises(ValueError, match=r"labels.csv.*x.png.*lines 2 and 4"):
        load_image_csv(path, path_column="file", label_column="label")


def test_a_manifest_that_is_a_pipe_is_refused(tmp_path):
    path = tmp_path / "labels.csv"
    os.mkfifo(path)
    kind, exc = outcome(
        lambda: load_image_csv(path, path_column="file", label_column="label"), path
    )
    assert kind == "error" and "named pipe" in str(exc)


# ---------------------------------------------------------------- saved models

METADATA = "sklearn_vision.json"


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    """A classifier of feature rows saved to a .keras file, and rows to predict."""
    from sklearn_vision import TransferImageClassifier

    X = np.random.default_rng(0).normal(size=(40, 4)).astype("float32")
    y = np.where(X[:, 0] > 0, "pos", "neg")
    path = tmp_path_factory.mktemp("saved") / "rows.keras"
    TransferImageClassifier(backbone=None, epochs=1, random_state=0).fit(X, y).save(path)
    return path, X


def _members(path):
    with zipfile.ZipFile(path) as archive:
        return {info.filename: (info, archive.read(info.filename)) for info in archive.infolist()}


def _write(path, members, compression=zipfile.ZIP_DEFLATED):
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def _setting(**fields):
    return lambda metadata: {**metadata, **fields}


def _params(**values):
    return lambda metadata: {**metadata, "params": {**metadata["params"], **values}}


def _plan(**values):
    return lambda metadata: {**metadata, "stage_plan": {**metadata["stage_plan"], **values}}


# The metadata tampering the fuzzing found; each must be refused before anything is built.
TAMPERED = {
    "preprocessing {}": _plan(preprocessing={}),
    "frozen_input images": _plan(frozen_input="images"),
    "unknown parameter": _params(colour="blue"),
    "batch_size 10**12": _params(batch_size=10**12),
    "dropout 7": _params(dropout=7),
    "one class for two outputs": _setting(classes=["neg"]),
    "a class twice": _setting(classes=["neg", "neg"]),
    "three classes": _setting(classes=["a", "b", "c"], classes_dtype="<U1"),
    "image_size [30000, 30000]": _setting(image_size=[30000, 30000]),
    "n_features_in -1": _setting(n_features_in=-1),
}


def _random_values():
    return [None, -1, 0, 1.5, 10**12, "x", "", [], {}, [1, 2], True, ["a", None], {"a": 1}]


def _random_tampering(n=20):
    rng = np.random.default_rng(SEED)
    fields = [
        "params",
        "classes",
        "classes_dtype",
        "n_features_in",
        "image_size",
        "fine_tune_index",
        "stage_plan",
        "history",
        "model_layer",
        "format",
    ]
    values = _random_values()
    cases = {}
    for k in range(n):
        field = fields[int(rng.integers(len(fields)))]
        value = values[int(rng.integers(len(values)))]
        if field == "params" and k % 2:  # one parameter instead of the whole object
            cases[f"random {k}: params.epochs = {value!r}"] = _params(epochs=value)
        else:
            cases[f"random {k}: {field} = {value!r}"] = _setting(**{field: value})
    return cases


@pytest.mark.parametrize("name", [*TAMPERED, *_random_tampering()])
def test_tampered_metadata_is_refused_or_predicts_well(saved_model, tmp_path, name):
    from sklearn_vision import load_model

    source, X = saved_model
    change = {**TAMPERED, **_random_tampering()}[name]
    members = {key: data for key, (_, data) in _members(source).items()}
    members[METADATA] = json.dumps(change(json.loads(members[METADATA])))
    path = _write(tmp_path / "tampered.keras", members)
    kind, result = outcome(lambda: load_model(path).predict(X[:3]), path)
    if name in TAMPERED:
        assert kind == "error", f"{name} was not refused"
    if kind == "error":
        assert "\n" not in str(result) and METADATA in str(result) or "save" in str(result)
    else:
        assert set(result) <= {"neg", "pos"}


def _deflate_flipped(path, source):
    """The file with bytes flipped inside a compressed member's data."""
    data = bytearray(source.read_bytes())
    info = _members(source)[METADATA][0]
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    for offset in range(4, 12):
        data[start + offset] ^= 0xFF
    path.write_bytes(bytes(data))
    return path


def _encrypted(path, source):
    """The file with the 'encrypted' flag set on the metadata, in both headers."""
    data = bytearray(source.read_bytes())
    info = _members(source)[METADATA][0]
    data[info.header_offset + 6] |= 0x1  # the local header's flags
    central = data.index(METADATA.encode(), data.index(b"PK\x01\x02")) - 46
    data[central + 8] |= 0x1
    path.write_bytes(bytes(data))
    return path


def _metadata_bomb(path, source, size):
    """The file with a metadata member inflating to ``size`` bytes (of spaces: valid JSON)."""
    members = _members(source)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, (_, data) in members.items():
            if name != METADATA:
                archive.writestr(name, data)
        with archive.open(METADATA, "w", force_zip64=True) as member:
            member.write(members[METADATA][1][:-1])
            chunk = b" " * 2**20
            for _ in range(size // len(chunk)):
                member.write(chunk)
            member.write(b"}")
    return path


def _replaced(name, data):
    def change(path, source):
        members = {key: value for key, (_, value) in _members(source).items()}
        if data is None:
            del members[name]
        else:
            members[name] = data
        return _write(path, members)

    return change


DAMAGED = {
    "no config.json": _replaced("config.json", None),
    "metadata not UTF-8": _replaced(METADATA, b'{"library": "sklearn-vision\xff\xfe"}'),
    "metadata nested 100k deep": _replaced(METADATA, b"[" * 100_000 + b"]" * 100_000),
    "weights not HDF5": _replaced("model.weights.h5", b"not hdf5" * 100),
    "config not JSON": _replaced("config.json", b"{"),
    "corrupt deflate": _deflate_flipped,
    "encrypted member": _encrypted,
    "metadata inflating to 100 MiB": lambda path, source: _metadata_bomb(path, source, 100 << 20),
}


@pytest.mark.parametrize("name", DAMAGED)
def test_damaged_model_files_give_one_line_naming_the_file(saved_model, tmp_path, name):
    from sklearn_vision import load_model

    source, X = saved_model
    path = DAMAGED[name](tmp_path / "damaged.keras", source)
    kind, exc = outcome(lambda: load_model(path).predict(X[:3]), path)
    assert kind == "error", name
    assert len(str(exc).splitlines()) == 1, str(exc)


# ---------------------------------------------------------------- the command line


@pytest.fixture
def photos(tmp_path):
    """Two class folders of four small PNGs, a manifest of them, and an old model file."""
    root = tmp_path / "photos"
    rows = ["path,label"]
    for label in ["a", "b"]:
        (root / label).mkdir(parents=True)
        for k in range(4):
            Image.new("RGB", (20, 20), (40 * k, 0, 0)).save(root / label / f"{k}.png")
            rows.append(f"{label}/{k}.png,{label}")
    (root / "a" / "old.keras").write_bytes(b"PK\x03\x04 not really")
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    return root


@pytest.mark.parametrize(
    "command",
    [
        ["sample-size", "{root}", "--plot", "{root}/a/0.png"],
        ["sample-size", "{root}", "--json", "{root}/record.json"],
        ["train", "{root}", "--out", "{root}/a/old.keras"],
        ["train", "{root}", "--out", "{root}/../photos/new.keras"],
        ["sample-size", "--csv", "{root}/labels.csv", "--plot", "{root}/a/1.png"],
        ["train", "{root}", "--classes", "../x,a", "--out", "{root}/../m.keras"],
        ["train", "{root}", "--classes", ".,a", "--out", "{root}/../m.keras"],
    ],
)
def test_the_command_line_never_writes_on_its_inputs(photos, command, capsys):
    from sklearn_vision.__main__ import main

    before = fingerprint(photos)
    argv = [part.format(root=photos) for part in command]
    with time_limit(60):
        status = main(argv)
    error = capsys.readouterr().err
    assert status != 0 and "Traceback" not in error and len(error.strip().splitlines()) >= 1
    if "--classes" in argv:
        assert "names of subfolders" in error
    else:
        assert "(or add --force)" in error
    assert fingerprint(photos) == before


def test_force_lets_an_output_go_in_the_input_folder(photos, capsys):
    from sklearn_vision.__main__ import main

    out = str(photos / "model.keras")
    argv = ["train", str(photos), "--out", out, "--force", "--classes", "x,y"]
    assert main(argv) != 0  # stopped later, by the classes, not by the output check
    assert "Class folders ['x', 'y'] not found" in capsys.readouterr().err


# ---------------------------------------------------------------- parameters and records


@pytest.mark.parametrize(
    "params, fit_params, match",
    [
        ({"score_bounds": (np.nan, 1.0)}, {}, "score_bounds must be"),
        ({"score_bounds": (1.0, 0.0)}, {}, "score_bounds must be"),
        ({"score_bounds": (0.0, 1.0)}, {"y": [0.5, 0.6, 1.5, 0.7]}, "within score_bounds"),
        ({"confidence": np.nan}, {}, "confidence"),
        ({"confidence": 1.5}, {}, "confidence"),
    ],
)
def test_power_law_refuses_what_would_give_nan(params, fit_params, match):
    from sklearn_vision import PowerLawRegressor

    X = np.array([[10], [20], [40], [80]])
    y = fit_params.get("y", [0.5, 0.6, 0.65, 0.7])
    with pytest.raises(ValueError, match=match):
        PowerLawRegressor(**params).fit(X, y)


@pytest.mark.parametrize("confidence", [1.5, np.nan, 0, True])
def test_power_law_refuses_a_confidence_outside_0_1_at_predict(confidence):
    from sklearn_vision import PowerLawRegressor

    curve = PowerLawRegressor().fit([[10], [20], [40], [80]], [0.5, 0.6, 0.65, 0.7])
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        curve.predict_interval([[160]], confidence=confidence)
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        curve.inverse_predict([0.8], confidence=confidence)


def _curve_with_memory(store, **params):
    from sklearn.linear_model import LogisticRegression

    from sklearn_vision import LearningCurveEstimator, PowerLawRegressor

    return LearningCurveEstimator(
        LogisticRegression(max_iter=200),
        train_sizes=[30, 60, 120],
        n_repeats=2,
        random_state=0,
        refit=False,
        memory=store,
        curve=PowerLawRegressor(model="pow3"),
        **params,
    )


@pytest.fixture(scope="module")
def digits_rows():
    from sklearn.datasets import load_digits

    X, y = load_digits(n_class=3, return_X_y=True)
    return X / 16, y


@pytest.mark.parametrize("damage", ["score 7.5", "a pipe", "a link to /dev/zero", "huge"])
def test_fit_records_are_validated_and_only_regular_files_read(tmp_path, digits_rows, damage):
    X, y = digits_rows
    first = _curve_with_memory(tmp_path).fit(X, y)
    records = sorted((tmp_path / "sklearn-vision-fits").iterdir())
    for record in records:
        if damage == "score 7.5":
            record.write_text(json.dumps({**json.loads(record.read_text()), "score": 7.5}))
        else:
            record.unlink()
            if damage == "a pipe":
                os.mkfifo(record)
            elif damage == "huge":
                record.write_text('{"score": 0.5, "seconds": 1.0' + " " * 10**6 + "}")
            else:
                record.symlink_to("/dev/zero")
    with time_limit(60):
        again = _curve_with_memory(tmp_path).fit(X, y)
    np.testing.assert_array_equal(again.scores_, first.scores_)
    assert np.all(again.predict_score([120]) <= 1)


def test_learning_curve_refuses_n_jobs_0(tmp_path, digits_rows):
    with pytest.raises(ValueError, match="The 'n_jobs' parameter of"):
        _curve_with_memory(tmp_path, n_jobs=0).fit(*digits_rows)


def test_groups_with_a_missing_label_are_refused(tmp_path, digits_rows):
    X, y = digits_rows
    groups = np.array([f"p{k % 7}" for k in range(len(y))], dtype=object)
    groups[5] = None
    with pytest.raises(ValueError, match=r"groups has no label \(None or NaN\).*index 5"):
        _curve_with_memory(tmp_path).fit(X, y, groups=groups)


def test_load_image_folder_refuses_n_jobs_0(tmp_path):
    (tmp_path / "a").mkdir()
    Image.new("RGB", (20, 20)).save(tmp_path / "a" / "x.png")
    with pytest.raises(ValueError, match="The 'n_jobs' parameter of"):
        load_image_folder(tmp_path, n_jobs=0)


def test_callbacks_must_be_keras_callbacks():
    from sklearn_vision import TransferImageClassifier

    X = np.random.default_rng(0).normal(size=(20, 4)).astype("float32")
    y = np.tile([0, 1], 10)
    clf = TransferImageClassifier(backbone=None, epochs=1, callbacks=["x"])
    with pytest.raises(ValueError, match="keras.callbacks.Callback objects"):
        clf.fit(X, y)


def test_fit_and_predict_on_paths_with_a_name_that_is_not_utf8_and_a_pipe(tmp_path):
    from sklearn_vision import TransferImageClassifier

    names = [os.fsencode(tmp_path) + b"/caf\xe9_%d.png" % k for k in range(4)]
    names += [os.fsencode(tmp_path / f"plain_{k}.png") for k in range(4)]
    for k, name in enumerate(names):
        Image.new("RGB", (16, 16), (60 * (k % 2), 0, 0)).save(name)
    paths = [os.fsdecode(name) for name in names]
    clf = TransferImageClassifier(
        "small_cnn", weights=None, image_size=16, epochs=1, early_stopping=False, random_state=0
    )
    with time_limit(120):
        clf.fit(paths, [0, 1] * 4)
        assert np.isfinite(clf.predict_proba(paths)).all()
    pipe = tmp_path / "pipe.png"
    os.mkfifo(pipe)
    kind, exc = outcome(lambda: clf.predict([os.fspath(pipe)]), pipe)
    assert kind == "error" and "named pipe" in str(exc)

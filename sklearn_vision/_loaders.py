"""Loading a folder of class subfolders, or a CSV manifest: every file checked, the bad ones listed.

Pillow (and pydicom) check and decode; with an ``image_size``, JPEG and PNG
files that TensorFlow's decoders read to the same pixels are decoded in
tf.data, as Keras's own loader does. Nothing under the folder is ever written.
"""

import csv
import io
import os
import sys
import warnings
from collections import Counter
from dataclasses import dataclass
from functools import partial
from numbers import Integral

import numpy as np
from joblib import Parallel, delayed
from sklearn.utils import Bunch, gen_even_slices
from sklearn.utils._param_validation import Interval, validate_params

from ._decoding import check_file, decode_file, failure_reason, tensorflow_decoder
from ._dicom import UnreadableImage, regular_file_size
from ._images import check_image_size
from ._intensity import check_window
from ._progress import ProgressBar
from ._tf_data import read_with_tensorflow


@validate_params(
    {
        "path": [str, os.PathLike],
        "image_size": [Interval(Integral, 1, None, closed="left"), tuple, list, None],
        "classes": ["array-like", None],
        "extensions": ["array-like", set, None],
        "window": [str, tuple, list],
        "n_jobs": [
            Interval(Integral, 1, None, closed="left"),
            Interval(Integral, None, -1, closed="right"),
            None,
        ],
        "verbose": ["verbose"],
    },
    prefer_skip_nested_validation=True,
)
def load_image_folder(
    path,
    *,
    image_size=None,
    classes=None,
    extensions=None,
    window="auto",
    n_jobs=None,
    verbose=0,
):
    """Load a folder of images sorted into one subfolder per class.

    The layout is ``path/<class>/<image>`` (images in nested folders below a
    class folder count for that class); give ``path/train`` for a folder split
    into ``train/<class>`` and ``test/<class>``. Every file is decoded once to
    check it: empty files, files that are not images, truncated downloads,
    formats Pillow cannot decode, damaged DICOM files, images with NaN values
    or over ``2**25`` pixels, pipes, sockets and devices (never opened) and
    folders that cannot be listed are left out and listed in ``skipped`` with
    the reason, instead of stopping the load at the first one. Nothing under
    ``path`` is ever written, moved or deleted.

    Parameters
    ----------
    path : str or path-like
        The folder holding one subfolder per class.
    image_size : int or tuple of int (height, width), default=None
        Also decode every image to this size and return them as ``images``
        (JPEG and PNG files with TensorFlow's decoders in tf.data, the others
        with Pillow, all to the pixels :func:`read_image` gives). None returns
        the file names only (each file is still decoded to check it), the
        input the classifier and :class:`BackboneFeatures` stream from.
    classes : list of str, default=None
        The class subfolders to load, in this order (their index is the
        target): names of subfolders of ``path`` itself (not '', '.', '..' nor
        paths). None loads every subfolder whose name does not start with a
        dot, in sorted order.
    extensions : list of str, default=None
        Only consider files with these extensions (``[".jpg", ".png"]``, any
        case); others are skipped as such. None tries every file: whether it is
        an image is decided by its content, not its name.
    window : "auto", "minmax" or a pair, default="auto"
        How 16-bit, float and DICOM files are scaled to [0, 255], as in
        :func:`read_image`; 8-bit files are never changed.
    n_jobs : int, default=None
        Threads decoding the files. ``None`` means 1 unless in a
        :class:`joblib.parallel_config` context; ``-1`` means all processors.
    verbose : int, default=0
        Above 0, a progress bar on stderr and a summary of the skipped files.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        With the attributes:

        - ``filenames``, ndarray of shape (n_samples,): the paths of the images;
        - ``target``, ndarray of shape (n_samples,): class indices;
        - ``target_names``, list of str: the class names, ``target_names[target]``;
        - ``skipped``, list of ``(path, reason)``: every file not used, and why;
        - ``images``, ndarray of shape (n_samples, height, width, 3): the
          decoded, resized images (RGB, EXIF orientation applied), only with
          ``image_size``; uint8, or float32 in [0, 255] when some file is
          deeper than 8 bits;
        - ``DESCR``: what was loaded, in words.

    See Also
    --------
    read_image : Decode one image file.
    sklearn.datasets.load_files : The same layout for text files.

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib
    >>> from PIL import Image
    >>> from sklearn_vision import load_image_folder
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> for name in ["cats", "dogs"]:
    ...     (root / name).mkdir()
    ...     Image.new("RGB", (40, 30), "white").save(root / name / "a.jpg")
    >>> (root / "dogs" / "empty.jpg").touch()
    >>> data = load_image_folder(root, image_size=16)
    >>> data.target_names, data.target, data.images.shape
    (['cats', 'dogs'], array([0, 1]), (2, 16, 16, 3))
    >>> [(pathlib.Path(p).name, reason) for p, reason in data.skipped]
    [('empty.jpg', 'empty file')]
    """
    root = os.fspath(path)
    reading = _Reading.checked(image_size, window, n_jobs, verbose)
    return _load(_folder_candidates(root, classes, extensions), reading, source=root)


@dataclass(frozen=True)
class _Reading:
    """How the loaders read the files, their parameters checked.

    Decoded to ``size`` (None: only to check them), deep files scaled by
    ``window``, in ``n_jobs`` threads; above ``verbose`` 0, with a progress bar
    and a summary of the files skipped.
    """

    size: tuple | None
    window: object
    n_jobs: int | None
    verbose: int

    @classmethod
    def checked(cls, image_size, window, n_jobs, verbose):
        """The reading a loader's parameters ask for, ``image_size`` and ``window`` checked."""
        return cls(check_image_size(image_size), check_window(window), n_jobs, verbose)


@dataclass(frozen=True)
class _Candidates:
    """The files to decode, with the class index (and group) of each, and the files skipped.

    ``class_names`` are the names of the class indices; ``skipped`` lists the
    ``(path, reason)`` of the files left out before decoding; ``groups`` is
    None when the source names none.
    """

    files: list
    labels: list
    class_names: list
    skipped: list
    groups: list | None = None


def _load(candidates, reading, source):
    """Decode the candidate files and make the Bunch: the part both loaders share."""
    files, class_names = candidates.files, candidates.class_names
    with ProgressBar(len(files), reading.verbose > 0, unit="files") as progress:
        images, reasons = read_files(files, reading.size, reading.window, reading.n_jobs, progress)
    keep = np.ones(len(files), dtype=bool)
    keep[list(reasons)] = False
    reasons = {files[index]: reason for index, reason in reasons.items()}
    skipped = sorted(candidates.skipped + list(reasons.items()))

    filenames = np.asarray(files, dtype=object)[keep]
    labels = np.asarray(candidates.labels, dtype=int)[keep]
    if len(filenames) == 0:
        raise ValueError(
            f"No readable image in {source!r}: "
            + (
                f"all {len(skipped)} files skipped ({_summary(skipped)})."
                if skipped
                else "no image files found."
            )
        )
    present = np.unique(labels)
    if len(present) < len(class_names):
        empty = [name for index, name in enumerate(class_names) if index not in present]
        warnings.warn(
            f"Classes with no readable image, left out: {empty}.", UserWarning, stacklevel=3
        )
        labels = np.searchsorted(present, labels)
        class_names = [class_names[index] for index in present]

    data = Bunch(
        filenames=filenames,
        target=labels,
        target_names=class_names,
        skipped=skipped,
        DESCR=f"{len(filenames)} images of {len(class_names)} classes from {source!r}; "
        f"{len(skipped)} files skipped.",
    )
    if candidates.groups is not None:
        data.groups = np.asarray(candidates.groups, dtype=object)[keep]
        data.DESCR = data.DESCR.replace(
            " classes from", f" classes in {len(np.unique(data.groups))} groups from"
        )
    if reading.size is not None:
        data.images = images if keep.all() else images[keep]
    if reading.verbose > 0:
        _report_skipped(data)
    return data


@validate_params(
    {
        "path": [str, os.PathLike],
        "path_column": [str],
        "label_column": [str],
        "group_column": [str, None],
        "root": [str, os.PathLike, None],
        "image_size": [Interval(Integral, 1, None, closed="left"), tuple, list, None],
        "classes": ["array-like", None],
        "window": [str, tuple, list],
        "n_jobs": [
            Interval(Integral, 1, None, closed="left"),
            Interval(Integral, None, -1, closed="right"),
            None,
        ],
        "verbose": ["verbose"],
    },
    prefer_skip_nested_validation=True,
)
def load_image_csv(
    path,
    *,
    path_column,
    label_column,
    group_column=None,
    root=None,
    image_size=None,
    classes=None,
    window="auto",
    n_jobs=None,
    verbose=0,
):
    r"""Load the images a CSV manifest lists, with their labels and groups.

    Clinical datasets often come as a table (image path, label, patient)
    rather than class folders. Every listed file is decoded once to check it,
    as in :func:`load_image_folder`: missing, empty and broken files, and rows
    without a path or a label, are left out and listed in ``skipped`` with the
    reason. A label a spreadsheet writes for a missing value (empty, ``nan``,
    ``NA``, ``N/A``, ``None``, ``null``, any case) is no label: its row is
    skipped, naming its line. A path listed twice is refused (ValueError
    naming both lines): an image with two rows would count twice, or under two
    labels. Neither the manifest nor the images are ever written.

    Parameters
    ----------
    path : str or path-like
        The CSV file, UTF-8 text with a header row naming its columns (read
        with Python's :mod:`csv` module; other columns are ignored). Other
        encodings, compressed files and spreadsheets are refused, naming the
        file and the line.
    path_column : str
        The column holding the image paths, relative to ``root`` unless
        absolute.
    label_column : str
        The column holding the class labels (any text).
    group_column : str, default=None
        The column holding group labels, such as a patient ID, returned as
        ``groups`` (give them to ``fit(..., groups=...)``).
    root : str or path-like, default=None
        The folder relative paths start from; None is the CSV file's folder.
    image_size : int or tuple of int (height, width), default=None
        Also decode every image to this size and return them as ``images``.
    classes : list of str, default=None
        The labels to load, in this order (their index is the target); rows
        with other labels are skipped as such. None loads every label, sorted.
    window : "auto", "minmax" or a pair, default="auto"
        How 16-bit, float and DICOM files are scaled to [0, 255], as in
        :func:`read_image`.
    n_jobs : int, default=None
        Threads decoding the files, as in :func:`load_image_folder`.
    verbose : int, default=0
        Above 0, a progress bar on stderr and a summary of the skipped files.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        As :func:`load_image_folder` returns, plus ``groups``, ndarray of
        shape (n_samples,), with ``group_column``. ``skipped`` names rows by
        their line in the file (``"manifest.csv:7"``) when they have no path.

    See Also
    --------
    load_image_folder : The same for a folder of class subfolders.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from PIL import Image
    >>> from sklearn_vision import load_image_csv
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> for name in ["p1_a.png", "p1_b.png", "p2_a.png"]:
    ...     Image.new("L", (32, 32), 128).save(root / name)
    >>> _ = (root / "labels.csv").write_text(
    ...     "file,finding,patient\n"
    ...     "p1_a.png,normal,P1\np1_b.png,nodule,P1\np2_a.png,normal,P2\n"
    ...     "p3_a.png,nodule,P3\n"
    ... )
    >>> data = load_image_csv(
    ...     root / "labels.csv", path_column="file", label_column="finding",
    ...     group_column="patient",
    ... )
    >>> data.target_names, data.target.tolist(), data.groups.tolist()
    (['nodule', 'normal'], [1, 0, 1], ['P1', 'P1', 'P2'])
    >>> [(pathlib.Path(p).name, reason) for p, reason in data.skipped]
    [('p3_a.png', 'no such file or directory')]
    """
    manifest = os.fspath(path)
    base = os.path.dirname(os.path.abspath(manifest)) if root is None else os.fspath(root)
    rows, skipped = _read_manifest(manifest, path_column, label_column, group_column)
    reading = _Reading.checked(image_size, window, n_jobs, verbose)
    candidates = _manifest_candidates(rows, skipped, base, classes, group_column is not None)
    return _load(candidates, reading, source=manifest)


MAX_MANIFEST_BYTES = 2**30


def _manifest_candidates(rows, skipped, base, classes, with_groups):
    """The files of the manifest's ``(path, label, group)`` rows under ``base``, checked.

    Rows whose label is not in ``classes``, and paths that are no file, join
    the rows already ``skipped``.
    """
    skipped = list(skipped)
    class_names = _manifest_classes(rows, classes)
    index = {name: k for k, name in enumerate(class_names)}
    files, labels, groups = [], [], []
    for file, label, group in rows:
        file = os.path.join(base, file)  # an absolute path stays as it is
        if label not in index:
            skipped.append((file, f"label {label!r} not in classes"))
            continue
        if not os.path.exists(file) or os.path.isdir(file):
            reason = "a folder, not a file" if os.path.isdir(file) else "no such file or directory"
            skipped.append((file, reason))
            continue  # pipes and devices: the decoder says what they are
        files.append(file)
        labels.append(index[label])
        groups.append(group)
    return _Candidates(files, labels, class_names, skipped, groups if with_groups else None)


def _manifest_classes(rows, classes):
    """The class names: ``classes`` as text, or every label of the rows, sorted."""
    if classes is None:
        return sorted({label for _, label, _ in rows})
    class_names = [str(name) for name in classes]
    if len(set(class_names)) != len(class_names):
        raise ValueError(f"classes lists a label twice: {class_names}.")
    return class_names


# Labels that spreadsheets and pandas write for a missing value: never a class.
MISSING_LABELS = frozenset({"", "nan", "na", "n/a", "none", "null", "#n/a", "nat", "-"})


def _read_manifest(manifest, path_column, label_column, group_column):
    """The ``(path, label, group)`` rows of a CSV file, and the rows skipped.

    ValueError naming the file (and the line) for a file that is not UTF-8 CSV
    text, and for a path listed twice.
    """
    text = _manifest_text(manifest)
    reader = csv.DictReader(io.StringIO(text, newline=""))
    rows, skipped, lines = [], [], {}
    try:
        columns = reader.fieldnames or []
        wanted = [path_column, label_column] + ([group_column] if group_column else [])
        missing = [name for name in wanted if name not in columns]
        if missing:
            raise ValueError(
                f"{manifest!r} has no column {', '.join(map(repr, missing))}; its header "
                f"names {columns}. Give path_column, label_column and group_column from these."
            )
        for record in reader:
            line = reader.line_num
            file = (record[path_column] or "").strip()
            label = (record[label_column] or "").strip()
            group = (record[group_column] or "").strip() if group_column else None
            if not file:
                skipped.append((f"{manifest}:{line}", f"no path in column {path_column!r}"))
            elif label.lower() in MISSING_LABELS:
                shown = f"missing value {label!r}" if label else "no label"
                skipped.append((file, f"{shown} in column {label_column!r} (line {line})"))
            elif group_column and group.lower() in MISSING_LABELS:
                shown = f"missing value {group!r}" if group else "no group"
                skipped.append((file, f"{shown} in column {group_column!r} (line {line})"))
            else:
                first = lines.setdefault(os.path.normpath(file), line)
                if first != line:
                    raise ValueError(
                        f"{manifest!r} lists {file!r} twice (lines {first} and {line}); "
                        "a manifest lists each image once: remove one of the rows."
                    )
                rows.append((file, label, group))
    except csv.Error as exc:
        raise ValueError(
            f"{manifest!r} is not a CSV file Python's csv module reads (line "
            f"{reader.line_num + 1}: {exc}); save it as CSV (UTF-8)."
        ) from exc
    return rows, skipped


def _manifest_text(manifest):
    """The text of a CSV manifest; ValueError naming the file when it is not UTF-8 text."""
    try:
        if regular_file_size(manifest) > MAX_MANIFEST_BYTES:
            raise ValueError(
                f"{manifest!r} is over {MAX_MANIFEST_BYTES // 2**20} MiB, too large for a "
                "manifest of image paths; split it."
            )
    except FileNotFoundError:
        raise FileNotFoundError(f"No such CSV file: {manifest!r}.") from None
    except UnreadableImage as exc:
        raise ValueError(f"{manifest!r} is {exc}; give a CSV file.") from None
    with open(manifest, "rb") as file:
        data = file.read()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ValueError(
            f"{manifest!r} is not UTF-8 text ({_text_kind(data)}; byte {exc.start}, line {line}): "
            "save it as CSV UTF-8 (in a spreadsheet: Save As, 'CSV UTF-8')."
        ) from exc


def _text_kind(data):
    """What a file that is not UTF-8 text seems to be, by its first bytes."""
    if data.startswith(b"\x1f\x8b"):
        return "a gzip file: decompress it first"
    if data.startswith(b"PK\x03\x04"):
        return "a zip file, such as an Excel workbook"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "UTF-16 text"
    return "perhaps Latin-1 or another 8-bit encoding"


def _class_folders(root, classes):
    if not os.path.isdir(root):
        if not os.path.exists(root):
            raise FileNotFoundError(f"No such folder: {root!r}.")
        raise NotADirectoryError(f"Expected a folder of class subfolders; {root!r} is a file.")
    found = sorted(
        entry.name
        for entry in os.scandir(root)
        if entry.is_dir() and not entry.name.startswith(".")
    )
    if classes is None:
        if not found:
            raise ValueError(
                f"No class subfolders in {root!r}: expected the layout path/<class>/<image>."
            )
        return found
    classes = [_class_folder_name(name, root) for name in classes]
    missing = [name for name in classes if not os.path.isdir(os.path.join(root, name))]
    if missing:
        raise ValueError(f"Class folders {missing} not found in {root!r}; it holds {found}.")
    if len(set(classes)) != len(classes):
        raise ValueError(f"classes lists a folder twice: {classes}.")
    return classes


def _class_folder_name(name, root):
    """``name`` if it names a subfolder of the root itself; ValueError otherwise.

    '', '.', '..' and names with a separator would load the root twice, or
    files outside it.
    """
    if not isinstance(name, str) or name in ("", ".", "..") or "\0" in name or any(
        sep in name for sep in (os.sep, os.altsep) if sep
    ):
        raise ValueError(
            f"classes must be names of subfolders of {root!r}, such as 'cats'; got {name!r}. "
            "Give each class folder's own name, without '/' and not '.' or '..'."
        )
    return name


def _folder_candidates(root, classes, extensions):
    """The files under the class folders of ``root``, and those skipped by their place or name."""
    class_names = _class_folders(root, classes)
    files, labels, skipped = _list_files(root, class_names, extensions)
    return _Candidates(files, labels, class_names, skipped)


def _list_files(root, class_names, extensions):
    """Candidate files with their class index, and the files skipped by name."""
    if extensions is not None:
        extensions = {("." + e.lstrip(".")).lower() for e in extensions}
    files, labels, skipped = [], [], []
    for entry in sorted(os.scandir(root), key=lambda entry: entry.name):
        if entry.is_file():
            skipped.append((entry.path, "not in a class folder"))
    def unreadable(error):  # os.walk skips a folder it cannot list: say so
        skipped.append((error.filename, f"folder not listed ({error.strerror.lower()})"))

    for index, name in enumerate(class_names):
        for folder, subfolders, names in os.walk(os.path.join(root, name), onerror=unreadable):
            subfolders.sort()
            for file_name in sorted(names):
                file = os.path.join(folder, file_name)
                if extensions is not None and os.path.splitext(file)[1].lower() not in extensions:
                    skipped.append((file, f"extension not in {sorted(extensions)}"))
                else:
                    files.append(file)
                    labels.append(index)
    return files, labels, skipped


def read_files(files, size, window, n_jobs, progress):
    """Decode every file to check it: ``(images or None, {index: reason})``.

    Without ``size`` Pillow reads every file (no image kept). With it,
    ``images`` holds one slot per file (those of skipped files unset): JPEG and
    PNG files that TensorFlow decodes to the same pixels as Pillow go through
    tf.data, as in Keras's loader; the others, and those TensorFlow fails on,
    through Pillow (or pydicom), which also says what is wrong with a bad file.
    ``images`` is uint8, or float32 once a file deeper than 8 bits is read.
    """
    reasons = {}
    check, decode = partial(check_file, window=window), partial(decode_file, window=window)

    def record(indices, outcomes):
        nonlocal images
        for index, (image, reason) in zip(indices, outcomes, strict=True):
            if reason is not None:
                reasons[index] = reason
            elif size is not None:
                if image.dtype != images.dtype:
                    images = images.astype(np.float32)
                images[index] = image
        progress.update(len(indices), detail=f"{len(reasons)} skipped")

    if size is None:
        for indices, outcomes in _in_threads(check, files, range(len(files)), size, n_jobs):
            record(indices, outcomes)
        return None, reasons

    images = np.empty((len(files), *size, 3), dtype=np.uint8)
    done = np.zeros(len(files), dtype=bool)
    # Headers first, in one thread: opening them is Python work (the GIL).
    codes = {}
    for index, (code, reason) in enumerate(_outcomes(tensorflow_decoder, files, size)):
        if reason is not None:
            record([index], [(None, reason)])
        elif code is not None:
            codes[index] = code
    if codes:
        chosen = np.fromiter(codes, dtype=np.intp, count=len(codes))
        batches = read_with_tensorflow(
            [os.fsencode(files[index]) for index in chosen],  # any name, as bytes
            np.fromiter(codes.values(), dtype=np.int32, count=len(codes)),
            size,
            n_jobs,
        )
        for positions, batch in batches:
            indices = chosen[positions]
            images[indices] = batch
            done[indices] = True
            progress.update(len(indices), detail=f"{len(reasons)} skipped")
    done[list(reasons)] = True
    rest = np.flatnonzero(~done)
    for indices, outcomes in _in_threads(decode, files, rest, size, n_jobs):
        record(indices, outcomes)
    return images, reasons


def _in_threads(function, files, indices, size, n_jobs):
    """Yield ``(indices, [(function(file, size), None) or (None, reason), ...])`` by chunk."""
    indices = np.asarray(indices, dtype=np.intp)
    if len(indices) == 0:
        return
    n_chunks = max(1, min(len(indices) // 32, 4 * os.cpu_count()))
    chunks = [indices[part] for part in gen_even_slices(len(indices), n_chunks)]
    results = Parallel(n_jobs=n_jobs, prefer="threads", return_as="generator")(
        delayed(_outcomes)(function, [files[index] for index in chunk], size) for chunk in chunks
    )
    yield from zip(chunks, results, strict=True)


def _outcomes(function, files, size):
    outcomes = []
    for file in files:
        try:
            outcomes.append((function(file, size), None))
        except Exception as exc:
            reason = failure_reason(exc)
            if reason is None:
                raise
            outcomes.append((None, reason))
    return outcomes


def _summary(skipped):
    """'2 not an image, 1 empty file': the reasons counted, details dropped."""
    counts = Counter(reason.split(" (")[0] for _, reason in skipped)
    return ", ".join(f"{count} {reason}" for reason, count in counts.most_common())


def _report_skipped(data):
    summary = f" Skipped: {_summary(data.skipped)}." if data.skipped else ""
    sys.stderr.write(f"{data.DESCR}{summary}\n")

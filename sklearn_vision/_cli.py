"""The command line: ``sklearn-vision`` and ``python -m sklearn_vision``.

``sample-size`` answers "how many images do we need?" for a folder of class
subfolders (or the bundled digits); ``train`` fits a classifier on a folder and
saves it; ``predict`` labels image files with a saved classifier.

Exit status: 0 on success, 1 when the job fails (unreadable data, weights that
cannot be had, a file that cannot be written), 2 on a usage error.
"""

import argparse
import csv
import json
import logging
import math
import os
import pickle
import re
import sys
import time
import warnings
from typing import NamedTuple

import numpy as np

from ._backbones import BACKBONES
from ._power_law import LearningCurveWarning
from ._version import __version__

# The small convnet learns from scratch: on the bundled digits, more epochs,
# smaller batches and a higher learning rate than a pretrained head needs.
_FROM_SCRATCH = {"epochs": 30, "batch_size": 16, "learning_rate": 3e-3}
# The confidence of the range of images the answer gives (samples_needed_interval).
RANGE = 0.8


# TensorFlow's C++ start-up lines that TF_CPP_MIN_LOG_LEVEL does not hide (absl's
# "before InitializeLog" notice, the CUDA stub on a machine without a GPU, oneDNN
# and CPU-feature notices): written to file descriptor 2 while TensorFlow imports.
_STARTUP_NOISE = re.compile(
    r"absl::InitializeLog|cudart_stub|Could not find cuda drivers|oneDNN custom operations"
    r"|This TensorFlow binary is optimized|rebuild TensorFlow with|Unable to register cu"
    r"|computation placer|TF-TRT Warning"
)


class CommandError(Exception):
    """A failure to report in one line, without a traceback."""


def main(argv=None):
    """Run the command line with ``argv`` (``sys.argv[1:]`` by default); return the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    # TensorFlow's Python warnings (retracing notices) are for developers.
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    try:
        import_tensorflow_quietly()
        return args.run(args)
    except (CommandError, OSError, ValueError) as exc:
        print(f"sklearn-vision {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        resume = (
            f"; run the same command again to resume from {args.cache_dir}"
            if getattr(args, "cache_dir", None)
            else ""
        )
        print(f"sklearn-vision {args.command}: interrupted{resume}", file=sys.stderr)
        return 130


def import_tensorflow_quietly():
    """Import TensorFlow with its C++ start-up notices kept off stderr; other lines pass.

    The notices are written by C++ to file descriptor 2 at import, where
    Python's own filters cannot reach: stderr goes to a temporary file for the
    import, and every line that is not a known notice is written back (so an
    import error still shows in full).
    """
    import tempfile

    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow  # noqa: F401
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            for line in captured.read().decode(errors="replace").splitlines():
                if not _STARTUP_NOISE.search(line):
                    print(line, file=sys.stderr)


def _device():
    """Where TensorFlow trains, in words: the GPUs it sees, or the CPU."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return f"CPU ({os.cpu_count()} cores; TensorFlow sees no GPU)"
    names = [tf.config.experimental.get_device_details(g).get("device_name", g.name) for g in gpus]
    return f"GPU ({', '.join(names)})"


def _parser():
    parser = argparse.ArgumentParser(
        prog="sklearn-vision",
        description="Keras transfer learning for images, and how many images you need.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    sample_size = commands.add_parser(
        "sample-size",
        help="learning curve of a folder of class subfolders: how many images a target needs",
        description="Train on class-balanced subsamples of growing size, repeated, score "
        "each on a held-out split, fit a learning curve and extrapolate it: the score with "
        "more images, and how many images the target needs. Without FOLDER, runs on "
        "scikit-learn's bundled digits with a small convnet trained from scratch (no "
        "download).",
    )
    sample_size.add_argument(
        "folder", nargs="?", metavar="FOLDER", help="folder of class subfolders of images"
    )
    _data_arguments(sample_size)
    sample_size.add_argument(
        "--scoring",
        type=_scoring_name,
        default="accuracy",
        metavar="SCORE",
        help="what the learning curve measures, with scikit-learn's scorers: accuracy; "
        "balanced_accuracy (the mean of the recalls of the classes); roc_auc (from the "
        "predicted probabilities; with more than two classes, one-vs-rest, the mean over "
        "the classes: roc_auc_ovr); f1 (the mean F1 of the classes, macro, two classes "
        "included); recall:CLASS (the sensitivity of CLASS: the share of its held-out "
        "images labelled CLASS, such as recall:pneumonia); f1:CLASS (the F1 of CLASS). "
        "The noise of the held-out images is bounded below by the binomial for accuracy "
        "and balanced_accuracy only; for roc_auc, f1 and recall:CLASS it is estimated "
        "from the spread of the repeats only (default: accuracy)",
    )
    sample_size.add_argument(
        "--target",
        type=_fraction,
        default=0.95,
        help="the --scoring score to reach, such as 0.9 (default: 0.95)",
    )
    _model_arguments(sample_size)
    sample_size.add_argument(
        "--train-sizes",
        type=_sizes,
        metavar="S1,S2,...",
        help="subsample sizes: fractions of the training data or image counts (default: "
        "0.05,0.1,0.25,0.5,1: the largest, all the training images, measures what the "
        "images you have already reach; 0.05,0.1,0.25,0.5 on the bundled data)",
    )
    sample_size.add_argument(
        "--repeats", type=_positive_int, default=5, help="fits per size (default: 5)"
    )
    sample_size.add_argument(
        "--test-size",
        type=_fraction,
        default=0.1,
        help="held-out fraction, on folders large enough for one held-out split to hold "
        "100 images and 20 of each class (default: 0.1; smaller folders: every image is "
        "scored, the repeats of each size spread over --repeats folds, with 3 or more)",
    )
    sample_size.add_argument(
        "--cv",
        type=_folds,
        metavar="K",
        help="score on K folds instead, --repeats fits per fold at each size (default: none)",
    )
    sample_size.add_argument(
        "--plot", metavar="PNG", help="write the learning-curve plot here (default: no plot)"
    )
    sample_size.add_argument(
        "--json", metavar="FILE", help="write a JSON record here (default: no record)"
    )
    _force_argument(sample_size)
    sample_size.add_argument(
        "--n-jobs",
        type=int,
        default=None,
        help="fits in parallel (joblib; -1: all cores; default: 1)",
    )
    sample_size.add_argument(
        "--cache-dir",
        metavar="DIR",
        help="keep the backbone features and every finished fit here: the same command "
        "run again (after Ctrl-C or a lost machine) reuses them (default: nothing kept)",
    )
    sample_size.add_argument(
        "-q", "--quiet", action="store_true", help="no progress bars (default: shown)"
    )
    sample_size.set_defaults(run=_sample_size)

    train = commands.add_parser(
        "train",
        help="fit a classifier on a folder of class subfolders, report its held-out "
        "accuracy, and save it",
        description="Fit a TransferImageClassifier on the readable images of FOLDER (one "
        "subfolder per class) or of a --csv manifest, holding out a stratified test split "
        "to report accuracy, balanced accuracy and the confusion matrix, and save it as a "
        ".keras file (loaded without pickle by sklearn_vision.load_model).",
    )
    train.add_argument(
        "folder", nargs="?", metavar="FOLDER", help="folder of class subfolders of images"
    )
    _data_arguments(train)
    train.add_argument(
        "--out",
        required=True,
        metavar="FILE",
        help="where to save the model: a .keras file (or .joblib, a pickle that runs code "
        "when loaded: only for readers who trust you)",
    )
    train.add_argument(
        "--test-size",
        type=_held_out,
        default=0.1,
        help="held-out fraction for the report, 0 for none (default: 0.1)",
    )
    train.add_argument(
        "--refit",
        action="store_true",
        help="after the report, refit on all the images and save that model (default: save "
        "the model that was evaluated)",
    )
    train.add_argument(
        "--plot", metavar="PNG", help="write the confusion-matrix plot here (default: no plot)"
    )
    _force_argument(train)
    _model_arguments(train)
    train.add_argument(
        "-q", "--quiet", action="store_true", help="no progress bars (default: shown)"
    )
    train.set_defaults(run=_train)

    predict = commands.add_parser(
        "predict",
        help="label image files with a saved classifier",
        description="Print the predicted label and its probability for each file.",
    )
    predict.add_argument("model", metavar="MODEL", help="a .keras model saved by `train`")
    predict.add_argument("files", nargs="+", metavar="FILE", help="image files")
    predict.add_argument(
        "--csv",
        action="store_true",
        help="CSV (file,label,probability) instead of tab-separated lines (default: tab-separated)",
    )
    predict.add_argument(
        "--trust-pickle",
        action="store_true",
        help="also load a pickle or joblib MODEL, which runs code as it loads: only one from "
        "a source you trust (default: refused)",
    )
    predict.set_defaults(run=_predict)
    return parser


def _data_arguments(parser):
    group = parser.add_argument_group(
        "data",
        "A CSV manifest instead of class folders, and groups (such as patients) kept "
        "whole on each side of every split",
    )
    group.add_argument(
        "--csv",
        metavar="FILE",
        help="CSV file listing the images (a header row; paths relative to its folder), "
        "instead of FOLDER (default: none)",
    )
    group.add_argument(
        "--classes",
        type=_names,
        metavar="NAME,NAME,...",
        help="use only these classes (class subfolders, or --csv labels), in this order "
        "(default: all)",
    )
    group.add_argument(
        "--path-column", default="path", help="--csv column of image paths (default: path)"
    )
    group.add_argument(
        "--label-column", default="label", help="--csv column of labels (default: label)"
    )
    group.add_argument(
        "--group-column",
        metavar="COLUMN",
        help="--csv column of group IDs, such as the patient (default: no groups)",
    )
    group.add_argument(
        "--groups",
        type=_regex,
        metavar="REGEX",
        help="group ID from each file name: the first capture group of REGEX, or the whole "
        r"match, e.g. '^(P\d+)_' (default: no groups)",
    )
    group.add_argument(
        "--window",
        type=_window,
        default="auto",
        metavar="LOW,HIGH",
        help="how 16-bit, float and DICOM pixel values map to 0-255: auto (the file's bit "
        "depth, or a DICOM file's window), minmax, values such as -160,240, or "
        "percentiles such as 1%%,99%% (default: auto)",
    )


def _model_arguments(parser):
    group = parser.add_argument_group("model")
    group.add_argument(
        "--backbone",
        type=_backbones,
        metavar="NAME[=WEIGHTS]",
        help="keras.applications backbone or small_cnn, one of: "
        f"{', '.join(sorted(BACKBONES))}; or, with KerasHub installed, a KerasHub preset "
        "name (dinov2_small, siglip2_base_patch16_224, ...), handle or local preset "
        "directory; sample-size compares several, given as NAME,NAME; NAME=WEIGHTS gives "
        "one its own weights (imagenet, none or a weights file), such as "
        "mobilenet_v2=dogs.weights.h5,small_cnn. Every backbone is built with its "
        "weights before the first study runs (default: mobilenet_v2; small_cnn on the "
        "bundled data)",
    )
    group.add_argument(
        "--weights",
        help="imagenet, none, or a weights file, for every --backbone not given "
        "NAME=WEIGHTS (default: imagenet; none for small_cnn)",
    )
    group.add_argument(
        "--image-size",
        type=_positive_int,
        help="input size in pixels (default: the backbone's own; 32 on the bundled data)",
    )
    group.add_argument(
        "--epochs", type=_positive_int, help="frozen-stage epochs (default: 10; 30 from scratch)"
    )
    group.add_argument(
        "--learning-rate",
        type=float,
        help="frozen-stage learning rate (default: 1e-3; 3e-3 from scratch)",
    )
    group.add_argument(
        "--fine-tune",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="second stage: fine-tune the backbone's top blocks (default: on)",
    )
    group.add_argument(
        "--fine-tune-epochs",
        type=_positive_int,
        default=20,
        help="fine-tuning epochs (default: 20)",
    )
    group.add_argument(
        "--batch-size", type=_positive_int, help="images per step (default: 32; 16 from scratch)"
    )
    group.add_argument(
        "--augmentation",
        choices=("none", "default"),
        default="none",
        help="training-image augmentation: default is flips, small rotations and zooms, "
        "contrast (default: none)",
    )
    group.add_argument(
        "--augmentation-views",
        type=_positive_int,
        default=8,
        metavar="N",
        help="augmented views of each image computed once and cached, with a frozen "
        "pretrained backbone (default: 8)",
    )
    group.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")


# ---------------------------------------------------------------- argument types


def _fraction(text):
    value = float(text)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1, got {text}")
    return value


def _comma_separated(text):
    return [part.strip() for part in text.split(",") if part.strip()]


def _backbones(text):
    """The (name, weights) of each NAME or NAME=WEIGHTS item; weights None for NAME alone."""
    from ._backbones import backbone_record

    backbones = []
    for item in _comma_separated(text):
        name, equals, weights = (part.strip() for part in item.partition("="))
        if equals and not (name and weights):
            raise argparse.ArgumentTypeError(
                f"expected NAME or NAME=WEIGHTS (such as mobilenet_v2=dogs.weights.h5), "
                f"got {item!r}"
            )
        try:
            backbone_record(name)
        except (ValueError, OSError) as exc:  # OSError: a handle's preset cannot be had
            raise argparse.ArgumentTypeError(str(exc)) from None
        backbones.append((name, weights or None))
    if not backbones:
        raise argparse.ArgumentTypeError(f"no backbone named in {text!r}")
    names = [name for name, _ in backbones]
    if len(set(names)) < len(names):
        raise argparse.ArgumentTypeError(f"a backbone is named twice: {text!r}")
    return backbones


# --scoring: scikit-learn scorer names, and those of one class (NAME:CLASS).
_SCORINGS = ("accuracy", "balanced_accuracy", "roc_auc", "f1")
_CLASS_SCORINGS = ("recall", "f1")


def _scoring_name(text):
    """A --scoring value, as given: its class, if any, is checked once the labels are read."""
    name, colon, label = text.partition(":")
    if (text in _SCORINGS) or (colon and name in _CLASS_SCORINGS and label):
        return text
    raise argparse.ArgumentTypeError(
        f"expected {', '.join(_SCORINGS)}, recall:CLASS or f1:CLASS, got {text!r}"
    )


def _names(text):
    names = _comma_separated(text)
    if len(names) < 2:
        raise argparse.ArgumentTypeError(f"expected two class names or more, got {text!r}")
    return names


def _folds(text):
    value = int(text)
    if value < 2:
        raise argparse.ArgumentTypeError(f"expected 2 folds or more, got {text}")
    return value


def _held_out(text):
    value = float(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"expected a fraction in [0, 1), got {text}")
    return value


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def _regex(text):
    try:
        return re.compile(text)
    except re.error as exc:
        raise argparse.ArgumentTypeError(f"not a regular expression: {text!r} ({exc})") from None


def _window(text):
    from ._intensity import check_window

    if text in ("auto", "minmax"):
        return text
    parts = [part.strip() for part in text.split(",")]
    try:
        values = [part if part.endswith("%") else float(part) for part in parts]
        check_window(values)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected auto, minmax, LOW,HIGH or LOW%,HIGH%, got {text!r}"
        ) from None
    return tuple(values)


def _sizes(text):
    """Image counts when every size is a whole number (1,2,3), else fractions in (0, 1]."""
    parts = [part.strip() for part in text.split(",") if part.strip()]
    try:
        sizes = [float(part) for part in parts]
    except ValueError:
        sizes = []
    if not sizes or not all(math.isfinite(size) and size > 0 for size in sizes):
        raise argparse.ArgumentTypeError(
            f"expected comma-separated fractions such as 0.1,0.25,0.5 or image counts "
            f"such as 20,40,80, got {text!r}"
        )
    if all(part.isdigit() for part in parts):
        return tuple(int(part) for part in parts)
    if any(size > 1 for size in sizes):
        raise argparse.ArgumentTypeError(
            f"sizes are all fractions in (0, 1] (such as 0.1,0.5,1.0) or all whole image "
            f"counts (such as 20,40,80), got {text!r}"
        )
    return tuple(sizes)


# ---------------------------------------------------------------- data and model


def _load(args):
    """Images (arrays or file names), string labels, groups or None, a description, skipped."""
    if args.folder is not None and args.csv is not None:
        raise CommandError("give FOLDER or --csv FILE, not both")
    if args.folder is None and args.csv is None:
        if args.groups is not None or args.group_column is not None or args.classes:
            raise CommandError("--groups, --group-column and --classes need FOLDER or --csv FILE")
        from .datasets import load_digits_images

        data = load_digits_images(image_size=args.image_size or 32)
        labels = data.target_names[data.target].astype(str)
        height, width = data.images.shape[1:3]
        description = (
            f"scikit-learn's handwritten digits (bundled, no download): {len(labels)} "
            f"images of {len(data.target_names)} classes at {height}x{width} pixels"
        )
        return data.images, labels, None, description, []

    from ._loaders import load_image_csv, load_image_folder

    verbose = int(not args.quiet)
    if args.csv is not None:
        _check_csv_columns(args)
        data = load_image_csv(
            args.csv,
            path_column=args.path_column,
            label_column=args.label_column,
            group_column=args.group_column,
            classes=args.classes,
            window=args.window,
            n_jobs=-1,
            verbose=verbose,
        )
        source = args.csv
    else:
        if args.group_column is not None:
            raise CommandError("--group-column reads --csv FILE; with FOLDER use --groups REGEX")
        data = load_image_folder(
            args.folder, classes=args.classes, window=args.window, n_jobs=-1, verbose=verbose
        )
        source = args.folder
    groups = data.get("groups")
    if args.groups is not None:
        if groups is not None:
            raise CommandError("give --groups REGEX or --group-column, not both")
        groups = _groups_from_names(data.filenames, args.groups)
    labels = np.asarray(data.target_names, dtype=object)[data.target]
    counts = ", ".join(
        f"{name} {count}"
        for name, count in zip(data.target_names, np.bincount(data.target), strict=True)
    )
    description = f"{source}: {len(labels)} images of {len(data.target_names)} classes ({counts})"
    if groups is not None:
        description += f", {len(np.unique(groups))} groups"
    for path, reason in data.skipped[:10]:
        print(f"  skipped {path}: {reason}", file=sys.stderr)
    if len(data.skipped) > 10:
        print(f"  ... and {len(data.skipped) - 10} more skipped files", file=sys.stderr)
    return data.filenames, labels, groups, description, data.skipped


def _check_csv_columns(args):
    """The --csv header holds the columns the options name, or say which options to change."""
    if not os.path.isfile(args.csv):
        raise CommandError(f"--csv {args.csv}: no such file")
    try:
        with open(args.csv, newline="", encoding="utf-8-sig") as file:
            header = next(csv.reader(file), [])
    except (UnicodeDecodeError, csv.Error) as exc:
        raise CommandError(
            f"--csv {args.csv}: not UTF-8 CSV text ({exc}); save it as CSV UTF-8"
        ) from exc
    options = {"--path-column": args.path_column, "--label-column": args.label_column}
    if args.group_column is not None:
        options["--group-column"] = args.group_column
    missing = {option: name for option, name in options.items() if name not in header}
    if missing:
        raise CommandError(
            f"--csv {args.csv} has no column {', '.join(map(repr, missing.values()))}; its "
            f"header names {header}: give {' and '.join(missing)} a column from these"
        )


def _check_classes(labels, command):
    """Stop on a class too small for ``command``, naming it and the option that leaves it out."""
    names, counts = np.unique(labels, return_counts=True)
    single = [repr(str(name)) for name in names[counts < 2]]
    if single:
        kept = ",".join(str(name) for name in names[counts >= 2])
        subject = (
            f"class {single[0]} has" if len(single) == 1 else (f"classes {', '.join(single)} have")
        )
        raise CommandError(
            f"{subject} a single image: {command} needs at least 2 images of each class, "
            f"one to train on and one to score. Add images, or leave it out with "
            f"--classes {kept}"
        )


def _groups_from_names(filenames, pattern):
    """The group ID of each file: REGEX's first capture group in its name, or the match."""
    groups, unmatched = [], []
    for path in filenames:
        match = pattern.search(os.path.basename(path))
        if match is None:
            unmatched.append(os.path.basename(path))
            continue
        groups.append(match.group(1) if pattern.groups else match.group(0))
    if unmatched:
        raise CommandError(
            f"--groups {pattern.pattern!r} matches no group in {len(unmatched)} file names, "
            f"such as {unmatched[:3]}; every image needs one"
        )
    return np.asarray(groups, dtype=object)


def _classifier(args):
    """The TransferImageClassifier the options describe (the first --backbone's)."""
    from ._backbones import backbone_record
    from ._transfer import TransferImageClassifier

    bundled = args.folder is None and args.csv is None
    backbone, own_weights = (args.backbone or [(_default_backbone(args), None)])[0]
    record = backbone_record(backbone)
    weights = own_weights or args.weights or ("imagenet" if record.pretrained else "none")
    given = f"--backbone {backbone}={weights}" if own_weights else f"--weights {weights}"
    weights = None if weights.lower() == "none" else weights
    try:
        record.check_weights(weights)
    except ValueError as exc:
        raise CommandError(
            f"{given}: {exc} On the command line: --weights none, or weights per "
            f"backbone such as --backbone mobilenet_v2=W.h5,{backbone}"
        ) from None
    if weights not in (None, "imagenet") and not os.path.isfile(weights):
        raise CommandError(f"{given}: no such file (use imagenet, none or a path)")
    # The bundled 8x8 digits at 32 pixels where any size suits; others at their own.
    image_size = args.image_size or (32 if bundled and record.any_size else None)
    defaults = (
        _FROM_SCRATCH
        if weights is None
        else {"epochs": 10, "batch_size": 32, "learning_rate": 1e-3}
    )
    clf = TransferImageClassifier(
        backbone,
        weights=weights,
        image_size=image_size,
        window=args.window,
        epochs=args.epochs or defaults["epochs"],
        learning_rate=args.learning_rate or defaults["learning_rate"],
        fine_tune_from="auto" if args.fine_tune else None,
        fine_tune_epochs=args.fine_tune_epochs,
        batch_size=args.batch_size or defaults["batch_size"],
        augmentation=None if args.augmentation == "none" else args.augmentation,
        augmentation_views=args.augmentation_views,
        # Each fit stops early where its images hold a validation split. Not
        # on the bundled digits: the convnet trained from scratch still gains
        # at its 30th epoch, so early stopping there mostly holds out 10% of
        # the images (measured, 2 repeats: the fits of 143 to 1437 images ran
        # 24 to 30 epochs, scored 0.5 to 1.5 points lower, saved 11% of the
        # time). Fixed epochs also keep getting_started.rst's transcript.
        early_stopping=False if bundled else "auto",
        random_state=args.seed,
    )
    return clf


def _check_weights(clf):
    """Build the backbone once: weights that cannot be had or read fail now, not after an hour."""
    from ._backbones import backbone_record

    if clf.weights is None:
        return
    try:
        backbone_record(clf.backbone).make(
            weights=clf.weights, image_size=clf.image_size, backbone_kwargs=None, seed=0
        )
    except OSError as exc:
        raise CommandError(
            f"{exc} On the command line: --weights none trains from random weights, "
            "--weights PATH reads a weights file, --backbone NAME=PATH one backbone's."
        ) from None
    except ValueError as exc:
        if clf.weights == "imagenet":
            raise
        # A file of another network's weights: Keras says which layer, at length.
        first = str(exc).strip().splitlines()[0]
        raise CommandError(
            f"backbone {clf.backbone!r}: the weights {clf.weights} do not load into it "
            f"({first}); give the weights file saved from this backbone"
        ) from None


class _Scoring(NamedTuple):
    """A --scoring resolved: ``name`` for the record, ``words`` for sentences, ``scorer``."""

    name: str
    words: str
    scorer: object

    @property
    def title(self):
        """The words at the start of a sentence."""
        return self.words[0].upper() + self.words[1:]


def _scoring(name, labels):
    """What ``--scoring name`` measures on ``labels``: its record name, its words, its scorer.

    The scorer is scikit-learn's, by name where one fits: a proportion keeps its
    name, so that the learning curve bounds its noise below by the binomial.
    """
    from sklearn.metrics import f1_score, make_scorer, recall_score

    classes = np.unique(labels)
    kind, _, label = name.partition(":")
    if label:
        if label not in classes:
            raise CommandError(
                f"--scoring {name}: no class {label!r} in the data; give one of its "
                f"classes: {', '.join(map(str, classes))}"
            )
        # Of one class: the positive class with two, the one class scored with more.
        # (zero_division: a fit that never predicts the class scores 0, silently.)
        metric = {"recall": recall_score, "f1": f1_score}[kind]
        average = {"pos_label": label, "average": "binary"}
        if len(classes) > 2:
            average = {"labels": [label], "average": "macro"}
        words = f"{'recall' if kind == 'recall' else 'F1'} of {label}"
        return _Scoring(name, words, make_scorer(metric, **average, zero_division=0.0))
    if name == "f1":  # no class is the positive one: the mean over the classes
        scorer = make_scorer(f1_score, average="macro", pos_label=None, zero_division=0.0)
        return _Scoring("f1_macro", "macro F1", scorer)
    if name == "roc_auc" and len(classes) > 2:
        return _Scoring("roc_auc_ovr", "ROC AUC (one-vs-rest)", "roc_auc_ovr")
    words = {"roc_auc": "ROC AUC"}.get(name, name.replace("_", " "))
    return _Scoring(name, words, name)


def _describe(clf):
    from ._backbones import backbone_record

    record = backbone_record(clf.backbone)
    stages = "frozen backbone, then fine-tuning" if clf.fine_tune_from else "frozen backbone"
    if clf.weights is None:
        stages = "trained from scratch" if record.trains_from_scratch else "random weights"
    weights = {None: "no pretrained weights", "imagenet": record.weights_description}.get(
        clf.weights, f"weights from {clf.weights}"
    )
    return (
        f"TransferImageClassifier({clf.backbone!r}), {weights}, {stages}; "
        f"{clf.epochs} epochs"
        + (f" + {clf.fine_tune_epochs} fine-tuning" if clf.fine_tune_from and clf.weights else "")
        + _describe_early_stopping(clf)
        + _describe_augmentation(clf)
    )


def _describe_early_stopping(clf):
    if isinstance(clf.early_stopping, str):  # "auto": each fit decides
        return ", early stopping where a fit's images hold a validation split"
    return ", early stopping" if clf.early_stopping else ", no early stopping"


def _describe_augmentation(clf):
    from ._backbones import backbone_record
    from ._stages import IMAGES, resolve_cache

    if clf.augmentation is None:
        return ""
    record = backbone_record(clf.backbone)
    if resolve_cache(clf.cache, record=record, augmentation=clf.augmentation) != IMAGES:
        return f", augmentation ({clf.augmentation_views} cached views per image)"
    return ", augmentation (fresh every epoch)"


# ---------------------------------------------------------------- sample-size


def _sample_size(args):
    if args.plot:
        _require_matplotlib()
        _check_output(args.plot, "--plot", _plot_suffixes(), args)
    _check_output(args.json, "--json", (".json",), args)
    _check_cache_dir(args.cache_dir)
    X, labels, groups, description, skipped = _load(args)
    _check_classes(labels, "a learning curve")
    scoring = _scoring(args.scoring, labels)
    classifiers = _classifiers(args)
    if args.cache_dir is not None:
        from ._cache import set_feature_cache

        set_feature_cache(location=args.cache_dir)  # in DIR/sklearn-vision-features
    print(f"Data:  {description}")
    print(f"Device: {_device()}")
    studies = {}
    for backbone, clf in classifiers.items():
        if len(classifiers) > 1:
            print(f"\n== {backbone} ==")
        studies[backbone] = _study(args, clf, scoring, X, labels, groups)
    if len(studies) > 1:
        print("\n" + _summary(studies, args.target, scoring))
    if args.json:
        extra = {"data": description, "skipped": [{"path": p, "reason": r} for p, r in skipped]}
        if len(studies) == 1:
            record = {**next(iter(studies.values()))["record"], **extra}
        else:
            backbones = {name: study["record"] for name, study in studies.items()}
            record = {
                "backbones": backbones,
                "scoring": scoring.name,
                "target": args.target,
                **extra,
            }
        with open(args.json, "w") as file:
            json.dump(record, file, indent=2)
        print(f"Record written to {args.json}")
    if args.plot:  # after the record: a failing plot loses nothing
        estimators = {name: study["lce"] for name, study in studies.items()}
        _plot(estimators, args.target, scoring.title, args.plot)
        print(f"Plot written to {args.plot}")
    return 0


def _classifiers(args):
    """The classifier of each --backbone by name, every one built with its weights first.

    A comparison checks all its backbones before the first study: a bad weights
    file for the last fails in seconds, not after the others' studies.
    """
    classifiers = {}
    for backbone in args.backbone or [(_default_backbone(args), None)]:
        clf = _classifier(argparse.Namespace(**{**vars(args), "backbone": [backbone]}))
        _check_weights(clf)
        classifiers[clf.backbone] = clf
    return classifiers


def _study(args, clf, scoring, X, labels, groups):
    """One classifier's learning curve, printed; its estimator and JSON-ready record."""
    from ._learning_curve import LearningCurveEstimator

    lce = LearningCurveEstimator(
        clf,
        train_sizes=args.train_sizes or _default_train_sizes(args),
        n_repeats=args.repeats,
        scoring=scoring.scorer,
        test_size=args.test_size,
        cv=args.cv,
        n_jobs=args.n_jobs,
        random_state=args.seed,
        verbose=int(not args.quiet),
        memory=args.cache_dir,  # fits in DIR/sklearn-vision-fits
    )
    print(f"Model: {_describe(clf)}")
    start = time.perf_counter()
    lce.fit(X, labels, groups=groups)
    seconds = time.perf_counter() - start
    print(f"Learning curve: {_describe_protocol(lce)}; {seconds:.0f} s\n")
    record = _report(lce, args.target, scoring)
    record.update(
        model=_describe(clf),
        weights=clf.weights,
        parameters={k: v for k, v in clf.get_params().items() if _is_json(v)},
        seconds=seconds,
    )
    return {"lce": lce, "record": record}


def _summary(studies, target, scoring):
    """One line comparing the backbones: the images each needs for the target, as a range."""

    def needed(record):
        value, span = record["samples_needed"], record["samples_needed_range"]
        if span["low"] is None:
            return "not reached"
        high = "?" if span["high"] is None else f"{span['high']:,.0f}"
        about = "" if value is None else f"about {value:,.0f}, "
        return f"{about}{span['low']:,.0f} to {high}"

    head = f"Images needed for {scoring.words} {target:g} ({RANGE:.0%} range; ? unbounded): "
    return head + "; ".join(
        f"{name} {needed(study['record'])}" for name, study in studies.items()
    )


def _default_backbone(args):
    """MobileNetV2 on a folder; the small convnet trained from scratch on the bundled data."""
    return "small_cnn" if args.folder is None and args.csv is None else "mobilenet_v2"


def _default_train_sizes(args):
    """Up to all the training images; up to half on the bundled data, a quick demo."""
    bundled = args.folder is None and args.csv is None
    return (0.05, 0.1, 0.25, 0.5) if bundled else (0.05, 0.1, 0.25, 0.5, 1.0)


def _describe_protocol(lce):
    """How the fits were scored, in a line: sizes, repeats, the held-out images."""
    n_sizes, n_fits = lce.scores_.shape
    if lce.cv is None and lce.n_scored_ > lce.test_sizes_[0].max():
        return (
            f"{n_sizes} sizes x {n_fits} repeats, each repeat scored on its own fold, so "
            f"every one of the {lce.n_scored_} images is scored at each size"
        )
    if lce.cv is None:
        return (
            f"{n_sizes} sizes x {n_fits} repeats, all scored on the same {lce.n_scored_} "
            "held-out images"
        )
    return f"{n_sizes} sizes x {n_fits} fits over the folds, every image scored at each size"


def _report(lce, target, scoring):
    """Print the table and the answers; return them as a JSON-ready dict."""
    _print_table(lce, scoring)
    _print_refit(lce, scoring)
    curve, n = lce.curve_, lce.n_train_
    weights = curve.curve_weights_
    described = ", ".join(f"{name} {weight:.2f}" for name, weight in weights.items())
    print(f"Extrapolated (curves {described}; levels off at {float(curve.asymptote_):.3f}):")
    for name in curve.irregularities_:
        print(f"  Warning: the measured curve is irregular ({name}): plan with the interval.")
    multiples = [2, 5, 10]
    more = [factor * n for factor in multiples]
    more_low, more_high = lce.score_interval(more)
    more_score = lce.predict_score(more)
    for factor, size, score, lo, hi in zip(
        multiples, more, more_score, more_low, more_high, strict=True
    ):
        print(f"  {factor:>2}x  {size:>8} images: {score:.3f} [{lo:.3f}, {hi:.3f}]")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LearningCurveWarning)  # worded below
        needed = float(lce.samples_needed(target)[0])
        low, high = (float(end[0]) for end in lce.samples_needed_interval(target, RANGE))
        next_round = lce.next_round_size(target)
    print(_answer(lce, target, needed, (low, high), scoring))
    plan = _next_round(lce, target, next_round)
    if plan:
        print(plan["text"])
    groups = getattr(lce, "n_train_groups_", None)
    return {
        "scoring": scoring.name,
        "train_sizes": lce.train_sizes_.tolist(),
        "scores": lce.scores_.tolist(),
        "protocol": _describe_protocol(lce),
        "n_scored": int(lce.n_scored_),
        "predictions_per_size": lce.test_sizes_.sum(axis=1).tolist(),
        "chance_score": lce.chance_score_,
        "curve": {
            "model": curve.model_,
            "asymptote": float(curve.asymptote_),
            "weights": {name: float(w) for name, w in weights.items()},
            "params": {
                name: np.asarray(params, dtype=float).tolist()
                for name, params in curve.curve_params_.items()
            },
            "irregularities": list(curve.irregularities_),
        },
        "n_train": int(n),
        "train_groups": None if groups is None else groups.mean(axis=1).tolist(),
        "test_score": getattr(lce, "test_score_", None),
        "extrapolation": [
            {"n_samples": int(size), "score": float(s), "lower": float(lo), "upper": float(hi)}
            for size, s, lo, hi in zip(more, more_score, more_low, more_high, strict=True)
        ],
        "target": target,
        "samples_needed": _json_number(needed),
        "samples_needed_range": {
            "confidence": RANGE,
            "low": _json_number(low),
            "high": _json_number(high),
        },
        "next_round": None if plan is None else {k: v for k, v in plan.items() if k != "text"},
    }


def _print_table(lce, scoring):
    """The measured scores per size, with the curve and its interval there."""
    sizes = lce.train_sizes_
    low, high = lce.score_interval(sizes)
    fitted = lce.predict_score(sizes)
    groups = getattr(lce, "n_train_groups_", None)
    predictions = lce.test_sizes_.sum(axis=1)
    print(f"Held-out {scoring.words} of the fits at each size:")
    print(
        f"{'images':>8}  "
        + (f"{'groups':>6}  " if groups is not None else "")
        + f"{'mean':>6}  {'std':>6}  {'scored':>6}  {'curve':>6}  95% interval"
    )
    for i, size in enumerate(sizes):
        scores = lce.scores_[i]  # a failed fit scores NaN
        print(
            f"{size:>8}  "
            + (f"{groups[i].mean():6.0f}  " if groups is not None else "")
            + f"{np.nanmean(scores):6.3f}  {np.nanstd(scores):6.3f}  {predictions[i]:>6}  "
            f"{fitted[i]:6.3f}  [{low[i]:.3f}, {high[i]:.3f}]"
        )
    print("(scored: the held-out predictions each mean averages)")


def _print_refit(lce, scoring):
    """The model trained on the most images, and its held-out score when it has one."""
    test_score = getattr(lce, "test_score_", None)
    if test_score is None:
        print(f"\nModel trained on all {lce.n_scored_} images (no held-out split with --cv)")
    else:
        # The refit's held-out images are those of the first fit's split.
        print(
            f"\nModel trained on {lce.n_train_} images, scored on {lce.test_sizes_[0][0]} "
            f"held-out images: {scoring.words} {test_score:.3f}"
        )


def _answer(lce, target, needed, needed_range, scoring):
    """The answer in words: measured, or a range of images, or not reached."""
    means = np.nanmean(lce.scores_, axis=1)  # a failed fit scores NaN
    reached = np.flatnonzero(means >= target)
    low, high = needed_range
    if len(reached):
        first = reached[0]
        return (
            f"{scoring.title} {target:g} already reached at {lce.train_sizes_[first]} images "
            f"(measured: mean {means[first]:.3f})."
        )
    if lce.flat_at_chance():
        return (
            f"{scoring.title} {target:g} cannot be read from this curve: it is flat at chance "
            f"level ({lce.chance_score_:.3f}), the model has not started to learn. Check the "
            "labels and the model, or add images."
        )
    if math.isinf(low):
        return (
            f"{scoring.title} {target:g} is not reached: even the optimistic end of the curve's "
            f"range stays below it (the curve levels off at {float(lce.curve_.asymptote_):.3f})."
        )
    head = f"Images needed for {scoring.words} {target:g}: "
    percent = f"{RANGE:.0%} range"
    if math.isfinite(high):
        if math.isinf(needed):
            return head + f"{low:,.0f} to {high:,.0f} ({percent})."
        return head + f"about {needed:,.0f} ({percent}: {low:,.0f} to {high:,.0f})."
    if math.isinf(needed):
        return head + (
            f"at least {low:,.0f} ({percent}); the curve levels off at "
            f"{float(lce.curve_.asymptote_):.3f}, below it, and the measurements cannot "
            "bound it above yet."
        )
    return head + (
        f"about {needed:,.0f} ({percent}: at least {low:,.0f}; the measurements cannot "
        "bound it above yet)."
    )


def _next_round(lce, target, train_images):
    """What to collect next, as a JSON-ready dict with its sentence; None when nothing."""
    if not math.isfinite(train_images) or train_images <= lce.n_train_:
        return None
    # The study trains on part of its images (the rest scored): as many more in all.
    images = math.ceil(train_images * lce.n_scored_ / lce.n_train_)
    return {
        "train_images": int(train_images),
        "images": images,
        "text": (
            f"Next: collect up to {images:,} images in all and run again (to train on "
            f"{train_images:,.0f}: the estimate, at least 1.25 and at most 3 times the "
            f"{lce.train_sizes_[-1]:,} measured). Near a plateau one pilot cannot pin the "
            "size down; each round narrows the range."
        ),
    }


def _json_number(value):
    return None if math.isinf(value) else value


def _is_json(value):
    return value is None or isinstance(value, (str, int, float, bool))


def _check_output(path, option, suffixes, args):
    """Refuse an output path before any work: a wrong extension, a folder it cannot go in,
    or a place among the inputs (unless --force)."""
    if path is None:
        return
    if not path.lower().endswith(suffixes):
        raise CommandError(f"{option} {path}: name the file with {' or '.join(suffixes)}")
    if not args.force:
        _check_not_an_input(path, option, args)
    _check_writable_folder(os.path.dirname(os.path.abspath(path)), f"{option} {path}")
    if os.path.isdir(path):
        raise CommandError(f"{option} {path}: is a folder; give a file name")


def _check_not_an_input(path, option, args):
    """Refuse an output inside the input FOLDER, or over the --csv file: never write on inputs."""
    target = os.path.realpath(path)
    if args.folder is not None:
        folder = os.path.realpath(args.folder)
        if os.path.commonpath([target, folder]) == folder:
            raise CommandError(
                f"{option} {path}: inside the input folder {args.folder}, where it would add "
                "to or replace the images; write it elsewhere (or add --force)"
            )
    if args.csv is not None:  # its paths start from its folder: the images are there
        folder = os.path.dirname(os.path.realpath(args.csv))
        if os.path.commonpath([target, folder]) == folder:
            raise CommandError(
                f"{option} {path}: inside the folder of the --csv manifest, whose images "
                "it could replace; write it elsewhere (or add --force)"
            )


def _force_argument(parser):
    parser.add_argument(
        "--force",
        action="store_true",
        help="write outputs even inside the input FOLDER or the --csv file's folder "
        "(default: refused, so that no image or manifest is ever replaced)",
    )


def _check_writable_folder(folder, what):
    if not os.path.isdir(folder):
        raise CommandError(
            f"{what}: the folder {folder} does not exist; create it, or give another path"
        )
    if not os.access(folder, os.W_OK):
        raise CommandError(f"{what}: the folder {folder} is not writable; give another path")


def _check_cache_dir(path):
    """--cache-dir: a folder (made if missing) in a writable place, never a file."""
    if path is None:
        return
    if os.path.exists(path) and not os.path.isdir(path):
        raise CommandError(f"--cache-dir {path}: is a file; give a folder")
    existing = path if os.path.isdir(path) else os.path.dirname(os.path.abspath(path))
    _check_writable_folder(existing, f"--cache-dir {path}")


def _plot_suffixes():
    """The file extensions matplotlib can write a figure to."""
    from matplotlib.figure import Figure

    return tuple(f".{name}" for name in Figure().canvas.get_supported_filetypes())


def _require_matplotlib():
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise CommandError("--plot needs matplotlib: pip install 'sklearn-vision[plot]'") from None


def _plot(estimators, target, score_name, path):
    """The learning curves of ``estimators`` (name: fitted estimator) on one figure."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ._plotting import LearningCurveExtrapolationDisplay

    ax = None
    for name, lce in estimators.items():
        display = LearningCurveExtrapolationDisplay.from_estimator(
            lce,
            target=target,
            score_name=score_name,
            name=name if len(estimators) > 1 else None,
            ax=ax,
        )
        ax = display.ax_
    display.figure_.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(display.figure_)


def _train(args):
    if args.folder is None and args.csv is None:
        raise CommandError("give the FOLDER of class subfolders, or --csv FILE, to train on")
    if args.backbone and len(args.backbone) > 1:
        raise CommandError("train fits one backbone: give one --backbone NAME")
    out = args.out
    _check_output(out, "--out", (".keras", ".joblib", ".pkl", ".pickle"), args)
    pickled = not out.lower().endswith(".keras")
    if args.plot:
        _require_matplotlib()
        _check_output(args.plot, "--plot", _plot_suffixes(), args)
    X, labels, groups, description, _ = _load(args)
    train, test = _train_test(labels, groups, args.test_size, args.seed)
    clf = _classifier(args)
    _check_weights(clf)
    print(f"Data:  {description}")
    print(f"Model: {_describe(clf)}")
    print(f"Device: {_device()}")
    start = time.perf_counter()
    fit_groups = None if groups is None else groups[train]
    clf.set_params(verbose=int(not args.quiet)).fit(X[train], labels[train], groups=fit_groups)
    print(f"Trained on {len(train)} images in {time.perf_counter() - start:.0f} s")
    if clf.early_stopping == "auto" and not clf.early_stopping_:
        split = "whole groups on both sides" if groups is not None else "every class on both sides"
        print(
            f"No early stopping: these images cannot hold out a validation split with {split}; "
            "every epoch ran on all of them."
        )
    matrix = None if test is None else _evaluate(clf, X[test], labels[test])
    if args.refit and test is not None:
        start = time.perf_counter()
        clf.fit(X, labels, groups=groups)
        print(f"Refitted on all {len(labels)} images in {time.perf_counter() - start:.0f} s")
    clf.set_params(verbose=0)
    if pickled:
        import joblib

        joblib.dump(clf, out)
        print(
            f"Saved to {out} (a pickle: it runs code when loaded, share it only with "
            "people who trust you; .keras files do not)"
        )
    else:
        clf.save(out)
        print(f"Saved to {out}; load it with sklearn_vision.load_model({out!r})")
    if args.plot and matrix is not None:  # after the model: a failing plot loses nothing
        _plot_confusion(matrix, [str(name) for name in clf.classes_], args.plot)
    return 0


def _train_test(labels, groups, test_size, seed):
    """The stratified held-out split of ``train`` (whole groups with groups); test None for 0."""
    from sklearn.model_selection import train_test_split

    from ._learning_curve import group_test_split

    indices = np.arange(len(labels))
    if test_size == 0:
        return indices, None
    if groups is not None:
        return group_test_split(labels, groups, test_size, True, seed)
    names, counts = np.unique(labels, return_counts=True)
    single = np.isin(labels, names[counts < 2])
    if single.any():
        # A class of one image cannot be on both sides: it trains, unscored.
        print(
            f"Note: class {', '.join(map(repr, names[counts < 2]))} has a single image: kept "
            "for training, out of the held-out split (its accuracy is not measured)."
        )
    rest, rest_labels = indices[~single], labels[~single]
    n_classes = len(np.unique(rest_labels))
    n_test = math.ceil(test_size * len(rest))
    if n_test < n_classes or len(rest) - n_test < n_classes:
        raise CommandError(
            f"--test-size {test_size} holds out {n_test} of {len(rest)} images, and a "
            f"stratified split of {n_classes} classes needs at least one of each on both "
            "sides; give a --test-size between "
            f"{n_classes / len(rest):.2f} and {1 - n_classes / len(rest):.2f}, or 0 for no report"
        )
    train, test = train_test_split(rest, test_size=n_test, stratify=rest_labels, random_state=seed)
    return np.sort(np.r_[train, indices[single]]), np.sort(test)


def _evaluate(clf, X, labels):
    """Print accuracy, balanced accuracy and the confusion matrix on held-out images; return it."""
    from sklearn.metrics import accuracy_score, balanced_accuracy_score, confusion_matrix

    predicted = clf.predict(X)
    print(
        f"\nHeld out, {len(labels)} images: accuracy {accuracy_score(labels, predicted):.3f}, "
        f"balanced accuracy {balanced_accuracy_score(labels, predicted):.3f}"
    )
    names = [str(name) for name in clf.classes_]
    matrix = confusion_matrix(labels, predicted, labels=clf.classes_)
    width = max(8, *(len(name) for name in names))
    print("Confusion matrix (rows: true class, columns: predicted):")
    print(" " * width + "".join(f"  {name:>{width}}" for name in names))
    for name, row in zip(names, matrix, strict=True):
        print(f"{name:>{width}}" + "".join(f"  {count:>{width}}" for count in row))
    return matrix


def _plot_confusion(matrix, names, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import ConfusionMatrixDisplay

    display = ConfusionMatrixDisplay(matrix, display_labels=names).plot()
    display.figure_.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(display.figure_)
    print(f"Plot written to {path}")


def _predict(args):
    from ._decoding import read_image
    from ._saving import read_metadata
    from ._transfer import load_model

    clf = _load_model(args.model, args.trust_pickle, load_model, read_metadata)
    readable, failed = [], 0
    for path in args.files:
        try:
            read_image(path, (8, 8))
            readable.append(path)
        except OSError as exc:
            print(f"sklearn-vision predict: {exc}", file=sys.stderr)
            failed += 1
    if readable:
        probabilities = clf.predict_proba(np.asarray(readable, dtype=object))
        best = probabilities.argmax(axis=1)
        labels = clf.classes_[best]
        confidence = probabilities[np.arange(len(best)), best]
        if args.csv:
            writer = csv.writer(sys.stdout)
            writer.writerow(["file", "label", "probability"])
            writer.writerows(
                (_printable(path), label, f"{p:.4f}")
                for path, label, p in zip(readable, labels, confidence, strict=True)
            )
        else:
            for path, label, p in zip(readable, labels, confidence, strict=True):
                print(f"{_printable(path)}\t{label}\t{p:.4f}")
    return 1 if failed else 0


def _printable(path):
    """A file name as text any terminal prints: bytes that are not UTF-8 as \\xNN."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def _load_model(path, trust_pickle, load_model, read_metadata):
    """A .keras model by load_model; a pickle only with --trust-pickle."""
    if not os.path.isfile(path):
        raise CommandError(f"{path}: no such model file")
    with open(path, "rb") as file:
        zipped = file.read(4) == b"PK\x03\x04"
    if zipped:
        try:
            read_metadata(path)
        except ValueError:
            if not trust_pickle:
                raise
        else:
            return load_model(path)
    if not trust_pickle:
        raise CommandError(
            f"{path} is not a .keras model; a pickle or joblib file runs code as it loads. "
            "Give --trust-pickle only if you trust its source (or save the model again with "
            "`train --out model.keras`)"
        )
    import joblib

    if os.path.getsize(path) == 0:
        raise CommandError(f"{path} is an empty file, not a model; save it again with `train`")
    try:
        clf = joblib.load(path)
    except (EOFError, pickle.UnpicklingError, IndexError, KeyError, ImportError) as exc:
        raise CommandError(
            f"{path} is not a readable pickle or joblib file ({type(exc).__name__}: {exc}); "
            "save the model again with `train --out model.keras`"
        ) from None
    if not hasattr(clf, "predict_proba") or not hasattr(clf, "classes_"):
        raise CommandError(f"{path} does not hold a fitted classifier")
    return clf


def console():
    """Entry point of the ``sklearn-vision`` console script."""
    sys.exit(main())

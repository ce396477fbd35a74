"""The options several commands share, and the types that check option values."""

import argparse
import math
import re

from .._backbones import BACKBONES


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
        help="input size in pixels (default: the backbone's own; 16 on the bundled data)",
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


def _force_argument(parser):
    parser.add_argument(
        "--force",
        action="store_true",
        help="write outputs even inside the input FOLDER or the --csv file's folder "
        "(default: refused, so that no image or manifest is ever replaced)",
    )


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
    from .._backbones import backbone_record

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
    from .._intensity import check_window

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

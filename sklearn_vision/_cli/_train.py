"""``train``: fit a classifier on a folder, report its held-out accuracy, and save it."""

import math
import time

import numpy as np

from ._options import _data_arguments, _force_argument, _held_out, _model_arguments
from ._study import (
    CommandError,
    _check_output,
    _check_weights,
    _classifier,
    _describe,
    _device,
    _load,
    _plot_suffixes,
    _require_matplotlib,
)


def add_command(commands):
    """The ``train`` command and its options."""
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

    from .._split import group_test_split

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

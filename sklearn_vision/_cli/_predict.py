"""``predict``: label image files with a saved classifier."""

import csv
import os
import pickle
import sys

import numpy as np

from ._study import CommandError


def add_command(commands):
    """The ``predict`` command and its options."""
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


def _predict(args):
    from .._decoding import read_image
    from .._saving import read_metadata
    from .._transfer import load_model

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

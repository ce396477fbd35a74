"""``sample-size``: a learning curve of the data, extrapolated: how many images a target needs."""

import argparse
import json
import math
import os
import time
import warnings
from typing import NamedTuple

import numpy as np

from .._power_law import LearningCurveWarning
from ._options import (
    _data_arguments,
    _folds,
    _force_argument,
    _fraction,
    _model_arguments,
    _positive_int,
    _scoring_name,
    _sizes,
)
from ._study import (
    CommandError,
    _check_output,
    _check_weights,
    _check_writable_folder,
    _classifier,
    _default_backbone,
    _describe,
    _device,
    _load,
    _plot_suffixes,
    _require_matplotlib,
)

# The confidence of the range of images the answer gives (samples_needed_interval).
RANGE = 0.8


def add_command(commands):
    """The ``sample-size`` command and its options."""
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
        from .._cache import set_feature_cache

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


def _check_cache_dir(path):
    """--cache-dir: a folder (made if missing) in a writable place, never a file."""
    if path is None:
        return
    if os.path.exists(path) and not os.path.isdir(path):
        raise CommandError(f"--cache-dir {path}: is a file; give a folder")
    existing = path if os.path.isdir(path) else os.path.dirname(os.path.abspath(path))
    _check_writable_folder(existing, f"--cache-dir {path}")


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
    from .._learning_curve import LearningCurveEstimator

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
    return head + "; ".join(f"{name} {needed(study['record'])}" for name, study in studies.items())


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


def _plot(estimators, target, score_name, path):
    """The learning curves of ``estimators`` (name: fitted estimator) on one figure."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .._plotting import LearningCurveExtrapolationDisplay

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

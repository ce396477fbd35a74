"""How well do learning-curve models extrapolate? (PowerLawRegressor against baselines)

Builds real learning curves: a fixed stratified held-out split, then, on a
geometric grid of training sizes up to the whole training pool, ``--repeats``
class-balanced random subsamples per size, each fitted and scored on the
held-out split. The data ship with scikit-learn; the learners are several
scikit-learn classifiers and, with ``--images``, our own image models on the
digits as 96x96 images: TransferImageClassifier (frozen MobileNetV2) and
BackboneFeatures with a logistic regression.

Each learner gets one curve per held-out split (``--splits``, each a new
stratified split and new subsamples). Task: fit each method on the sizes up to
25% (and, separately, 50%) of the largest size, predict the mean held-out
accuracy at the largest size. Reported:
mean absolute error of

- ``keras_gd``: ``score = a * n**b`` fitted to the per-size means by 5000 steps
  of plain gradient descent from a = b = 0, as the Keras example on sample-size
  estimation fits it;
- ``last``: the mean score at the largest size seen;
- ``pow3``: ``a - b * n**-c`` fitted to the per-size means by
  ``scipy.optimize.curve_fit``, the usual way (last value where it fails);
- ``ours``: ``PowerLawRegressor()`` (``model="auto"``), and, for reference,
  ``ours_pow3``: ``PowerLawRegressor(model="pow3")``;

and how often our 95% interval covers the true value, with its mean width;
then the mean absolute errors split by split.

    python benchmarks/bench_extrapolation.py [--repeats 5] [--splits 3] [--images]

With ``--lcdb CSV``, the same protocol on the real curves of LCDB 1.0 (Mohr,
Viering, Loog and van Rijn 2022: test accuracy of 20 scikit-learn learners on
OpenML datasets at anchors ``ceil(16 * 2**(k/2))`` and the full size, about 25
repeats each), read from ``lcdb/database-accuracy.csv`` in the sdist of the
PyPI package ``lcdb`` 0.1.0 (``pip download --no-deps --no-binary :all:
lcdb==0.1.0``; it is not a dependency). Only datasets with an even
``openmlid`` are read: the odd ones are held out for an independent check and
are never loaded here. Every curve with at least 6 anchors and at least 3 up
to the cut; baselines besides ``last`` and ``pow3``: the LCDB study's
four-parameter curves, each fitted to the mean accuracy per anchor by
Levenberg-Marquardt (``curve_fit(method="lm")``) from 5 starts, sizes scaled by
the largest seen, predictions clipped to [0, 1]: ``pow4`` ``a - b (x + d)**-c``, ``mmf4``
``(a b + c x**d) / (b + x**d)``, ``wbl4`` ``c - b exp(-a x**d)`` and ``exp4``
``c - exp(-a x**e + b)``; the last value where a fit fails. Fit times of ours
are printed too (median and 95th percentile).

    python benchmarks/bench_extrapolation.py --lcdb database-accuracy.csv [--max-curves 300]
"""

import argparse
import os
import time
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
from scipy.optimize import curve_fit
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_digits, make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier

from sklearn_vision import PowerLawRegressor
from sklearn_vision._split import balanced_subsample

REAL_WEIGHTS = (
    Path(__file__).resolve().parents[2]
    / "shared/weights/mobilenet_v2_1.0_stanford_dogs_no_top.weights.h5"
)

LEARNERS = {
    "logreg": make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)),
    "knn": make_pipeline(StandardScaler(), KNeighborsClassifier()),
    "naive_bayes": GaussianNB(),
    "tree": DecisionTreeClassifier(random_state=0),
    "forest": RandomForestClassifier(n_estimators=50, random_state=0),
    "svc": make_pipeline(StandardScaler(), SVC()),
}


def datasets():
    yield "digits", *load_digits(return_X_y=True)
    yield "breast_cancer", *load_breast_cancer(return_X_y=True)
    yield (
        "synthetic",
        *make_classification(
            n_samples=3000, n_features=20, n_informative=8, n_classes=3, flip_y=0.03, random_state=0
        ),
    )


def learning_curve(estimator, X, y, *, repeats, seed=0):
    """Return (sizes, scores of shape (n_sizes, repeats)) on a fixed held-out split."""
    X_pool, X_test, y_pool, y_test = train_test_split(
        X, y, test_size=0.3, stratify=y, random_state=seed
    )
    largest = len(y_pool)
    smallest = 2 * len(np.unique(y))
    sizes = np.unique(np.round(largest * 2.0 ** (-np.arange(11) / 2)).astype(int))
    sizes = sizes[sizes >= smallest]
    rng = np.random.RandomState(seed)
    scores = np.empty((len(sizes), repeats))
    for i, size in enumerate(sizes):
        for r in range(repeats):
            rows = balanced_subsample(y_pool, size, rng)
            model = clone(estimator).fit(X_pool[rows], y_pool[rows])
            scores[i, r] = model.score(X_test, y_test)
    return sizes, scores


def gradient_descent_power_law(sizes, means, steps=5000, learning_rate=0.01):
    """Gradient descent on the mean squared error of a * n**b, from a = b = 0."""
    a = b = 0.0
    n = sizes.astype(float)
    for _ in range(steps):
        power = n**b
        residual = a * power - means
        grad_a = 2 * np.mean(residual * power)
        grad_b = 2 * np.mean(residual * a * power * np.log(n))
        a, b = a - learning_rate * grad_a, b - learning_rate * grad_b
    return lambda size: a * size**b


def curve_fit_pow3(sizes, means):
    """pow3 by scipy's curve_fit from its default start, the last value if it fails."""

    def pow3(n, a, b, c):
        return a - b * n ** (-c)

    try:
        params, _ = curve_fit(pow3, sizes.astype(float), means, maxfev=10_000)
    except RuntimeError:
        return lambda size: means[-1]
    return lambda size: pow3(size, *params)


def evaluate(sizes, scores, cut):
    """Absolute errors at the largest size from fits on sizes <= cut * largest."""
    largest, truth = sizes[-1], scores[-1].mean()
    seen = sizes <= cut * largest
    X = np.repeat(sizes[seen], scores.shape[1])[:, None]
    y = scores[seen].ravel()
    means = scores[seen].mean(axis=1)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        keras_gd = gradient_descent_power_law(sizes[seen], means)(largest)
        pow3 = curve_fit_pow3(sizes[seen], means)(largest)
    ours_pow3 = PowerLawRegressor(model="pow3").fit(X, y).predict([[largest]])[0]
    ours = PowerLawRegressor().fit(X, y)
    lower, upper = ours.predict_interval([[largest]])
    return {
        "keras_gd": abs(keras_gd - truth),
        "last": abs(means[-1] - truth),
        "pow3": abs(pow3 - truth),
        "ours": abs(ours.predict([[largest]])[0] - truth),
        "ours_pow3": abs(ours_pow3 - truth),
        "covered": float(lower[0] <= truth <= upper[0]),
        "width": upper[0] - lower[0],
        "model": ours.model_,
    }


def image_curves(repeats, weights, seed):
    """Curves of our image models on the digits at 96 pixels, MobileNetV2 features.

    Both go through the feature cache: each image is embedded once, every fit
    trains a head.
    """
    from sklearn_vision import BackboneFeatures, TransferImageClassifier
    from sklearn_vision.datasets import load_digits_images

    X, y = load_digits_images(image_size=96, return_X_y=True)
    transfer = TransferImageClassifier(
        weights=weights,
        image_size=96,
        epochs=20,
        learning_rate=3e-3,
        fine_tune_from=None,
        early_stopping=False,
        random_state=0,
    )
    probe = make_pipeline(
        BackboneFeatures(weights=weights, image_size=96), LogisticRegression(max_iter=1000)
    )
    for name, learner in (("transfer_mobilenet_v2", transfer), ("features_logreg", probe)):
        yield "digits_images", name, *learning_curve(learner, X, y, repeats=repeats, seed=seed)


# The LCDB study's four-parameter curves, in accuracy, x = n / largest size seen.
LCDB_MODELS = {
    "pow4": (lambda x, a, b, c, d: a - b * (x + d) ** (-c), [0.9, 0.5, 0.5, 0.1]),
    "mmf4": (lambda x, a, b, c, d: (a * b + c * x**d) / (b + x**d), [0.5, 0.5, 0.9, 1.0]),
    "wbl4": (lambda x, a, b, c, d: c - b * np.exp(-a * x**d), [1.0, 0.5, 0.9, 0.5]),
    "exp4": (lambda x, a, b, c, e: c - np.exp(-a * x**e + b), [1.0, -1.0, 0.9, 0.5]),
}


def lcdb_fit(model, x, means, rng, n_starts=5):
    """The LCDB way: Levenberg-Marquardt on the mean curve from several starts."""
    function, start = LCDB_MODELS[model]
    if len(x) < len(start):
        return None  # fewer anchors than parameters: Levenberg-Marquardt cannot fit it
    best, best_cost = None, np.inf
    for attempt in range(n_starts):
        p0 = np.asarray(start) * (1 if attempt == 0 else rng.uniform(0.5, 1.5, len(start)))
        try:
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                params, _ = curve_fit(function, x, means, p0=p0, method="lm", maxfev=2000)
                cost = np.sum((function(x, *params) - means) ** 2)
        except (RuntimeError, ValueError, TypeError):
            continue
        if np.isfinite(cost) and cost < best_cost:
            best, best_cost = params, cost
    return None if best is None else (lambda size: function(size, *best))


def lcdb_curves(path, max_curves, seed):
    """(openmlid, learner, sizes, scores) of LCDB curves of even openmlid, >= 6 anchors."""
    import pandas as pd

    columns = ["openmlid", "learner", "size_train", "score_test"]
    chunks = [
        chunk[chunk.openmlid % 2 == 0]  # odd ids are held out: dropped as they are read
        for chunk in pd.read_csv(path, usecols=columns, chunksize=200_000)
    ]
    frame = pd.concat(chunks)
    curves = []
    for (openmlid, learner), rows in frame.groupby(["openmlid", "learner"], sort=True):
        if rows.size_train.nunique() >= 6:
            sizes = rows.size_train.to_numpy(float)
            curves.append((int(openmlid), learner, sizes, rows.score_test.to_numpy(float)))
    if max_curves and len(curves) > max_curves:
        picked = np.random.RandomState(seed).choice(len(curves), max_curves, replace=False)
        curves = [curves[i] for i in sorted(picked)]
    return curves


def evaluate_lcdb(sizes, scores, cut, rng):
    """Errors at the largest anchor from fits on the anchors <= cut * largest; None if < 3."""
    largest = sizes.max()
    seen = sizes <= cut * largest
    levels = np.unique(sizes[seen])
    if len(levels) < 3:
        return None
    truth = scores[sizes == largest].mean()
    means = np.array([scores[sizes == level].mean() for level in levels])
    x, target = levels / levels[-1], largest / levels[-1]
    errors = {"last": abs(means[-1] - truth)}
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        errors["pow3"] = abs(np.clip(curve_fit_pow3(levels, means)(largest), 0, 1) - truth)
        for model in LCDB_MODELS:
            curve = lcdb_fit(model, x, means, rng)
            prediction = means[-1] if curve is None else curve(target)
            # Unbounded fits can run far outside [0, 1]: clipped to valid accuracies.
            prediction = np.clip(prediction, 0.0, 1.0) if np.isfinite(prediction) else means[-1]
            errors[model] = abs(prediction - truth)
        start = time.perf_counter()
        ours = PowerLawRegressor().fit(sizes[seen][:, None], scores[seen])
        lower, upper = ours.predict_interval([[largest]])
        prediction = ours.predict([[largest]])[0]
        seconds = time.perf_counter() - start
    errors.update(
        ours=abs(prediction - truth),
        covered=float(lower[0] <= truth <= upper[0]),
        below=float(truth < lower[0]),
        width=upper[0] - lower[0],
        seconds=seconds,
    )
    return errors


CALIBRATION_CUTS = (1 / 4, 1 / 2)


def calibrate(curves):
    """Print the conformal multiples behind PowerLawRegressor's intervals.

    Fits on the anchors up to 1/4 and 1/2 of the largest; for
    each end of the band, regular and irregular curves apart, the multiple of
    its scale at which the measured mean at the largest anchor lies beyond that
    end in (1 - c) / 2 of the fits, at each confidence c (by bisection, with
    the worse end's envelope over the sizes between as the regressor draws it).
    """
    from sklearn_vision._calibration import _CONFIDENCES, band_ends

    fits = {"regular": [], "irregular": []}
    for *_, sizes, scores in curves:
        largest = sizes.max()
        truth = scores[sizes == largest].mean()
        for cut in CALIBRATION_CUTS:
            seen = sizes <= cut * largest
            if len(np.unique(sizes[seen])) < 3:
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                curve = PowerLawRegressor().fit(sizes[seen][:, None], scores[seen])
            grid = np.geomspace(1.0, largest / curve.n_max_, 64)
            group = "irregular" if curve.irregularities_ else "regular"
            envelope = not curve.irregularities_
            fits[group].append(
                (
                    curve._band_parts(grid),
                    curve._sign() * truth,
                    envelope,
                    curve._asymptote_bounds(),
                )
            )

    def missed(group, end, q):
        count = 0
        for parts, truth, envelope, bounds in fits[group]:
            better, worse = band_ends(parts, q, q, group == "regular", bounds)
            if end == "better":
                count += truth < better[-1]
            else:
                count += truth > (worse.min() if envelope else worse[-1])
        return count / len(fits[group])

    for group in fits:
        for end in ("better", "worse"):
            multiples = []
            for confidence in _CONFIDENCES:
                low, high = 0.0, 50.0  # the share missed falls as the multiple grows
                for _ in range(30):
                    middle = (low + high) / 2
                    low, high = (
                        (middle, high)
                        if missed(group, end, middle) > (1 - confidence) / 2
                        else (low, middle)
                    )
                multiples.append(high)
            print(
                f'("{group}", "{end}"): np.array([{", ".join(f"{q:.3f}" for q in multiples)}]),'
                f"  # {len(fits[group])} fits"
            )


def main_lcdb(args):
    start = time.perf_counter()
    curves = lcdb_curves(args.lcdb, args.max_curves, seed=0)
    if args.calibrate:
        return calibrate(curves)
    print(
        f"{len(curves)} LCDB curves (even openmlid only, >= 6 anchors) read in "
        f"{time.perf_counter() - start:.0f} s\n"
    )
    methods = ["last", "pow3", *LCDB_MODELS, "ours"]
    rng = np.random.RandomState(0)
    for cut in (0.25, 0.5):
        results = [evaluate_lcdb(sizes, scores, cut, rng) for *_, sizes, scores in curves]
        results = [r for r in results if r is not None]
        print(
            f"Fit on anchors <= {cut:.0%} of the largest, predict the mean accuracy at the "
            f"largest ({len(results)} curves with >= 3 such anchors): absolute error"
        )
        print("  " + " ".join(f"{m:>8}" for m in ["", *methods]))
        for name, statistic in (("mean", np.mean), ("median", np.median)):
            values = [statistic([r[m] for r in results]) for m in methods]
            print("  " + f"{name:>8} " + " ".join(f"{v:8.4f}" for v in values))
        coverage = np.mean([r["covered"] for r in results])
        below = np.mean([r["below"] for r in results])
        width = np.mean([r["width"] for r in results])
        seconds = np.array([r["seconds"] for r in results])
        print(
            f"  ours: 95% interval covers the truth {coverage:.1%} (below it {below:.1%}, above "
            f"{1 - coverage - below:.1%}), mean width {width:.3f}; "
            f"fit with interval {np.median(seconds) * 1e3:.0f} ms median, "
            f"{np.percentile(seconds, 95) * 1e3:.0f} ms 95th percentile\n"
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--lcdb", metavar="CSV", help="LCDB's database-accuracy.csv: run on its even-id curves"
    )
    parser.add_argument(
        "--calibrate",
        action="store_true",
        help="with --lcdb: print the conformal quantiles behind our intervals",
    )
    parser.add_argument(
        "--max-curves",
        type=int,
        default=300,
        help="with --lcdb: a random sample of this many curves (0: all; default 300)",
    )
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--splits", type=int, default=3, help="held-out splits per learner")
    parser.add_argument(
        "--images",
        action="store_true",
        help="add curves of our image models (MobileNetV2 features of the digits as images)",
    )
    parser.add_argument(
        "--weights",
        default=str(REAL_WEIGHTS) if REAL_WEIGHTS.exists() else None,
        help="MobileNetV2 weights for --images (default: ../shared/weights, else random)",
    )
    args = parser.parse_args()
    if args.lcdb:
        return main_lcdb(args)

    start = time.perf_counter()
    curves = []  # (split, data, learner, sizes, scores)
    for split in range(args.splits):
        for data_name, X, y in datasets():
            for learner_name, learner in LEARNERS.items():
                curve = learning_curve(learner, X, y, repeats=args.repeats, seed=split)
                curves.append((split, data_name, learner_name, *curve))
        if args.images:
            curves.extend((split, *c) for c in image_curves(args.repeats, args.weights, split))
        print(f"  split {split}: curves built", flush=True)
    learners = len(LEARNERS) * 3 + 2 * args.images
    print(
        f"{len(curves)} learning curves ({learners} learner x data pairs x {args.splits} splits"
        f"{', image models with weights=' + str(args.weights) if args.images else ''}) "
        f"built in {time.perf_counter() - start:.0f} s\n"
    )

    methods = ["keras_gd", "last", "pow3", "ours"]
    columns = methods + ["ours_pow3"]
    for cut in (0.25, 0.5):
        results = [evaluate(sizes, scores, cut) for *_, sizes, scores in curves]
        print(
            f"Fit on sizes <= {cut:.0%} of the largest, predict the largest "
            f"({len(results)} curves): mean absolute error in accuracy"
        )
        print("  " + "  ".join(f"{m:>9}" for m in columns) + "  coverage(95%)  width")
        mae = {m: np.mean([r[m] for r in results]) for m in columns}
        coverage = np.mean([r["covered"] for r in results])
        width = np.mean([r["width"] for r in results])
        print(
            "  " + "  ".join(f"{mae[m]:9.4f}" for m in columns) + f"  {coverage:13.0%}  {width:.3f}"
        )
        ratio = ", ".join(f"{m} {mae[m] / mae['ours']:.2f}x" for m in methods[:-1])
        print(f"  baseline error / ours: {ratio}")
        splits = np.array([c[0] for c in curves])
        for split in range(args.splits):
            rows = [r for r, s in zip(results, splits, strict=True) if s == split]
            errors = "  ".join(f"{m} {np.mean([r[m] for r in rows]):.4f}" for m in methods)
            print(f"  split {split}: {errors}")
        chosen = [r["model"] for r in results]
        print(
            "  'auto' chose: "
            + ", ".join(
                f"{name} {chosen.count(name)}"
                for name in sorted(set(chosen), key=chosen.count, reverse=True)
            )
        )
        print()


if __name__ == "__main__":
    main()

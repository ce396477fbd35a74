"""The patient leak: a learning curve with and without groups, against new patients.

Data: scikit-learn's digits as patients (``make_patient_digits``), 4 to 8
correlated views of each digit. The patients are split once into development
patients, on which the learning curves are measured, and new patients, never
seen, on which the truth is measured: a model trained on whole development
patients at each size, scored on every view of the new patients.

Printed: the measured curve without groups (views of one patient on both sides
of the test split), with groups, and the truth, at the sizes measured and
extrapolated; and the images needed for a target accuracy by each.

    python benchmarks/bench_group_leak.py [--model svc|knn|logistic] [--target 0.92]
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from sklearn_vision import LearningCurveEstimator, LearningCurveWarning
from sklearn_vision.datasets import make_patient_digits

MODELS = {
    "svc": lambda: make_pipeline(StandardScaler(), SVC()),
    "knn": lambda: KNeighborsClassifier(n_neighbors=1),
    "logistic": lambda: make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)),
}


def true_curve(model, X, y, groups, new, sizes, repeats, seed):
    """Accuracy on new patients of models trained on whole development patients.

    A learning curve too: one split given as ``cv`` (development patients to
    train, new patients to score), subsamples drawn by whole patients.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LearningCurveWarning)
        truth = LearningCurveEstimator(
            model(),
            train_sizes=sizes,
            n_repeats=repeats,
            cv=[(np.flatnonzero(~new), np.flatnonzero(new))],
            refit=False,
            random_state=seed,
        ).fit(X, y, groups=groups)
    return truth.scores_.mean(axis=1)


def needed(sizes, scores, target):
    """The size at which a measured curve first reaches ``target`` (interpolated in log size)."""
    above = np.flatnonzero(scores >= target)
    if len(above) == 0:
        return np.inf
    i = above[0]
    if i == 0:
        return float(sizes[0])
    x0, x1 = np.log(sizes[i - 1]), np.log(sizes[i])
    t = (target - scores[i - 1]) / (scores[i] - scores[i - 1])
    return float(np.exp(x0 + t * (x1 - x0)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", choices=sorted(MODELS), default="svc")
    parser.add_argument("--target", type=float, default=0.92)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    data = make_patient_digits(random_state=args.seed)
    patients = np.unique(data.groups)
    rng = np.random.RandomState(args.seed)
    new = np.isin(data.groups, rng.choice(patients, len(patients) // 3, replace=False))
    X, y, groups = data.data[~new], data.target[~new], data.groups[~new]
    print(
        f"{len(X)} views of {len(np.unique(groups))} development patients; truth on "
        f"{new.sum()} views of {len(np.unique(data.groups[new]))} new patients. "
        f"Model: {args.model}."
    )

    measured = [50, 100, 200, 400]
    params = dict(train_sizes=measured, n_repeats=args.repeats, test_size=0.2)
    curves = {}
    for name, fit_groups in [("without groups", None), ("with groups", groups)]:
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", LearningCurveWarning)
            lce = LearningCurveEstimator(MODELS[args.model](), random_state=args.seed, **params)
            lce.fit(X, y, groups=fit_groups)
        curves[name] = lce
        print(f"  learning curve {name}: {time.perf_counter() - start:.1f} s")

    extrapolated = [800, 1600, 3200]
    sizes = np.array(measured + extrapolated)
    truth = true_curve(
        MODELS[args.model], data.data, data.target, data.groups, new, sizes, args.repeats, args.seed
    )
    header = ["without groups", "with groups"]
    print(f"\n{'images':>7}  {header[0]:>22}  {header[1]:>22}  {'truth (new patients)':>20}")
    for i, size in enumerate(sizes):
        cells = []
        for lce in curves.values():
            if size in measured:
                k = measured.index(size)
                cells.append(f"{lce.scores_[k].mean():.3f} measured".rjust(22))
            else:
                low, high = lce.score_interval(size)
                cells.append(
                    f"{lce.predict_score(size)[0]:.3f} [{low[0]:.3f}, {high[0]:.3f}]".rjust(22)
                )
        print(f"{size:>7}  {cells[0]}  {cells[1]}  {truth[i]:>20.3f}")

    print(f"\nImages needed for accuracy {args.target}:")
    true_needed = needed(sizes, truth, args.target)
    for name, lce in curves.items():
        answer = float(lce.samples_needed(args.target)[0])
        ratio = f"{answer / true_needed:.2f}x the truth" if np.isfinite(true_needed) else ""
        print(f"  {name:>15}: {answer:>8.0f}  {ratio}")
    print(f"  {'truth':>15}: {true_needed:>8.0f}  (measured on new patients)")


if __name__ == "__main__":
    main()

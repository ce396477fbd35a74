"""How many images, against the truth: pilots of chest X-rays against fits on thousands.

Data: the Kermany et al. 2018 pediatric chest X-rays of ``../shared/data/chest_xray/train``
(CC BY 4.0), normal against pneumonia, patients kept whole. Model: the pretrained
MobileNetV2 of ``../shared/weights``, frozen, at 160 px (``BackboneFeatures``: each
image through the backbone once), and a logistic regression on its pooled features,
the frozen stage's linear head.

- The truth: five folds of whole patients, each held out in turn; at each size up
  to 4,000 images, a model trained on a subsample of whole patients of the other
  folds in the classes' own proportions (26% normal: what collecting more images
  gives), scored on it, so every image is scored at every size; made monotone in
  the size (isotonic).
- Pilots: ``--pilots`` draws each of 150, 300 and 600 images, by whole patients,
  each run through ``LearningCurveEstimator`` as
  ``sklearn-vision sample-size`` runs it (sizes of 5% to 100% of the training
  images, 5 repeats, every image scored at every size, patients as groups).

Printed, per pilot size: the predicted score's mean error at 4x and 10x the pilot's
training images, the 95% interval's coverage and mean width there; for targets at
the truth's 1,000- and 2,000-image levels, the point answers (largest over smallest
across pilots, and how often within 2x of the true size), how often the 80% range
holds the true size and its median width (high over low); and rounds of collection by
``next_round_size`` from each 150- and 300-image pilot until the target is measured,
each round a new study on that many images drawn by patient: images collected over
the true need, and rounds taken.

    python benchmarks/bench_truth.py [--pilots 10] [--seed 0]
"""

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_vision import LearningCurveEstimator
from sklearn_vision._split import group_subsample, shuffled_folds

sys.path.insert(0, str(Path(__file__).resolve().parent))
from image_curves import backbone_features, chest_images  # noqa: E402

TRUTH_SIZES = (100, 200, 400, 800, 1000, 1600, 2000, 3200, 4000)
PILOT_SIZES = (150, 300, 600)
CLI_SIZES = (0.05, 0.1, 0.25, 0.5, 1.0)


def head():
    return make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=100, tol=1e-3))


def accuracy(X, y, train, test):
    model = head().fit(X[train], y[train])
    return float(np.mean(model.predict(X[test]) == y[test]))


def truth_curve(X, y, patients, rng, n_folds=5):
    """Mean held-out accuracy at each truth size over every patient, made monotone.

    Each of ``n_folds`` folds of whole patients held out in turn; at each size
    a model trained on a subsample of whole patients of the other folds, in
    the classes' own proportions (what collecting more images gives), scored
    on it: every image scored at every size.
    """
    folds = shuffled_folds(y, patients, n_folds, True, rng.randint(2**31 - 1))
    means = []
    for size in TRUTH_SIZES:
        scores = [
            accuracy(
                X,
                y,
                train[group_subsample(y[train], patients[train], size, "stratified", rng)],
                test,
            )
            for train, test in folds
        ]
        means.append(np.mean(scores))
        print(
            f"  truth at {size:>5} images: {means[-1]:.3f} (folds {np.std(scores):.3f})", flush=True
        )
    sizes = np.array(TRUTH_SIZES, dtype=float)
    return sizes, IsotonicRegression().fit(np.log(sizes), means).predict(np.log(sizes))


def truth_at(truth, n):
    sizes, scores = truth
    return float(np.interp(np.log(n), np.log(sizes), scores))


def first_size(truth, target):
    sizes, scores = truth
    above = np.flatnonzero(scores >= target - 1e-12)
    if len(above) == 0:
        return np.inf
    i = above[0]
    if i == 0:
        return float(sizes[0])
    share = (target - scores[i - 1]) / max(scores[i] - scores[i - 1], 1e-12)
    return float(np.exp(np.log(sizes[i - 1]) + share * np.log(sizes[i] / sizes[i - 1])))


def study(X, y, patients, rows, seed):
    """The CLI's default study on ``rows``: a fitted LearningCurveEstimator."""
    lce = LearningCurveEstimator(
        head(), train_sizes=CLI_SIZES, n_repeats=5, random_state=seed, refit=False
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return lce.fit(X[rows], y[rows], groups=patients[rows])


def draw(y, patients, pool, n_images, rng):
    return pool[group_subsample(y[pool], patients[pool], int(n_images), "stratified", rng)]


def pilots_table(X, y, patients, pool, truth, n_pilots, rng):
    targets = {level: truth_at(truth, level) for level in (1000, 2000)}
    print(
        "\npilot  horizon  mean error  95% coverage  width   "
        "(score at 4x and 10x the pilot's training images)"
    )
    answers = {}
    for n_images in PILOT_SIZES:
        rows = {4: [], 10: []}
        answers[n_images] = {level: [] for level in targets}
        for _ in range(n_pilots):
            lce = study(
                X, y, patients, draw(y, patients, pool, n_images, rng), rng.randint(2**31 - 1)
            )
            for horizon in rows:
                n = lce.n_train_ * horizon
                if n > TRUTH_SIZES[-1]:
                    continue
                true = truth_at(truth, n)
                low, high = lce.score_interval(n, confidence=0.95)
                rows[horizon].append(
                    (lce.predict_score(n)[0] - true, low[0] <= true <= high[0], high[0] - low[0])
                )
            for level, target in targets.items():
                point = lce.samples_needed(target)[0]
                if hasattr(lce, "samples_needed_interval"):
                    low, high = lce.samples_needed_interval(target, confidence=0.8)
                else:  # before the range: the point answer and the pessimistic 95% one
                    low, high = [point], lce.samples_needed(target, confidence=0.95)
                answers[n_images][level].append((point, low[0], high[0], lce.n_train_))
        for horizon, found in rows.items():
            if found:
                errors, covered, widths = (np.array(column) for column in zip(*found, strict=True))
                print(
                    f"{n_images:>5}  {horizon:>5}x    {np.mean(np.abs(errors)):8.3f}   "
                    f"{np.mean(covered):10.0%}    {np.mean(widths):.3f}   ({len(found)} pilots, "
                    f"mean signed error {np.mean(errors):+.3f})"
                )
    print(
        "\npilot  target (truth's level)  true size  point answers: max/min, within 2x  "
        "80% range holds  median high/low  bounded"
    )
    for n_images, by_level in answers.items():
        for level, found in by_level.items():
            point, low, high, _ = (
                np.array(column, dtype=float) for column in zip(*found, strict=True)
            )
            need = first_size(truth, targets[level])
            holds = (low <= need * 1.0001) & (need <= high * 1.0001)
            within = (point >= need / 2) & (point <= need * 2)
            spread = point.max() / point.min() if np.all(np.isfinite(point)) else np.inf
            print(
                f"{n_images:>5}  {targets[level]:.3f} ({level:>4} images)  {need:8.0f}   "
                f"{spread:10.1f}x  {np.mean(within):6.0%}         {np.mean(holds):8.0%}        "
                f"{np.median(high / low):8.1f}     {np.mean(np.isfinite(high)):.0%}"
            )
    return targets


def rounds_table(X, y, patients, pool, truth, targets, n_pilots, rng, max_rounds=6):
    print(
        "\nrounds by next_round_size: start  target  collected/true need (median, max)  "
        "rounds (mean, max)  short"
    )
    n_images_per_train = 1 / 0.8  # the study trains on 4/5 of its images
    for start in PILOT_SIZES[:2]:
        for target in targets.values():
            need = first_size(truth, target)
            ratios, rounds = [], []
            for _ in range(n_pilots):
                n_images = start
                for round_ in range(1, max_rounds + 1):
                    lce = study(
                        X,
                        y,
                        patients,
                        draw(y, patients, pool, n_images, rng),
                        rng.randint(2**31 - 1),
                    )
                    wanted = lce.next_round_size(target)
                    if wanted <= lce.n_train_ or not np.isfinite(wanted):
                        break
                    n_images = min(wanted * n_images_per_train, len(pool))
                ratios.append(lce.n_train_ / need)
                rounds.append(round_)
            ratios = np.array(ratios)
            print(
                f"{'':>28}{start:>5}  {target:.3f}  {np.median(ratios):6.2f}x {ratios.max():6.2f}x"
                f"{np.mean(rounds):14.1f} {max(rounds):5d}     {np.mean(ratios < 0.95):.0%}"
            )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pilots", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    start = time.perf_counter()
    paths, labels, patients = chest_images()
    X = backbone_features("chest", paths, 160)
    y = np.where(labels == "normal", "normal", "pneumonia")
    rng = np.random.RandomState(args.seed)
    pool = np.arange(len(y))  # pilots drawn from every patient, as the truth is scored
    print(f"{len(y)} chest X-rays of {len(np.unique(patients))} patients")
    truth = truth_curve(X, y, patients, rng)
    targets = pilots_table(X, y, patients, pool, truth, args.pilots, rng)
    if hasattr(LearningCurveEstimator, "next_round_size"):
        rounds_table(X, y, patients, pool, truth, targets, args.pilots, rng)
    print(f"\n{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()

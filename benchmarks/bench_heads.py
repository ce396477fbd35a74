"""The heads of a frozen study trained together, against one fit at a time.

A frozen-backbone learning curve (MobileNetV2 features cached, a new softmax
head per fit) on the chest X-rays of ``--folder`` (or the bundled digits):
``LearningCurveEstimator(TransferImageClassifier(fine_tune_from=None))`` at the
command line's default sizes (5%, 10%, 25%, 50%, 100%) x 5 repeats. "one at a
time" is the same study with the classifier's ``score_subsamples`` hidden, so
every fit builds, compiles and trains its own Keras head; "together" trains the
25 heads in one loop. The features are computed once, before either is timed;
the two run alternately, ``--rounds`` times each, in one process. Prints the
wall times, their ratio, and each size's mean held-out score (sd over repeats).

    python benchmarks/bench_heads.py [--folder PATH] [--n-images 250] [--image-size 160]
"""

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared"
WEIGHTS = SHARED / "weights" / "mobilenet_v2_1.0_stanford_dogs_no_top.weights.h5"
CHEST = SHARED / "data" / "chest_xray" / "train"
SIZES = (0.05, 0.1, 0.25, 0.5, 1.0)


def data(args):
    from sklearn_vision import load_image_folder
    from sklearn_vision.datasets import load_digits_images

    if args.folder and Path(args.folder).exists():
        bunch = load_image_folder(args.folder)
        X, y = np.asarray(bunch.filenames), np.asarray(bunch.target)
    else:
        X, y = load_digits_images(image_size=args.image_size, n_class=4, return_X_y=True)
    rows = np.random.RandomState(0).choice(len(y), min(args.n_images, len(y)), replace=False)
    return X[rows], y[rows]


def study(classifier, X, y):
    from sklearn_vision import LearningCurveEstimator

    lce = LearningCurveEstimator(
        classifier, train_sizes=SIZES, n_repeats=5, refit=False, random_state=0
    )
    start = time.perf_counter()
    lce.fit(X, y)
    return time.perf_counter() - start, lce.scores_


def main():
    import warnings

    from sklearn_vision import TransferImageClassifier

    class OneAtATime(TransferImageClassifier):
        """The same classifier, its fits never trained together."""

        @property
        def score_subsamples(self):
            raise AttributeError("score_subsamples")

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", default=str(CHEST))
    parser.add_argument("--n-images", type=int, default=250)
    parser.add_argument("--image-size", type=int, default=160)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    X, y = data(args)
    params = dict(
        weights=str(WEIGHTS) if WEIGHTS.exists() else "imagenet",
        image_size=args.image_size,
        fine_tune_from=None,
    )
    TransferImageClassifier(**params, epochs=1, random_state=0).fit(X, y)  # the features, once
    kinds = {"one at a time": OneAtATime(**params), "together": TransferImageClassifier(**params)}
    print(
        f"{len(y)} images ({len(np.unique(y))} classes) at {args.image_size} px, MobileNetV2 "
        f"frozen, sizes {SIZES} x 5 repeats, features cached; CPU ({os.cpu_count()} cores)"
    )
    times, scores = {k: [] for k in kinds}, {}
    for _ in range(args.rounds):
        for kind, classifier in kinds.items():
            seconds, scores[kind] = study(classifier, X, y)
            times[kind].append(seconds)
            print(f"  {kind}: {seconds:.1f} s", flush=True)
    alone, together = (np.median(times[k]) for k in kinds)
    ratio = alone / together
    print(f"\nmedian: one at a time {alone:.1f} s, together {together:.1f} s: {ratio:.1f}x")
    print("mean held-out score per size (sd over repeats):")
    for kind in kinds:
        mean, sd = scores[kind].mean(axis=1), scores[kind].std(axis=1)
        cells = "  ".join(f"{m:.3f}±{s:.3f}" for m, s in zip(mean, sd, strict=True))
        print(f"  {kind:<14}{cells}")


if __name__ == "__main__":
    main()

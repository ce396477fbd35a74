"""Would balanced mini-batches pay off? Against class weights and oversampling.

An imbalanced training set can be met in the loss (``class_weight="balanced"``),
in the data (imbalanced-learn's ``RandomOverSampler`` in front of the
classifier), or in the batches: every mini-batch drawn with equal class
probabilities (``tf.data.Dataset.sample_from_datasets`` over one shuffled,
repeated dataset per class). The first two are what sklearn-vision offers; this
measures whether the third would add anything.

The head of ``TransferImageClassifier`` (dropout, softmax) is trained in plain
Keras on MobileNetV2 embeddings of the bundled digits (computed once with
``BackboneFeatures``), every variant for the same number of gradient steps with
the same optimizer, on training sets with one class kept whole and the others
cut to a share, and scored by balanced accuracy on a balanced held-out set
(mean and standard deviation over seeds, each seed its own imbalanced draw).

    python benchmarks/bench_imbalance.py [--seeds 5] [--image-size 96] [--weights PATH]
"""

import argparse
import math
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
from imblearn.over_sampling import RandomOverSampler  # noqa: E402
from sklearn.metrics import balanced_accuracy_score  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.utils import compute_sample_weight  # noqa: E402

from sklearn_vision import BackboneFeatures  # noqa: E402
from sklearn_vision.datasets import load_digits_images  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "weights"
REAL_WEIGHTS = SHARED / "mobilenet_v2_1.0_stanford_dogs_no_top.weights.h5"
IMBALANCES = {"mild": (1.0, 0.5, 0.25, 0.25), "severe": (1.0, 0.2, 0.1, 0.05)}
VARIANTS = ("no fix", "class_weight", "oversampling", "balanced batches")


def imbalanced(y, shares, rng):
    """Indices keeping each class's share of its rows (at least 2)."""
    kept = []
    for label, share in enumerate(shares):
        rows = np.flatnonzero(y == label)
        kept.append(rng.choice(rows, max(2, round(share * len(rows))), replace=False))
    return np.concatenate(kept)


def train_head(F, y, variant, *, seed, epochs, batch_size):
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    n_classes = int(y.max()) + 1
    head = keras.Sequential(
        [
            keras.Input((F.shape[1],)),
            keras.layers.Dropout(0.3),
            keras.layers.Dense(n_classes, activation="softmax"),
        ]
    )
    head.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    steps = math.ceil(len(y) / batch_size)  # the same gradient steps for every variant

    def shuffled(F, y, *extra):
        data = tf.data.Dataset.from_tensor_slices((F, y, *extra))
        return data.shuffle(len(y), seed=seed, reshuffle_each_iteration=True).repeat()

    if variant == "balanced batches":
        per_class = [shuffled(F[y == k], y[y == k]) for k in range(n_classes)]
        data = tf.data.Dataset.sample_from_datasets(
            per_class, weights=[1 / n_classes] * n_classes, seed=seed
        )
    elif variant == "oversampling":
        F_over, y_over = RandomOverSampler(random_state=seed).fit_resample(F, y)
        data = shuffled(F_over, y_over)
    elif variant == "class_weight":
        data = shuffled(F, y, compute_sample_weight("balanced", y).astype("float32"))
    else:
        data = shuffled(F, y)
    head.fit(data.batch(batch_size), epochs=epochs, steps_per_epoch=steps, shuffle=False, verbose=0)
    return head


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--image-size", type=int, default=96)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--weights", default=str(REAL_WEIGHTS) if REAL_WEIGHTS.exists() else None)
    args = parser.parse_args()

    X, y = load_digits_images(image_size=args.image_size, n_class=4, return_X_y=True)
    F = BackboneFeatures(
        "mobilenet_v2", weights=args.weights, image_size=args.image_size
    ).fit_transform(X)
    F_train, F_test, y_train, y_test = train_test_split(
        F, y, test_size=0.3, stratify=y, random_state=0
    )
    print(
        f"{len(y)} digit images (4 classes) at {args.image_size}px, MobileNetV2 embeddings "
        f"(weights={args.weights or 'random'}), head trained {args.epochs} epochs, batch "
        f"{args.batch_size}; balanced accuracy on {len(y_test)} balanced held-out images, "
        f"mean (sd) over {args.seeds} seeds\n"
    )
    print(f"{'imbalance (class shares)':<32}" + "".join(f"{v:>20}" for v in VARIANTS))
    for name, shares in IMBALANCES.items():
        scores = {variant: [] for variant in VARIANTS}
        for seed in range(args.seeds):
            kept = imbalanced(y_train, shares, np.random.default_rng(seed))
            for variant in VARIANTS:
                head = train_head(
                    F_train[kept],
                    y_train[kept],
                    variant,
                    seed=seed,
                    epochs=args.epochs,
                    batch_size=args.batch_size,
                )
                predicted = np.asarray(head(F_test, training=False)).argmax(axis=1)
                scores[variant].append(balanced_accuracy_score(y_test, predicted))
        label = f"{name} {shares}"
        print(
            f"{label:<32}"
            + "".join(
                f"{np.mean(s):>13.3f} ({np.std(s):.3f})" for s in (scores[v] for v in VARIANTS)
            )
        )


if __name__ == "__main__":
    main()

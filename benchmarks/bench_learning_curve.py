"""A sample-size learning-curve protocol: LearningCurveEstimator against a plain Keras loop.

4 training-set sizes (5%, 10%, 25%, 50% of the training images) x 5 repeats of a
two-stage MobileNetV2 fit (frozen head, then fine-tuning from ``block_10`` with
BatchNorm frozen), early stopping that restores the best weights, each fit
scored on the same held-out split. The baseline is the loop such studies write by hand:
a Keras model built and fitted on images for every subsample, no caching. Ours
is ``LearningCurveEstimator(TransferImageClassifier(...))``: the frozen
backbone's outputs are computed once per image for the whole run.

With ``--augmentation default`` both sides augment the training images with
the layers of the Keras transfer-learning guide (horizontal flip, rotation
0.05, zoom 0.1, contrast 0.1): the baseline augments afresh every epoch, as the
guide does; ours trains on a bank of ``--views`` augmented views per image,
computed once. A third pair of variants times one frozen fit on all the
training images. The accuracy per size compares the two kinds of augmentation.

Each variant runs in its own process, so its peak memory (max RSS) is its own;
wall times are measured in this run and printed as ratios.

    python benchmarks/bench_learning_curve.py [--n-images 500] [--image-size 96]
                                              [--augmentation default] [--views 4]
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "weights"
REAL_WEIGHTS = SHARED / "mobilenet_v2_1.0_stanford_dogs_no_top.weights.h5"
FRACTIONS = (0.05, 0.1, 0.25, 0.5)


def data(n_images, image_size):
    from sklearn.model_selection import train_test_split

    from sklearn_vision.datasets import load_digits_images

    X, y = load_digits_images(image_size=image_size, n_class=4, return_X_y=True)
    X, y = X[:n_images], y[:n_images]
    train, test = train_test_split(np.arange(len(y)), test_size=0.1, stratify=y, random_state=0)
    return X, y, np.sort(train), np.sort(test)


def guide_augmentation(seed):
    """The augmentation layers of the Keras transfer-learning guide, written out."""
    import keras

    return keras.Sequential(
        [
            keras.layers.RandomFlip("horizontal", seed=seed),
            keras.layers.RandomRotation(0.05, seed=seed + 1),
            keras.layers.RandomZoom(0.1, seed=seed + 2),
            keras.layers.RandomContrast(0.1, seed=seed + 3),
        ]
    )


def plain_keras_fit_score(X, y, X_test, y_test, *, weights, fine_tune, args, seed):
    """One fit of the plain loop: build, train the head, fine-tune, score."""
    import keras
    import tensorflow as tf
    from sklearn.model_selection import train_test_split

    keras.utils.set_random_seed(seed)
    augmentation = guide_augmentation(seed) if args.augmentation == "default" else None
    size = args.image_size
    backbone = keras.applications.MobileNetV2(
        include_top=False, weights=weights, input_shape=(size, size, 3)
    )
    backbone.trainable = False
    inputs = keras.Input((size, size, 3))
    x = backbone(inputs, training=False)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dropout(0.3)(x)
    model = keras.Model(inputs, keras.layers.Dense(4, activation="softmax")(x))
    preprocess = keras.applications.mobilenet_v2.preprocess_input

    def dataset(images, labels, training):
        ds = tf.data.Dataset.from_tensor_slices((images, labels))
        if training:
            ds = ds.shuffle(len(images), seed=seed)
        ds = ds.batch(32).map(lambda a, b: (tf.cast(a, tf.float32), b))
        if training and augmentation is not None:
            ds = ds.map(lambda a, b: (augmentation(a, training=True), b))
        ds = ds.map(lambda a, b: (preprocess(a), b))
        return ds.prefetch(tf.data.AUTOTUNE)

    fit_idx, val_idx = train_test_split(
        np.arange(len(y)), test_size=args.validation_fraction, stratify=y, random_state=seed
    )
    train_ds = dataset(X[fit_idx], y[fit_idx], True)
    val_ds = dataset(X[val_idx], y[val_idx], False)

    def stage(learning_rate, epochs):
        model.compile(
            optimizer=keras.optimizers.Adam(learning_rate),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        stop = keras.callbacks.EarlyStopping(
            patience=args.patience, restore_best_weights=True, monitor="val_loss"
        )
        model.fit(train_ds, validation_data=val_ds, epochs=epochs, callbacks=[stop], verbose=0)

    stage(1e-3, args.epochs)
    if fine_tune:
        backbone.trainable = True
        start = next(
            i for i, layer in enumerate(backbone.layers) if layer.name.startswith("block_10_")
        )
        for i, layer in enumerate(backbone.layers):
            layer.trainable = i >= start and not isinstance(layer, keras.layers.BatchNormalization)
        stage(1e-4, args.fine_tune_epochs)
    proba = model.predict(preprocess(X_test.astype("float32")), verbose=0)
    return float(np.mean(proba.argmax(axis=1) == y_test))


def run_plain(args, fine_tune, single=False):
    from sklearn_vision._split import balanced_subsample

    X, y, train, test = data(args.n_images, args.image_size)

    def fit_score(rows, fine_tune, seed):
        return plain_keras_fit_score(
            X[rows], y[rows], X[test], y[test], weights=args.weights, fine_tune=fine_tune,
            args=args, seed=seed,
        )  # fmt: skip

    if single:
        return [[fit_score(train, False, 0)]]
    rng = np.random.RandomState(0)
    scores = []
    for fraction in FRACTIONS:
        n = int(np.floor(fraction * len(train)))
        subsamples = [train[balanced_subsample(y[train], n, rng)] for _ in range(args.n_repeats)]
        scores.append([fit_score(rows, fine_tune, seed) for seed, rows in enumerate(subsamples)])
    return scores


def run_ours(args, fine_tune, single=False):
    from sklearn_vision import LearningCurveEstimator, TransferImageClassifier

    X, y, train, test = data(args.n_images, args.image_size)
    clf = TransferImageClassifier(
        "mobilenet_v2",
        weights=args.weights,
        image_size=args.image_size,
        epochs=args.epochs,
        fine_tune_from="block_10" if fine_tune else None,
        fine_tune_epochs=args.fine_tune_epochs,
        validation_fraction=args.validation_fraction,
        n_iter_no_change=args.patience,
        augmentation=None if args.augmentation == "none" else args.augmentation,
        augmentation_views=args.views,
        random_state=0 if single else None,
    )
    if single:
        return [[clf.fit(X[train], y[train]).score(X[test], y[test])]]
    # The same held-out split as the baseline: cv with one (train, test) pair.
    lce = LearningCurveEstimator(
        clf,
        train_sizes=FRACTIONS,
        n_repeats=args.n_repeats,
        cv=[(train, test)],
        refit=False,
        random_state=0,
    ).fit(X, y)
    return lce.scores_.tolist()


def child(args):
    from sklearn_vision import get_feature_cache

    start = time.perf_counter()
    runner = run_plain if args.variant.startswith("plain") else run_ours
    scores = runner(
        args,
        fine_tune=args.variant.endswith("fine_tune"),
        single=args.variant.endswith("single"),
    )
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    cache = get_feature_cache().nbytes
    print(
        json.dumps({"seconds": seconds, "peak_bytes": peak, "cache_bytes": cache, "scores": scores})
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-images", type=int, default=500)
    parser.add_argument("--image-size", type=int, default=96)
    parser.add_argument("--n-repeats", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--fine-tune-epochs", type=int, default=5)
    parser.add_argument("--patience", type=int, default=3)
    parser.add_argument("--validation-fraction", type=float, default=0.25)
    parser.add_argument("--weights", default=str(REAL_WEIGHTS) if REAL_WEIGHTS.exists() else None)
    parser.add_argument("--augmentation", choices=("none", "default"), default="none")
    parser.add_argument("--views", type=int, default=8, help="augmented views per image (ours)")
    parser.add_argument("--variant", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.variant:
        return child(args)

    print(
        f"{args.n_images} digit images (4 classes) at {args.image_size}px, MobileNetV2 "
        f"(weights={args.weights or 'random'}), sizes {FRACTIONS} of the training images x "
        f"{args.n_repeats} repeats, early stopping (patience {args.patience}), "
        f"augmentation {args.augmentation}"
        + (f" ({args.views} cached views per image)" if args.augmentation != "none" else "")
        + f", CPU ({os.cpu_count()} cores)\n"
    )
    results = {}
    variants = ["plain_single", "ours_single"]
    variants += ["plain_frozen", "ours_frozen", "plain_fine_tune", "ours_fine_tune"]
    for variant in variants:
        command = [sys.executable, __file__, "--variant", variant] + sys.argv[1:]
        output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        results[variant] = json.loads(output.strip().splitlines()[-1])
        print(f"  {variant}: {results[variant]['seconds']:.0f} s", flush=True)

    header = f"{'protocol':<28}{'plain Keras':>12}{'ours':>9}{'speed-up':>10}"
    print(f"\n{header}{'peak RSS plain / ours':>26}{'cache':>10}")
    n_fits = len(FRACTIONS) * args.n_repeats
    for kind, label in (
        ("single", "one frozen fit"),
        ("frozen", f"frozen only ({n_fits} fits)"),
        ("fine_tune", f"two stages ({n_fits} fits)"),
    ):
        plain, ours = results[f"plain_{kind}"], results[f"ours_{kind}"]
        print(
            f"{label:<28}{plain['seconds']:>11.0f}s{ours['seconds']:>8.0f}s"
            f"{plain['seconds'] / ours['seconds']:>9.1f}x"
            f"{plain['peak_bytes'] / 2**20:>15.0f} / {ours['peak_bytes'] / 2**20:.0f} MiB"
            f"{ours['cache_bytes'] / 2**20:>6.0f} MiB"
        )
    single = results["plain_single"]["scores"][0][0], results["ours_single"]["scores"][0][0]
    print(f"\nOne frozen fit, held-out accuracy: plain {single[0]:.3f}, ours {single[1]:.3f}")
    print("\nMean held-out accuracy per size (sd over repeats), plain vs ours:")
    for kind in ("frozen", "fine_tune"):
        plain = np.array(results[f"plain_{kind}"]["scores"])
        ours = np.array(results[f"ours_{kind}"]["scores"])
        cells = "  ".join(
            f"{p.mean():.3f}±{p.std():.3f} vs {o.mean():.3f}±{o.std():.3f}"
            for p, o in zip(plain, ours, strict=True)
        )
        print(f"  {kind:<10}{cells}")


if __name__ == "__main__":
    main()

"""What the feature cache buys: TransferImageClassifier against a plain Keras loop.

The baseline is the usual approach written out in plain Keras (Chollet's 2016
"very little data" post, the Keras transfer-learning guide): MobileNetV2
without top, a new head, ``model.fit`` on a tf.data pipeline of preprocessed
images every epoch (frozen backbone; then unfreezing from ``block_10`` with
BatchNorm frozen). Ours is ``TransferImageClassifier`` with ``cache="auto"``,
starting from an empty cache (and no weights file read before) each time, so
its times include computing the features and tracing every Keras function.
Same images, epochs, batch size, CPU; each task is timed ``--repeat`` times on
both sides, taking turns, and the best time of each is kept (as ``timeit`` does:
the others measure the machine's other load); the ratios are of this run.

    python benchmarks/bench_cache.py [--n-images 500] [--image-size 160] [--repeat 3]
                                     [--weights PATH]

``--weights`` defaults to the real MobileNetV2 weights in ``../shared/weights``
when present, else random weights (the timings do not depend on them).
"""

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
from sklearn.model_selection import StratifiedKFold, cross_val_score  # noqa: E402

from sklearn_vision import BACKBONES, TransferImageClassifier, feature_cache_context  # noqa: E402
from sklearn_vision.datasets import load_digits_images  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "weights"
REAL_WEIGHTS = SHARED / "mobilenet_v2_1.0_stanford_dogs_no_top.weights.h5"


def plain_keras_fit(X, y, *, weights, image_size, epochs, fine_tune_epochs=0, batch_size=32):
    """The plain loop: frozen head training, then optionally fine-tuning from block_10."""
    import keras
    import tensorflow as tf

    backbone = keras.applications.MobileNetV2(
        include_top=False, weights=weights, input_shape=(image_size, image_size, 3)
    )
    backbone.trainable = False
    inputs = keras.Input((image_size, image_size, 3))
    x = backbone(inputs, training=False)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dropout(0.3)(x)
    outputs = keras.layers.Dense(len(np.unique(y)), activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    preprocess = keras.applications.mobilenet_v2.preprocess_input
    dataset = (
        tf.data.Dataset.from_tensor_slices((X, y))
        .shuffle(len(X), seed=0)
        .batch(batch_size)
        .map(
            lambda a, b: (preprocess(tf.cast(a, tf.float32)), b),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
        .prefetch(tf.data.AUTOTUNE)
    )
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(dataset, epochs=epochs, verbose=0)
    if fine_tune_epochs:
        backbone.trainable = True
        start = next(
            i for i, layer in enumerate(backbone.layers) if layer.name.startswith("block_10_")
        )
        for i, layer in enumerate(backbone.layers):
            layer.trainable = i >= start and not isinstance(layer, keras.layers.BatchNormalization)
        model.compile(
            optimizer=keras.optimizers.Adam(1e-4),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        model.fit(dataset, epochs=fine_tune_epochs, verbose=0)
    return model


def ours(**params):
    return TransferImageClassifier("mobilenet_v2", early_stopping=False, random_state=0, **params)


def best_times(functions, repeat):
    """Best wall time of each of ``functions`` over ``repeat`` cold rounds, taking turns.

    Taking turns puts a slow minute of the machine on both sides, not on one.
    """
    times = np.empty((repeat, len(functions)))
    for round_ in range(repeat):
        for column, function in enumerate(functions):
            # Cold: our time includes reading the weights and computing the features.
            with feature_cache_context():
                start = time.perf_counter()
                function()
                times[round_, column] = time.perf_counter() - start
    return times.min(axis=0)


def cache_bytes_per_image():
    """Bytes one image costs in the cache, per backbone at its default size."""
    import keras

    rows = []
    for name in sorted(BACKBONES):
        record = BACKBONES[name]
        backbone, _ = record.make(weights=None, image_size=None, seed=0)
        pooled = int(backbone.output.shape[-1]) * 4
        split = None
        if record.fine_tune_from is not None:
            index = record.fine_tune_index(backbone, record.fine_tune_from)
            split = int(np.prod(backbone.layers[index].input.shape[1:])) * 4
        rows.append((name, record.default_size, pooled, split))
        keras.backend.clear_session()
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-images", type=int, default=500)
    parser.add_argument("--image-size", type=int, default=160)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--fine-tune-epochs", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--weights", default=str(REAL_WEIGHTS) if REAL_WEIGHTS.exists() else None)
    args = parser.parse_args()

    X, y = load_digits_images(image_size=args.image_size, return_X_y=True)
    X, y = X[: args.n_images], y[: args.n_images]
    size, weights = args.image_size, args.weights
    print(
        f"{len(X)} digit images at {size}x{size}, MobileNetV2, weights={weights or 'random'}, "
        f"batch 32, CPU ({os.cpu_count()} cores), best of {args.repeat}\n"
    )
    print(f"{'task':<44}{'plain Keras':>12}{'ours':>9}{'speed-up':>10}")

    def report(task, baseline, our_time):
        print(f"{task:<44}{baseline:>11.1f}s{our_time:>8.1f}s{baseline / our_time:>9.1f}x")

    folds = StratifiedKFold(5, shuffle=True, random_state=0)

    def plain_cross_validation():
        import keras

        preprocess = keras.applications.mobilenet_v2.preprocess_input
        scores = []
        for train, test in folds.split(X, y):
            model = plain_keras_fit(
                X[train], y[train], weights=weights, image_size=size, epochs=args.epochs
            )
            proba = model.predict(preprocess(X[test].astype("float32")), verbose=0)
            scores.append(np.mean(proba.argmax(axis=1) == y[test]))
        return scores

    frozen = dict(weights=weights, image_size=size, epochs=args.epochs, fine_tune_from=None)
    fine_tune = dict(fine_tune_from="block_10", fine_tune_epochs=args.fine_tune_epochs)
    plain = dict(X=X, y=y, weights=weights, image_size=size, epochs=args.epochs)
    tasks = [
        (
            f"frozen stage, {args.epochs} epochs",
            lambda: plain_keras_fit(**plain),
            lambda: ours(**frozen).fit(X, y),
        ),
        (
            f"+ fine-tuning from block_10, {args.fine_tune_epochs} epochs",
            lambda: plain_keras_fit(**plain, fine_tune_epochs=args.fine_tune_epochs),
            lambda: ours(**{**frozen, **fine_tune}).fit(X, y),
        ),
        (
            f"5-fold cross_val_score, frozen, {args.epochs} epochs",
            plain_cross_validation,
            lambda: cross_val_score(ours(**frozen), X, y, cv=folds),
        ),
    ]
    for task, plain_run, our_run in tasks:
        report(task, *best_times([plain_run, our_run], args.repeat))

    print("\nCache cost per image (float32), each backbone at its default size:")
    print(
        f"{'backbone':<22}{'size':>6}{'pooled':>10}{'split point':>14}  (for fine_tune_from='auto')"
    )
    for name, default, pooled, split in cache_bytes_per_image():
        split_text = "-" if split is None else f"{split / 1024:.0f} KiB"
        print(f"{name:<22}{default:>6}{pooled / 1024:>7.1f} KiB{split_text:>14}")


if __name__ == "__main__":
    main()

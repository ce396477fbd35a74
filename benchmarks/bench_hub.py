"""KerasHub vision transformers: feature throughput, and what the cache buys a ViT learning curve.

1. Throughput. DINOv2-small (ViT-S/14) and SigLIP-base/16 at their default
   224x224, against MobileNetV2 at 224x224: ``BackboneFeatures(...,
   weights=None, cache=False)``, images per second of ``transform`` on
   ``--n-throughput`` images (after one warm-up ``fit`` and ``transform`` of
   each), the three taking turns ``--repeat`` times, the best time of each
   kept. Time does not depend on the weights: random ones, in presets built
   here with the real architectures and saved with ``save_to_preset`` (no
   download) -- DINOv2-small: 12 blocks, width 384, 6 heads, MLP 1536, patch 14,
   position embeddings for 518x518 (KerasHub lists 22,582,656 parameters for
   ``dinov2_small``: its interpolated position embeddings sized for 518x518
   inputs; at 224 the same network has 22,155,264); SigLIP-base/16-224: vision
   tower of 12 blocks, width 768, 12 heads, MLP 3072, patch 16 (92,884,420
   parameters, as in ``siglip_base_patch16_224``, whose 203,156,230 include
   the text tower: a one-block stand-in here, never run).

2. Learning curve. The DINOv2-small preset at ``--image-size`` (default 112,
   8x8 patches, to fit CPU time), 4 digit classes, sizes (10%, 25%, 50%) of
   the training images x ``--n-repeats``, one held-out split, early stopping
   that restores the best weights; frozen only, and two stages (the last two
   transformer blocks fine-tuned at 1e-4). The baseline is the loop such a
   study writes by hand: for every subsample, build the KerasHub backbone from
   the preset, put a head on it (class token and mean patch token, dropout,
   softmax), train on normalized images every epoch (tf.data), then unfreeze
   the last two blocks and train again. Ours is
   ``LearningCurveEstimator(TransferImageClassifier(preset, ...))``: stage 1
   trains on pooled features computed once per image, stage 2 on the
   activations where the last two blocks start (``stage_plan_``).

   Both sides load the preset's own (random) weights, as with a pretrained
   preset: every fit starts from the same backbone. With ``--random-init``
   both draw new random weights for every fit (``weights=None``; the learning
   curve seeds each fit), so ours has nothing to share between fits.
   The weights are random, so the held-out accuracies say nothing of DINOv2:
   near chance (0.25) is expected for frozen features, fine-tuned blocks
   learn a little from the digits; they are printed to show that both sides
   train alike.

Each learning-curve variant runs in its own process, so its peak memory (max
RSS) is its own; the baseline and ours take turns; times are of this run and
printed as ratios.

    python benchmarks/bench_hub.py [--part all|throughput|curve] [--n-throughput 64]
        [--repeat 2] [--n-images 240] [--image-size 112] [--n-repeats 3]
        [--epochs 6] [--fine-tune-epochs 3] [--random-init]
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

FRACTIONS = (0.1, 0.25, 0.5)
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
THROUGHPUT = (
    ("mobilenet_v2", "MobileNetV2"),
    ("dinov2", "DINOv2-small (ViT-S/14)"),
    ("siglip", "SigLIP-base/16 (vision)"),
)


# ---------------------------------------------------------------- presets


def write_presets(root):
    """Random-weight DINOv2-small and SigLIP-base/16-224 presets, as ``save_to_preset`` writes."""
    import keras_hub

    models, layers = keras_hub.models, keras_hub.layers
    dinov2 = models.DINOV2Backbone(
        patch_size=14, num_layers=12, hidden_dim=384, num_heads=6, intermediate_dim=1536,
        image_shape=(224, 224, 3), position_embedding_shape=(518, 518, 3),
    )  # fmt: skip
    mean, std = np.array(IMAGENET_MEAN), np.array(IMAGENET_STD)
    imagenet = layers.DINOV2ImageConverter(scale=list(1 / (255 * std)), offset=list(-mean / std))
    vision = models.SigLIPVisionEncoder(
        patch_size=16, hidden_dim=768, num_layers=12, num_heads=12, intermediate_dim=3072,
        image_shape=(224, 224, 3),
    )  # fmt: skip
    # The text tower is never run for images: a small one keeps the preset small.
    text = models.SigLIPTextEncoder(
        vocabulary_size=64, embedding_dim=64, hidden_dim=64, num_layers=1, num_heads=2,
        intermediate_dim=128, max_sequence_length=8, projection_dim=768,
    )  # fmt: skip
    siglip = models.SigLIPBackbone(vision, text)
    half = layers.SigLIPImageConverter(scale=1 / 127.5, offset=-1.0)
    for name, backbone, converter in (("dinov2", dinov2, imagenet), ("siglip", siglip, half)):
        backbone.save_to_preset(os.path.join(root, name))
        converter.save_to_preset(os.path.join(root, name))
    return {}


# ---------------------------------------------------------------- 1. throughput


def run_throughput(args):
    from sklearn_vision import BackboneFeatures
    from sklearn_vision.datasets import load_digits_images

    X = load_digits_images(image_size=224, n_class=4, return_X_y=True)[0]
    X = X[np.arange(args.n_throughput) % len(X)]

    def features(key):
        backbone = key if key == "mobilenet_v2" else os.path.join(args.preset_dir, key)
        # 224x224 for all three: MobileNetV2's and DINOv2's default, SigLIP's only size.
        return BackboneFeatures(backbone, weights=None, image_size=224, cache=False, random_state=0)

    for key, _ in THROUGHPUT:  # warm-up: imports, first kernels
        features(key).fit(X).transform(X)
    fit_times = np.full((args.repeat, len(THROUGHPUT)), np.inf)
    transform_times = np.full((args.repeat, len(THROUGHPUT)), np.inf)
    info = {}
    for round_ in range(args.repeat):
        for column, (key, _) in enumerate(THROUGHPUT):  # taking turns
            start = time.perf_counter()
            fitted = features(key).fit(X)
            middle = time.perf_counter()
            Z = fitted.transform(X)
            fit_times[round_, column] = middle - start
            transform_times[round_, column] = time.perf_counter() - middle
            info[key] = {"params": fitted.model_.count_params(), "n_features": Z.shape[1]}
    return {
        key: {
            **info[key],
            "fit_seconds": float(fit_times[:, column].min()),
            "transform_seconds": float(transform_times[:, column].min()),
        }
        for column, (key, _) in enumerate(THROUGHPUT)
    }


# ---------------------------------------------------------------- 2. learning curve


def data(n_images, image_size):
    from sklearn.model_selection import train_test_split

    from sklearn_vision.datasets import load_digits_images

    X, y = load_digits_images(image_size=image_size, n_class=4, return_X_y=True)
    X, y = X[:n_images], y[:n_images]
    train, test = train_test_split(np.arange(len(y)), test_size=0.1, stratify=y, random_state=0)
    return X, y, np.sort(train), np.sort(test)


def plain_keras_fit_score(X, y, X_test, y_test, *, preset, fine_tune, args, seed):
    """One fit of the plain loop: build backbone and head, train, fine-tune, score."""
    import keras
    import keras_hub
    import tensorflow as tf
    from sklearn.model_selection import train_test_split

    keras.utils.set_random_seed(seed)
    size = args.image_size
    backbone = keras_hub.models.Backbone.from_preset(
        preset, load_weights=not args.random_init, image_shape=(size, size, 3)
    )
    backbone.trainable = False
    inputs = keras.Input((size, size, 3))
    tokens = backbone(inputs, training=False)
    # DINOv2's linear evaluation: the class token and the mean of the patch tokens.
    x = keras.layers.Concatenate()(
        [tokens[:, 0], keras.layers.GlobalAveragePooling1D()(tokens[:, 1:])]
    )
    x = keras.layers.Dropout(0.3)(x)
    model = keras.Model(inputs, keras.layers.Dense(4, activation="softmax")(x))
    mean, std = tf.constant(IMAGENET_MEAN), tf.constant(IMAGENET_STD)

    def normalize(images):
        return (tf.cast(images, tf.float32) / 255.0 - mean) / std

    def dataset(images, labels, training):
        ds = tf.data.Dataset.from_tensor_slices((images, labels))
        if training:
            ds = ds.shuffle(len(images), seed=seed)
        ds = ds.batch(32).map(lambda a, b: (normalize(a), b), num_parallel_calls=tf.data.AUTOTUNE)
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
        # The last two transformer blocks (and the final norm above them).
        backbone.trainable = True
        backbone.embeddings.trainable = False
        for block in backbone.encoder.layers[:-2]:
            block.trainable = False
        stage(1e-4, args.fine_tune_epochs)
    proba = model.predict(normalize(X_test), verbose=0)
    return float(np.mean(proba.argmax(axis=1) == y_test))


def run_plain(args, fine_tune):
    from sklearn_vision._split import balanced_subsample

    X, y, train, test = data(args.n_images, args.image_size)
    preset = os.path.join(args.preset_dir, "dinov2")
    rng = np.random.RandomState(0)
    scores = []
    for fraction in FRACTIONS:
        n = int(np.floor(fraction * len(train)))
        subsamples = [train[balanced_subsample(y[train], n, rng)] for _ in range(args.n_repeats)]
        scores.append(
            [
                plain_keras_fit_score(
                    X[rows],
                    y[rows],
                    X[test],
                    y[test],
                    preset=preset,
                    fine_tune=fine_tune,
                    args=args,
                    seed=seed,
                )  # fmt: skip
                for seed, rows in enumerate(subsamples)
            ]
        )
    return {"scores": scores}


def run_ours(args, fine_tune):
    from sklearn_vision import LearningCurveEstimator, TransferImageClassifier, get_feature_cache

    X, y, train, test = data(args.n_images, args.image_size)
    clf = TransferImageClassifier(
        os.path.join(args.preset_dir, "dinov2"),
        # The preset's own weights (None: new random ones for every fit).
        weights=None if args.random_init else "imagenet",
        image_size=args.image_size,
        epochs=args.epochs,
        fine_tune_from=2 if fine_tune else None,
        fine_tune_epochs=args.fine_tune_epochs,
        validation_fraction=args.validation_fraction,
        n_iter_no_change=args.patience,
    )
    # The same held-out split as the baseline: cv with one (train, test) pair.
    lce = LearningCurveEstimator(
        clf,
        train_sizes=FRACTIONS,
        n_repeats=args.n_repeats,
        cv=[(train, test)],
        refit=False,
        random_state=0,
    ).fit(X, y)
    cache = get_feature_cache()
    outcome = {"scores": lce.scores_.tolist(), "cache_bytes": cache.nbytes, "hits": cache.hits}
    # What each stage was fed, from one short fit after the timed part.
    few = train[: max(24, len(train) // 10)]
    plan = clf.set_params(epochs=1, fine_tune_epochs=1).fit(X[few], y[few]).stage_plan_
    outcome["plan"] = [plan.frozen_input, plan.fine_tune_input]
    return outcome


# ---------------------------------------------------------------- processes


def child(args):
    runners = {
        "presets": lambda: write_presets(args.preset_dir),
        "throughput": lambda: run_throughput(args),
        "plain_frozen": lambda: run_plain(args, fine_tune=False),
        "ours_frozen": lambda: run_ours(args, fine_tune=False),
        "plain_fine_tune": lambda: run_plain(args, fine_tune=True),
        "ours_fine_tune": lambda: run_ours(args, fine_tune=True),
    }
    start = time.perf_counter()
    result = runners[args.variant]()
    result["seconds"] = time.perf_counter() - start
    result["peak_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps(result))


def run_variant(variant, preset_dir):
    """Run one variant in a fresh process; its JSON result."""
    command = [sys.executable, __file__, *sys.argv[1:], "--variant", variant]
    command += ["--preset-dir", preset_dir]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"variant {variant} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def report_throughput(results, n_images):
    base = results["mobilenet_v2"]["transform_seconds"]
    print(
        f"\n{'backbone (random weights), 224x224':<36}{'params':>8}{'features':>10}"
        f"{'fit':>8}{'transform':>11}{'images/s':>10}{'time vs MobileNetV2':>21}"
    )
    for key, label in THROUGHPUT:
        row = results[key]
        seconds = row["transform_seconds"]
        print(
            f"{label:<36}{row['params'] / 1e6:>7.1f}M{row['n_features']:>10}"
            f"{row['fit_seconds']:>7.1f}s{seconds:>10.1f}s{n_images / seconds:>10.1f}"
            f"{seconds / base:>20.1f}x"
        )


def report_curve(results, args, n_train):
    print(
        f"\n{'protocol':<28}{'plain Keras':>12}{'ours':>9}{'speed-up':>10}"
        f"{'peak RSS plain / ours':>26}{'cache':>10}"
    )
    n_fits = len(FRACTIONS) * args.n_repeats
    for kind, label in (("frozen", "frozen only"), ("fine_tune", "two stages")):
        plain, ours = results[f"plain_{kind}"], results[f"ours_{kind}"]
        print(
            f"{f'{label} ({n_fits} fits)':<28}{plain['seconds']:>11.0f}s{ours['seconds']:>8.0f}s"
            f"{plain['seconds'] / ours['seconds']:>9.1f}x"
            f"{plain['peak_bytes'] / 2**20:>15.0f} / {ours['peak_bytes'] / 2**20:.0f} MiB"
            f"{ours['cache_bytes'] / 2**20:>6.1f} MiB"
        )
    for kind in ("frozen", "fine_tune"):
        frozen_input, fine_tune_input = results[f"ours_{kind}"]["plan"]
        print(
            f"  ours, {kind}: stage 1 fed {frozen_input}, stage 2 fed {fine_tune_input or '-'}"
            f" ({results[f'ours_{kind}']['hits']} cache hits)"
        )
    sizes = [int(np.floor(f * n_train)) for f in FRACTIONS]
    print(
        f"\nMean held-out accuracy (sd over repeats) at {sizes} images, plain vs ours "
        "(random weights: chance is 0.25):"
    )
    for kind in ("frozen", "fine_tune"):
        plain = np.array(results[f"plain_{kind}"]["scores"])
        ours = np.array(results[f"ours_{kind}"]["scores"])
        cells = "  ".join(
            f"{p.mean():.2f}±{p.std():.2f} vs {o.mean():.2f}±{o.std():.2f}"
            for p, o in zip(plain, ours, strict=True)
        )
        print(f"  {kind:<10}{cells}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("all", "throughput", "curve"), default="all")
    parser.add_argument("--n-throughput", type=int, default=64, help="images timed (part 1)")
    parser.add_argument("--repeat", type=int, default=2, help="timed rounds (part 1)")
    parser.add_argument("--n-images", type=int, default=240)
    parser.add_argument("--image-size", type=int, default=112, help="a multiple of 14")
    parser.add_argument("--n-repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--fine-tune-epochs", type=int, default=3)
    parser.add_argument("--patience", type=int, default=3)
    parser.add_argument("--validation-fraction", type=float, default=0.25)
    parser.add_argument(
        "--random-init", action="store_true", help="new random weights for every fit (part 2)"
    )
    parser.add_argument("--variant", help=argparse.SUPPRESS)
    parser.add_argument("--preset-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.variant:
        return child(args)

    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench_hub_") as preset_dir:
        run_variant("presets", preset_dir)
        if args.part in ("all", "throughput"):
            print(
                f"1. Feature extraction: {args.n_throughput} digit images, "
                f"BackboneFeatures(weights=None, cache=False), best of {args.repeat} after a "
                f"warm-up, CPU ({os.cpu_count()} cores)",
                flush=True,
            )
            results = run_variant("throughput", preset_dir)
            report_throughput(results, args.n_throughput)
        if args.part in ("all", "curve"):
            n_train = args.n_images - int(np.ceil(0.1 * args.n_images))
            print(
                f"\n2. Learning curve: {args.n_images} digit images (4 classes) at "
                f"{args.image_size}px, DINOv2-small ({args.image_size // 14}x"
                f"{args.image_size // 14} patches, "
                f"{'new random weights per fit' if args.random_init else 'preset weights'}), "
                f"sizes {FRACTIONS} of {n_train} training images x {args.n_repeats} repeats, "
                f"{args.epochs} + {args.fine_tune_epochs} epochs at most, early stopping "
                f"(patience {args.patience}), CPU ({os.cpu_count()} cores)\n",
                flush=True,
            )
            results = {}
            for variant in ("plain_frozen", "ours_frozen", "plain_fine_tune", "ours_fine_tune"):
                results[variant] = run_variant(variant, preset_dir)
                print(f"  {variant}: {results[variant]['seconds']:.0f} s", flush=True)
            report_curve(results, args, n_train)
    print(f"\nTotal wall time: {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()

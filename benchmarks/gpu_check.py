"""What only a GPU shows, in one short run: mixed precision, a mirrored strategy, speed, memory.

Prints one table:

- ``mixed_precision=True``: the backbone computes in float16, the softmax head in
  float32, the probabilities are float32 and sum to 1, and the global dtype
  policy is float32 again after the fit;
- ``strategy="mirrored"``: every weight is a distributed variable, created in
  the strategy's scope, over all the GPUs TensorFlow sees, and the model learns;
- the cached frozen fit against the plain Keras loop (``bench_cache.py``'s),
  taking turns, best of two;
- peak device memory over 20 fits of a learning curve's size (GPU memory with
  a GPU; the process's resident memory on a CPU).

Under 5 minutes on a GPU; it also runs on a CPU (slower, the GPU rows say
"no GPU"), which is how it was checked where no GPU was at hand.

    python benchmarks/gpu_check.py [--n-images 300] [--image-size 96]
"""

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_cache import plain_keras_fit  # noqa: E402

from sklearn_vision import TransferImageClassifier, feature_cache_context  # noqa: E402
from sklearn_vision.datasets import load_digits_images  # noqa: E402


def classifier(size, **params):
    return TransferImageClassifier(
        "mobilenet_v2",
        weights=None,
        image_size=size,
        backbone_kwargs={"alpha": 0.35},
        fine_tune_from=None,
        early_stopping=False,
        random_state=0,
        **params,
    )


def check_mixed_precision(X, y, size):
    import keras

    clf = classifier(size, epochs=2, mixed_precision=True).fit(X, y)
    backbone = clf.model_.layers[1]
    convolutions = [layer for layer in backbone.layers if "conv" in type(layer).__name__.lower()]
    float16 = all(layer.compute_dtype == "float16" for layer in convolutions)
    softmax = clf.model_.get_layer("head").get_layer("predictions")
    proba = clf.predict_proba(X[:20])
    restored = keras.config.dtype_policy().name == "float32"
    passed = (
        float16
        and softmax.compute_dtype == "float32"
        and proba.dtype == np.float64
        and np.allclose(proba.sum(axis=1), 1)
        and restored
    )
    detail = (
        f"convolutions {'float16' if float16 else 'not float16'}, softmax "
        f"{softmax.compute_dtype}, policy after fit {keras.config.dtype_policy().name}"
    )
    return passed, detail


def check_mirrored(X, y, size):
    import tensorflow as tf

    # The small convnet learns the digits from scratch: the strategy must not stop it.
    half = len(y) // 2
    clf = TransferImageClassifier(
        "small_cnn",
        weights=None,
        image_size=32,
        epochs=15,
        learning_rate=3e-3,
        early_stopping=False,
        strategy="mirrored",
        random_state=0,
    ).fit(X[:half], y[:half])
    weights = clf.model_.weights
    distributed = all(isinstance(v.value, tf.distribute.DistributedValues) for v in weights)
    score = clf.score(X[half:], y[half:])
    replicas = max(1, len(tf.config.list_logical_devices("GPU")))
    passed = distributed and score > 0.8
    detail = f"{replicas} replica(s), distributed variables {distributed}, accuracy {score:.2f}"
    return passed, detail


def check_speed(X, y, size):
    def ours():
        with feature_cache_context():
            classifier(size, epochs=5).fit(X, y)

    def plain():
        plain_keras_fit(X, y, weights=None, image_size=size, epochs=5)

    times = {"ours": [], "plain": []}
    for _ in range(2):
        for name, run in (("plain", plain), ("ours", ours)):
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    best = {name: min(values) for name, values in times.items()}
    ratio = best["plain"] / best["ours"]
    return ratio > 1, f"plain {best['plain']:.1f} s, ours {best['ours']:.1f} s: {ratio:.1f}x"


def peak_memory():
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        return tf.config.experimental.get_memory_info("GPU:0")["peak"], "GPU"
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024, "RSS"
    return 0, "RSS"


def check_memory(X, y, size):
    peaks = []
    for fit in range(20):
        rows = np.random.RandomState(fit).choice(len(y), len(y) // 2, replace=False)
        classifier(size, epochs=2).fit(X[rows], y[rows])
        peak, kind = peak_memory()
        peaks.append(peak)
    growth = (peaks[-1] - peaks[4]) / 15 / 2**20
    detail = (
        f"{kind} peak {peaks[4] / 2**20:.0f} MiB after 5 fits, {peaks[-1] / 2**20:.0f} after 20"
    )
    return growth < 50, detail + f" ({growth:.1f} MiB per fit)"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-images", type=int, default=300)
    parser.add_argument("--image-size", type=int, default=96)
    args = parser.parse_args()
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    device = f"{len(gpus)} GPU(s)" if gpus else f"no GPU, CPU ({os.cpu_count()} cores)"
    X, y = load_digits_images(image_size=args.image_size, n_class=4, return_X_y=True)
    X, y = X[: args.n_images], y[: args.n_images]
    print(f"{len(X)} digit images at {args.image_size} px, MobileNetV2 (alpha 0.35); {device}\n")
    checks = [
        ("mixed_precision=True", check_mixed_precision),
        ('strategy="mirrored"', check_mirrored),
        ("cached vs plain, frozen, 5 epochs", check_speed),
        ("memory over 20 fits", check_memory),
    ]
    print(f"{'check':<36}{'result':<8}detail")
    failed = 0
    for name, check in checks:
        start = time.perf_counter()
        passed, detail = check(X, y, args.image_size)
        failed += not passed
        seconds = time.perf_counter() - start
        print(f"{name:<36}{'ok' if passed else 'FAILED':<8}{detail} [{seconds:.0f} s]")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

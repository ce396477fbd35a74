"""Loading a folder of JPEGs: ``load_image_folder`` against Keras's loader.

Writes a folder of a few thousand JPEGs (smooth random colour fields with
noise, of mixed sizes around ``--source-width`` x 3/4 of it: 400x300 like the
Stanford Dogs photos, 1600x1200 like a camera's, in three class folders) to a temporary
directory, then measures images per second decoding and resizing all of them:

- Keras: ``keras.utils.image_dataset_from_directory`` iterated to the end
  (tf.data, parallel decode; it stops at the first bad file);
- ours: ``load_image_folder(image_size=...)``, which also checks every file and
  lists the bad ones (headers read with Pillow, then JPEGs decoded and resized
  with TensorFlow in tf.data), with ``n_jobs`` threads (default: all cores);
- ours, check only: ``load_image_folder()`` without a size (file names out,
  every file decoded to check it), the input the classifier streams from.

Every timing is the best of ``--repeats`` runs after one warm-up (the files are
in the page cache for all of them), the three loaders taking turns, measured in
this run and printed as a ratio.

    python benchmarks/bench_loading.py [--n-images 3000] [--image-size 160]
        [--source-width 400] [--n-jobs -1]
"""

import argparse
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from sklearn_vision import load_image_folder  # noqa: E402


def write_folder(root, n_images, source_width=400, seed=0):
    """Three class folders of JPEGs: smooth colour fields plus noise, sizes within 10%."""
    rng = np.random.default_rng(seed)
    for index in range(n_images):
        folder = os.path.join(root, f"class_{index % 3}")
        os.makedirs(folder, exist_ok=True)
        width = int(source_width * rng.uniform(0.9, 1.1))
        height = int(0.75 * source_width * rng.uniform(0.9, 1.1))
        coarse = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
        image = Image.fromarray(coarse).resize((width, height), Image.Resampling.BICUBIC)
        pixels = np.asarray(image, dtype=np.int16) + rng.integers(-12, 13, (height, width, 3))
        Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(
            os.path.join(folder, f"{index:05d}.jpg"), quality=90
        )


def best_times(functions, repeats):
    """Best wall time of each function over ``repeats`` rounds, the functions interleaved.

    One warm-up each first (page cache, TensorFlow start-up). Interleaving puts
    a slow minute of the machine on every side, not on one.
    """
    for function in functions:
        function()
    times = np.empty((repeats, len(functions)))
    for repeat in range(repeats):
        for column, function in enumerate(functions):
            start = time.perf_counter()
            function()
            times[repeat, column] = time.perf_counter() - start
    return times.min(axis=0)


def keras_load(root, image_size):
    import keras

    dataset = keras.utils.image_dataset_from_directory(
        root, image_size=(image_size, image_size), batch_size=64, shuffle=False, verbose=False
    )
    return sum(len(images) for images, _ in dataset)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-images", type=int, default=3000)
    parser.add_argument("--image-size", type=int, default=160)
    parser.add_argument("--n-jobs", type=int, default=-1)
    parser.add_argument(
        "--source-width", type=int, default=400, help="JPEG width (height: 3/4 of it)"
    )
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as root:
        write_folder(root, args.n_images, args.source_width)
        megabytes = (
            sum(
                os.path.getsize(os.path.join(folder, name))
                for folder, _, names in os.walk(root)
                for name in names
            )
            / 2**20
        )
        print(
            f"{args.n_images} JPEGs ({megabytes:.0f} MiB, about {args.source_width}x"
            f"{3 * args.source_width // 4}) resized to "
            f"{args.image_size}x{args.image_size}, {os.cpu_count()} cores, best of {args.repeats}"
        )
        n = args.n_images
        keras_time, ours_time, check_time = best_times(
            [
                lambda: keras_load(root, args.image_size),
                lambda: load_image_folder(root, image_size=args.image_size, n_jobs=args.n_jobs),
                lambda: load_image_folder(root, n_jobs=args.n_jobs),
            ],
            args.repeats,
        )

    print("\n| loader | seconds | images/s | vs Keras |\n|---|---|---|---|")
    for name, seconds in [
        ("keras.utils.image_dataset_from_directory", keras_time),
        ("load_image_folder(image_size=...)", ours_time),
        ("load_image_folder() (check only, paths out)", check_time),
    ]:
        print(f"| {name} | {seconds:.2f} | {n / seconds:.0f} | {keras_time / seconds:.2f}x |")


if __name__ == "__main__":
    main()

"""The study at the speed of one fit: ``sklearn-vision sample-size`` against one plain Keras fit.

Data: 250 of the Kermany et al. 2018 pediatric chest X-rays of
``../shared/data/chest_xray/train`` (CC BY 4.0), normal and pneumonia, drawn by
whole patients (seed 0) and linked into a temporary folder of class subfolders,
as a team's first folder would be.

- Ours: the command line's default study on that folder, as a user runs it,
  ``sklearn-vision sample-size FOLDER --weights W --image-size 160 --quiet``
  (MobileNetV2 with the pretrained weights of ``../shared/weights``; two stages,
  and with ``--no-fine-tune`` the frozen study): 5 sizes up to all the training
  images, 5 repeats each, the answer and the model trained on all of them.
- The baseline: one plain Keras fit on all 250 images, as the Keras sample-size
  example's ``train_model`` writes it: the same backbone and weights at 160 px,
  the images decoded and resized, the head trained 10 epochs on the frozen
  backbone, then ``block_13`` up (BatchNorm frozen) 20 epochs at 1e-4, each
  stage stopping early (patience 5, best weights restored) on a stratified 10%;
  the frozen baseline stops after its first stage.

Each run is a process of its own, timed whole (start-up, imports, reading the
images); baseline and ours take turns, ``--rounds`` times. Printed: each run's
time and the ratio of the medians (ours over the baseline).

    python benchmarks/bench_study.py [--rounds 3] [--n-images 250] [--modes two-stage,frozen]
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[1] / "shared"
WEIGHTS = SHARED / "weights" / "mobilenet_v2_1.0_stanford_dogs_no_top.weights.h5"
CHEST = SHARED / "data" / "chest_xray" / "train"
SIZE = 160


def draw_folder(root, n_images, seed=0):
    """Link ``n_images`` chest X-rays, drawn by whole patients, into ``root/<class>/``."""
    sys.path.insert(0, str(HERE))
    from image_curves import PATIENT

    rng = np.random.RandomState(seed)
    files = sorted(CHEST.glob("*/*.jpeg"))
    patients = np.array([f"{f.parent.name}/{PATIENT.match(f.name).group(1)}" for f in files])
    chosen = []
    for patient in rng.permutation(np.unique(patients)):
        chosen.extend(f for f, p in zip(files, patients, strict=True) if p == patient)
        if len(chosen) >= n_images:
            break
    for path in chosen[:n_images]:
        target = Path(root) / path.parent.name.lower() / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(path)
    return root


def plain_fit(folder, fine_tune):
    """The baseline, in this process: one two-stage (or frozen) Keras fit on every image."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import tensorflow as tf
    from sklearn.model_selection import train_test_split

    paths = sorted(str(p) for p in Path(folder).glob("*/*.jpeg"))
    classes = sorted({Path(p).parent.name for p in paths})
    labels = np.array([classes.index(Path(p).parent.name) for p in paths])
    images = np.stack(
        [
            keras.utils.img_to_array(
                keras.utils.load_img(p, color_mode="rgb", target_size=(SIZE, SIZE))
            )
            for p in paths
        ]
    )
    train, val = train_test_split(
        np.arange(len(labels)), test_size=0.1, stratify=labels, random_state=0
    )
    preprocess = keras.applications.mobilenet_v2.preprocess_input

    def dataset(rows, shuffle):
        data = tf.data.Dataset.from_tensor_slices((images[rows], labels[rows]))
        if shuffle:
            data = data.shuffle(len(rows), seed=0)
        return data.batch(32).map(lambda a, b: (preprocess(a), b)).prefetch(tf.data.AUTOTUNE)

    backbone = keras.applications.MobileNetV2(
        include_top=False, weights=str(WEIGHTS), input_shape=(SIZE, SIZE, 3)
    )
    backbone.trainable = False
    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.GlobalAveragePooling2D()(backbone(inputs, training=False))
    x = keras.layers.Dropout(0.3)(x)
    model = keras.Model(inputs, keras.layers.Dense(len(classes), activation="softmax")(x))

    def fit(learning_rate, epochs):
        model.compile(
            optimizer=keras.optimizers.Adam(learning_rate),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        stop = keras.callbacks.EarlyStopping(patience=5, restore_best_weights=True)
        model.fit(
            dataset(train, True),
            validation_data=dataset(val, False),
            epochs=epochs,
            callbacks=[stop],
            verbose=0,
        )

    fit(1e-3, 10)
    if fine_tune:
        backbone.trainable = True
        start = next(i for i, l in enumerate(backbone.layers) if l.name.startswith("block_13"))
        for i, layer in enumerate(backbone.layers):
            layer.trainable = i >= start and not isinstance(
                layer, keras.layers.BatchNormalization
            )
        fit(1e-4, 20)


def run(command):
    """Wall seconds of ``command`` as a process of its own (it must succeed)."""
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    return seconds, done.stdout


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--n-images", type=int, default=250)
    parser.add_argument("--modes", default="two-stage,frozen")
    parser.add_argument("--plain", metavar="FOLDER", help=argparse.SUPPRESS)
    parser.add_argument("--frozen", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.plain:
        plain_fit(args.plain, fine_tune=not args.frozen)
        return
    if not (WEIGHTS.exists() and CHEST.is_dir()):
        sys.exit(f"Needs {WEIGHTS} and {CHEST} (../shared beside the repository).")
    cli = [sys.executable, "-m", "sklearn_vision", "sample-size"]
    with tempfile.TemporaryDirectory() as root:
        folder = draw_folder(root, args.n_images)
        print(f"{args.n_images} chest X-rays by patient; {os.cpu_count()} cores")
        for mode in args.modes.split(","):
            frozen = mode == "frozen"
            ours = [*cli, folder, "--weights", str(WEIGHTS), "--image-size", str(SIZE)]
            ours += ["--quiet"] + (["--no-fine-tune"] if frozen else [])
            plain = [sys.executable, __file__, "--plain", folder] + (["--frozen"] if frozen else [])
            times = {"plain": [], "ours": []}
            for round_ in range(args.rounds):
                times["plain"].append(run(plain)[0])
                seconds, out = run(ours)
                times["ours"].append(seconds)
                print(
                    f"{mode} round {round_ + 1}: one plain fit {times['plain'][-1]:.1f} s, "
                    f"the study {seconds:.1f} s",
                    flush=True,
                )
            if args.rounds:
                print(out.strip().splitlines()[-1] if out.strip() else "")
            ratio = np.median(times["ours"]) / np.median(times["plain"])
            print(
                f"{mode}: study / one plain fit = {ratio:.2f}x "
                f"(medians {np.median(times['ours']):.1f} s / {np.median(times['plain']):.1f} s)\n"
            )


if __name__ == "__main__":
    main()

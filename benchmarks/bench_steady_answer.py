"""Is "how many images?" the same answer on every run? The command line, five seeds.

Writes a small folder of PNG images (scikit-learn's digits of three classes,
250 images, the 8x8 images scaled to 0-255) and runs
``sklearn-vision sample-size FOLDER --target T --seed S`` for each seed, with
the defaults otherwise (4 sizes x 5 repeats, two stages, early stopping) and
MobileNetV2 at 96x96 with the real weights of ``../shared/weights`` (or
``$SKLEARN_VISION_WEIGHTS``). One
process: the backbone features are computed once and every run reuses them,
as the command does with ``--cache-dir``. Prints, per seed, the mean accuracy
at each size, the images needed, the pessimistic answer (the 95% interval's
worse end) and the held-out accuracy of the model trained on the most images;
then whether every answer is finite and within a factor of 1.5 of their median.

    python benchmarks/bench_steady_answer.py [--target 0.95] [--seeds 1,2,3,4,5]
        [--classes 3,5,8] [--n-images 250] [--no-fine-tune] [--train-sizes S1,S2,...]
"""

import argparse
import contextlib
import io
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
from PIL import Image
from sklearn.datasets import load_digits

from sklearn_vision.__main__ import main as command_line

WEIGHTS = (
    Path(
        os.environ.get(
            "SKLEARN_VISION_WEIGHTS", Path(__file__).resolve().parents[2] / "shared/weights"
        )
    )
    / "mobilenet_v2_1.0_stanford_dogs_no_top.weights.h5"
)


def write_folder(root, classes, n_images):
    """The first ``n_images`` digits of ``classes``, one subfolder per class, as PNG."""
    digits = load_digits()
    rows = np.flatnonzero(np.isin(digits.target, classes))[:n_images]
    for row in rows:
        folder = root / f"digit_{digits.target[row]}"
        folder.mkdir(parents=True, exist_ok=True)
        pixels = np.round(digits.images[row] * 255 / 16).astype(np.uint8)
        Image.fromarray(pixels).save(folder / f"{row:04d}.png")
    return len(rows)


def run(folder, seed, target, fine_tune, record, train_sizes=None):
    args = ["sample-size", str(folder), "--weights", str(WEIGHTS), "--image-size", "96"]
    if train_sizes:
        args += ["--train-sizes", train_sizes]
    args += ["--target", str(target), "--seed", str(seed), "--json", str(record), "-q"]
    if not fine_tune:
        args.append("--no-fine-tune")
    out = io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(out):
        status = command_line(args)
    if status != 0:
        raise SystemExit(f"seed {seed}: the command failed\n{out.getvalue()}")
    result = json.loads(Path(record).read_text())
    result["answer"] = [line for line in out.getvalue().splitlines() if "ccuracy" in line][-1]
    result["wall"] = time.perf_counter() - start
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", type=float, default=0.95)
    parser.add_argument("--seeds", default="1,2,3,4,5")
    parser.add_argument("--classes", default="3,5,8")
    parser.add_argument("--n-images", type=int, default=250)
    parser.add_argument("--no-fine-tune", dest="fine_tune", action="store_false")
    parser.add_argument("--train-sizes", help="as the command takes them (default: its own)")
    args = parser.parse_args()
    if not WEIGHTS.exists():
        raise SystemExit(f"Needs the real MobileNetV2 weights at {WEIGHTS}.")
    seeds = [int(seed) for seed in args.seeds.split(",")]
    classes = [int(c) for c in args.classes.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "digits"
        n = write_folder(folder, classes, args.n_images)
        print(
            f"{n} digit images of classes {classes} at 96x96, MobileNetV2 (real weights), "
            f"{'two stages' if args.fine_tune else 'frozen'}, target {args.target}\n"
        )
        results = {}
        for seed in seeds:
            results[seed] = run(
                folder, seed, args.target, args.fine_tune, Path(tmp) / "r.json", args.train_sizes
            )
            r = results[seed]
            means = ", ".join(f"{np.mean(s):.3f}" for s in r["scores"])
            print(
                f"seed {seed}: sizes {r['train_sizes']}, means {means}; needed "
                f"{r['samples_needed']}, pessimistic {r['samples_needed_pessimistic']}; "
                f"model on {r['n_train']} images: {r['test_score']:.3f}; {r['wall']:.0f} s",
                flush=True,
            )
            print(f"    {r['answer']}", flush=True)
            print(f"    scores {np.round(r['scores'], 3).tolist()}", flush=True)
    needed = np.array(
        [np.inf if r["samples_needed"] is None else r["samples_needed"] for r in results.values()]
    )
    pessimistic = [r["samples_needed_pessimistic"] for r in results.values()]
    median = np.median(needed)
    steady = np.all(np.isfinite(needed)) and np.all(
        (needed <= 1.5 * median) & (needed >= median / 1.5)
    )
    print(
        f"\nImages needed: {needed.tolist()}; median {median:g}; all finite and within a "
        f"factor of 1.5 of the median: {'yes' if steady else 'no'}"
    )
    reached = [r["test_score"] >= args.target for r in results.values()]
    finite = [p is not None for p in pessimistic]
    print(
        f"Pessimistic answers: {pessimistic}; finite where the model on the most images "
        f"reached the target: {sum(f for f, r in zip(finite, reached, strict=True) if r)} of "
        f"{sum(reached)}"
    )


if __name__ == "__main__":
    main()

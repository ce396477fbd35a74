"""Real image learning curves, measured densely: the corpus behind the calibration.

Each curve is one image task, one representation of the images and one learner:
a fixed held-out split (whole patients for the chest X-rays), then, on a
geometric grid of training sizes (factor sqrt(2), as LCDB's anchors) from about
10 images up to the whole training pool, class-balanced random subsamples
(drawn by whole patients where there are patients), each fitted and scored
(accuracy) on the held-out split. Small sizes get more repeats, so every mean
knows its noise.

Tasks:

- ``chest``: Kermany et al. 2018 pediatric chest X-rays (``../shared/data/chest_xray/train``,
  CC BY 4.0), normal against pneumonia; ``chest3``: normal, bacterial, viral;
  ``chest_bv``: bacterial against viral pneumonia (class subsets carved from one set);
- ``pmnist``: PneumoniaMNIST (MedMNIST v2, CC BY 4.0) at 28 px, normal against pneumonia;
- ``digits``: scikit-learn's digits, 10 classes; ``digits_38``, ``digits_17``: pairs;
  ``digits_9r``: nine against the rest.

Representations: ``mnv2_96`` / ``mnv2_160``, the pooled features of the pretrained
MobileNetV2 of ``../shared/weights`` at 96 / 160 px (computed once through
``BackboneFeatures``'s cache), the frozen backbone of ``TransferImageClassifier``;
``pixels``, the raw grey pixels (28 px at most). Learners: ``logreg`` (a
logistic regression, the frozen stage's linear head), ``knn`` (5 neighbours),
``mlp`` (a small network from scratch, digits' pixels only), ``forest`` (pixels only).

    python benchmarks/image_curves.py [--out benchmarks/data/image_curves.csv.gz]

writes one row per fit: task, dataset, representation, learner, size, repeat,
score, n_test.
"""

import argparse
import os
import re
import time
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[1] / "shared"
WEIGHTS = SHARED / "weights/mobilenet_v2_1.0_stanford_dogs_no_top.weights.h5"
CHEST = SHARED / "data/chest_xray/train"
PMNIST = SHARED / "data/pneumoniamnist_rebuilt.npz"
FEATURES = Path(os.environ.get("IMAGE_CURVES_FEATURES", "/tmp/image_curves_features"))
PATIENT = re.compile(r"^((?:NORMAL2-)?IM-\d+|person\d+)")


def chest_images():
    """(paths, 3-class labels, patients) of the Kermany training folder."""
    paths, labels, patients = [], [], []
    for folder in ("NORMAL", "PNEUMONIA"):
        for path in sorted((CHEST / folder).iterdir()):
            name = path.name
            label = "normal" if folder == "NORMAL" else ("virus" if "virus" in name else "bacteria")
            paths.append(str(path))
            labels.append(label)
            patients.append(PATIENT.match(name).group(1))
    return np.array(paths), np.array(labels), np.array(patients)


def pmnist_images():
    data = np.load(PMNIST)
    images = np.concatenate([data[f"{part}_images"] for part in ("train", "val", "test")])
    labels = np.concatenate([data[f"{part}_labels"].ravel() for part in ("train", "val", "test")])
    return images, labels


def digits_images():
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = (digits.images * (255 / 16)).round().astype(np.uint8)
    return images, digits.target


def backbone_features(name, images, size):
    """Pooled MobileNetV2 features of ``images`` at ``size`` px, kept on disk."""
    path = FEATURES / f"{name}_mnv2_{size}.npy"
    if path.exists():
        return np.load(path)
    from sklearn_vision import BackboneFeatures

    if not isinstance(images[0], str):
        images = np.repeat(np.asarray(images)[..., np.newaxis], 3, axis=-1)
    start = time.perf_counter()
    features = BackboneFeatures(
        "mobilenet_v2", weights=str(WEIGHTS), image_size=size, cache=False
    ).fit_transform(images)
    print(f"  {name} at {size} px: {len(features)} images in {time.perf_counter() - start:.0f} s")
    FEATURES.mkdir(parents=True, exist_ok=True)
    np.save(path, features.astype(np.float32))
    return features


def grey_pixels(images, side=28):
    """Grey pixels at ``side`` px at most, scaled to [0, 1]."""
    from PIL import Image

    if isinstance(images[0], str):
        images = [np.asarray(Image.open(p).convert("L").resize((side, side))) for p in images]
    return np.asarray(images, dtype=np.float32).reshape(len(images), -1) / 255.0


def main_features():
    paths, _, _ = chest_images()
    for size in (96, 160):
        backbone_features("chest", paths, size)
    images, _ = pmnist_images()
    backbone_features("pmnist", images, 96)
    images, _ = digits_images()
    backbone_features("digits", images, 96)


def tasks():
    """Every task: name -> (dataset, {representation: X}, y, groups or None)."""
    paths, labels, patients = chest_images()
    chest = {
        "mnv2_160": backbone_features("chest", paths, 160),
        "mnv2_96": backbone_features("chest", paths, 96),
        "pixels": grey_pixels(paths),
    }
    pneumonia = labels != "normal"
    found = {
        "chest": ("chest_xray", chest, np.where(pneumonia, "pneumonia", "normal"), patients),
        "chest3": ("chest_xray", chest, labels, patients),
        "chest_bv": (
            "chest_xray",
            {name: X[pneumonia] for name, X in chest.items()},
            labels[pneumonia],
            patients[pneumonia],
        ),
    }
    images, y = pmnist_images()
    found["pmnist"] = (
        "pneumoniamnist",
        {"mnv2_96": backbone_features("pmnist", images, 96), "pixels": grey_pixels(images)},
        y,
        None,
    )
    images, y = digits_images()
    digits = {"mnv2_96": backbone_features("digits", images, 96), "pixels": grey_pixels(images)}
    found["digits"] = ("digits", digits, y, None)
    for name, keep in (("digits_38", [3, 8]), ("digits_17", [1, 7])):
        rows = np.isin(y, keep)
        found[name] = ("digits", {k: X[rows] for k, X in digits.items()}, y[rows], None)
    found["digits_9r"] = ("digits", digits, (y == 9).astype(int), None)
    return found


def learner(name, seed):
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return {
        "logreg": lambda: make_pipeline(
            StandardScaler(), LogisticRegression(C=0.1, max_iter=100, tol=1e-3)
        ),
        "knn": lambda: make_pipeline(StandardScaler(), KNeighborsClassifier(5)),
        "mlp": lambda: MLPClassifier((32,), max_iter=100, random_state=seed),
        "forest": lambda: RandomForestClassifier(50, n_jobs=1, random_state=seed),
    }[name]()


# (task, representation, learner): the curves of the corpus.
CURVES = [
    *[(t, "mnv2_160", "logreg") for t in ("chest", "chest3", "chest_bv")],
    ("chest", "mnv2_96", "logreg"),
    ("chest", "mnv2_160", "knn"),
    ("chest", "pixels", "logreg"),
    ("chest3", "pixels", "forest"),
    ("pmnist", "mnv2_96", "logreg"),
    ("pmnist", "mnv2_96", "knn"),
    ("pmnist", "pixels", "logreg"),
    ("pmnist", "pixels", "forest"),
    *[(t, "mnv2_96", "logreg") for t in ("digits", "digits_38", "digits_17", "digits_9r")],
    ("digits", "mnv2_96", "knn"),
    ("digits", "pixels", "logreg"),
    ("digits", "pixels", "mlp"),
    ("digits_38", "pixels", "forest"),
]

# The held-out split: a fifth of the patients (or images), a third of the small digits sets.
MAX_POOL = 4000


def anchors(smallest, pool):
    """Sizes ``smallest * 2**(k/2)`` up to the pool, and the pool itself."""
    k = np.arange(int(2 * np.log2(pool / smallest)) + 1)
    return np.unique(np.r_[np.round(smallest * 2 ** (k / 2)).astype(int), pool])


def repeats(size):
    """More repeats where the scores are noisier: 20 at 10 images, 4 from about 250."""
    return int(np.clip(np.round(20 / np.sqrt(size / 10)), 4, 20))


def measure(task, representation, learner_name, found, seed=0):
    """One dense curve: rows of (size, repeat, score, n_test)."""
    from sklearn.base import clone  # noqa: F401
    from sklearn.model_selection import train_test_split

    from sklearn_vision._split import _subsample, group_test_split

    dataset, representations, y, groups = found[task]
    X = representations[representation]
    rng = np.random.RandomState(seed)
    small = len(y) < 2000
    if groups is not None:
        train, test = group_test_split(y, groups, 0.2, True, rng)
    else:
        train, test = train_test_split(
            np.arange(len(y)), test_size=1 / 3 if small else 0.2, stratify=y, random_state=rng
        )
    if len(train) > MAX_POOL:
        # The pool: whole patients (or images) up to MAX_POOL, class proportions kept.
        pool_groups = None if groups is None else groups[train]
        train = train[_subsample(y[train], pool_groups, MAX_POOL, "stratified", rng)]
    n_classes = len(np.unique(y))
    rows = []
    for size in anchors(max(10, 2 * n_classes), len(train)):
        for repeat in range(repeats(size)):
            train_groups = None if groups is None else groups[train]
            chosen = train[_subsample(y[train], train_groups, size, "balanced", rng)]
            model = learner(learner_name, rng.randint(2**31 - 1))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model.fit(X[chosen], y[chosen])
            score = float(np.mean(model.predict(X[test]) == y[test]))
            rows.append(
                (task, dataset, representation, learner_name, size, repeat, score, len(test))
            )
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(HERE / "data/image_curves.csv.gz"))
    parser.add_argument("--features-only", action="store_true")
    args = parser.parse_args()
    if args.features_only:
        return main_features()
    import pandas as pd

    found = tasks()
    frames, done = [], set()
    if Path(args.out).exists():  # a run stopped part way: its curves are kept
        frames = [pd.read_csv(args.out)]
        done = set(frames[0][["task", "representation", "learner"]].itertuples(index=False))
    for task, representation, learner_name in CURVES:
        if (task, representation, learner_name) in done:
            continue
        start = time.perf_counter()
        rows = measure(task, representation, learner_name, found)
        frame = pd.DataFrame(
            rows,
            columns=[
                "task",
                "dataset",
                "representation",
                "learner",
                "size",
                "repeat",
                "score",
                "n_test",
            ],
        )
        frames.append(frame)
        means = frame.groupby("size").score.mean()
        print(
            f"{task:10s} {representation:9s} {learner_name:7s} {len(frame):4d} fits, sizes "
            f"{means.index.min()}-{means.index.max()}, accuracy {means.iloc[0]:.3f} -> "
            f"{means.iloc[-1]:.3f}, {time.perf_counter() - start:.0f} s",
            flush=True,
        )
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        pd.concat(frames).to_csv(args.out, index=False, float_format="%.5g")


if __name__ == "__main__":
    main()

"""
Class imbalance: accuracy that lies, and three fixes
====================================================

A replay, on bundled data, of what happens when one class is plentiful and
the others are not (say, a collection where only 20% as many dogs and 10% as
many birds as cats were kept). Three digit classes play cats, dogs and birds: a balanced
training set, then an imbalanced copy of it, written to a folder as real image
files with some bad ones among them, the way folders come.

The imbalanced model's accuracy on a balanced test set hides what balanced
accuracy and the confusion matrix show: the rare classes are missed. Then the
fixes, compared in one table: class weights, random oversampling of the image
files in an imbalanced-learn pipeline, and SMOTE in embedding space (SMOTE
cannot interpolate image files, but it can interpolate their backbone
embeddings).

Everything runs on a CPU in about a minute: a small convnet trained from
scratch at 32x32 pixels. With real photos, use a pretrained backbone
(``TransferImageClassifier("mobilenet_v2")``) and ImageNet embeddings
(``BackboneFeatures("mobilenet_v2")``); the code is otherwise the same.
"""

import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from imblearn.over_sampling import SMOTE, RandomOverSampler
from imblearn.pipeline import make_pipeline
from PIL import Image
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import ConfusionMatrixDisplay, accuracy_score, balanced_accuracy_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from sklearn_vision import BackboneFeatures, TransferImageClassifier, load_image_folder
from sklearn_vision.datasets import load_digits_images

names = np.array(["cats", "dogs", "birds"])
images, digit = load_digits_images(image_size=32, return_X_y=True)
# Three digits that are easy to confuse, as classes 0, 1 and 2.
images, target = images[np.isin(digit, [3, 5, 8])], np.searchsorted([3, 5, 8], digit)
target = target[np.isin(digit, [3, 5, 8])]
X_train, X_test, y_train, y_test = train_test_split(
    images, target, test_size=0.3, stratify=target, random_state=0
)


def imbalanced(y, shares, seed=0):
    """Indices keeping each class's share of its rows."""
    rng = np.random.default_rng(seed)
    return np.concatenate(
        [
            rng.choice(np.flatnonzero(y == label), round(share * (y == label).sum()), False)
            for label, share in enumerate(shares)
        ]
    )


# %%
# The imbalanced copy, as a folder of PNG files: all the cats, 20% of the dogs,
# 10% of the birds, plus an empty file and a note that is not an image. The
# test set the team would hold out has the same imbalance; we keep both.
shares = [1.0, 0.2, 0.1]
kept = imbalanced(y_train, shares)
test_kept = imbalanced(y_test, shares, seed=1)
folder = Path(tempfile.mkdtemp())
for index in kept:
    class_folder = folder / names[y_train[index]]
    class_folder.mkdir(exist_ok=True)
    Image.fromarray(X_train[index]).save(class_folder / f"{index:04d}.png")
(folder / "dogs" / "power_cut.png").touch()
(folder / "birds" / "notes.txt").write_text("the rest were lost")

data = load_image_folder(folder, classes=names)
print(f"{len(data.filenames)} images of {len(names)} classes; {len(data.skipped)} files skipped:")
for path, reason in data.skipped:
    print(f"  skipped {Path(path).relative_to(folder)}: {reason}")
print(
    "images per class:", dict(zip(names.tolist(), np.bincount(data.target).tolist(), strict=True))
)

# %%
# One convnet on the balanced training set, one on the imbalanced files (the
# classifier reads the paths itself), then the fixes. Samplers take a 2-D X:
# the file names go in as one column.
paths = data.filenames.reshape(-1, 1)


def convnet(**params):
    return TransferImageClassifier(
        "small_cnn", weights=None, image_size=32, epochs=30, learning_rate=3e-3,
        early_stopping=False, random_state=0, **params,
    )  # fmt: skip


models = {
    "balanced data": (convnet(), X_train, y_train),
    "imbalanced data": (convnet(), paths, data.target),
    "class_weight='balanced'": (convnet(class_weight="balanced"), paths, data.target),
    "RandomOverSampler": (
        make_pipeline(RandomOverSampler(random_state=0), convnet()),
        paths,
        data.target,
    ),
    "SMOTE on embeddings": (
        make_pipeline(
            BackboneFeatures("small_cnn", weights=None, image_size=32, random_state=0),
            StandardScaler(),
            SMOTE(random_state=0),
            LogisticRegression(max_iter=2000),
        ),
        paths,
        data.target,
    ),
}
predictions = {}
for name, (model, X, y) in models.items():
    predictions[name] = model.fit(X, y).predict(X_test)

# %%
# Accuracy on the imbalanced test set (what the team would measure), balanced
# accuracy, and the recall of each class (on the balanced test set, where the
# rare classes have enough images to count). Accuracy flatters the imbalanced
# model, dominated by the cats; balanced accuracy and the recall of the birds
# show what it misses, and what each fix recovers.
y_imbalanced = y_test[test_kept]
print(f"{'':<24} accuracy  balanced   " + "  ".join(f"{n:>5}" for n in names))
for name, predicted in predictions.items():
    recalls = [(predicted[y_test == label] == label).mean() for label in range(3)]
    print(
        f"{name:<24} {accuracy_score(y_imbalanced, predicted[test_kept]):8.3f}  "
        f"{balanced_accuracy_score(y_test, predicted):8.3f}   "
        + "  ".join(f"{recall:5.2f}" for recall in recalls)
    )

# %%
# The confusion matrices of the imbalanced model and of the class-weighted
# one: rows are the true classes, so the misses of the rare classes are the
# off-diagonal cells of the bottom rows.
fig, axes = plt.subplots(1, 2, figsize=(9, 4), constrained_layout=True)
for ax, name in zip(axes, ["imbalanced data", "class_weight='balanced'"], strict=True):
    ConfusionMatrixDisplay.from_predictions(
        names[y_test], names[predictions[name]], labels=names, ax=ax, colorbar=False
    )
    ax.set_title(name)
plt.show()

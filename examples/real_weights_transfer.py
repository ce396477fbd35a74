"""
A sample-size study with ImageNet weights: how many photos for 95%?
===================================================================

The full protocol on a folder of photos, one subfolder per class, with a
MobileNetV2 pretrained on ImageNet: the folder checked (bad files listed, not
deleted), the learning curve over 5%, 10%, 25% and 50% of the training photos,
five times each, two-stage training with early stopping, and the answer.

Not run when the docs are built: it needs the ImageNet weights (downloaded
once into the Keras cache) and a folder of photos, and it fine-tunes 21
models (20 subsamples and the refit), which is long on a CPU. Every frozen
backbone feature is computed once per photo for the whole run (the feature
cache), so most of the time goes to fine-tuning. The command line runs a study
of the same kind (measured up to all the training photos, without class
weights): ``sklearn-vision sample-size photos/ --image-size 160 --augmentation
default --plot curve.png``.

Run it as ``python real_weights_transfer.py photos/``.
"""

# sphinx_gallery_thumbnail_path = "_static/thumb_real_weights_transfer.png"

import sys

import matplotlib.pyplot as plt

from sklearn_vision import (
    LearningCurveEstimator,
    LearningCurveExtrapolationDisplay,
    TrainingHistoryDisplay,
    TransferImageClassifier,
    load_image_folder,
)

folder = sys.argv[1] if len(sys.argv) > 1 else "photos"
data = load_image_folder(folder, n_jobs=-1, verbose=1)
for path, reason in data.skipped:
    print(f"skipped {path}: {reason}")

classifier = TransferImageClassifier(
    "mobilenet_v2",
    weights="imagenet",
    image_size=160,
    epochs=10,
    fine_tune_from="block_10",
    fine_tune_epochs=20,
    augmentation="default",  # flips, rotations, zoom, contrast: 8 cached views per photo
    class_weight="balanced",
    random_state=0,
)
lce = LearningCurveEstimator(
    classifier, train_sizes=(0.05, 0.1, 0.25, 0.5), n_repeats=5, test_size=0.1, verbose=1
)
lce.fit(data.filenames, data.target)

n = lce.n_train_
print(f"held-out accuracy with all {n} training photos: {lce.test_score_:.3f}")
print(f"extrapolated to {3 * n}: {lce.predict_score(3 * n)[0]:.3f}")
print(f"photos for 95%: {lce.samples_needed(0.95)[0]:.0f}")

LearningCurveExtrapolationDisplay.from_estimator(lce, target=0.95)
TrainingHistoryDisplay.from_estimator(lce.estimator_)
plt.show()

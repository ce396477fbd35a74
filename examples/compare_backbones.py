"""
Which backbone needs the fewest images? Learning curves compared
================================================================

The same study run with two backbones, MobileNetV2 (ImageNet weights, from
`keras.applications <https://keras.io/api/applications/>`__) and DINOv2-small
(a self-supervised vision transformer, from KerasHub), their learning curves
drawn on one figure, and the images each needs for a target accuracy. The
backbone that reaches the target with fewer images is the one to label for;
see :doc:`/choosing_a_backbone`.

Both backbones are frozen (``fine_tune_from=None``): only a new head is
trained on their pooled features, as in the linear probes of the papers that
compare such backbones. Each image goes through each backbone once, for all
the fits of its curve (the feature cache).

Not run when the docs are built: it downloads MobileNetV2's ImageNet weights
(into the Keras cache) and the ``dinov2_small`` preset (through KerasHub,
the ``hub`` extra: ``pip install -e ".[hub]"`` in the clone). Run it as
``python compare_backbones.py`` on the bundled digits, or ``python
compare_backbones.py photos/`` on a folder with one subfolder per class. The
command line does the same::

    sklearn-vision sample-size photos/ --backbone mobilenet_v2,dinov2_small \\
        --no-fine-tune --target 0.9 --plot backbones.png --json backbones.json
"""

# sphinx_gallery_thumbnail_path = "_static/thumb_compare_backbones.png"

import sys

import matplotlib.pyplot as plt

from sklearn_vision import (
    LearningCurveEstimator,
    LearningCurveExtrapolationDisplay,
    TransferImageClassifier,
    load_image_folder,
)
from sklearn_vision.datasets import load_digits_images

if len(sys.argv) > 1:
    data = load_image_folder(sys.argv[1], n_jobs=-1)
    X, y = data.filenames, data.target  # file names: the classifier reads them
else:
    X, y = load_digits_images(image_size=32, return_X_y=True)

target = 0.9
backbones = ["mobilenet_v2", "dinov2_small"]  # a KerasHub preset name, handle or directory
curves = {}
for backbone in backbones:
    # Each backbone at its own default input size (224 for both); the images
    # are resized to it. A fixed 10 epochs at every size, so that every fit of
    # both backbones trains alike.
    classifier = TransferImageClassifier(
        backbone, fine_tune_from=None, early_stopping=False, random_state=0
    )
    curves[backbone] = LearningCurveEstimator(
        classifier, train_sizes=(0.05, 0.1, 0.25, 0.5, 1.0), n_repeats=5, random_state=0
    ).fit(X, y)

# %%
# Images needed for the target: the estimate (where the curve reaches it) and
# its 80% range (``inf`` as the high end: the measurements cannot bound it
# above yet).
for backbone, lce in curves.items():
    estimate = lce.samples_needed(target)[0]
    (low,), (high,) = lce.samples_needed_interval(target)
    print(
        f"{backbone:<14} accuracy {target}: {estimate:.0f} images (80% range {low:.0f} "
        f"to {high:.0f}); held out with {lce.n_train_} images: {lce.test_score_:.3f}"
    )

# %%
# Both curves on one figure: each ``from_estimator`` call draws on the same
# axes, with its own name in the legend and its own colour.
ax = None
for backbone, lce in curves.items():
    display = LearningCurveExtrapolationDisplay.from_estimator(
        lce, target=target, name=backbone, ax=ax
    )
    ax = display.ax_
plt.show()

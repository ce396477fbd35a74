"""
How many images do we need? The study, and how to read its answer
=================================================================

The study ``sklearn-vision sample-size`` runs on the bundled digits, written
in Python: a small convnet trained from scratch on class-balanced subsamples
of 5%, 10%, 25% and 50% of the training images, five times each, every fit
scored on held-out images, a learning curve fitted through the scores with
:class:`~sklearn_vision.LearningCurveExtrapolationDisplay` drawing it. The
figure is annotated with the reading the :doc:`/getting_started` page
explains: the estimate, the range of images, the band, and where the curve
levels off.

It takes one to two minutes on a 2-core CPU. With your own images, replace
the digits by a folder (``load_image_folder("photos").filenames``), the
convnet by a pretrained backbone (``TransferImageClassifier("mobilenet_v2")``),
and measure up to all the training images, as the command does on a folder
(``train_sizes=(0.05, 0.1, 0.25, 0.5, 1.0)``).
"""

import matplotlib.pyplot as plt
import numpy as np

from sklearn_vision import (
    LearningCurveEstimator,
    LearningCurveExtrapolationDisplay,
    TransferImageClassifier,
)
from sklearn_vision.datasets import load_digits_images

images, labels = load_digits_images(image_size=16, return_X_y=True)
convnet = TransferImageClassifier(
    "small_cnn", weights=None, image_size=16, epochs=30, batch_size=32, learning_rate=3e-3,
    early_stopping=False, random_state=0,
)  # fmt: skip
lce = LearningCurveEstimator(
    convnet, train_sizes=(0.05, 0.1, 0.25, 0.5), n_repeats=5, random_state=0
).fit(images, labels)

# %%
# The scores measured at each size, and the curve with its 95% interval there.
# On 1797 images a held-out split of 10% would hold fewer than 20 images of a
# class, so each of the five repeats is scored on its own fold: every image is
# scored at every size.
low, high = lce.score_interval(lce.train_sizes_)
curve = lce.predict_score(lce.train_sizes_)
print(" images   mean    std   curve  95% interval")
for i, size in enumerate(lce.train_sizes_):
    scores = lce.scores_[i]
    print(
        f"{size:>7}  {scores.mean():.3f}  {scores.std():.3f}  {curve[i]:.3f}  "
        f"[{low[i]:.3f}, {high[i]:.3f}]"
    )
print(f"refitted on {lce.n_train_} images, held out: {lce.test_score_:.3f}")
print(f"the curve levels off at {float(lce.curve_.asymptote_):.3f}")

# %%
# The answers. ``samples_needed(target)`` is where the curve reaches the
# target (the estimate); ``samples_needed_interval(target)`` the range within
# which the target is first reached in 80% of held-out learning curves (a high
# end of ``inf``: the measurements cannot bound it above); ``next_round_size``
# how many training images to measure next. A target that a measured mean
# already reaches is answered by the measurement.
means = lce.scores_.mean(axis=1)
for target in (0.95, 0.99):
    estimate = lce.samples_needed(target)[0]
    (low,), (high,) = lce.samples_needed_interval(target)
    reached = lce.train_sizes_[means >= target]
    measured = f"; measured: reached at {reached[0]}" if len(reached) else ""
    print(
        f"accuracy {target}: estimate {estimate:.0f} images, 80% range {low:.0f} to "
        f"{high:.0f}, next round {lce.next_round_size(target):.0f}{measured}"
    )

# %%
# The figure, annotated. Everything but the grey notes and the line where the
# curve levels off is what
# :class:`~sklearn_vision.LearningCurveExtrapolationDisplay` draws by itself.
target = 0.95
fig, ax = plt.subplots(figsize=(10, 5), layout="constrained")
display = LearningCurveExtrapolationDisplay.from_estimator(lce, target=target, ax=ax)
asymptote = float(lce.curve_.asymptote_)
ax.axhline(
    asymptote, color="0.5", linewidth=0.8, linestyle="-.", label=f"Levels off at {asymptote:.3f}"
)
ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
note = dict(
    textcoords="axes fraction", fontsize=8, color="0.3",
    arrowprops=dict(arrowstyle="->", color="0.5"),
)  # fmt: skip
estimate = lce.samples_needed(target)[0]
(low,), (high,) = lce.samples_needed_interval(target)
if np.isfinite(estimate):
    ax.annotate("estimate: the curve\nreaches the target", (estimate, target), (0.03, 0.9), **note)
if display.range_line_ is not None:
    ax.annotate(
        "80% range of the images needed:\nthe bar along the target", (low, target), (0.03, 0.7),
        **note,
    )  # fmt: skip
if display.reached_point_ is not None:
    ax.annotate(
        "a measured mean reaches it", tuple(np.ravel(display.reached_point_.get_data())),
        (0.3, 0.55), **note,
    )  # fmt: skip
far = display.curve_sizes[-1]
ax.annotate(
    "the band: 95% interval of the\nscore you would measure there",
    (far, lce.score_interval(far)[0][0]), (0.62, 0.2), **note,
)  # fmt: skip
ax.annotate(
    "refitted on all the training\nimages, scored held out", (lce.n_train_, lce.test_score_),
    (0.3, 0.08), **note,
)  # fmt: skip
plt.show()

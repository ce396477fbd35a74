"""
How many images do we need?
===========================

Trains a classifier on class-balanced subsamples of the bundled digits (40 to
320 images, five times each), scores every fit on a held-out split, fits a
learning curve through the scores with
:class:`~sklearn_vision.LearningCurveEstimator`, and asks it how many images a
target accuracy needs. The estimator refitted on all the training data gives a
real point to check the extrapolation against.

The classifier here is a logistic regression on the 8x8 pixels, so the example
runs in seconds; any estimator works the same way, a
:class:`~sklearn_vision.TransferImageClassifier` included (with a frozen
pretrained backbone each fit then costs the training of a head on cached
features).
"""

import matplotlib.pyplot as plt
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler

from sklearn_vision import (
    LearningCurveEstimator,
    LearningCurveExtrapolationDisplay,
    TrainingHistoryDisplay,
    TransferImageClassifier,
)
from sklearn_vision.datasets import load_digits_images

X, y = load_digits(return_X_y=True)
classifier = make_pipeline(MinMaxScaler(), LogisticRegression(max_iter=1000))
lce = LearningCurveEstimator(
    classifier, train_sizes=[40, 80, 160, 320], n_repeats=5, test_size=0.3, random_state=0
)
lce.fit(X, y)

# %%
# The scores at each size, and what the curve says about larger sets.
for size, scores in zip(lce.train_sizes_, lce.scores_, strict=True):
    print(f"{size:>5} images: accuracy {scores.mean():.3f} ± {scores.std():.3f}")
n = lce.n_train_
low, high = lce.score_interval(n)
print(
    f"Extrapolated to all {n} training images: {lce.predict_score(n)[0]:.3f} "
    f"[{low[0]:.3f}, {high[0]:.3f}]; measured: {lce.test_score_:.3f}"
)
target = 0.96
print(f"Images for {target:.0%} accuracy: {lce.samples_needed(target)[0]:.0f}")

# %%
# The learning curve, its interval band, the held-out point and the target.
LearningCurveExtrapolationDisplay.from_estimator(lce, target=target)
plt.show()

# %%
# With a Keras model, :class:`~sklearn_vision.TrainingHistoryDisplay` shows the
# loss and accuracy per epoch of both stages: here a small convnet trained from
# scratch on the digits as 32x32 images, stopped early on a validation split.
images, labels = load_digits_images(image_size=32, return_X_y=True)
convnet = TransferImageClassifier(
    "small_cnn", weights=None, image_size=32, epochs=20, learning_rate=3e-3, random_state=0
).fit(images[:1000], labels[:1000])
TrainingHistoryDisplay.from_estimator(convnet)
plt.show()

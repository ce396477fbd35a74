"""
Quick start: a convnet on the bundled digits
============================================

Fits :class:`~sklearn_vision.TransferImageClassifier` on scikit-learn's digits,
upscaled to 32x32 RGB images, prints its held-out accuracy and draws its loss
and accuracy per epoch. It uses the ``small_cnn`` backbone trained from
scratch, so nothing is downloaded.
"""

import time

import matplotlib.pyplot as plt
from sklearn.model_selection import train_test_split

from sklearn_vision import TrainingHistoryDisplay, TransferImageClassifier
from sklearn_vision.datasets import load_digits_images

X, y = load_digits_images(image_size=32, return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, stratify=y, random_state=0
)
clf = TransferImageClassifier(
    "small_cnn", weights=None, image_size=32, epochs=30, learning_rate=3e-3, random_state=0
)
start = time.perf_counter()
clf.fit(X_train, y_train)
fit_time = time.perf_counter() - start
print(
    f"small_cnn on {len(X_train)} digits ({X.shape[1]}x{X.shape[2]} RGB): "
    f"{len(clf.history_['frozen']['loss'])} epochs in {fit_time:.1f} s, "
    f"held-out accuracy {clf.score(X_test, y_test):.3f} on {len(X_test)} images"
)

# %%
# The loss and accuracy of each epoch, on the training images and on the
# validation split early stopping held out.
TrainingHistoryDisplay.from_estimator(clf)
plt.show()

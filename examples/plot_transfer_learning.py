"""
Transfer learning with cross-validation and a grid search over fine-tuning
===========================================================================

Transfer learning without downloading anything: a small convnet is first
trained on the digits 0 to 4 (our "ImageNet"), then its convolutional layers
become the backbone of a classifier for the digits 5 to 9, of which we pretend
to have only 100 images. The classifier is a plain scikit-learn estimator, so
:func:`~sklearn.model_selection.cross_val_score` compares it with the same
convnet trained from scratch, and :class:`~sklearn.model_selection.GridSearchCV`
picks how many layers to fine-tune and at which learning rate.
:class:`~sklearn_vision.TrainingHistoryDisplay` then shows both stages of the
best model: the frozen stage, and fine-tuning after the marked boundary.

With real photos the backbone is a pretrained
`keras.applications <https://keras.io/api/applications/>`__ model,
``TransferImageClassifier("mobilenet_v2")``, and ``fine_tune_from`` takes its
block names (``"block_13"``); everything else is the same.
"""

import keras
import matplotlib.pyplot as plt
import numpy as np
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score

from sklearn_vision import TrainingHistoryDisplay, TransferImageClassifier
from sklearn_vision.datasets import load_digits_images

images, digits = load_digits_images(image_size=32, return_X_y=True)
source = digits < 5
source_images, source_labels = images[source], digits[source]
rng = np.random.default_rng(0)
target = np.flatnonzero(~source)
few = np.concatenate([rng.choice(target[digits[target] == d], 20, False) for d in range(5, 10)])
test = np.setdiff1d(target, few)
X, y = images[few], digits[few]
print(
    f"source task: {len(source_labels)} images; target task: {len(y)} images, {len(test)} to test"
)

# %%
# The "pretrained" backbone: the convnet trained on the source task, with its
# [0, 255] to [0, 1] scaling put in front (a ``keras.Model`` backbone brings its
# own preprocessing). The classifier copies it, so the original stays intact.
pretrained = TransferImageClassifier(
    "small_cnn", weights=None, image_size=32, epochs=15, learning_rate=3e-3,
    batch_size=16, early_stopping=False, random_state=0,
).fit(source_images, source_labels)  # fmt: skip
convnet = pretrained.model_.get_layer("small_cnn")
inputs = keras.Input((32, 32, 3))
x = keras.layers.Rescaling(1 / 255)(inputs)
for layer in convnet.layers[1:]:
    x = layer(x)
backbone = keras.Model(inputs, x, name="digits_0_to_4")


def transfer(**params):
    defaults = dict(
        weights=None, epochs=100, learning_rate=1e-2, batch_size=16, fine_tune_epochs=20,
        early_stopping=False, random_state=0,
    )  # fmt: skip
    return TransferImageClassifier(backbone, **{**defaults, **params})


# %%
# Cross-validated accuracy on the 100 images: from scratch, and the
# transferred backbone frozen (only the new head is trained). The frozen
# backbone's features are computed once per image and cached, so the head's
# 100 epochs cost about a second per fold.
cv = StratifiedKFold(3, shuffle=True, random_state=0)
from_scratch = TransferImageClassifier(
    "small_cnn", weights=None, image_size=32, epochs=30, learning_rate=3e-3, batch_size=16,
    early_stopping=False, random_state=0,
)  # fmt: skip
for name, model in [("from scratch", from_scratch), ("frozen backbone", transfer())]:
    scores = cross_val_score(model, X, y, cv=cv)
    print(f"{name:<16} accuracy {scores.mean():.3f} ± {scores.std():.3f}")

# %%
# What the comparison shows: on these 100 images the two mean accuracies are
# close, so transfer does not buy a higher score here, but it buys a steadier
# one. The ± is the standard deviation over the three folds: the convnet
# trained from scratch depends far more on which two thirds of the images it
# happened to train on, while the new head on pretrained features scores about
# the same on every fold. With few images, that steadiness is what makes one
# cross-validated number, or one learning-curve point, worth trusting.

# %%
# A grid search over the second stage: no fine-tuning, or unfreezing the last
# 2 layers (the third block) or the last 4 (two blocks), at two learning rates.
# On 33 images per fold accuracy moves in steps of 3%, so the search ranks by
# log loss, which sees every change of the probabilities.
search = GridSearchCV(
    transfer(),
    {"fine_tune_from": [None, 2, 4], "fine_tune_learning_rate": [1e-4, 1e-3]},
    scoring=["neg_log_loss", "accuracy"],
    refit="neg_log_loss",
    cv=cv,
)
search.fit(X, y)
results = search.cv_results_
for index, params in enumerate(results["params"]):
    print(
        f"{params}: log loss {-results['mean_test_neg_log_loss'][index]:.3f}, "
        f"accuracy {results['mean_test_accuracy'][index]:.3f}"
    )
best = search.best_estimator_
print(
    f"best: {search.best_params_}; held-out accuracy {best.score(images[test], digits[test]):.3f}"
)

# %%
# The training history of the best model, refitted on the 100 images: loss and
# accuracy per epoch, the fine-tuning stage after the dashed line. (Without
# early stopping there is no validation curve; with ``early_stopping=True`` the
# classifier holds out ``validation_fraction`` of the images and draws it too.)
TrainingHistoryDisplay.from_estimator(search.best_estimator_)
plt.show()

"""
Several images per patient: the learning curve needs the groups
===============================================================

In medical imaging one patient gives several images, and images of one patient
are far more alike than images of two patients. A split of images, rather than
of patients, puts views of the same patient in the training data and in the
test data: the model is scored on near-copies of what it learnt, the learning
curve is optimistic, and the number of images it says you need is too small.

Passing ``groups`` (the patient of each image) to
:meth:`~sklearn_vision.LearningCurveEstimator.fit` keeps every patient on one
side of each split: the test split holds whole patients, and the training
subsamples are drawn by whole patients, as new data will come.

The data: scikit-learn's digits as patients, each digit seen in 4 to 8 views
(shifted, slightly rotated, noisy). A third of the patients are set aside as
*new patients*: the truth, a model trained on whole development patients and
scored on new ones, which neither learning curve sees.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from sklearn_vision import LearningCurveEstimator, LearningCurveExtrapolationDisplay
from sklearn_vision.datasets import make_patient_digits

data = make_patient_digits(random_state=0)
X, y, groups = data.data, data.target, data.groups
rng = np.random.RandomState(0)
patients = np.unique(groups)
new = np.isin(groups, rng.choice(patients, len(patients) // 3, replace=False))
print(
    f"{(~new).sum()} images of {len(np.unique(groups[~new]))} development patients, "
    f"{new.sum()} images of {len(np.unique(groups[new]))} new patients"
)

# %%
# Two learning curves on the development patients
# ------------------------------------------------
# The same model, sizes and repeats; only ``groups`` differs.
model = make_pipeline(StandardScaler(), SVC())
params = dict(train_sizes=[50, 100, 200, 400], n_repeats=5, test_size=0.2, random_state=0)
ungrouped = LearningCurveEstimator(model, **params).fit(X[~new], y[~new])
grouped = LearningCurveEstimator(model, **params).fit(X[~new], y[~new], groups=groups[~new])

# %%
# The truth, on new patients
# --------------------------
# A learning curve too, with one split given as ``cv``: training subsamples
# drawn by whole development patients, every fit scored on all images of the
# new patients, at the sizes measured and beyond.
truth_sizes = [50, 100, 200, 400, 800, 1600, 3200]
truth = LearningCurveEstimator(
    model,
    train_sizes=truth_sizes,
    n_repeats=5,
    cv=[(np.flatnonzero(~new), np.flatnonzero(new))],
    refit=False,
    random_state=0,
).fit(X, y, groups=groups)
truth_scores = truth.scores_.mean(axis=1)

# %%
# Side by side
# ------------
# Without groups the measured points sit above the truth, and so does their
# extrapolation; with groups they follow it.
target = 0.92
fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
titles = ["Without groups", "With groups"]
for ax, lce, title in zip(axes, [ungrouped, grouped], titles, strict=True):
    LearningCurveExtrapolationDisplay.from_estimator(
        lce, target=target, max_samples=3200, ax=ax, score_name="Accuracy"
    )
    ax.plot(truth_sizes, truth_scores, "kx", markersize=8, label="New patients (truth)")
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title(title)
plt.tight_layout()

# %%
# How many images for 92% accuracy?
# ---------------------------------
# The truth, read off the measured truth curve (interpolated in log size).
truth_needed = np.exp(np.interp(target, truth_scores, np.log(truth_sizes)))
print(f"Images needed for accuracy {target}:")
for name, lce in [("without groups", ungrouped), ("with groups", grouped)]:
    answer = lce.samples_needed(target)[0]
    print(f"  {name:>14}: {answer:6.0f} ({answer / truth_needed:.1f}x the truth)")
print(f"  {'truth':>14}: {truth_needed:6.0f}")

# %%
# The curve without groups promises the target with a fraction of the images
# new patients need. The grouped one is close, on the safe side here (its
# extrapolation, not its measurements, is a little low): plan with it, and
# with :meth:`~sklearn_vision.LearningCurveEstimator.samples_needed`'s
# ``confidence`` for a pessimistic bound.

# %%
# Groups in your own data
# -----------------------
# :func:`~sklearn_vision.load_image_csv` reads a patient column from a CSV
# manifest (``group_column="patient"``); on the command line,
# ``sklearn-vision sample-size --csv labels.csv --group-column patient`` or,
# with class folders and the patient in the file name,
# ``sklearn-vision sample-size FOLDER --groups '^(P\d+)_'``. The groups also
# reach :class:`~sklearn_vision.TransferImageClassifier`, whose early-stopping
# split then holds whole patients, and, with scikit-learn's metadata routing,
# any estimator in a pipeline that requests them
# (``set_fit_request(groups=True)``).

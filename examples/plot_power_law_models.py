"""
Learning-curve models compared on scikit-learn's ``learning_curve``
===================================================================

:func:`sklearn.model_selection.learning_curve` measures a learner's score at
several training-set sizes. :class:`~sklearn_vision.PowerLawRegressor` fits a
curve through those scores to say what more data would bring. Here the curves
only see the sizes up to a quarter of the data, and we check their
extrapolation against the scores measured at the larger sizes.

The models: ``pow2`` (``a * n**b``, the curve the Keras example on sample-size
estimation fits by gradient descent,
with no asymptote), ``log2``, ``exp3``, and the saturating ``pow3``, ``pow4``,
``mmf4`` and ``wbl4`` that the LCDB study (Mohr et al. 2022) found best at
extrapolating. ``"auto"`` does not pick one of the last four: it combines
them, each weighted by how well it predicts the largest sizes seen when fitted
without them (``model_`` is then ``"ensemble"`` and ``curve_weights_`` holds
the weights).
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import ShuffleSplit, learning_curve
from sklearn.svm import SVC

from sklearn_vision import PowerLawRegressor

X, y = load_digits(return_X_y=True)
sizes, _, test_scores = learning_curve(
    SVC(gamma=0.001),
    X,
    y,
    train_sizes=np.geomspace(30, 1400, 10).astype(int),
    cv=ShuffleSplit(10, test_size=0.2, random_state=0),
)
seen = sizes <= sizes.max() / 4
print(f"sizes seen: {sizes[seen].tolist()}; to predict: {sizes[~seen].tolist()}")

# %%
# Fit every model on the sizes seen, one row per (size, split), and score its
# predictions at the sizes not seen.
truth = test_scores[~seen].mean(axis=1)
curves = {}
for model in ["pow2", "log2", "exp3", "pow3", "pow4", "mmf4", "wbl4", "auto"]:
    curves[model] = PowerLawRegressor(model).fit(
        np.repeat(sizes[seen], test_scores.shape[1])[:, None], test_scores[seen].ravel()
    )
    error = np.abs(curves[model].predict(sizes[~seen, None]) - truth).mean()
    print(f"{model:>5}: mean absolute error at unseen sizes {error:.4f}")
weights = curves["auto"].curve_weights_
print("'auto' weighs " + ", ".join(f"{name} {w:.2f}" for name, w in weights.items()))

# %%
# The same fit in one line from
# :func:`~sklearn.model_selection.learning_curve`'s output (all sizes here),
# with the interval of the extrapolation to twice the data.
full = PowerLawRegressor.from_learning_curve(sizes, test_scores)
low, high = full.predict_interval([[2 * sizes.max()]])
print(
    f"{full.model_} on all sizes: {full.predict([[2 * sizes.max()]])[0]:.4f} "
    f"[{low[0]:.4f}, {high[0]:.4f}] with {2 * sizes.max()} samples"
)

# %%
# The observed scores, the sizes the curves saw, and each curve continued.
grid = np.geomspace(sizes.min(), 2 * sizes.max(), 200)[:, None]
fig, ax = plt.subplots(figsize=(7, 4.5))
mean, std = test_scores.mean(axis=1), test_scores.std(axis=1)
ax.errorbar(sizes, mean, std, fmt="o", color="black", label="measured", zorder=3)
ax.axvspan(sizes.min(), sizes[seen].max(), color="0.9", label="seen by the curves")
for model in ["pow2", "exp3", "pow3", "mmf4", "wbl4"]:
    ax.plot(grid, curves[model].predict(grid), label=model)
ax.set(xscale="log", xlabel="training samples", ylabel="accuracy", ylim=(0.6, 1.02))
ax.legend(loc="lower right")
plt.show()

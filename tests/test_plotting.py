import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression

from sklearn_vision import (
    LearningCurveEstimator,
    LearningCurveExtrapolationDisplay,
    TrainingHistoryDisplay,
    TransferImageClassifier,
)

pytest.importorskip("matplotlib")


@pytest.fixture(autouse=True)
def close_figures():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    yield
    plt.close("all")


@pytest.fixture(scope="module")
def fitted_curve():
    X, y = load_digits(n_class=4, return_X_y=True)
    return LearningCurveEstimator(
        LogisticRegression(max_iter=500),
        train_sizes=[20, 40, 80, 160],
        n_repeats=3,
        random_state=0,
    ).fit(X / 16.0, y)


def test_extrapolation_display_draws_every_part(fitted_curve):
    lce = fitted_curve
    target = float(lce.predict_score(400)[0])
    display = LearningCurveExtrapolationDisplay.from_estimator(lce, target=target)
    # Observed means and spreads at the fitted sizes.
    x, y = display.scores_line_.lines[0].get_data()
    np.testing.assert_array_equal(x, lce.train_sizes_)
    np.testing.assert_allclose(y, lce.scores_.mean(axis=1))
    # The curve runs past the data, to four times the training set by default.
    curve_x, curve_y = display.curve_line_.get_data()
    assert curve_x.max() == pytest.approx(
        max(4 * lce.n_train_, 1.5 * lce.samples_needed(target)[0])
    )
    np.testing.assert_allclose(curve_y, lce.predict_score(curve_x))
    assert display.band_ is not None
    # Held-out refit point, target and size needed.
    np.testing.assert_allclose(display.test_point_.get_data(), [[lce.n_train_], [lce.test_score_]])
    assert display.target_line_.get_ydata()[0] == target
    assert display.needed_line_.get_xdata()[0] == pytest.approx(lce.samples_needed(target)[0])
    assert display.ax_.get_xscale() == "log"
    assert display.ax_.get_ylabel() == "Accuracy"
    labels = [t.get_text() for t in display.ax_.get_legend().get_texts()]
    assert f"Estimate: {lce.samples_needed(target)[0]:,.0f}" in labels
    # The range along the target, as samples_needed_interval gives it.
    (low,), (high,) = lce.samples_needed_interval(target)
    range_x, range_y = display.range_line_.get_data()
    assert range_x[0] == low and np.all(range_y == target)
    assert range_x[1] == (high if np.isfinite(high) else curve_x.max())
    words = f"{low:,.0f} to {high:,.0f}" if np.isfinite(high) else f"at least {low:,.0f}"
    assert f"80% range: {words}" in labels
    # No measured mean reaches a target beyond them; the lowest mean is reached.
    assert display.reached_point_ is None
    means = lce.scores_.mean(axis=1)
    reached = LearningCurveExtrapolationDisplay.from_estimator(lce, target=float(means[1]))
    np.testing.assert_allclose(
        reached.reached_point_.get_data(), [[lce.train_sizes_[1]], [means[1]]]
    )
    assert reached.reached_point_.get_label() == f"Reached at {lce.train_sizes_[1]:,.0f} (measured)"


def test_extrapolation_display_options(fitted_curve):
    import matplotlib.pyplot as plt

    _, ax = plt.subplots()
    display = LearningCurveExtrapolationDisplay.from_estimator(
        fitted_curve, max_samples=5000, confidence=None, ax=ax, target=1.5
    )
    assert display.ax_ is ax
    assert display.curve_line_.get_xdata().max() == pytest.approx(5000)
    assert display.band_ is None
    assert display.target_line_ is not None and display.needed_line_ is None  # unreachable


def test_extrapolation_display_style_dicts_and_score_name(fitted_curve):
    display = LearningCurveExtrapolationDisplay.from_estimator(
        fitted_curve,
        errorbar_kw={"color": "tab:red", "label": "Measured"},
        line_kw={"c": "tab:green", "linestyle": "--"},
        fill_between_kw={"alpha": 0.5},
        score_name="Hit rate",
    )
    # Given keys win over the defaults; an alias ("c") replaces its long name.
    assert display.scores_line_.lines[0].get_color() == "tab:red"
    assert display.curve_line_.get_color() == "tab:green"
    assert display.curve_line_.get_linestyle() == "--"
    assert display.band_.get_alpha() == 0.5
    labels = [t.get_text() for t in display.ax_.get_legend().get_texts()]
    assert "Measured" in labels and "Learning curve" in labels  # default label kept
    assert display.ax_.get_ylabel() == "Hit rate"
    with pytest.raises(TypeError, match="Got both c and color"):
        LearningCurveExtrapolationDisplay.from_estimator(
            fitted_curve, line_kw={"c": "red", "color": "blue"}
        )
    X, y = load_digits(n_class=4, return_X_y=True)
    lce = LearningCurveEstimator(
        LogisticRegression(max_iter=200),
        train_sizes=[20, 40, 80],
        n_repeats=2,
        scoring="neg_log_loss",
        random_state=0,
    ).fit(X / 16.0, y)
    display = LearningCurveExtrapolationDisplay.from_estimator(lce)
    assert display.ax_.get_ylabel() == "Negative log loss"  # as LearningCurveDisplay names it


def test_training_history_display_marks_the_stage_boundary():
    X, y = load_digits(n_class=3, return_X_y=True)
    clf = TransferImageClassifier(
        "small_cnn",
        weights=None,
        image_size=32,
        epochs=3,
        fine_tune_epochs=2,
        fine_tune_from=1.0,
        validation_fraction=0.2,
        n_iter_no_change=10,
        random_state=0,
    )
    images = np.repeat((X.reshape(-1, 8, 8, 1) * 16).astype("uint8"), 3, axis=-1)
    clf.fit(images[:120], y[:120])
    n_frozen, n_fine = len(clf.history_["frozen"]["loss"]), len(clf.history_["fine_tune"]["loss"])
    assert n_fine > 0

    display = TrainingHistoryDisplay.from_estimator(clf, line_kw={"linewidth": 3, "marker": "o"})
    assert len(display.axes_) == 2
    assert display.lines_["loss"]["train"].get_linewidth() == 3
    assert display.lines_["loss"]["validation"].get_marker() == "o"  # over the default "."
    train = display.lines_["loss"]["train"]
    np.testing.assert_allclose(
        train.get_ydata(), clf.history_["frozen"]["loss"] + clf.history_["fine_tune"]["loss"]
    )
    assert display.lines_["accuracy"]["validation"] is not None
    assert len(display.boundary_lines_) == 2
    assert display.boundary_lines_[0].get_xdata()[0] == n_frozen + 0.5
    assert len(train.get_xdata()) == n_frozen + n_fine


def test_training_history_display_rejects_other_estimators():
    with pytest.raises(TypeError, match="no history_"):
        TrainingHistoryDisplay.from_estimator(LogisticRegression())

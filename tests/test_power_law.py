import pickle
import re
import subprocess
import sys

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedShuffleSplit, learning_curve

from sklearn_vision import PowerLawRegressor

SIZES = np.repeat([25, 50, 100, 200, 400, 800, 1600], 4).astype(float)
# One curve of each family, as PowerLawRegressor documents them: the score at x = n / n_max.
FAMILIES = {
    "pow2": lambda x: 0.5 * x**0.05,
    "pow3": lambda x: 0.93 - 0.05 * x**-0.6,
    "pow4": lambda x: 0.93 - 0.05 * (x + 0.05) ** -0.6,
    "mmf4": lambda x: (0.33 * 0.05 + 0.93 * x**0.8) / (0.05 + x**0.8),
    "wbl4": lambda x: 0.93 - 0.4 * np.exp(-6.0 * x**0.7),
    "exp3": lambda x: 0.93 - 0.4 * np.exp(-5.0 * x),
    "log2": lambda x: 0.9 + 0.03 * np.log(x),
}
MODELS = tuple(FAMILIES)
AUTO_MODELS = ("pow3", "pow4", "mmf4", "wbl4")  # what model="auto" combines, as documented


def noisy(curve, noise=0.004, seed=0):
    rng = np.random.RandomState(seed)
    return curve(SIZES) + rng.normal(0, noise, len(SIZES))


def test_the_documented_models_are_the_accepted_ones():
    with pytest.raises(ValueError, match="model") as error:
        PowerLawRegressor(model="pow5").fit(SIZES[:, None], SIZES / SIZES.max())
    accepted = re.search(r"among \{(.*?)\}", str(error.value)).group(1)
    assert set(re.findall(r"'(\w+)'", accepted)) == {"auto", *MODELS}


@pytest.mark.parametrize("name", MODELS)
def test_each_model_fits_its_own_family(name):
    scores = FAMILIES[name](SIZES / SIZES.max())
    curve = PowerLawRegressor(model=name).fit(SIZES[:, None], scores)
    assert curve.model_ == name and curve.curve_weights_ == {name: 1.0}
    np.testing.assert_allclose(curve.predict(SIZES[:, None]), scores, atol=2e-3)


def test_pow3_recovers_asymptote_and_inverts():
    scores = noisy(lambda n: 0.92 - 1.2 * n**-0.5)
    curve = PowerLawRegressor(model="pow3").fit(SIZES[:, None], scores)
    assert abs(curve.asymptote_ - 0.92) < 0.01
    sizes = curve.inverse_predict([0.85, 0.9, 0.95])
    assert np.isinf(sizes[2])  # beyond the asymptote
    np.testing.assert_allclose(curve.predict(sizes[:2, None]), [0.85, 0.9], atol=1e-6)
    lower, upper = curve.predict_interval([[1600], [6400], [25600]])
    middle = curve.predict([[1600], [6400], [25600]])
    assert np.all(lower <= middle) and np.all(middle <= upper)
    assert np.all(np.diff(upper - lower) >= -1e-9)  # wider as it extrapolates further


def test_inverse_with_confidence_is_more_pessimistic():
    scores = noisy(lambda n: 0.95 - 1.2 * n**-0.5, noise=0.01)
    curve = PowerLawRegressor(model="pow3").fit(SIZES[:, None], scores)
    assert curve.inverse_predict([0.9], confidence=0.95)[0] > curve.inverse_predict([0.9])[0]


def test_auto_weights_curves_by_forward_extrapolation_and_is_deterministic():
    scores = noisy(lambda n: 0.9 - 0.4 * np.exp(-n / 300))
    first = PowerLawRegressor().fit(SIZES[:, None], scores)
    second = PowerLawRegressor().fit(SIZES[:, None], scores)
    errors, weights = first.selection_errors_, first.curve_weights_
    assert set(errors) == set(AUTO_MODELS) and first.model_ == "ensemble"
    assert sum(weights.values()) == pytest.approx(1.0)
    # One over the forward error, pow3's eight times: pow3 cannot follow an
    # exponential approach, and loses weight to the curves that can.
    raw = {name: (8.0 if name == "pow3" else 1.0) / (errors[name] + 1e-4) for name in weights}
    total = sum(raw.values())
    assert weights == pytest.approx({name: value / total for name, value in raw.items()})
    assert errors["pow3"] > min(errors.values()) and weights["pow3"] < 0.9
    np.testing.assert_array_equal(first.predict([[5000]]), second.predict([[5000]]))
    # Anchored at the mean measured at the largest size.
    largest = scores[SIZES == SIZES.max()].mean()
    assert first.predict([[SIZES.max()]])[0] == pytest.approx(largest, abs=1e-12)


def test_interval_carries_the_wobble_of_the_measured_curve():
    # Tight repeats around per-size means that stray from a smooth curve by
    # +-0.01: the repeats alone would make a narrow interval.
    wobble = np.repeat(np.array([0.01, -0.01, 0.01, -0.01, 0.01, -0.01, 0.01]), 4)
    scores = noisy(lambda n: 0.95 - 1.2 * n**-0.5, noise=0.0005) + wobble
    curve = PowerLawRegressor(model="pow3").fit(SIZES[:, None], scores)
    assert 0.005 < curve.lack_of_fit_ < 0.03  # the wobble's size, not the repeats' 0.0003
    lower, upper = curve.predict_interval([[1600], [6400]])
    assert np.all(upper - lower > 2 * 1.2 * curve.lack_of_fit_)
    assert upper[1] <= 1.0  # clipped to the valid scores
    # Without the wobble: narrow where measured, widened by the gain the curve
    # predicts past it (0.015 from 1600 to 6400).
    smooth = noisy(lambda n: 0.95 - 1.2 * n**-0.5, noise=0.0005)
    smooth_curve = clone(curve).fit(SIZES[:, None], smooth)
    assert smooth_curve.lack_of_fit_ < 0.001
    lower, upper = smooth_curve.predict_interval([[1600], [6400]])
    assert upper[0] - lower[0] < 0.005 and upper[1] - lower[1] > 0.03


def test_auto_with_three_sizes_has_nothing_to_hold_out():
    sizes = np.repeat([50, 100, 200, 400], 3)[:, None]
    scores = 0.9 - sizes[:, 0] ** -0.5 + np.tile([0.0, 0.01, -0.01], 4)
    curve = PowerLawRegressor().fit(sizes, scores)
    assert set(curve.selection_errors_) == set(AUTO_MODELS)  # the largest size held out
    only_three = PowerLawRegressor().fit(sizes[sizes[:, 0] < 400], scores[:9])
    assert only_three.selection_errors_ == {}
    weights = only_three.curve_weights_  # the prior alone: pow3 8, the others 1
    assert weights["pow3"] == pytest.approx(8 / (8 + len(weights) - 1))
    assert only_three.forward_error_ == only_three.lack_of_fit_


def test_lower_is_better_scores():
    errors = 0.05 + 1.5 * SIZES**-0.6
    curve = PowerLawRegressor(model="pow3", greater_is_better=False)
    curve.fit(SIZES[:, None], errors)
    assert abs(curve.asymptote_ - 0.05) < 1e-3
    assert curve.predict([[10_000]])[0] < errors.min()
    assert np.isinf(curve.inverse_predict([0.04])[0])
    assert curve.inverse_predict([0.1])[0] > 0


def test_asymptote_stays_in_score_bounds():
    # Still rising steeply at the largest size: unbounded, pow3 would pass 1.
    scores = np.clip(0.3 + 0.25 * np.log(SIZES / 25), 0, 0.99)
    curve = PowerLawRegressor(model="pow3").fit(SIZES[:, None], scores)
    assert curve.asymptote_ <= 1.0
    assert np.all(curve.predict([[1e6], [1e9]]) <= 1.0)


def test_pow2_is_the_keras_examples_curve_without_asymptote():
    scores = 0.4 * SIZES**0.12
    curve = PowerLawRegressor(model="pow2", score_bounds=(None, None)).fit(SIZES[:, None], scores)
    np.testing.assert_allclose(curve.predict([[3303]]), 0.4 * 3303**0.12, rtol=1e-4)
    assert curve.asymptote_ == np.inf


def test_inverse_variance_weighting_trusts_tight_sizes():
    rng = np.random.RandomState(0)
    spread = np.where(SIZES < 200, 0.05, 0.002)
    scores = 0.9 - SIZES**-0.5 + rng.normal(0, 1, len(SIZES)) * spread
    weighted = PowerLawRegressor(model="pow3", weighting="inverse_variance")
    uniform = PowerLawRegressor(model="pow3", weighting="uniform")
    truth = 0.9 - 6400**-0.5
    error_weighted = abs(weighted.fit(SIZES[:, None], scores).predict([[6400]])[0] - truth)
    error_uniform = abs(uniform.fit(SIZES[:, None], scores).predict([[6400]])[0] - truth)
    assert error_weighted < error_uniform


def test_interval_without_repeats():
    sizes = np.array([25, 50, 100, 200, 400, 800.0])
    scores = 0.9 - sizes**-0.5 + np.array([0.01, -0.01, 0.005, -0.005, 0.002, 0.0])
    curve = PowerLawRegressor(model="pow3").fit(sizes[:, None], scores)
    lower, upper = curve.predict_interval([[1600]], confidence=0.9)
    assert lower[0] < curve.predict([[1600]])[0] < upper[0]
    assert curve.standard_error_ == curve.lack_of_fit_  # the residuals stand in for the noise


def test_from_learning_curve():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    cv = StratifiedShuffleSplit(n_splits=3, test_size=0.3, random_state=0)
    sizes, _, test_scores = learning_curve(
        LogisticRegression(max_iter=200), X, y, train_sizes=[0.05, 0.1, 0.2, 0.4, 0.7], cv=cv
    )
    curve = PowerLawRegressor.from_learning_curve(sizes, test_scores)
    assert curve.n_features_in_ == 1
    assert curve.asymptote_ <= 1.0
    np.testing.assert_allclose(curve.predict(sizes[:, None]), test_scores.mean(axis=1), atol=0.03)


@pytest.mark.parametrize(
    "X, y, message",
    [
        ([[10], [20], [10], [20]], [0.5, 0.6, 0.5, 0.6], "at least 3 distinct"),
        ([[0], [10], [20]], [0.1, 0.5, 0.6], "must be positive"),
        ([[-5], [10], [20]], [0.1, 0.5, 0.6], "must be positive|negative"),
        ([[5], [10], [20]], [0.1, np.nan, 0.6], "NaN"),
        ([[5], [10], [20]], [0.1, 0.6], "inconsistent numbers of samples"),
        ([[5, 1], [10, 1], [20, 1]], [0.1, 0.5, 0.6], "one column of training-set sizes"),
    ],
)
def test_bad_input(X, y, message):
    with pytest.raises(ValueError, match=message):
        PowerLawRegressor().fit(X, y)


def test_estimator_contract_on_one_column():
    scores = noisy(lambda n: 0.9 - n**-0.5)
    curve = PowerLawRegressor(model="exp3")
    with pytest.raises(NotFittedError):
        curve.predict([[10]])
    assert curve.fit(SIZES[:, None], scores) is curve
    assert not hasattr(clone(curve), "curve_params_")
    restored = pickle.loads(pickle.dumps(curve))
    np.testing.assert_array_equal(restored.predict([[3000]]), curve.predict([[3000]]))
    assert curve.score(SIZES[:, None], scores) > 0.9
    with pytest.raises(ValueError, match="expecting 1 features"):
        curve.predict([[10, 3]])


def test_imports_and_fits_without_tensorflow():
    code = (
        "import sys, numpy as np\n"
        "from sklearn_vision import PowerLawRegressor\n"
        "s = np.repeat([10, 20, 40, 80], 2)[:, None]\n"
        "PowerLawRegressor().fit(s, 0.9 - s[:, 0] ** -0.5).predict(s)\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# ------------------------------------------------------------ ill-behaved curves

ANCHORS = np.repeat([16, 23, 32, 45, 64, 91, 128], 10)


def _curve_from_means(means, noise, seed=0):
    rng = np.random.RandomState(seed)
    level = dict(zip(np.unique(ANCHORS), means, strict=True))
    return np.array([level[n] for n in ANCHORS]) + rng.normal(0, noise, len(ANCHORS))


def test_flat_curve_warns_predicts_no_gain_and_widens():
    from sklearn_vision import LearningCurveWarning

    y = _curve_from_means([0.5] * 7, 0.01)
    with pytest.warns(LearningCurveWarning, match="flat"):
        curve = PowerLawRegressor().fit(ANCHORS[:, None], y)
    assert curve.irregularities_ == ["flat"]
    last = y[ANCHORS == 128].mean()
    np.testing.assert_allclose(curve.predict([[256], [10_000]]), last)
    assert curve.asymptote_ == pytest.approx(last)
    assert np.isinf(curve.inverse_predict([0.6])[0])
    (low_near, low_far), (high_near, high_far) = curve.predict_interval([[128], [1024]])
    assert high_far - low_far > 5 * (high_near - low_near)  # honest far out
    assert low_far < last < high_far


def test_falling_and_jumping_curves_warn_and_widen():
    from sklearn_vision import LearningCurveWarning

    falls = _curve_from_means([0.6, 0.65, 0.7, 0.72, 0.68, 0.64, 0.62], 0.005)
    with pytest.warns(LearningCurveWarning, match="falling"):
        curve = PowerLawRegressor().fit(ANCHORS[:, None], falls)
    assert curve.irregularities_ == ["falls"]
    assert curve.irregular_spread_ == pytest.approx(0.05, abs=0.01)  # half the 0.10 fall
    jumps = _curve_from_means([0.5] * 6 + [0.9], 0.01)
    with pytest.warns(LearningCurveWarning, match="jumping"):
        curve = PowerLawRegressor().fit(ANCHORS[:, None], jumps)
    assert curve.irregularities_ == ["jump"]
    lower, upper = curve.predict_interval([[256]])
    # As uncertain as the jump is large: the band reaches the best score above, and
    # falls half the jump (at least) below the last mean. (The worse end's multiple
    # for irregular curves, calibrated on image curves and LCDB's, is below one.)
    assert curve.irregular_spread_ == pytest.approx(0.2, abs=0.01)
    assert upper[0] == 1.0 and lower[0] <= 0.9 - curve.irregular_spread_


def test_regular_curve_raises_no_warning():
    import warnings

    y = _curve_from_means(0.95 - 0.8 * np.unique(ANCHORS) ** -0.5, 0.005)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        curve = PowerLawRegressor().fit(ANCHORS[:, None], y)
    assert curve.irregularities_ == [] and curve.irregular_spread_ == 0


def test_auto_gives_no_weight_to_a_degenerate_fit():
    # A step at the last size: the Weibull, MMF and pow4 shapes driven to the
    # end of their range fit it (a step, degenerate); pow3 cannot make a step.
    y = _curve_from_means([0.5] * 6 + [0.9], 0.01)
    with pytest.warns(UserWarning):
        curve = PowerLawRegressor().fit(ANCHORS[:, None], y)
    assert set(curve.curve_weights_) == {"pow3"}
    # A smooth power law bends every shape inside its range: all get weight.
    smooth = PowerLawRegressor().fit(SIZES[:, None], noisy(lambda n: 0.95 - 1.2 * n**-0.5))
    assert set(smooth.curve_weights_) == set(AUTO_MODELS)


@pytest.mark.parametrize("model", ["pow3", "pow4", "mmf4", "wbl4"])
def test_inverse_predict_inverts_predict(model):
    sizes = np.repeat([50, 100, 200, 400, 800], 3)
    scores = 0.95 - 0.8 * sizes**-0.5 + np.tile([-0.005, 0.0, 0.005], 5)
    curve = PowerLawRegressor(model=model).fit(sizes[:, None], scores)
    for n in [20.0, 300.0, 1600.0, 1e4, 1e6]:
        score = curve.predict([[n]])[0]
        if curve.predict([[n * 1.01]])[0] > score:  # strictly rising there
            assert curve.inverse_predict([score])[0] == pytest.approx(n, rel=1e-6)
    assert curve.inverse_predict([curve.asymptote_ + 1e-3])[0] == np.inf


def test_interval_within_the_sizes_seen_is_their_noise():
    scores = noisy(lambda n: 0.95 - 1.2 * n**-0.5, noise=0.004)
    curve = PowerLawRegressor().fit(SIZES[:, None], scores)
    lower, upper = curve.predict_interval([[25], [400]])
    # Four repeats of noise 0.004 at a size: a standard error of 0.002, not
    # the gain from there to the largest size (0.17 from 25).
    assert np.all(upper - lower < 0.03)


# ------------------------------------------------------------ a steady answer


@pytest.mark.parametrize("seed", range(6))
def test_worse_end_of_a_regular_curve_never_falls_with_more_data(seed):
    rng = np.random.RandomState(seed)
    ceiling, amplitude, rate = rng.uniform(0.8, 0.99), rng.uniform(0.3, 1.5), rng.uniform(0.3, 1)
    sizes = np.repeat([22, 45, 112, 225], 5)
    scores = ceiling - amplitude * sizes**-rate + rng.normal(0, 0.01, len(sizes))
    curve = PowerLawRegressor().fit(sizes[:, None], np.clip(scores, 0, 1))
    if curve.irregularities_:
        pytest.skip(f"drew an irregular curve ({curve.irregularities_})")
    far = np.geomspace(225, 225 * 1e4, 300)
    lower, upper = curve.predict_interval(far[:, None])
    # The band widens faster than the curve rises (before, the lower end fell
    # from 0.937 at 110 images to 0.871 at 2,200 on such a curve).
    assert np.all(np.diff(lower) >= -1e-12)
    assert np.all(np.diff(upper - lower) >= -1e-12)
    # One-sided assurance: the bound at a size never exceeds the prediction there.
    assert np.all(lower <= curve.predict(far[:, None]) + 1e-12)


def test_worse_end_counts_on_part_of_the_predicted_gain():
    # A curve that extrapolates itself well (a small forward error): the worse
    # end rises with a quarter of the gain predicted.
    sizes = np.repeat([50, 100, 200, 400], 5)
    rng = np.random.RandomState(0)
    scores = 0.97 - 2.0 * sizes**-0.7 + rng.normal(0, 0.0005, len(sizes))
    curve = PowerLawRegressor(model="pow3").fit(sizes[:, None], scores)
    assert not curve.irregularities_
    lower, _ = curve.predict_interval([[400], [4000]])
    assert lower[1] > lower[0] + 1e-3
    # A target between the two is reached by the pessimistic side, at a finite size.
    target = (lower[0] + lower[1]) / 2
    assert 400 < curve.inverse_predict([target], confidence=0.95)[0] < 4000


def test_binomial_noise_of_a_small_test_split_is_not_a_fall():
    # Means 0.82, 0.86, 0.95, 0.89 with a tight spread of the repeats: the dip
    # of 0.06 is three images of a shared test split of 50.
    means = np.repeat([0.82, 0.86, 0.95, 0.89], 5)
    sizes = np.repeat([11, 22, 55, 110], 5)
    scores = means + np.tile([-0.004, -0.002, 0.0, 0.002, 0.004], 4)
    with pytest.warns(UserWarning, match="falling"):
        trusting = PowerLawRegressor().fit(sizes[:, None], scores)
    assert trusting.irregularities_ == ["falls"]
    curve = PowerLawRegressor().fit(sizes[:, None], scores, n_test=50)
    assert curve.irregularities_ == []
    # The standard error of each mean is at least the binomial noise of 50 samples.
    assert curve.standard_error_ == pytest.approx(np.sqrt(0.89 * 0.11 / 50), rel=1e-6)
    with pytest.raises(ValueError, match="n_test must be a positive number of samples"):
        PowerLawRegressor().fit(sizes[:, None], scores, n_test=0)


def test_inverse_predict_on_a_plateau_gives_its_first_size():
    # Rises, then flat from the last size on (no gain predicted beyond it).
    y = _curve_from_means([0.6, 0.7, 0.76, 0.8, 0.82, 0.9, 0.6], 0.004)
    with pytest.warns(UserWarning):
        curve = PowerLawRegressor().fit(ANCHORS[:, None], y)
    plateau = curve.predict([[2 * 128]])[0]
    assert curve.predict([[10 * 128]])[0] == plateau
    needed = curve.inverse_predict([plateau])[0]
    assert np.isfinite(needed) and needed <= 128 + 1e-6
    assert curve.predict([[needed]])[0] >= plateau - 1e-9
    # A score the curve reaches within the sizes seen: the first size reaching it.
    rising = PowerLawRegressor(model="pow3").fit(SIZES[:, None], noisy(lambda n: 0.9 - n**-0.5))
    score = rising.predict([[100]])[0]
    assert rising.inverse_predict([score])[0] == pytest.approx(100, rel=1e-6)


def test_inverse_predict_is_never_below_one_sample_and_refuses_nan():
    curve = PowerLawRegressor(model="pow3").fit(SIZES[:, None], noisy(lambda n: 0.9 - n**-0.5))
    assert curve.predict([[1]])[0] > -5.0
    assert curve.inverse_predict([-5.0]).tolist() == [1.0]  # not a fraction of a sample
    assert curve.inverse_predict([-5.0], confidence=0.95).tolist() == [1.0]
    with pytest.raises(ValueError, match="Target scores must be finite numbers"):
        curve.inverse_predict([np.nan])


def test_predictions_stay_inside_the_score_bounds():
    # A measured curve (five folds a size) that ends near the best score, still
    # rising: the anchored gain passed 1 (1.007 at 10 times the largest size).
    scores = [
        [0.48, 0.66, 0.58, 0.8, 0.8],
        [0.78, 0.92, 0.82, 0.86, 0.92],
        [0.86, 0.98, 0.84, 0.94, 0.84],
        [0.98, 1.0, 0.98, 1.0, 0.98],
    ]
    sizes = np.repeat([10, 20, 50, 100], 5)
    curve = PowerLawRegressor().fit(sizes[:, None], np.ravel(scores), n_test=250)
    assert curve.predict([[100]])[0] == pytest.approx(0.988)
    far = curve.predict([[200], [1000], [1e6]])
    assert np.all(far <= 1.0) and curve.asymptote_ <= 1.0
    assert curve.inverse_predict([1.0])[0] < 1e6  # the best score is reached, at a size


@pytest.mark.parametrize(
    "model, formula, params",
    [
        ("pow3", lambda x: 0.9 - 0.3 * x**-0.5, [0.9, 0.3, 0.5]),
        ("exp3", lambda x: 0.9 - 0.5 * np.exp(-3 * x), [0.9, 0.5, 3.0]),
        ("pow2", lambda x: 0.8 * x**0.2, [0.8, 0.2]),
        ("log2", lambda x: 0.9 + 0.05 * np.log(x), [0.9, 0.05]),
    ],
)
def test_curve_params_read_as_the_documented_formulas(model, formula, params):
    # Sizes scaled by the largest: x = n / n_max, as curve_params_ says.
    n = np.array([50, 100, 200, 400, 800, 1600.0])
    fitted = PowerLawRegressor(model=model, score_bounds=(None, None))
    fitted.fit(n[:, None], formula(n / n.max()))
    np.testing.assert_allclose(fitted.curve_params_[model], params, rtol=1e-2, atol=1e-3)
    # A score that falls to its asymptote from above: the same formula, a < 0.
    falling = PowerLawRegressor(model="pow3", greater_is_better=False, score_bounds=(None, None))
    falling.fit(n[:, None], 0.1 + 0.3 * (n / n.max()) ** -0.5)
    np.testing.assert_allclose(falling.curve_params_["pow3"], [0.1, -0.3, 0.5], rtol=1e-2)


def test_range_of_sizes_holds_the_point_answer_and_widens_with_confidence():
    scores = noisy(lambda n: 0.95 - 1.2 * n**-0.5, noise=0.01)
    curve = PowerLawRegressor().fit(SIZES[:, None], scores)
    targets = [0.9, 0.92, 0.93]
    point = curve.inverse_predict(targets)
    low, high = curve.inverse_predict_interval(targets, confidence=0.8)
    assert np.all(low <= point) and np.all(point <= high)
    wide_low, wide_high = curve.inverse_predict_interval(targets, confidence=0.95)
    assert np.all(wide_low <= low) and np.all(high <= wide_high)
    narrow_low, narrow_high = curve.inverse_predict_interval(targets, confidence=0.5)
    assert np.all(low <= narrow_low) and np.all(narrow_high <= high)
    assert np.all(high[np.isfinite(high)] > low[np.isfinite(high)])


def test_range_has_no_high_end_beyond_what_the_measurements_can_bound():
    scores = noisy(lambda n: 0.95 - 1.2 * n**-0.5, noise=0.01)
    curve = PowerLawRegressor().fit(SIZES[:, None], scores)
    low, high = curve.inverse_predict_interval([0.945, 0.99, 1.01])
    assert np.isinf(high).all()  # near and above the plateau: no upper bound
    assert SIZES.max() < low[0] < low[1]  # but at least this many, more for more
    assert np.isinf(low[2])  # beyond the best valid score


@pytest.mark.parametrize(
    "confidence", [0.0, 1.0, 1.5, float("nan")], ids=["zero", "one", "above", "nan"]
)
def test_range_refuses_a_confidence_outside_zero_one(confidence):
    curve = PowerLawRegressor().fit(SIZES[:, None], noisy(FAMILIES["pow3"]))
    with pytest.raises(ValueError, match="confidence"):
        curve.inverse_predict_interval([0.9], confidence=confidence)


def test_default_curve_leans_on_the_exponent_prior_only_where_noise_allows():
    # A steep curve measured with much noise: the default curve's pow3 pulls its
    # exponent toward the prior's centre (0.4); model="pow3" (no prior) does not.
    steep = lambda x: 0.95 - 1e-4 * x**-1.6  # noqa: E731
    scores = steep(SIZES / SIZES.max()) + np.random.RandomState(3).normal(0, 0.02, len(SIZES))
    plain = PowerLawRegressor(model="pow3").fit(SIZES[:, None], scores)
    default = PowerLawRegressor().fit(SIZES[:, None], scores)
    b_plain, b_default = plain.curve_params_["pow3"][2], default.curve_params_["pow3"][2]
    assert abs(np.log(b_default / 0.4)) < abs(np.log(b_plain / 0.4))
    # Measured tightly, the data outweigh the prior.
    tight_scores = steep(SIZES / SIZES.max()) + np.random.RandomState(3).normal(0, 1e-5, len(SIZES))
    tight = PowerLawRegressor().fit(SIZES[:, None], tight_scores)
    assert tight.curve_params_["pow3"][2] == pytest.approx(1.6, rel=0.05)

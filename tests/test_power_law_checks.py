"""Our versions of the estimator checks scikit-learn cannot run on PowerLawRegressor.

Its X is one column of training-set sizes, so the checks that feed several
columns are expected failures in ``test_common.py``; these feed a learning
curve instead and ask the same of ``predict``, ``predict_interval`` and
``inverse_predict``.
"""

import pickle

import joblib
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from sklearn_vision import PowerLawRegressor

SIZES = np.repeat([25, 50, 100, 200, 400], 4).astype(float)
# Within, between and far beyond the sizes seen, unsorted, one repeated.
QUERY = np.array([[3000.0], [25.0], [60.0], [400.0], [1e5], [150.0], [800.0], [60.0], [10.0]])
TARGETS = np.array([0.8, 0.86, 0.88, 0.95])

ESTIMATORS = [
    pytest.param(PowerLawRegressor(), {}, id="auto"),
    pytest.param(PowerLawRegressor(), {"n_test": 200}, id="auto-n_test"),
    pytest.param(PowerLawRegressor(model="pow3", confidence=0.8), {}, id="pow3"),
    pytest.param(PowerLawRegressor(model="mmf4"), {}, id="mmf4"),
    pytest.param(PowerLawRegressor(model="log2", score_bounds=(None, None)), {}, id="log2"),
    pytest.param(PowerLawRegressor(weighting="uniform"), {"n_test": 500}, id="uniform"),
]


def learning_curve_scores(seed=0):
    """Accuracies of a saturating curve with small noise, one per row of ``SIZES``."""
    rng = np.random.RandomState(seed)
    return 0.92 - 0.9 * SIZES**-0.5 + rng.normal(0, 0.004, len(SIZES))


def answers(curve):
    """Everything a fitted curve answers on ``QUERY`` and ``TARGETS``."""
    lower, upper = curve.predict_interval(QUERY)
    narrow_lower, narrow_upper = curve.predict_interval(QUERY, confidence=0.5)
    return {
        "predict": curve.predict(QUERY),
        "lower": lower,
        "upper": upper,
        "lower_50": narrow_lower,
        "upper_50": narrow_upper,
        "inverse": curve.inverse_predict(TARGETS),
        "inverse_95": curve.inverse_predict(TARGETS, confidence=0.95),
    }


def fitted_attributes(curve):
    """The public learned attributes, a dict's entries each on their own."""
    state = {}
    for name, value in vars(curve).items():
        if name.startswith("_") or not name.endswith("_"):
            continue
        if isinstance(value, dict):
            state[f"{name}keys"] = sorted(value)
            state.update({f"{name}[{key}]": entry for key, entry in value.items()})
        else:
            state[name] = value
    return state


def assert_same(first, second, rtol=0.0, atol=0.0):
    """Equal keys, equal strings, numbers equal to ``rtol``/``atol`` (NaN and inf in place)."""
    assert first.keys() == second.keys()
    for key in first:
        a, b = first[key], second[key]
        if isinstance(a, (str, list)):  # a name, or names (irregularities_, dict keys)
            assert a == b, key
        else:
            np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=key)


def fit(estimator, fit_params, X=None, y=None, **extra):
    X = SIZES[:, np.newaxis] if X is None else X
    y = learning_curve_scores() if y is None else y
    return clone(estimator).fit(X, y, **fit_params, **extra)


@pytest.mark.parametrize("estimator, fit_params", ESTIMATORS)
def test_pickle_round_trip_answers_the_same(estimator, fit_params):
    curve = fit(estimator, fit_params)
    restored = pickle.loads(pickle.dumps(curve))
    assert_same(answers(restored), answers(curve))
    assert_same(fitted_attributes(restored), fitted_attributes(curve))


@pytest.mark.parametrize("estimator, fit_params", ESTIMATORS)
def test_fitting_twice_gives_the_same_fit(estimator, fit_params):
    curve = fit(estimator, fit_params)
    first_attributes, first_answers = fitted_attributes(curve), answers(curve)
    # Refit the same object on other data first: nothing of that fit may remain.
    curve.fit(SIZES[:, np.newaxis], learning_curve_scores(seed=1), **fit_params)
    curve.fit(SIZES[:, np.newaxis], learning_curve_scores(), **fit_params)
    assert_same(fitted_attributes(curve), first_attributes)
    assert_same(answers(curve), first_answers)


@pytest.mark.parametrize("estimator, fit_params", ESTIMATORS)
def test_row_order_does_not_change_the_fit(estimator, fit_params):
    y = learning_curve_scores()
    weights = np.random.RandomState(1).uniform(0.5, 2, len(y))
    in_order = fit(estimator, fit_params, sample_weight=weights)
    order = np.random.RandomState(0).permutation(len(y))
    shuffled = fit(
        estimator, fit_params, SIZES[order, np.newaxis], y[order], sample_weight=weights[order]
    )
    # The per-size sums may round differently in another order: equal to rounding.
    assert_same(fitted_attributes(shuffled), fitted_attributes(in_order), rtol=1e-9, atol=1e-12)
    assert_same(answers(shuffled), answers(in_order), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("estimator, fit_params", ESTIMATORS)
def test_answers_do_not_depend_on_the_other_rows_asked(estimator, fit_params):
    curve = fit(estimator, fit_params)
    lower, upper = curve.predict_interval(QUERY)
    inverse = curve.inverse_predict(TARGETS, confidence=0.9)
    for rows in (slice(0, 4), slice(3, None), [4, 1, 6]):
        np.testing.assert_allclose(curve.predict(QUERY[rows]), curve.predict(QUERY)[rows])
        subset_lower, subset_upper = curve.predict_interval(QUERY[rows])
        np.testing.assert_allclose(subset_lower, lower[rows])
        np.testing.assert_allclose(subset_upper, upper[rows])
    for i, row in enumerate(QUERY):
        np.testing.assert_allclose(curve.predict(row[np.newaxis]), curve.predict(QUERY)[i : i + 1])
        one_lower, one_upper = curve.predict_interval(row[np.newaxis])
        np.testing.assert_allclose([one_lower[0], one_upper[0]], [lower[i], upper[i]])
    for i, target in enumerate(TARGETS):
        np.testing.assert_allclose(curve.inverse_predict([target], confidence=0.9), inverse[i])


@pytest.mark.parametrize("estimator, fit_params", ESTIMATORS)
def test_float32_input_fits_as_float64(estimator, fit_params):
    y = learning_curve_scores()
    as_float64 = fit(estimator, fit_params)
    as_float32 = fit(
        estimator, fit_params, SIZES[:, np.newaxis].astype(np.float32), y.astype(np.float32)
    )
    # The scores lose their digits beyond float32's 6e-8: the answers move by
    # about 1e-5 relative at most (measured: 1.0e-5 for the size at which the
    # worse end of the 90% band, nearly flat there, reaches a target), the
    # sizes asked for too.
    assert_same(answers(as_float32), answers(as_float64), rtol=3e-5)
    query32 = QUERY.astype(np.float32)
    np.testing.assert_allclose(as_float64.predict(query32), as_float64.predict(QUERY))


def read_only(array):
    array = np.array(array)
    array.flags.writeable = False
    return array


@pytest.mark.parametrize("estimator, fit_params", ESTIMATORS)
def test_read_only_arrays_are_not_written_to(estimator, fit_params):
    y = learning_curve_scores()
    weights = np.random.RandomState(1).uniform(0.5, 2, len(y))
    expected = fit(estimator, fit_params, sample_weight=weights)
    curve = fit(
        estimator,
        fit_params,
        read_only(SIZES[:, np.newaxis]),
        read_only(y),
        sample_weight=read_only(weights),
    )
    assert_same(answers(curve), answers(expected))
    np.testing.assert_array_equal(curve.predict(read_only(QUERY)), expected.predict(QUERY))


@pytest.mark.parametrize("estimator, fit_params", ESTIMATORS)
def test_read_only_memmaps_fit_and_predict(estimator, fit_params, tmp_path):
    y = learning_curve_scores()
    expected = fit(estimator, fit_params)
    # A joblib worker's view of large arguments: memory-mapped, read-only.
    joblib.dump((SIZES[:, np.newaxis], y, QUERY), tmp_path / "data.joblib")
    X_mapped, y_mapped, query_mapped = joblib.load(tmp_path / "data.joblib", mmap_mode="r")
    assert isinstance(X_mapped, np.memmap) and not X_mapped.flags.writeable
    curve = fit(estimator, fit_params, X_mapped, y_mapped)
    assert_same(answers(curve), answers(expected))
    np.testing.assert_array_equal(curve.predict(query_mapped), expected.predict(QUERY))
    # And NumPy's own, opened read-only.
    path = tmp_path / "sizes.dat"
    np.memmap(path, dtype=np.float64, mode="w+", shape=(len(SIZES), 1))[:] = SIZES[:, None]
    sizes_mapped = np.memmap(path, dtype=np.float64, mode="r", shape=(len(SIZES), 1))
    assert_same(answers(fit(estimator, fit_params, sizes_mapped, y_mapped)), answers(expected))


@pytest.mark.parametrize("estimator, fit_params", ESTIMATORS)
def test_clone_is_unfitted_with_equal_params(estimator, fit_params):
    curve = fit(estimator, fit_params)
    copy = clone(curve)
    assert copy is not curve and type(copy) is PowerLawRegressor
    assert copy.get_params() == curve.get_params() == estimator.get_params()
    assert not any(name.endswith("_") for name in vars(copy))
    with pytest.raises(NotFittedError):
        check_is_fitted(copy)
    with pytest.raises(NotFittedError):
        copy.predict(QUERY)
    # Fitting the copy leaves the original as it was.
    before = answers(curve)
    copy.fit(SIZES[:, np.newaxis], learning_curve_scores(seed=1), **fit_params)
    assert_same(answers(curve), before)

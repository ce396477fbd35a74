"""PowerLawRegressor: learning-curve models that extrapolate a score to larger training sets.

NumPy and SciPy only: no TensorFlow is imported here.
"""

import warnings
from numbers import Integral, Real

import numpy as np
from scipy.optimize import brentq, minimize_scalar
from sklearn.base import BaseEstimator, RegressorMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from ._calibration import (
    _BOUNDED_HORIZON,
    _ENVELOPE_STEPS,
    _ROOM_PER_DOUBLING,
    _calibrated_quantile,
    _range_quantile,
    band_ends,
)
from ._curves import AUTO_MODELS, MODEL_SPECS, MODELS, _fit_curve


class LearningCurveWarning(UserWarning):
    """A learning curve whose shape makes its extrapolation unreliable.

    Raised by :meth:`PowerLawRegressor.fit` for a curve flat at the sizes seen,
    one that falls, or one that jumps; the regressor's ``irregularities_`` says
    which, and its intervals are widened accordingly.
    """


# pow3 counts 8 times as much as its forward error alone says: the
# four-parameter curves fit the sizes seen more closely than they extrapolate.
# 8 minimised the error of 500 even-id LCDB curves and of the benchmark's own
# curves together (1, 2, 4, 8, 16, 64 and pow3 alone were measured).
_PRIOR_WEIGHTS = {"pow3": 8.0}
# A curve is flat when it rose by less than half the noise of its first and
# last means (on even-id LCDB curves and the benchmark's own, 0.5 to 0 did
# best; 2 took too many slowly rising curves for flat ones).
_FLAT_NOISES = 0.5


def _checked_confidence(confidence):
    """``confidence`` as a float strictly between 0 and 1; ValueError otherwise."""
    number = isinstance(confidence, Real) and not isinstance(confidence, bool)
    if not (number and 0 < confidence < 1):
        raise ValueError(
            f"confidence must be a number strictly between 0 and 1, such as 0.95; got "
            f"{confidence!r}."
        )
    return float(confidence)


def _checked_score_bounds(score_bounds):
    """``score_bounds`` as ``(low, high)`` floats, None as infinite; ValueError otherwise."""
    try:
        low, high = score_bounds
    except (TypeError, ValueError):
        low = high = "invalid"
    ends = []
    for end, infinite in ((low, -np.inf), (high, np.inf)):
        if end is None:
            ends.append(infinite)
        elif isinstance(end, Real) and not isinstance(end, bool) and np.isfinite(end):
            ends.append(float(end))
        else:
            ends.append(None)
    if None in ends or not ends[0] < ends[1]:
        raise ValueError(
            "score_bounds must be (low, high): finite numbers or None (no bound), "
            f"low < high, such as (0.0, 1.0) for accuracy; got {score_bounds!r}."
        )
    return tuple(ends)


def _irregularities(levels, means, standard_errors):
    """What makes a measured curve (``means`` falling with the size) unreliable to extrapolate.

    ``"flat"``: the curve has risen by less than half its noise from its first
    size to its last (a learner that has not started to learn); ``"falls"``: a
    later size is worse than an earlier one beyond three standard errors (and
    0.01), in a curve that is not flat; ``"jump"``: in a curve that neither
    stays flat nor falls, a step between neighbouring sizes more than twice
    the step before it (beyond three standard errors) carries most of the
    change.
    """
    found = []
    noise = np.hypot(standard_errors[0], standard_errors[-1])
    total = means[0] - means[-1]
    if total <= _FLAT_NOISES * noise:
        found.append("flat")
    worse = means[np.newaxis, :] - means[:, np.newaxis]  # [k, j]: later j minus earlier k
    spread = np.hypot(standard_errors[np.newaxis, :], standard_errors[:, np.newaxis])
    later = np.triu(np.ones_like(worse, dtype=bool), k=1)
    if not found and np.any(later & (worse > 3 * spread) & (worse > 0.01)):
        found.append("falls")  # (the wiggles of a flat curve are its noise)
    steps = means[:-1] - means[1:]
    if not found and len(steps) >= 2:
        # A saturating curve gains less with each doubling: a step far larger
        # than the one before it, carrying most of the rise, is a jump.
        noise = np.hypot(standard_errors[1:], standard_errors[:-1])
        sudden = steps[1:] > 2 * np.maximum(steps[:-1], 0) + 3 * noise[1:]
        if np.any(sudden & (steps[1:] > 0.5 * total)):
            found.append("jump")
    return found


class PowerLawRegressor(RegressorMixin, BaseEstimator):
    """Learning-curve model: score as a function of the training-set size.

    Fits saturating curves through (size, score) pairs, the repeated scores of
    each size weighting them by their spread, to extrapolate the score at
    larger sizes with a calibrated interval and to invert it (the size a score
    needs).

    The curves are those the LCDB study (Mohr et al. 2022) found best for
    extrapolation, written for a score ``y`` that approaches an asymptote ``c``
    from below (``greater_is_better=True``; from above otherwise), with
    ``x = n / n_max``: ``pow3`` ``c - a x^-b``; ``pow4`` ``c - a (x + d)^-b``;
    ``mmf4`` (Morgan-Mercer-Flodin) ``(a b + c x^d) / (b + x^d)``; ``wbl4``
    (Weibull) ``c - b exp(-a x^d)``; ``exp3`` ``c - a exp(-b x)``; and, with no
    asymptote, ``log2`` ``b + a log x`` and ``pow2`` ``a n^b`` (the curve the
    Keras example on sample-size estimation fits). Each is fitted by weighted
    least squares exactly on a grid of its shape parameters (its scale and
    asymptote solved linearly at every grid point): deterministic, with no
    starting point to choose, in milliseconds.

    Parameters
    ----------
    model : {"auto", "pow2", "pow3", "pow4", "mmf4", "wbl4", "exp3", "log2"}, default="auto"
        The curve. ``"auto"`` combines ``pow3``, ``pow4``, ``mmf4`` and
        ``wbl4``: each is weighted by one over its forward-extrapolation error
        (each of the largest one or two sizes seen predicted from a fit on the
        sizes below it), ``pow3`` eight times more, a fit degenerated into a
        step or a constant (a shape parameter at the end of its range) gets no
        weight, and the combined curve is anchored at the mean score measured
        at the largest size: the prediction is that score plus the gain the
        curves predict from there.
        On a curve that is flat, falls or jumps (see ``irregularities_``), no
        gain is predicted beyond the sizes seen: on such curves of LCDB the
        last score measured extrapolates better than any curve.
    weighting : {"auto", "inverse_variance", "uniform"}, default="auto"
        ``"inverse_variance"`` weights each score by 1 / the variance of the
        scores at its size (floored at a tenth of their median); ``"auto"`` uses
        it when at least half the sizes have repeats, ``"uniform"`` otherwise.
    confidence : float, default=0.95
        Default confidence of :meth:`predict_interval`.
    greater_is_better : bool, default=True
        Whether the score rises with more data (accuracy) or falls (error, loss).
    score_bounds : (float or None, float or None), default=(0.0, 1.0)
        The valid range of the score; asymptotes and intervals stay inside it.
        ``(None, None)`` for unbounded scores.

    Attributes
    ----------
    model_ : str
        The fitted curve's name, or ``"ensemble"`` with ``model="auto"``.
    curve_params_ : dict
        The parameters of each fitted curve, in the order of its formula above
        (sizes scaled by ``n_max_``).
    curve_weights_ : dict
        The weight of each curve in the prediction (they sum to 1).
    asymptote_ : float
        The score as the size grows without bound (``inf`` or ``-inf`` for
        ``pow2`` and ``log2`` when unbounded; the last mean score measured on
        an irregular curve with ``model="auto"``).
    n_max_ : float
        The largest size seen, the scale of ``x``.
    selection_errors_ : dict
        With ``model="auto"``, the forward-extrapolation error of each curve
        (empty with 3 sizes: nothing to hold out).
    forward_error_ : float
        The weighted forward-extrapolation error of the prediction (the
        residual's root mean square when there is nothing to hold out): how
        far one step of extrapolation missed, in the scale of the intervals.
    standard_error_ : float
        Standard error of the mean score at the largest size seen.
    lack_of_fit_ : float
        Weighted root mean square of the per-size mean scores around the
        prediction: how far the measured curve wobbles around the fitted one.
    irregularities_ : list of str
        What makes the measured curve unreliable to extrapolate, each also
        raised as a :class:`LearningCurveWarning` by ``fit``: ``"flat"`` (a
        rise of less than half the repeats' noise from the first size to the
        last),
        ``"falls"`` (a larger size scored worse than a smaller one by more than
        three standard errors) or ``"jump"`` (a step between neighbouring sizes,
        more than twice the one before it, carries most of the rise); empty
        for a regular curve.
    irregular_spread_ : float
        Half the worst fall or the jump, added in quadrature to the scale of
        the intervals of a curve that falls or jumps (0 otherwise).
    n_features_in_ : int
        Always 1: the training-set size.

    See Also
    --------
    sklearn.model_selection.learning_curve : Scores at growing training sizes.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_vision import PowerLawRegressor
    >>> sizes = np.repeat([50, 100, 200, 400, 800], 3)
    >>> scores = 0.95 - 0.8 * sizes ** -0.5 + np.tile([-0.005, 0.0, 0.005], 5)
    >>> curve = PowerLawRegressor(model="pow3").fit(sizes[:, None], scores)
    >>> round(float(curve.asymptote_), 3)
    0.95
    >>> float(np.round(curve.predict([[3200]]), 3)[0])
    0.936
    >>> int(round(curve.inverse_predict([0.93])[0], -1))
    1600
    """

    _parameter_constraints = {
        "model": [StrOptions({"auto", *MODELS})],
        "weighting": [StrOptions({"auto", "inverse_variance", "uniform"})],
        "confidence": [Interval(Real, 0, 1, closed="neither")],
        "greater_is_better": ["boolean"],
        "score_bounds": [tuple, list],
    }

    def __init__(
        self,
        model="auto",
        *,
        weighting="auto",
        confidence=0.95,
        greater_is_better=True,
        score_bounds=(0.0, 1.0),
    ):
        self.model = model
        self.weighting = weighting
        self.confidence = confidence
        self.greater_is_better = greater_is_better
        self.score_bounds = score_bounds

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = True  # X holds training-set sizes
        return tags

    @classmethod
    def from_learning_curve(cls, train_sizes, test_scores, **params):
        """Fit on the output of :func:`sklearn.model_selection.learning_curve`.

        Parameters
        ----------
        train_sizes : array-like of shape (n_sizes,)
            ``train_sizes_abs``, the first value
            :func:`~sklearn.model_selection.learning_curve` returns.
        test_scores : array-like of shape (n_sizes, n_folds)
            The scores, one column per fold.
        **params
            Parameters of the regressor.

        Returns
        -------
        regressor : PowerLawRegressor
            Fitted on every (size, fold score) pair.
        """
        test_scores = np.asarray(test_scores, dtype=float)
        sizes = np.repeat(np.asarray(train_sizes, dtype=float), test_scores.shape[1])
        return cls(**params).fit(sizes[:, np.newaxis], test_scores.ravel())

    # ------------------------------------------------------------ spaces

    def _sign(self):
        # Curves are fitted to t = sign * y, which falls as the size grows.
        return -1.0 if self.greater_is_better else 1.0

    def _asymptote_bounds(self):
        low, high = self.score_bounds
        low = -np.inf if low is None else float(low)
        high = np.inf if high is None else float(high)
        if self.greater_is_better:
            return -high, -low
        return low, high

    # ------------------------------------------------------------ fit

    def _check_sizes_and_scores(self, X, y, sample_weight):
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=True)
        if X.shape[1] != 1:
            raise ValueError(
                f"X must be one column of training-set sizes, shape (n, 1); got {X.shape[1]} "
                "columns."
            )
        sizes = X[:, 0]
        if np.any(sizes <= 0):
            raise ValueError(f"Training-set sizes must be positive; got {sizes.min():g}.")
        if not np.all(np.isfinite(y)):
            raise ValueError("Scores y contain NaN or infinity.")
        low, high = _checked_score_bounds(self.score_bounds)
        outside = (y < low) | (y > high)
        if outside.any():
            raise ValueError(
                f"Scores y must lie within score_bounds {tuple(self.score_bounds)}; got "
                f"{y[outside][0]:g}. Give scores of the metric the bounds describe, or "
                "widen score_bounds (None for no bound)."
            )
        n_sizes = len(np.unique(sizes))
        if n_sizes < 3:
            raise ValueError(
                f"A learning curve needs at least 3 distinct training-set sizes; got {n_sizes}."
            )
        sample_weight = _check_sample_weight(sample_weight, X, ensure_non_negative=True)
        if not np.any(sample_weight > 0):
            raise ValueError("All sample weights are zero: there is no score to fit.")
        return sizes, y, sample_weight

    def _levels(self, sizes, t, sample_weight):
        """Per distinct size: scaled size, weighted mean, fitting weight, standard error.

        The standard error is None without repeats to measure it.
        """
        used = sample_weight > 0
        sizes, t, sample_weight = sizes[used], t[used], sample_weight[used]
        unique, inverse, counts = np.unique(sizes, return_inverse=True, return_counts=True)
        totals = np.bincount(inverse, weights=sample_weight)
        means = np.bincount(inverse, weights=sample_weight * t) / totals
        squares = np.bincount(inverse, weights=sample_weight * (t - means[inverse]) ** 2)
        repeated = counts >= 2
        variances = np.where(repeated, squares / totals * counts / np.maximum(counts - 1, 1), 0)
        positive = variances[repeated & (variances > 0)]
        use_variance = self.weighting == "inverse_variance" or (
            self.weighting == "auto" and repeated.mean() >= 0.5
        )
        if use_variance and len(positive):
            median = np.median(positive)
            floored = np.where(
                repeated & (variances > 0), np.maximum(variances, 0.1 * median), median
            )
            weights = counts / floored
            errors = np.sqrt(floored / counts)
        else:
            weights = totals
            errors = None
        return unique / unique[-1], means, weights, errors

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, n_test=None):
        """Fit the curves.

        Parameters
        ----------
        X : array-like of shape (n_points, 1)
            Training-set sizes; a size may repeat (one row per repeat or fold).
        y : array-like of shape (n_points,)
            The score of each (size, repeat).
        sample_weight : array-like of shape (n_points,), default=None
            Weights of the points in the per-size means.
        n_test : int, default=None
            How many held-out samples each size's mean score was measured on,
            for scores that are proportions, such as accuracy. Repeats scored
            on one shared test split do not show its noise in their spread:
            the standard error of each mean is then at least the binomial
            noise of a proportion on ``n_test`` samples,
            ``sqrt(p (1 - p) / n_test)``, so that a dip within that noise is
            not read as a fall. ``None`` trusts the spread of the repeats.

        Returns
        -------
        self : PowerLawRegressor
            The fitted regressor.
        """
        sizes, y, sample_weight = self._check_sizes_and_scores(X, y, sample_weight)
        if n_test is not None and not (isinstance(n_test, Integral) and n_test >= 1):
            raise ValueError(f"n_test must be a positive number of samples; got {n_test!r}.")
        self.n_max_ = float(sizes[sample_weight > 0].max())
        x, means, weights, errors = self._levels(sizes, self._sign() * y, sample_weight)
        c_bounds = self._asymptote_bounds()
        names = AUTO_MODELS if self.model == "auto" else (self.model,)
        # The default curve leans on what many curves know, where the repeats
        # measure the noise it is weighed against.
        prior = self.model == "auto" and errors is not None
        fits = {
            name: _fit_curve(MODEL_SPECS[name], x, means, weights, c_bounds, prior)
            for name in names
        }
        self.selection_errors_ = self._forward_errors(names, x, means, weights, c_bounds, prior)
        self._fits = fits
        self.curve_weights_ = self._curve_weights(fits)
        self.curve_params_ = {name: fits[name].params(self._sign()) for name in fits}
        self.model_ = "ensemble" if self.model == "auto" else self.model
        residual = np.sqrt(np.average((means - self._combined(x)) ** 2, weights=weights))
        self.lack_of_fit_ = float(residual)
        if errors is None:
            errors = np.full(len(x), residual)
        if n_test is not None:
            proportion = np.clip(self._sign() * means, 0.0, 1.0)
            errors = np.maximum(errors, np.sqrt(proportion * (1 - proportion) / n_test))
        self._level_x, self._level_errors = x, errors
        self.standard_error_ = float(errors[-1])
        self._anchor = float(means[-1]) if self.model == "auto" else None
        self._check_shape(x, means, errors)
        if self.selection_errors_:
            forward = np.array([self.selection_errors_.get(n, np.nan) for n in self.curve_weights_])
            shares = np.array(list(self.curve_weights_.values()))
            self.forward_error_ = float(
                np.nansum(shares * forward) / shares[~np.isnan(forward)].sum()
            )
        else:
            self.forward_error_ = self.lack_of_fit_
        self.asymptote_ = self._sign() * self._t(np.array([np.inf]))[0]
        return self

    def _forward_errors(self, names, x, means, weights, c_bounds, prior):
        """Each curve's mean error predicting the largest 1 and 2 sizes from those below."""
        errors = {}
        for name in names:
            missed = []
            for held_out in (1, 2):
                if len(x) - held_out < 3:
                    continue
                fit = _fit_curve(
                    MODEL_SPECS[name],
                    x[:-held_out],
                    means[:-held_out],
                    weights[:-held_out],
                    c_bounds,
                    prior,
                )
                missed.append(np.mean(np.abs(fit(x[-held_out:]) - means[-held_out:])))
            if missed:
                errors[name] = float(np.mean(missed))
        return errors

    def _curve_weights(self, fits):
        """One over each curve's forward error; none for a degenerate fit."""
        if len(fits) == 1:
            return {name: 1.0 for name in fits}
        usable = [name for name, fit in fits.items() if not fit.degenerate] or ["pow3"]
        prior = {name: _PRIOR_WEIGHTS.get(name, 1.0) for name in usable}
        if self.selection_errors_:
            inverse = {name: prior[name] / (self.selection_errors_[name] + 1e-4) for name in usable}
        else:
            inverse = prior
        total = sum(inverse.values())
        return {name: value / total for name, value in inverse.items()}

    def _combined(self, x):
        """The weighted curve (t, falling) at scaled sizes ``x``, not anchored."""
        return sum(w * self._fits[name](x) for name, w in self.curve_weights_.items())

    def _t(self, x):
        """The prediction in t at scaled sizes ``x``.

        With ``model="auto"``, anchored at the mean measured at the largest
        size: that mean plus the change the weighted curves predict from there
        (none beyond it for an irregular curve), kept inside ``score_bounds``
        (a mean measured near the best score plus a predicted gain could pass
        it).
        """
        x = np.asarray(x, dtype=float)
        if self._anchor is None:
            return self._combined(x)
        reach = np.minimum(x, 1.0) if self.irregularities_ else x
        with np.errstate(all="ignore"):
            anchored = self._anchor + self._combined(reach) - self._combined(np.ones(1))
        return np.clip(anchored, *self._asymptote_bounds())

    def _check_shape(self, x, means, errors):
        """Set ``irregularities_`` and ``irregular_spread_``; warn when the curve is irregular."""
        self.irregularities_ = _irregularities(x, means, errors)
        spread = 0.0
        if "falls" in self.irregularities_:
            spread = float(np.max(means - np.minimum.accumulate(means)))
        if "jump" in self.irregularities_:
            spread = float(np.max(means[:-1] - means[1:]))  # the largest step
        self.irregular_spread_ = spread / 2
        if self.irregularities_:
            described = {
                "flat": "flat at the sizes seen (no rise beyond the noise of the repeats)",
                "falls": "falling: a larger size scored worse than a smaller one",
                "jump": "jumping: one step between sizes carries most of the rise",
            }
            warnings.warn(
                "The learning curve is "
                + "; and ".join(described[name] for name in self.irregularities_)
                + ". Its extrapolation is unreliable: "
                + ("no further gain is predicted and " if self.model == "auto" else "")
                + "the intervals are calibrated on such curves, wider. Measure larger "
                "sizes before trusting it.",
                LearningCurveWarning,
                stacklevel=3,
            )

    # ------------------------------------------------------------ predict

    def _scaled(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        if np.any(X[:, 0] <= 0):
            raise ValueError("Training-set sizes must be positive.")
        return X[:, 0] / self.n_max_

    def predict(self, X):
        """Return the score the curve gives at each training-set size.

        Parameters
        ----------
        X : array-like of shape (n_points, 1)
            Training-set sizes.

        Returns
        -------
        y : ndarray of shape (n_points,)
            Predicted scores.
        """
        return self._sign() * self._t(self._scaled(X))

    def _band_parts(self, x):
        """The prediction at scaled sizes ``x`` and how far the measured score may stray.

        Returns ``(prediction, gain, full, narrow)`` in t. Within the sizes
        seen, both scales are the standard error of the mean there and how far
        the measured means stray from the curve (``lack_of_fit_``). Beyond,
        both add the forward error times the number of doublings past the
        largest size; the ``full`` scale also the ``gain`` predicted past it,
        the room left to the best valid score times 0.05 per doubling, and half
        the fall or jump of an irregular curve. The calibration turns them
        into the ends of an interval (:func:`band_ends`).
        """
        x = np.atleast_1d(np.asarray(x, dtype=float))
        with np.errstate(divide="ignore"):
            log_x = np.log(np.maximum(x, 1e-300))
        error = np.interp(log_x, np.log(self._level_x), self._level_errors)
        doublings = np.log2(np.maximum(x, 1.0))
        prediction = self._t(x)
        with np.errstate(invalid="ignore"):
            gain = np.abs(self._t(np.maximum(x, 1.0)) - self._t(np.ones(1)))  # beyond only
        gain = np.nan_to_num(gain, nan=np.inf)
        best = self._asymptote_bounds()[0]
        room = np.abs(prediction - best) if np.isfinite(best) else 0.0
        narrow_squared = error**2 + self.lack_of_fit_**2 + (self.forward_error_ * doublings) ** 2
        full = np.sqrt(
            narrow_squared
            + gain**2
            + (_ROOM_PER_DOUBLING * room * doublings) ** 2
            + self.irregular_spread_**2
        )
        return prediction, gain, full, np.sqrt(narrow_squared)

    def predict_interval(self, X, confidence=None):
        """Return the interval in which the score measured at each size should fall.

        A prediction interval for the mean score a learning curve would measure
        at that size (on held-out data like that of the fit), each end a
        calibrated multiple of a scale away from the prediction, clipped to
        ``score_bounds``. The scale grows beyond the sizes seen with the
        curves' forward error; the better end's also with the gain predicted
        there, the room left to the best score and the irregularity of the
        curve. The worse end of a regular curve counts on a quarter of the
        predicted gain, and never worsens as the size grows (the expected
        score of a learner does not drop with more data), unless the curve
        falls or jumps. The multiples are conformal quantiles, each end on its
        own, from the learning curves of LCDB 1.0 with an even OpenML id
        (regular and irregular curves apart); in
        ``benchmarks/bench_extrapolation.py --lcdb`` the 95% intervals cover
        the measured mean at the largest size about 95% of the time at both
        cuts, the truth falling below and above about equally often.

        Parameters
        ----------
        X : array-like of shape (n_points, 1)
            Training-set sizes.
        confidence : float, default=None
            Coverage of the interval; ``None`` uses ``self.confidence``.

        Returns
        -------
        lower, upper : ndarray of shape (n_points,)
            Bounds of the interval.
        """
        confidence = _checked_confidence(self.confidence if confidence is None else confidence)
        better, worse = (self._sign() * t for t in self._band(self._scaled(X), confidence))
        return np.minimum(better, worse), np.maximum(better, worse)

    def _band(self, x, confidence):
        """The interval in t: (better, worse) ends, t falling as the score improves.

        Beyond the sizes seen, the worse end of a regular curve never worsens
        with the size: the expected score of a learner does not drop with more
        data, so the score at ``x`` is at least the score at any size between
        the largest seen and ``x``, and so is the bound. A curve that is flat,
        falls or jumps gives no such assurance (on LCDB, flat curves hold
        learners whose score later drops): its band keeps widening.
        """
        better, worse = self._raw_band(x, confidence)
        beyond = x > 1
        if not np.any(beyond) or self.irregularities_:
            return better, worse
        # The worse end's running best from the largest size seen, each size's
        # own value included, so the envelope is exact at each of them.
        grid, values = self._worse_end_samples(x[beyond].max(), confidence)
        running = np.minimum.accumulate(values)
        envelope = running[np.searchsorted(grid, x[beyond], side="right") - 1]
        worse = worse.copy()
        worse[beyond] = np.minimum(worse[beyond], envelope)
        return better, worse

    def _worse_end_samples(self, reach, confidence):
        """The raw worse end from scaled size 1 to ``reach`` and a step beyond: (sizes, values).

        On a grid that depends on nothing but the step, with the bottom of each
        dip between grid points refined to the size where it lies, so that the
        running best at a size is the same in any batch and never above the
        worse end at a size asked before it.
        """
        step = np.log(2) / _ENVELOPE_STEPS
        log_grid = step * np.arange(int(np.ceil(np.log(reach) / step)) + 2)
        values = self._raw_band(np.exp(log_grid), confidence)[1]
        dips = 1 + np.flatnonzero((values[1:-1] < values[:-2]) & (values[1:-1] <= values[2:]))

        def worse(log_x):
            return self._raw_band(np.exp(np.atleast_1d(log_x)), confidence)[1][0]

        bottoms = [
            minimize_scalar(
                worse,
                bounds=(log_grid[i - 1], log_grid[i + 1]),
                method="bounded",
                options={"xatol": 1e-12},
            )
            for i in dips
        ]
        log_x = np.r_[log_grid, [bottom.x for bottom in bottoms]]
        values = np.r_[values, [bottom.fun for bottom in bottoms]]
        order = np.argsort(log_x, kind="stable")
        return np.exp(log_x[order]), values[order]

    def _raw_band(self, x, confidence):
        """The band's (better, worse) ends in t, without the envelope."""
        group = "irregular" if self.irregularities_ else "regular"
        return band_ends(
            self._band_parts(x),
            _calibrated_quantile(confidence, group, "better"),
            _calibrated_quantile(confidence, group, "worse"),
            regular=not self.irregularities_,
            bounds=self._asymptote_bounds(),
        )

    def inverse_predict(self, scores, confidence=None):
        """Return the smallest training-set size at which the curve reaches each score.

        Without ``confidence``, the inverse of :meth:`predict`: where the
        curve strictly rises, ``inverse_predict(predict(n))`` gives ``n`` back
        (to a relative 1e-6 or better); a score the curve reaches on a plateau
        (a flat stretch, or beyond the sizes seen of an irregular curve) gets
        the first size of the plateau.

        Parameters
        ----------
        scores : array-like of shape (n_scores,)
            Target scores.
        confidence : float, default=None
            With a value, the smallest size at which the pessimistic side of
            the :meth:`predict_interval` band at that confidence reaches the
            score: the size at which the score is reached with that
            confidence.

        Returns
        -------
        sizes : ndarray of shape (n_scores,)
            The sizes, at least one sample; ``inf`` where the curve (with
            ``confidence``, the band's pessimistic side) stays short of the
            score up to 1e12 times the largest size seen.
        """
        check_is_fitted(self)
        scores = self._check_targets(scores)
        if confidence is not None:
            confidence = _checked_confidence(confidence)
        # From one sample to 1e12 times the largest size: the first grid point
        # at which the target is reached, refined between it and the one before.
        log_x = np.linspace(-np.log(self.n_max_), np.log(1e12), 600)

        def reach(x):
            return self._to_reach(x, confidence)

        values = reach(np.exp(log_x))
        sizes = [self._first_reached(t, log_x, values, reach) for t in self._sign() * scores]
        return np.array(sizes, dtype=float) * self.n_max_

    def _check_targets(self, scores):
        scores = np.atleast_1d(np.asarray(scores, dtype=float))
        if not np.all(np.isfinite(scores)):
            raise ValueError(
                f"Target scores must be finite numbers; got {scores.tolist()}. Give the "
                "score to reach, such as 0.9 for 90% accuracy."
            )
        return scores

    def inverse_predict_interval(self, scores, confidence=0.8):
        """Return the range of training-set sizes within which each score is first reached.

        The low end is the first size at which the better end of a band
        reaches the score, the high end the first size at which its worse end
        does: the prediction with the scales of :meth:`predict_interval`,
        their multiples calibrated for this range rather than for the score
        (each end on its own), so that the size at which the score is really
        first reached lies below the range in ``(1 - confidence) / 2`` of real
        learning curves (image curves and LCDB's) and above it as often (the
        user guide's methods page has the curves and the rates measured).

        Parameters
        ----------
        scores : array-like of shape (n_scores,)
            Target scores.
        confidence : float, default=0.8
            How often the range should hold the size at which the score is
            first reached.

        Returns
        -------
        low, high : ndarray of shape (n_scores,)
            The ends of each range, at least one sample. ``high`` is ``inf``
            where the worse end of the band stays short of the score within
            16 times the largest size seen (the measurements cannot bound the
            size above; no calibration reaches further), ``low`` where even
            the better end never reaches it.
        """
        check_is_fitted(self)
        scores = self._check_targets(scores)
        confidence = _checked_confidence(confidence)
        log_x = np.linspace(-np.log(self.n_max_), np.log(1e12), 600)
        ends = []
        for end in (0, 1):

            def reach(x, end=end):
                return self._range_ends(x, confidence)[end]

            values = reach(np.exp(log_x))
            ends.append(
                np.array(
                    [self._first_reached(t, log_x, values, reach) for t in self._sign() * scores]
                )
            )
        low, high = ends
        high = np.where(high > _BOUNDED_HORIZON, np.inf, high)
        return low * self.n_max_, np.maximum(high, low) * self.n_max_

    def _range_ends(self, x, confidence):
        """The (better, worse) ends in t of the band whose crossings bound the range.

        The better end a calibrated multiple of the full scale of
        :meth:`_band_parts` before the prediction (the gain may be larger than
        predicted), the worse end a multiple of the narrow scale behind it
        (the noise of the means, their wobble and the forward error), so that
        the high end is bounded where the predicted curve passes the target
        clearly.
        """
        group = "irregular" if self.irregularities_ else "regular"
        prediction, _, full, narrow = self._band_parts(x)
        q_better, q_worse = (_range_quantile(confidence, group, end) for end in ("better", "worse"))
        better, worse = prediction - q_better * full, prediction + q_worse * narrow
        bounds = self._asymptote_bounds()
        return np.clip(better, *bounds), np.clip(worse, *bounds)

    def _to_reach(self, x, confidence):
        """What must reach the target, in t, at scaled sizes ``x``.

        The curve; with ``confidence``, the worse end of its band.
        """
        if confidence is None:
            with np.errstate(all="ignore"):
                return self._t(x)
        return self._band(x, confidence)[1]

    def _first_reached(self, target, log_x, values, reach):
        """The first scaled size at which ``reach`` (in t) meets ``target``; ``inf`` if none.

        ``values`` are ``reach`` on the grid ``log_x``: the first grid point
        that meets the target is refined between it and the one before.
        """
        # A target met to rounding counts as met (a plateau at the target).
        short = target + 1e-12 * max(1.0, abs(target))
        first = np.flatnonzero(values <= short)
        if len(first) == 0:
            return np.inf
        if first[0] == 0:
            return np.exp(log_x[0])
        root = brentq(
            lambda v: reach(np.exp(np.atleast_1d(v)))[0] - short,
            log_x[first[0] - 1],
            log_x[first[0]],
            xtol=1e-13,
            rtol=1e-14,
        )
        return np.exp(root)

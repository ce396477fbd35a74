"""Displays in scikit-learn's style: ``from_estimator`` builds one, ``plot`` draws it.

matplotlib is imported only when a display is drawn.
"""

import numpy as np
from sklearn.utils._optional_dependencies import check_matplotlib_support
from sklearn.utils._plotting import _validate_score_name, _validate_style_kwargs
from sklearn.utils.validation import check_is_fitted


def _scoring_name(estimator):
    """The ``scoring`` of a learning curve, where it has a name (a string or a function)."""
    scoring = estimator.scoring
    return scoring if isinstance(scoring, str) or hasattr(scoring, "__name__") else None


def _axes(ax):
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots()
    return ax


def _labels(name, n_repeats):
    """The legend's words for one estimator's artists, prefixed by its name if any."""
    words = {
        "observed": f"observed (mean ± sd of {n_repeats})",
        "curve": "learning curve",
        "band": "interval",
        "refit": "refit, held out",
        "needed": "estimate: {:,.0f}",
        "range": "80% range: {}",
        "reached": "reached at {:,.0f} (measured)",
    }
    if name is None:
        return {key: text[0].upper() + text[1:] for key, text in words.items()}
    return {key: f"{name}: {text}" for key, text in words.items()}


class LearningCurveExtrapolationDisplay:
    """Learning curve with its extrapolation: how the score grows with the data.

    Draws the score of every fit at each size (mean and standard deviation),
    the fitted curve, continued to ``max_samples`` with its interval band, the
    refitted estimator's score on the held-out split, and, given a
    ``target``, the target score, the size at which the curve reaches it (the
    estimate), the 80% range of that size (a bar along the target, open to
    the right where the range has no high end) and the first measured size
    whose mean reaches it: the answers ``sklearn-vision sample-size`` prints.

    Build it with :meth:`from_estimator`; attributes are set by :meth:`plot`.

    Parameters
    ----------
    train_sizes : ndarray of shape (n_sizes,)
        Sizes the estimator was fitted at.
    scores : ndarray of shape (n_sizes, n_repeats)
        Score of each fit.
    curve_sizes : ndarray of shape (n_points,)
        Sizes at which the curve is drawn.
    curve_scores : ndarray of shape (n_points,)
        The curve at ``curve_sizes``.
    curve_lower, curve_upper : ndarray of shape (n_points,) or None
        Interval band of the curve.
    n_train : int, default=None
        Samples used by the refit; with ``test_score``, the held-out point.
    test_score : float, default=None
        Score of the refitted estimator on the held-out split.
    target : float, default=None
        Target score.
    samples_needed : float, default=None
        Size at which the curve reaches ``target`` (inf when it does not).
    samples_needed_range : (float, float), default=None
        The range of that size (``samples_needed_interval``); a high end of
        inf draws the bar to the right edge.
    score_name : str, default="Score"
        Label of the y axis.
    name : str, default=None
        What the curve is of (a backbone, a model), in the legend: draw
        several estimators on one ``ax``, each with its name, to compare them.

    Attributes
    ----------
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure
    scores_line_ : the ErrorbarContainer of the observed scores
    curve_line_ : Line2D of the fitted curve
    band_ : PolyCollection of the interval, or None
    test_point_ : Line2D of the held-out point, or None
    target_line_ : Line2D of the target score, or None
    needed_line_ : Line2D at the size needed, or None (also when it is inf)
    range_line_ : Line2D of the range along the target, or None
    reached_point_ : Line2D at the first measured mean that reaches the
        target, or None

    Examples
    --------
    Two estimators compared on one axes, each in its own colour:

    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.naive_bayes import GaussianNB
    >>> from sklearn_vision import LearningCurveEstimator, LearningCurveExtrapolationDisplay
    >>> X, y = load_digits(return_X_y=True)
    >>> ax = None
    >>> for name, model in [("logistic", LogisticRegression(max_iter=500)),
    ...                     ("naive Bayes", GaussianNB())]:
    ...     lce = LearningCurveEstimator(model, train_sizes=[50, 100, 200, 400],
    ...                                  n_repeats=3, random_state=0).fit(X / 16, y)
    ...     ax = LearningCurveExtrapolationDisplay.from_estimator(
    ...         lce, name=name, target=0.95, ax=ax).ax_
    >>> labels = [text.get_text() for text in ax.get_legend().get_texts()]
    >>> [label for label in labels if label.endswith("learning curve")]
    ['logistic: learning curve', 'naive Bayes: learning curve']
    >>> labels.count("Target 0.95")
    1
    """

    def __init__(
        self,
        *,
        train_sizes,
        scores,
        curve_sizes,
        curve_scores,
        curve_lower=None,
        curve_upper=None,
        n_train=None,
        test_score=None,
        target=None,
        samples_needed=None,
        samples_needed_range=None,
        score_name="Score",
        name=None,
    ):
        self.train_sizes = train_sizes
        self.scores = scores
        self.curve_sizes = curve_sizes
        self.curve_scores = curve_scores
        self.curve_lower = curve_lower
        self.curve_upper = curve_upper
        self.n_train = n_train
        self.test_score = test_score
        self.target = target
        self.samples_needed = samples_needed
        self.samples_needed_range = samples_needed_range
        self.score_name = score_name
        self.name = name

    @classmethod
    def from_estimator(
        cls,
        estimator,
        *,
        target=None,
        max_samples=None,
        confidence=0.95,
        ax=None,
        log_x=True,
        score_name=None,
        name=None,
        errorbar_kw=None,
        line_kw=None,
        fill_between_kw=None,
    ):
        """Draw a fitted :class:`LearningCurveEstimator`.

        Parameters
        ----------
        estimator : LearningCurveEstimator
            Fitted.
        target : float, default=None
            Draw this target score and the size the curve needs to reach it.
        max_samples : int, default=None
            Extrapolate up to this size; by default four times the training
            data, or past the size needed for ``target``.
        confidence : float or None, default=0.95
            Coverage of the band; None draws no band.
        ax : matplotlib Axes, default=None
            Where to draw; a new figure by default.
        log_x : bool, default=True
            Logarithmic size axis.
        score_name : str, default=None
            Label of the y axis; by default ``estimator.scoring`` in words
            (``"neg_log_loss"`` reads "Negative log loss").
        name : str, default=None
            The estimator's name in the legend. To compare several, draw each
            on the same ``ax`` with its own name: each gets its own colour.
        errorbar_kw, line_kw, fill_between_kw : dict, default=None
            Passed to :meth:`plot`.

        Returns
        -------
        display : LearningCurveExtrapolationDisplay

        Examples
        --------
        >>> from sklearn.datasets import load_digits
        >>> from sklearn.naive_bayes import GaussianNB
        >>> from sklearn_vision import LearningCurveEstimator, LearningCurveExtrapolationDisplay
        >>> X, y = load_digits(return_X_y=True)
        >>> lce = LearningCurveEstimator(GaussianNB(), train_sizes=[50, 100, 200, 400]).fit(X, y)
        >>> display = LearningCurveExtrapolationDisplay.from_estimator(lce, target=0.9)
        >>> display.target_line_.get_label()
        'Target 0.9'
        """
        display = cls._of_fitted(estimator, target, max_samples, confidence, score_name, name)
        style = dict(errorbar_kw=errorbar_kw, line_kw=line_kw, fill_between_kw=fill_between_kw)
        return display.plot(ax=ax, log_x=log_x, **style)

    @classmethod
    def _of_fitted(cls, estimator, target, max_samples, confidence, score_name, name):
        """The display of a fitted learning curve, its curve drawn up to ``max_samples``."""
        check_matplotlib_support(f"{cls.__name__}.from_estimator")
        check_is_fitted(estimator, "curve_")
        needed = span = None
        if target is not None:
            needed = float(estimator.samples_needed(target)[0])
            if hasattr(estimator, "samples_needed_interval"):
                span = tuple(float(end[0]) for end in estimator.samples_needed_interval(target))
        if max_samples is None:
            max_samples = 4 * estimator.n_train_
            if needed is not None and np.isfinite(needed):
                max_samples = max(max_samples, 1.5 * needed)
        low = max(1.0, estimator.train_sizes_[0] / 2)
        sizes = np.geomspace(low, max_samples, 200)
        lower = upper = None
        if confidence is not None and hasattr(estimator.curve_, "predict_interval"):
            lower, upper = estimator.score_interval(sizes, confidence=confidence)
        return cls(
            train_sizes=estimator.train_sizes_,
            scores=estimator.scores_,
            curve_sizes=sizes,
            curve_scores=estimator.predict_score(sizes),
            curve_lower=lower,
            curve_upper=upper,
            n_train=estimator.n_train_ if hasattr(estimator, "test_score_") else None,
            test_score=getattr(estimator, "test_score_", None),
            target=target,
            samples_needed=needed,
            samples_needed_range=span,
            score_name=_validate_score_name(score_name, _scoring_name(estimator), False),
            name=name,
        )

    def plot(self, ax=None, *, log_x=True, errorbar_kw=None, line_kw=None, fill_between_kw=None):
        """Draw the display.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Where to draw; a new figure by default.
        log_x : bool, default=True
            Logarithmic size axis.
        errorbar_kw : dict, default=None
            Keyword arguments of ``ax.errorbar`` for the observed scores.
        line_kw : dict, default=None
            Keyword arguments of ``ax.plot`` for the fitted curve.
        fill_between_kw : dict, default=None
            Keyword arguments of ``ax.fill_between`` for the interval band.

        Returns
        -------
        display : LearningCurveExtrapolationDisplay
            With the drawn artists as attributes.
        """
        check_matplotlib_support(f"{type(self).__name__}.plot")
        ax = _axes(ax)
        scores = np.asarray(self.scores, dtype=float)
        labels = _labels(self.name, scores.shape[1])
        self.scores_line_ = self._scores_line(ax, scores, labels["observed"], errorbar_kw)
        # One colour per estimator: its points', for its curve and band too.
        color = self.scores_line_.lines[0].get_color()
        line_kw = _validate_style_kwargs({"color": color, "label": labels["curve"]}, line_kw or {})
        (self.curve_line_,) = ax.plot(self.curve_sizes, self.curve_scores, **line_kw)
        self.band_ = self._band(ax, labels["band"], fill_between_kw)
        self.test_point_ = self._test_point(ax, labels["refit"])
        self.target_line_, self.needed_line_ = self._target_lines(ax, labels["needed"])
        self.range_line_ = self._range_line(ax, labels["range"])
        self.reached_point_ = self._reached_point(ax, scores, labels["reached"])
        if log_x:
            ax.set_xscale("log")
        ax.set_xlabel("Training samples")
        ax.set_ylabel(self.score_name)
        ax.legend(loc="best")
        self.ax_, self.figure_ = ax, ax.figure
        return self

    def _scores_line(self, ax, scores, label, errorbar_kw):
        """The error bars of the observed scores: mean and standard deviation at each size."""
        errorbar_kw = _validate_style_kwargs(
            {"fmt": "o", "capsize": 3, "label": label}, errorbar_kw or {}
        )
        return ax.errorbar(
            self.train_sizes,
            np.nanmean(scores, axis=1),
            yerr=np.nanstd(scores, axis=1),
            **errorbar_kw,
        )

    def _band(self, ax, label, fill_between_kw):
        """The interval band, in the curve's colour; None without bounds."""
        if self.curve_lower is None:
            return None
        fill_between_kw = _validate_style_kwargs(
            {"alpha": 0.2, "color": self.curve_line_.get_color(), "label": label},
            fill_between_kw or {},
        )
        return ax.fill_between(
            self.curve_sizes, self.curve_lower, self.curve_upper, **fill_between_kw
        )

    def _test_point(self, ax, label):
        """The refitted estimator's held-out score at its size; None without one."""
        if self.test_score is None:
            return None
        (point,) = ax.plot(
            [self.n_train],
            [self.test_score],
            "D",
            color="black" if self.name is None else self.curve_line_.get_color(),
            markeredgecolor="black",
            label=label,
        )
        return point

    def _target_lines(self, ax, needed_label):
        """The target score's line and the line at the size needed; None for those not drawn."""
        if self.target is None:
            return None, None
        label = f"Target {self.target:g}"
        drawn = [line.get_label() for line in ax.get_lines()]
        target_line = ax.axhline(
            self.target,
            linestyle="--",
            color="grey",
            label=label if label not in drawn else "_" + label,  # one legend entry
        )
        if self.samples_needed is None or not np.isfinite(self.samples_needed):
            return target_line, None
        needed_line = ax.axvline(
            self.samples_needed,
            linestyle=":",
            color="grey" if self.name is None else self.curve_line_.get_color(),
            label=needed_label.format(self.samples_needed),
        )
        return target_line, needed_line


    def _range_line(self, ax, label):
        """The range of the size needed, a bar along the target; None without one."""
        if self.target is None or self.samples_needed_range is None:
            return None
        low, high = self.samples_needed_range
        if not np.isfinite(low):
            return None
        right = high if np.isfinite(high) else max(self.curve_sizes[-1], low)
        words = f"{low:,.0f} to {high:,.0f}" if np.isfinite(high) else f"at least {low:,.0f}"
        (line,) = ax.plot(
            [low, right],
            [self.target, self.target],
            linewidth=6,
            alpha=0.35,
            solid_capstyle="butt",
            color=self.curve_line_.get_color(),
            label=label.format(words),
        )
        return line

    def _reached_point(self, ax, scores, label):
        """The first measured size whose mean reaches the target; None if none does."""
        if self.target is None:
            return None
        means = np.nanmean(scores, axis=1)
        reached = np.flatnonzero(means >= self.target)
        if len(reached) == 0:
            return None
        first = reached[0]
        (point,) = ax.plot(
            [self.train_sizes[first]],
            [means[first]],
            "*",
            markersize=14,
            color=self.curve_line_.get_color(),
            markeredgecolor="black",
            label=label.format(self.train_sizes[first]),
        )
        return point


class TrainingHistoryDisplay:
    """Loss and accuracy per epoch of a two-stage fit, stage boundary marked.

    Training and validation curves side by side show over-fitting: the
    validation loss rising while the training loss falls.

    Parameters
    ----------
    history : dict
        ``{"frozen": {metric: values}, "fine_tune": {metric: values}}``, the
        ``history_`` of a :class:`TransferImageClassifier`.
    metrics : tuple of str, default=("loss", "accuracy")
        One panel per metric; ``val_`` curves are drawn when present.

    Attributes
    ----------
    axes_ : ndarray of matplotlib Axes, one per metric
    figure_ : matplotlib Figure
    lines_ : dict
        ``{metric: {"train": Line2D, "validation": Line2D or None}}``.
    boundary_lines_ : list of Line2D
        The stage boundary in each panel (empty with a single stage).
    """

    def __init__(self, *, history, metrics=("loss", "accuracy")):
        self.history = history
        self.metrics = metrics

    @classmethod
    def from_estimator(cls, estimator, *, metrics=("loss", "accuracy"), axes=None, line_kw=None):
        """Draw the training history of a fitted :class:`TransferImageClassifier`.

        Parameters
        ----------
        estimator : TransferImageClassifier
            Fitted; a pipeline or :class:`LearningCurveEstimator` ending in one
            works too.
        metrics : tuple of str, default=("loss", "accuracy")
            One panel per metric.
        axes : array of matplotlib Axes, default=None
            One per metric; a new figure by default.
        line_kw : dict, default=None
            Passed to :meth:`plot`.

        Returns
        -------
        display : TrainingHistoryDisplay
        """
        check_matplotlib_support(f"{cls.__name__}.from_estimator")
        while not hasattr(estimator, "history_"):
            if hasattr(estimator, "estimator_"):
                estimator = estimator.estimator_
            elif hasattr(estimator, "steps"):
                estimator = estimator.steps[-1][1]
            else:
                raise TypeError(
                    f"{type(estimator).__name__} has no history_: pass a fitted "
                    "TransferImageClassifier."
                )
        return cls(history=estimator.history_, metrics=metrics).plot(axes=axes, line_kw=line_kw)

    def plot(self, axes=None, *, line_kw=None):
        """Draw the display.

        Parameters
        ----------
        axes : array of matplotlib Axes, default=None
            One per metric; a new figure by default.
        line_kw : dict, default=None
            Keyword arguments of ``ax.plot`` for every training and validation curve.

        Returns
        -------
        display : TrainingHistoryDisplay
            With the drawn artists as attributes.
        """
        check_matplotlib_support(f"{type(self).__name__}.plot")
        import matplotlib.pyplot as plt

        if axes is None:
            _, axes = plt.subplots(1, len(self.metrics), figsize=(5 * len(self.metrics), 4))
        axes = np.atleast_1d(axes)
        stages = [self.history.get("frozen", {}), self.history.get("fine_tune", {})]
        n_frozen = len(stages[0].get("loss", []))
        self.lines_, self.boundary_lines_ = {}, []
        for ax, metric in zip(axes, self.metrics, strict=True):
            lines = {}
            for kind, key in (("train", metric), ("validation", f"val_{metric}")):
                values = [v for stage in stages for v in stage.get(key, [])]
                lines[kind] = None
                if values:
                    epochs = np.arange(1, len(values) + 1)
                    style = _validate_style_kwargs(
                        {"marker": ".", "label": kind.capitalize()}, line_kw or {}
                    )
                    (lines[kind],) = ax.plot(epochs, values, **style)
            self.lines_[metric] = lines
            if n_frozen and stages[1].get("loss"):
                self.boundary_lines_.append(
                    ax.axvline(
                        n_frozen + 0.5, color="grey", linestyle="--", label="Fine-tuning starts"
                    )
                )
            ax.set_xlabel("Epoch")
            ax.set_ylabel(metric.replace("_", " ").capitalize())
            ax.legend()
        self.axes_, self.figure_ = axes, axes[0].figure
        return self

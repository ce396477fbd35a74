"""LearningCurveEstimator: how many images do we need?

Fits an estimator on class-balanced random subsamples of growing size, scores
each fit on held-out data, fits a learning curve through the scores and reads
off the score at larger sizes, or the size at which a target score is reached.
"""

import copy
import math
import os
import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, MetaEstimatorMixin, _fit_context, clone, is_classifier
from sklearn.exceptions import NotFittedError
from sklearn.metrics import check_scoring
from sklearn.model_selection import check_cv
from sklearn.utils import (
    ClassifierTags,
    _safe_indexing,
    check_random_state,
    get_tags,
    indexable,
)
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.metadata_routing import (
    MetadataRouter,
    MethodMapping,
    _routing_enabled,
    process_routing,
)
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    _check_method_params,
    _estimator_has,
    check_is_fitted,
    column_or_1d,
    has_fit_parameter,
)

from ._power_law import LearningCurveWarning, PowerLawRegressor
from ._split import _subsample, absolute_train_sizes, check_groups, learning_curve_splits
from ._validation import _chance_score, _FitInputs, refit_job, run_fits, warn_failures

# What next_round_size collects up to, as multiples of the largest size
# measured: at least 1.25 times (a round that adds little tells little), at
# most 3 times (see its docstring for how the rule was chosen).
_ROUND_GROWTH = (1.25, 3.0)

# Scorers that are a proportion of the held-out samples (or a mean of such
# proportions): their noise on n samples is at most binomial.
_PROPORTIONS = ("accuracy", "balanced_accuracy")


def _is_classifier(estimator):
    """``is_classifier``, also for estimators that only set ``_estimator_type``.

    SciKeras's ``KerasClassifier`` declares itself a classifier the way
    scikit-learn did before 1.6, which scikit-learn 1.9 no longer reads.
    """
    return is_classifier(estimator) or getattr(estimator, "_estimator_type", None) == "classifier"


class LearningCurveEstimator(MetaEstimatorMixin, BaseEstimator):
    """Learning curve of an estimator, extrapolated: how many samples are needed.

    For each training-set size, ``n_repeats`` random subsamples of the training
    data are drawn, a clone of ``estimator`` is fitted on each and scored on
    held-out data. A learning curve (by default a :class:`PowerLawRegressor`) is
    fitted through all the (size, score) pairs, to extrapolate the score at
    larger sizes and to invert it: the size at which a target score is reached.

    Parameters
    ----------
    estimator : estimator object
        Any scikit-learn estimator or pipeline (imbalanced-learn pipelines and
        SciKeras models included), or a :class:`TransferImageClassifier`.
    train_sizes : array-like of float or int, default=(0.05, 0.1, 0.25, 0.5)
        Training-set sizes: floats in (0, 1] are fractions of the training
        data (after the test split), ints are numbers of samples. Sizes that
        coincide after rounding are merged, with a warning. With ``groups``,
        sizes still count samples, drawn by whole groups: groups are taken in
        random order while their classes need samples, and the last group
        taken for a class gives only the part of its samples that makes the
        size exact (on the training side, so no group crosses to the test).
    n_repeats : int, default=5
        Subsamples drawn (and fits run) at each size: per split with ``cv``;
        one per fold when every sample is scored (see ``cv``).
    sampling : {"balanced", "stratified", "random"}, default="balanced"
        How subsamples are drawn. ``"balanced"``: equal counts per class as far
        as the data allow (a class with fewer samples than its share gives all
        of them, and the others make up the difference, so the size is always
        exact); ``"stratified"``: the class proportions of the training data;
        ``"random"``: uniformly, without replacement (also for regressors).
    test_size : float or int, default=0.1
        The held-out split (stratified for classifiers) on which every fit is
        scored, as a fraction or a number of samples, on data large enough
        for it (see ``cv``). Ignored when ``cv`` is set.
        With ``groups``, the split holds whole groups: one fold of a
        :class:`~sklearn.model_selection.StratifiedGroupKFold` (a
        :class:`~sklearn.model_selection.GroupKFold` for regressors) of
        ``round(1 / test_size)`` folds, so about that fraction of the samples.
    cv : int, cross-validation generator or iterable, default=None
        None: on a small data set, every sample is scored at every size, with
        the same number of fits: when one test split of ``test_size`` would
        hold fewer than 100 samples, or fewer than 20 of some class, and
        ``n_repeats >= 3``, the data are cut into ``n_repeats`` shuffled folds
        (stratified for classifiers, whole groups with ``groups``, fewer folds
        with fewer groups) and the repeats of each size are each trained on a
        subsample of one fold's training part and scored on that fold. So the
        mean at a size averages over every sample, and the spread of the
        repeats holds the noise of the held-out samples, which one shared
        test split of 25 images would hide (one image is then 0.04 of
        accuracy). On larger data, one test split of ``test_size``, shared by
        every fit.
        Otherwise, use these folds instead: at each size, ``n_repeats``
        subsamples are drawn from the training part of every fold, so
        ``scores_`` has ``n_folds * n_repeats`` columns. Fractional sizes are
        fractions of the smallest training part. With ``groups``, an int means
        a :class:`~sklearn.model_selection.StratifiedGroupKFold` (a
        :class:`~sklearn.model_selection.GroupKFold` for regressors), a
        splitter receives the groups, and folds that put a group on both
        sides are refused.
    scoring : str or callable, default="accuracy"
        A scikit-learn scorer (greater is better, as always in scikit-learn).
    curve : regressor, default=None
        Fitted on the (size, score) pairs, X of shape ``(n, 1)``; needs
        ``predict``, and for intervals and :meth:`samples_needed`
        ``predict_interval`` and ``inverse_predict``. ``None`` uses
        ``PowerLawRegressor()``, with the scores
        bounded to [0, 1] when they all lie there and unbounded otherwise.
    refit : bool, default=True
        Also fit ``estimator`` on all the training data, as ``estimator_``,
        scored on the test split as ``test_score_``. ``predict``,
        ``predict_proba``, ``decision_function`` and ``score`` delegate to it.
        Where the largest size is all the training data (``cv=None``), the
        first repeat's fit there is that estimator, kept rather than fitted a
        second time (unless it was fitted in a batch or read from ``memory``).
    n_jobs : int, default=None
        Fits run in parallel through joblib; :class:`joblib.parallel_config`
        chooses the backend (``"dask"`` for a cluster). The feature cache of
        :class:`TransferImageClassifier` is per process: with processes, each
        worker computes the features of the images it sees once.
    random_state : int, RandomState instance or None, default=None
        Seeds the test split and the subsamples. An
        ``estimator`` with a ``random_state`` parameter left at None gets a
        different seed for each fit.
    verbose : int, default=0
        With a value above 0, a progress bar on stderr: fits done, the current
        size and repeat, time elapsed and left.
    memory : str, path or joblib.Memory, default=None
        A folder (or a :class:`joblib.Memory`, whose folder is used) where
        each finished fit's score and time are kept: a run interrupted
        (Ctrl-C, a lost machine) and started again with the same data and
        settings reuses the fits already done and runs only the others. Each
        fit is one small JSON file in the subfolder ``sklearn-vision-fits``,
        plain data that is read without running code; a file that is not
        such a record is ignored and the fit run again, and a fit that failed
        is not kept, so the next run tries it again. Fits are identified by
        a digest of the estimator's parameters (its seed included), the rows
        of their subsample and test split, the scoring and ``X``, ``y`` and
        the metadata (for file paths, the paths: a file changed under the same
        name is not noticed). None keeps nothing.
    error_score : "raise" or float, default=np.nan
        What a fit that raises an error scores, as in
        :func:`sklearn.model_selection.cross_validate`: with a number, the
        failure is recorded in ``scores_`` with that value, a
        :class:`~sklearn.exceptions.FitFailedWarning` names each failed fit
        (size, repeat and error), and the curve is fitted on the fits that
        ran; ``"raise"`` stops at the first failure. When every fit fails, the
        first one's own error is raised (the data or the estimator is at
        fault, not a subsample); fewer than three sizes left with a fit that
        ran is an error too.

    Attributes
    ----------
    train_sizes_ : ndarray of shape (n_sizes,)
        The sizes used, in samples.
    scores_ : ndarray of shape (n_sizes, n_repeats) or (n_sizes, n_folds * n_repeats)
        The held-out score of each fit.
    fit_times_ : ndarray of the shape of ``scores_``
        Seconds each fit took.
    n_train_ : int
        Samples available for training (the smallest training part with folds).
    n_scored_ : int
        The distinct held-out samples behind the mean score at each size:
        every sample with folds, the test split otherwise.
    test_sizes_ : ndarray of the shape of ``scores_``
        The held-out samples each fit was scored on; ``test_sizes_.sum(axis=1)``
        are the held-out predictions each size's mean averages.
    chance_score_ : float or None
        The score of a model that ignores its inputs (class priors for
        classifiers, the mean for regressors) on the first split: the level
        of a curve that has not started to learn. None when the scorer cannot
        score such a model.
    n_train_groups_ : ndarray of the shape of ``scores_``
        With ``groups``: how many groups each fit was trained on.
    curve_ : regressor
        The learning curve fitted on every (size, score) pair.
    estimator_ : estimator
        ``estimator`` fitted on all the training data (``refit=True``): the
        training part of the test split or of the first fold with
        ``cv=None``, all the data with ``cv``.
    test_score_ : float
        Score of ``estimator_`` on the test split (``refit=True``, ``cv=None``):
        a real point to compare the extrapolation with. When every sample is
        scored by folds, ``estimator_`` is fitted on the training part of the
        fold with the smallest one (``n_train_`` samples) and scored on that
        fold.
    classes_ : ndarray
        The classes, for classifiers.

    See Also
    --------
    PowerLawRegressor : The default learning curve.
    sklearn.model_selection.learning_curve : The same scores, without the
        extrapolation.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_vision import LearningCurveEstimator
    >>> X, y = load_digits(return_X_y=True)
    >>> lce = LearningCurveEstimator(
    ...     LogisticRegression(), train_sizes=[50, 100, 200, 400], n_repeats=3,
    ...     random_state=0,
    ... ).fit(X / 16, y)
    >>> lce.scores_.shape
    (4, 3)
    >>> bool(lce.predict_score(1600)[0] > lce.scores_[-1].mean())
    True
    """

    _parameter_constraints = {
        "estimator": [HasMethods(["fit"])],
        "train_sizes": ["array-like"],
        "n_repeats": [Interval(Integral, 1, None, closed="left")],
        "sampling": [StrOptions({"balanced", "stratified", "random"})],
        "test_size": [
            Interval(Real, 0, 1, closed="neither"),
            Interval(Integral, 1, None, closed="left"),
        ],
        "cv": ["cv_object", None],
        "scoring": [str, callable],
        "curve": [HasMethods(["fit", "predict"]), None],
        "refit": ["boolean"],
        "n_jobs": [
            Interval(Integral, 1, None, closed="left"),
            Interval(Integral, None, -1, closed="right"),
            None,
        ],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "memory": [None, str, os.PathLike, HasMethods(["cache"])],
        "error_score": [StrOptions({"raise"}), Real],
    }

    def __init__(
        self,
        estimator,
        *,
        train_sizes=(0.05, 0.1, 0.25, 0.5),
        n_repeats=5,
        sampling="balanced",
        test_size=0.1,
        cv=None,
        scoring="accuracy",
        curve=None,
        refit=True,
        n_jobs=None,
        random_state=None,
        verbose=0,
        memory=None,
        error_score=np.nan,
    ):
        self.estimator = estimator
        self.train_sizes = train_sizes
        self.n_repeats = n_repeats
        self.sampling = sampling
        self.test_size = test_size
        self.cv = cv
        self.scoring = scoring
        self.curve = curve
        self.refit = refit
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose
        self.memory = memory
        self.error_score = error_score

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        inner = get_tags(self.estimator)
        tags.estimator_type = inner.estimator_type
        tags.classifier_tags = inner.classifier_tags
        tags.regressor_tags = inner.regressor_tags
        tags.input_tags = inner.input_tags
        if _is_classifier(self.estimator) and tags.estimator_type != "classifier":
            tags.estimator_type = "classifier"
            tags.classifier_tags = ClassifierTags()
        return tags

    # ------------------------------------------------------------------ fit

    def _plan(self, X, y, groups, classifier, rng, split_params):
        """The splits, the split of each fit at a size, and the sizes; set ``n_train_``.

        What ``fit`` and :meth:`resolve_train_sizes` share.
        """
        splits, plan = learning_curve_splits(
            X,
            y,
            groups,
            cv=self.cv,
            test_size=self.test_size,
            n_repeats=self.n_repeats,
            classifier=classifier,
            rng=rng,
            split_params=split_params,
        )
        self.n_train_ = min(len(splits[i][0]) for i in plan)
        # The most classes a fit's training part can hold: no size may hold fewer.
        n_classes = max(len(np.unique(y[splits[i][0]])) for i in plan) if classifier else 0
        return (
            splits,
            plan,
            absolute_train_sizes(
                self.train_sizes,
                self.n_train_,
                n_classes,
                sampling=self.sampling,
                default_curve=self.curve is None,
            ),
        )

    def resolve_train_sizes(self, y, groups=None):
        """Return the training-set sizes, in samples, that ``fit`` will use on ``y``.

        The protocol is chosen and the data split as ``fit`` does (with an
        int ``random_state``, the very same splits), without fitting anything:
        for example to set up an estimator for its smallest fit.

        Parameters
        ----------
        y : array-like of shape (n_samples,)
            Targets.
        groups : array-like of shape (n_samples,), default=None
            Group labels, as for ``fit``.

        Returns
        -------
        train_sizes : ndarray of shape (n_sizes,)
            The distinct sizes, in samples, as ``train_sizes_`` will hold them.
        """
        y = column_or_1d(y)
        groups = None if groups is None else check_groups(groups, len(y))
        classifier = _is_classifier(self.estimator)
        rng = check_random_state(copy.deepcopy(self.random_state))
        planner = copy.copy(self)  # planning sets n_train_: not on an unfitted estimator
        return planner._plan(np.zeros((len(y), 1)), y, groups, classifier, rng, {"groups": groups})[
            2
        ]

    def _make_curve(self, scores):
        if self.curve is not None:
            return clone(self.curve)
        bounded = np.all((scores >= 0) & (scores <= 1))
        return PowerLawRegressor(score_bounds=(0.0, 1.0) if bounded else (None, None))

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, groups=None, **fit_params):
        """Fit the estimator on subsamples of growing size, then the learning curve.

        Parameters
        ----------
        X : array-like or list of length n_samples
            What ``estimator`` takes: a table, images, or image file paths.
        y : array-like of shape (n_samples,)
            Targets.
        groups : array-like of shape (n_samples,), default=None
            Group labels, such as the patient each image comes from: no group
            is ever on both sides of a split. The test split and the ``cv``
            folds hold whole groups, and subsamples are drawn by whole groups
            (see ``train_sizes``), so the curve is what new groups will see.
            Sizes still count samples. The groups also go to every fit of
            ``estimator`` whose ``fit`` takes ``groups`` (such as
            :class:`TransferImageClassifier`, for its early-stopping split);
            with metadata routing enabled, to those that request them
            (``set_fit_request(groups=True)``).
        **fit_params
            Passed to every ``estimator.fit``; per-sample ones (such as
            ``sample_weight``) are subsampled with the rows. With metadata
            routing enabled, routed to the estimator, the ``cv`` splitter and
            the scorer as each requests them.

        Returns
        -------
        self : LearningCurveEstimator
            The fitted meta-estimator.
        """
        X, y = indexable(X, column_or_1d(y, warn=True))
        if groups is not None:
            groups = check_groups(groups, len(y))
        fit_params, split_params, score_params = self._route(groups, fit_params)
        classifier = self._check_targets(y)
        rng = check_random_state(self.random_state)
        splits, plan, self.train_sizes_ = self._plan(X, y, groups, classifier, rng, split_params)
        self.n_scored_ = len(np.unique(np.concatenate([splits[i][1] for i in plan])))

        jobs = self._draw_jobs(y, groups, splits, plan, rng)
        seeds = rng.randint(np.iinfo(np.int32).max, size=len(jobs))
        scorer = check_scoring(self.estimator, scoring=self.scoring)
        estimators = [self._clone_estimator(seed) for seed in seeds]
        train, test = splits[plan[0]] if self.cv is None else (np.arange(len(y)), None)
        keep = refit_job(jobs, train) if self.refit and self.cv is None else None
        outcomes, kept = run_fits(
            self.estimator,
            jobs,
            estimators,
            _FitInputs(X, y, scorer, fit_params, score_params, self.error_score),
            memory=self.memory,
            scoring=self.scoring,
            n_jobs=self.n_jobs,
            verbose=self.verbose,
            n_sizes=len(self.train_sizes_),
            keep=keep,
        )
        failed = self._record_outcomes(jobs, outcomes, groups)
        self._fit_curve(failed)
        self.chance_score_ = _chance_score(classifier, y, splits[plan[0]], scorer)
        if kept is not None:
            self.estimator_, self.test_score_ = kept, float(outcomes[keep][0])
        elif self.refit:
            self._refit(X, y, train, test, seeds[-1] + 1, scorer, (fit_params, score_params))
        return self

    def _check_targets(self, y):
        """Whether the estimator is a classifier, its targets checked (and ``classes_`` set)."""
        if _is_classifier(self.estimator):
            check_classification_targets(y)
            self.classes_ = np.unique(y)
            return True
        if self.sampling != "random":
            raise ValueError(
                f"sampling={self.sampling!r} needs class labels; {type(self.estimator).__name__} "
                "is not a classifier. Use sampling='random'."
            )
        return False

    def _draw_jobs(self, y, groups, splits, plan, rng):
        """Every fit as ``(size, repeat, subsample rows, test rows)``.

        All drawn here, in order, so the result does not depend on n_jobs or on
        the joblib backend.
        """
        return [
            (
                size,
                repeat,
                splits[i][0][self._draw(y, groups, splits[i][0], size, rng)],
                splits[i][1],
            )
            for size in self.train_sizes_
            for repeat, i in enumerate(plan)
        ]

    def _record_outcomes(self, jobs, outcomes, groups):
        """Set ``scores_``, ``fit_times_``, ``test_sizes_`` (and groups); return which failed."""
        shape = (len(self.train_sizes_), len(jobs) // len(self.train_sizes_))
        self.test_sizes_ = np.array([len(test) for *_, test in jobs]).reshape(shape)
        self.scores_ = np.array([score for score, _, _ in outcomes]).reshape(shape)
        self.fit_times_ = np.array([seconds for _, seconds, _ in outcomes]).reshape(shape)
        failed = np.array([error is not None for _, _, error in outcomes]).reshape(shape)
        warn_failures(jobs, outcomes, self.error_score)
        if groups is not None:
            self.n_train_groups_ = np.array(
                [len(np.unique(groups[subsample])) for _, _, subsample, _ in jobs]
            ).reshape(shape)
        if not np.all(np.isfinite(self.scores_[~failed])):
            raise ValueError(f"Some fits scored NaN or inf: {self.scores_.tolist()}.")
        ran_sizes = np.unique(np.broadcast_to(self.train_sizes_[:, None], shape)[~failed])
        if failed.any() and len(ran_sizes) < min(3, len(self.train_sizes_)):
            first = next(error for _, _, error in outcomes if error is not None)
            raise ValueError(
                f"Fits ran at {len(ran_sizes)} size(s) only ({ran_sizes.tolist()}): "
                f"{failed.sum()} of {failed.size} fits failed, the first with "
                f"{type(first).__name__}: {first} A learning curve needs at least 3 sizes."
            )
        return failed

    def _fit_curve(self, failed):
        """Fit ``curve_`` on the (size, score) of every fit that ran."""
        scores = self.scores_[~failed]
        sizes = np.broadcast_to(self.train_sizes_[:, None], failed.shape)[~failed]
        self.curve_ = self._make_curve(scores)
        params = {}
        if self.scoring in _PROPORTIONS and has_fit_parameter(self.curve_, "n_test"):
            params["n_test"] = self.n_scored_  # the binomial noise of the held-out samples
        self.curve_.fit(sizes.astype(float)[:, np.newaxis], scores, **params)

    def _refit(self, X, y, train, test, seed, scorer, params):
        """Fit ``estimator_`` on ``train``; score it on ``test`` as ``test_score_`` (if any)."""
        fit_params, score_params = params
        self.estimator_ = self._clone_estimator(seed)
        fit_params = _check_method_params(X, params=fit_params, indices=train)
        self.estimator_.fit(_safe_indexing(X, train), y[train], **fit_params)
        if test is not None:
            score_params = _check_method_params(X, params=score_params, indices=test)
            self.test_score_ = float(
                scorer(self.estimator_, _safe_indexing(X, test), y[test], **score_params)
            )

    def _draw(self, y, groups, train, size, rng):
        train_groups = None if groups is None else groups[train]
        return _subsample(y[train], train_groups, size, self.sampling, rng)

    def _route(self, groups, fit_params):
        """The parameters of the estimator's fit, the splitter's split and the scorer."""
        if _routing_enabled():
            routed = process_routing(self, "fit", groups=groups, **fit_params)
            split = routed.splitter.split if self.cv is not None else {}
            return routed.estimator.fit, split, routed.scorer.score
        fit_params = dict(fit_params)
        if groups is not None and has_fit_parameter(self.estimator, "groups"):
            fit_params["groups"] = groups
        return fit_params, {"groups": groups}, {}

    def get_metadata_routing(self):
        """Get the metadata routing of this object: see the User Guide on metadata routing.

        Returns
        -------
        routing : MetadataRouter
            What ``fit`` takes itself (``groups``) and routes to the
            estimator, the ``cv`` splitter and the scorer.
        """
        router = MetadataRouter(owner=self).add_self_request(self)
        router.add(
            estimator=self.estimator,
            method_mapping=MethodMapping()
            .add(caller="fit", callee="fit")
            .add(caller="score", callee="score"),
        )
        if self.cv is not None:
            router.add(
                splitter=check_cv(self.cv),
                method_mapping=MethodMapping().add(caller="fit", callee="split"),
            )
        router.add(
            scorer=check_scoring(self.estimator, scoring=self.scoring),
            method_mapping=MethodMapping().add(caller="fit", callee="score"),
        )
        return router

    def _clone_estimator(self, seed):
        estimator = clone(self.estimator)
        params = estimator.get_params(deep=False)
        if "random_state" in params and params["random_state"] is None:
            estimator.set_params(random_state=int(seed))
        return estimator

    # ------------------------------------------------------------------ the curve

    def _sizes(self, n_samples):
        return np.atleast_1d(np.asarray(n_samples, dtype=float))[:, np.newaxis]

    def predict_score(self, n_samples):
        """Return the score the learning curve gives for each training-set size.

        Parameters
        ----------
        n_samples : int or array-like of int
            Training-set sizes, typically larger than any seen.

        Returns
        -------
        scores : ndarray of shape (n_sizes,)
            Extrapolated scores.
        """
        check_is_fitted(self, "curve_")
        return self.curve_.predict(self._sizes(n_samples))

    def score_interval(self, n_samples, confidence=0.95):
        """Return the interval of the extrapolated score at each size.

        Parameters
        ----------
        n_samples : int or array-like of int
            Training-set sizes.
        confidence : float, default=0.95
            Coverage of the interval.

        Returns
        -------
        lower, upper : ndarray of shape (n_sizes,)
            Interval bounds.
        """
        check_is_fitted(self, "curve_")
        return self.curve_.predict_interval(self._sizes(n_samples), confidence=confidence)

    def samples_needed(self, target, confidence=None):
        """Return the training-set size at which the score reaches ``target``.

        Parameters
        ----------
        target : float or array-like of float
            Target scores.
        confidence : float, default=None
            With a value, the size at which the pessimistic bound of the
            interval at this confidence reaches the target, instead of the
            fitted curve: a size to plan for.

        Returns
        -------
        n_samples : ndarray of shape (n_targets,)
            The smallest size at which the curve (or its bound) reaches each
            target, rounded up, at least one sample: a target reached within
            the sizes measured, or on a plateau, gets the first size at which
            the curve reaches it. ``inf`` where the curve (or its bound) stays
            below the target; and, with a
            :class:`~sklearn_vision.LearningCurveWarning`, for every target
            above chance when the curve is flat at chance level (the
            estimator has not started to learn).
        """
        check_is_fitted(self, "curve_")
        target = np.atleast_1d(np.asarray(target, dtype=float))
        sizes = np.ceil(self.curve_.inverse_predict(target, confidence=confidence))
        if self._warn_flat_at_chance():
            sizes = np.where(self._better(target - self.chance_score_) > 0, np.inf, sizes)
        return sizes

    def samples_needed_interval(self, target, confidence=0.8):
        """Return the range of training-set sizes within which each target is first reached.

        Near a plateau a small error in the predicted score moves the size a
        lot, so the answer is a range: the true first size at which the score
        reaches the target lies in it at about the rate ``confidence`` on
        held-out learning curves (image curves and LCDB's; see the user
        guide's methods page for the rates measured).

        Parameters
        ----------
        target : float or array-like of float
            Target scores.
        confidence : float, default=0.8
            How often the range should hold the true size.

        Returns
        -------
        low, high : ndarray of shape (n_targets,)
            The ends of each range, rounded up, at least one sample. ``high``
            is ``inf`` where the measurements cannot bound the size above yet
            (the pessimistic side of the curve does not reach the target
            within 16 times the largest size measured); both are ``inf`` for
            targets the curve cannot reach, and, with a
            :class:`~sklearn_vision.LearningCurveWarning`, for every target
            above chance when the curve is flat at chance level.
        """
        check_is_fitted(self, "curve_")
        target = np.atleast_1d(np.asarray(target, dtype=float))
        ends = self.curve_.inverse_predict_interval(target, confidence)
        low, high = (np.ceil(end) for end in ends)
        if self._warn_flat_at_chance():
            above = self._better(target - self.chance_score_) > 0
            low, high = np.where(above, np.inf, low), np.where(above, np.inf, high)
        return low, high

    def next_round_size(self, target):
        """Return how many training samples to measure next, for a target not yet reached.

        One pilot rarely pins the size down near a plateau; teams collect in
        rounds. The rule: up to the point answer of :meth:`samples_needed`, at
        least 1.25 and at most 3 times the largest size measured (3 times when
        the curve never reaches the target but the range's optimistic end
        does). Chosen by simulating rounds on the truth of the image learning
        curves of ``benchmarks/data`` (``python benchmarks/bench_calibration.py
        --rounds``): from pilots of 80 to 320 training images, until the mean
        measured at the largest size reaches a target the truth reaches at 4
        or 8 times the pilot, it collected 1.36 times the true need on median
        (2.5 at the 90th percentile) in 3.2 rounds, and stopped before the
        truth reached the target in 30% of the runs. The point answer taken at
        once collected 1.9 times (6.3); aiming lower, at the range's low end or
        between it and the point answer (as Mahmood et al., "How much more
        data do I need?", CVPR 2022, suggest), collected 0.8 to 0.9 times the
        need because the noisy mean of a round reached the target before the
        truth did in 55% to 63% of the runs.

        Parameters
        ----------
        target : float
            The target score.

        Returns
        -------
        n_samples : float
            Training samples to measure in the next round, rounded up;
            ``n_train_`` when a measured mean already reaches the target
            (nothing more to collect), ``inf`` when not even the optimistic
            end of the :meth:`samples_needed_interval` range reaches it.
        """
        check_is_fitted(self, "curve_")
        means = np.nanmean(self.scores_, axis=1)
        if np.any(self._better(means - target) >= 0):
            return float(self.n_train_)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", LearningCurveWarning)  # said by the answers
            low = float(self.samples_needed_interval(target)[0][0])
            point = float(self.samples_needed(target)[0])
        if math.isinf(low):
            return np.inf
        measured = float(self.train_sizes_[-1])
        low_growth, high_growth = _ROUND_GROWTH
        aim = min(max(point, low_growth * measured), high_growth * measured)
        return float(np.ceil(aim))

    def _better(self, difference):
        """``difference`` signed so that positive is better, for the curve's direction."""
        return difference if getattr(self.curve_, "greater_is_better", True) else -difference

    def _warn_flat_at_chance(self):
        """Whether the curve is flat at chance level, said with a warning."""
        if not self.flat_at_chance():
            return False
        warnings.warn(
            f"The learning curve is flat at chance level ({self.chance_score_:.3f}, the "
            "score of a model that ignores the inputs): the estimator has not started "
            "to learn at the sizes measured, so no size can be read from it. Check the "
            "labels and the model, or measure larger sizes.",
            LearningCurveWarning,
            stacklevel=3,
        )
        return True

    def flat_at_chance(self):
        """Whether the measured curve is flat at chance level.

        Flat (the curve's ``irregularities_`` hold ``"flat"``), and the mean
        score at the largest size lies within two of the curve's standard
        errors there (plus 0.01 for scores in [0, 1]) of ``chance_score_``, the
        score of a model that ignores its inputs.

        Returns
        -------
        flat : bool
            False when the chance level or the shape is unknown.
        """
        check_is_fitted(self, "curve_")
        if self.chance_score_ is None or "flat" not in getattr(self.curve_, "irregularities_", ()):
            return False
        last = np.nanmean(self.scores_[-1])
        # The curve's standard error at the largest size holds the binomial noise
        # of the held-out samples, which a shared test split hides from the spread.
        error = getattr(self.curve_, "standard_error_", np.nanstd(self.scores_[-1]))
        margin = 2 * error + (0.01 if 0 <= self.chance_score_ <= 1 else 0.0)
        return bool(self._better(last - self.chance_score_) <= margin)

    # ------------------------------------------------------------------ delegation

    @property
    def n_features_in_(self):
        """Number of features seen by ``estimator_`` during fit."""
        try:
            check_is_fitted(self, "estimator_")
        except NotFittedError as exc:
            raise AttributeError(
                f"{type(self).__name__} has no n_features_in_: it has no refitted "
                "estimator_ (not fitted, or refit=False)."
            ) from exc
        return self.estimator_.n_features_in_

    @available_if(_estimator_has("predict"))
    def predict(self, X):
        """Predict with ``estimator_``, the estimator refitted on all training data."""
        check_is_fitted(self, "estimator_")
        return self.estimator_.predict(X)

    @available_if(_estimator_has("predict_proba"))
    def predict_proba(self, X):
        """Class probabilities from ``estimator_``."""
        check_is_fitted(self, "estimator_")
        return self.estimator_.predict_proba(X)

    @available_if(_estimator_has("decision_function"))
    def decision_function(self, X):
        """Decision function of ``estimator_``."""
        check_is_fitted(self, "estimator_")
        return self.estimator_.decision_function(X)

    @available_if(_estimator_has("score"))
    def score(self, X, y, **params):
        """Score of ``estimator_`` on ``(X, y)``, by its own ``score`` method."""
        check_is_fitted(self, "estimator_")
        if _routing_enabled():
            params = process_routing(self, "score", **params).estimator.score
        return self.estimator_.score(X, y, **params)

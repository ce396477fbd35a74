"""The loops that fit and score a learning curve's subsamples.

As scikit-learn keeps ``_fit_and_score`` in ``model_selection/_validation.py``
apart from its splitters: every fit scored on its held-out rows, in parallel
through joblib, those the resume store already holds skipped.
"""

import time
import warnings
from dataclasses import dataclass

import joblib
import numpy as np
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.exceptions import FitFailedWarning
from sklearn.utils import _safe_indexing
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import _check_method_params

from ._progress import ProgressBar
from ._resume import FitRecords, _scoring_key


@dataclass(frozen=True)
class _FitInputs:
    """What every fit of one learning curve shares: the data, the scorer, their metadata.

    ``error_score`` is what a fit that raises scores, or "raise". Module-level
    and plain, so joblib pickles it to its workers with each fit (memory-mapping
    a large ``X`` as it would an argument of its own).
    """

    X: object
    y: np.ndarray
    scorer: object
    fit_params: dict
    score_params: dict
    error_score: object = "raise"


def _fit_and_score(estimator, train, test, inputs, return_estimator=False):
    """Fit a clone on ``train``, score it on ``test``; return (score, fit seconds, error).

    ``inputs`` is a :class:`_FitInputs`. ``error`` is None, or with
    ``inputs.error_score`` not "raise", the exception the fit or its scoring
    raised (the score is then ``error_score``). With ``return_estimator``, the
    fitted estimator follows (None when the fit failed).
    """
    X, y = inputs.X, inputs.y
    fit_params = _check_method_params(X, params=inputs.fit_params, indices=train)
    score_params = _check_method_params(X, params=inputs.score_params, indices=test)
    start = time.perf_counter()
    try:
        estimator.fit(_safe_indexing(X, train), y[train], **fit_params)
        fit_time = time.perf_counter() - start
        score = inputs.scorer(estimator, _safe_indexing(X, test), y[test], **score_params)
    except Exception as exc:
        if isinstance(inputs.error_score, str):  # "raise"
            raise
        outcome = (float(inputs.error_score), time.perf_counter() - start, exc)
        return (*outcome, None) if return_estimator else outcome
    outcome = (float(score), fit_time, None)
    return (*outcome, estimator) if return_estimator else outcome


def _chance_score(classifier, y, split, scorer):
    """The score of a model that ignores the inputs (class priors, or the mean) on ``split``.

    None when the scorer cannot score such a model.
    """
    train, test = split
    dummy = DummyClassifier(strategy="prior") if classifier else DummyRegressor()
    try:
        dummy.fit(np.zeros((len(train), 1)), y[train])
        return float(scorer(dummy, np.zeros((len(test), 1)), y[test]))
    except Exception:  # a scorer that needs the real inputs: no chance level to give
        return None


def refit_job(jobs, train):
    """The index of the job that trains on all of ``train``, the refit's rows; or None.

    The first repeat at the largest size, where that size is all the training
    rows: its fit is the refit, kept rather than fitted twice.
    """
    largest = max(size for size, *_ in jobs)
    for i, (size, repeat, subsample, _) in enumerate(jobs):
        if size == largest and repeat == 0 and len(subsample) == len(train):
            if np.array_equal(np.sort(subsample), np.sort(train)):
                return i
    return None


def run_fits(
    estimator, jobs, estimators, inputs, *, memory, scoring, n_jobs, verbose, n_sizes, keep=None
):
    """The (score, seconds, error) of every job, and the fitted estimator of job ``keep``.

    ``jobs`` are ``(size, repeat, subsample rows, test rows)``, ``estimators``
    the clone that fits each, ``inputs`` a :class:`_FitInputs`. Fits run
    through joblib, those the records of ``memory`` already hold skipped; each
    fit that succeeds is recorded as it finishes, so an interrupted run keeps
    what it did. The estimator of job ``keep`` (an index, or None) is returned
    where it was fitted one at a time and succeeded; otherwise None.
    """
    X, y = inputs.X, inputs.y
    fit_params, score_params = inputs.fit_params, inputs.score_params
    records = FitRecords.from_memory(memory)
    keys = [None] * len(jobs)
    if records is not None:
        data_key = joblib.hash((X, y, fit_params, score_params))
        scoring = _scoring_key(scoring)
        keys = [
            records.key(data_key, each, subsample, test, scoring)
            for (_, _, subsample, test), each in zip(jobs, estimators, strict=True)
        ]
    outcomes = [None if records is None else records.get(key) for key in keys]
    todo = [i for i, outcome in enumerate(outcomes) if outcome is None]
    results = scored_together(estimator, todo, jobs, estimators, inputs)
    if results is None:
        results = Parallel(n_jobs=n_jobs, return_as="generator")(
            delayed(_fit_and_score)(estimators[i], jobs[i][2], jobs[i][3], inputs, i == keep)
            for i in todo
        )
    # The time left weighted by the work left: a fit's cost grows with its size.
    progress = ProgressBar(
        len(todo), verbose > 0, unit="fits", work=sum(int(jobs[i][0]) for i in todo)
    )
    per_size = len(jobs) // n_sizes
    kept = None
    with progress:
        for i, outcome in zip(todo, results, strict=True):
            if i == keep and len(outcome) == 4:
                *outcome, kept = outcome
            outcomes[i] = outcome = tuple(outcome)
            if records is not None and outcome[2] is None and np.isfinite(outcome[0]):
                records.put(keys[i], *outcome[:2])
            size, repeat = jobs[i][:2]
            progress.update(detail=f"size {size}, repeat {repeat + 1}/{per_size}", work=size)
    return outcomes, kept


def scored_together(estimator, todo, jobs, estimators, inputs):
    """The outcomes of the ``todo`` fits from the estimator's ``score_subsamples``, or None.

    An estimator that offers ``score_subsamples`` (such as a
    :class:`TransferImageClassifier` that trains only a head on cached
    features) fits all of a study's subsamples in one go (given the
    ``groups`` the fits would get); the others, fits with other fit or
    score parameters, and a batch that fails where
    ``error_score`` is not "raise" go one fit at a time. Each fit's seconds
    are the batch's shared equally.
    """
    if not todo or set(inputs.fit_params) - {"groups"} or inputs.score_params:
        return None
    if not hasattr(estimator, "score_subsamples"):
        return None
    batch = [(jobs[i][2], jobs[i][3], estimators[i].get_params().get("random_state")) for i in todo]
    start = time.perf_counter()
    try:
        scores = estimator.score_subsamples(
            inputs.X, inputs.y, batch, inputs.scorer, **inputs.fit_params
        )
    except Exception:
        if isinstance(inputs.error_score, str):  # "raise"
            raise
        return None
    seconds = (time.perf_counter() - start) / len(todo)
    return [(float(score), seconds, None) for score in scores]


def warn_failures(jobs, outcomes, error_score):
    """Warn of the fits that failed (size, repeat, error); raise the first if all did."""
    errors = [
        (size, repeat, error)
        for (size, repeat, _, _), (_, _, error) in zip(jobs, outcomes, strict=True)
        if error is not None
    ]
    if not errors:
        return
    if len(errors) == len(outcomes):
        # The data or the estimator is at fault, not one subsample: its own error.
        size, repeat, error = errors[0]
        error.add_note(
            f"All {len(outcomes)} fits of the learning curve failed; this is the first, "
            f"at size {size}, repeat {repeat + 1}."
        )
        raise error
    where = "; ".join(
        f"size {size}, repeat {repeat + 1}: {type(error).__name__}: {error}"
        for size, repeat, error in errors[:5]
    )
    more = f"; and {len(errors) - 5} more" if len(errors) > 5 else ""
    warnings.warn(
        f"{len(errors)} of {len(outcomes)} fits failed and score {error_score} in "
        f"scores_; the curve is fitted on the others. {where}{more}.",
        FitFailedWarning,
        stacklevel=3,
    )

"""Splitters and subsampling: the test splits, folds and subsamples of a learning curve.

How the data are cut: the held-out split or folds every fit is scored on, and
the class-balanced (or stratified, or random) subsamples of growing size,
drawn by whole groups when there are groups.
"""

import warnings
from numbers import Integral

import numpy as np
from sklearn.model_selection import (
    GroupKFold,
    KFold,
    StratifiedGroupKFold,
    StratifiedKFold,
    check_cv,
    train_test_split,
)
from sklearn.utils import check_random_state, resample
from sklearn.utils._param_validation import Interval, validate_params
from sklearn.utils.validation import column_or_1d


@validate_params(
    {
        "y": ["array-like"],
        "n_samples": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def balanced_subsample(y, n_samples, random_state=None):
    """Return the indices of ``n_samples`` rows of ``y``, as class-balanced as possible.

    Each class gets ``n_samples // n_classes`` rows (the remainder going to
    randomly chosen classes); a class with fewer rows gives all of them and the
    others share its shortfall, so the size is always exactly ``n_samples``.

    Parameters
    ----------
    y : array-like of shape (n,)
        Class labels.
    n_samples : int
        Rows to draw, at least the number of classes and at most ``n``.
    random_state : int, RandomState instance or None, default=None
        Seeds the draw.

    Returns
    -------
    indices : ndarray of shape (n_samples,)
        Sorted row indices.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_vision._split import balanced_subsample
    >>> y = np.array([0] * 90 + [1] * 10)
    >>> np.bincount(y[balanced_subsample(y, 16, random_state=0)])
    array([8, 8])
    >>> np.bincount(y[balanced_subsample(y, 40, random_state=0)])
    array([30, 10])
    """
    rng = check_random_state(random_state)
    classes, y_indices, counts = np.unique(y, return_inverse=True, return_counts=True)
    if not len(classes) <= n_samples <= len(y):
        raise ValueError(
            f"A subsample of {n_samples} rows needs between {len(classes)} (one per class) "
            f"and {len(y)} (all rows)."
        )
    take = _balanced_counts(counts, n_samples, rng)
    chosen = [
        rng.choice(np.flatnonzero(y_indices == k), take[k], replace=False)
        for k in range(len(classes))
    ]
    return np.sort(np.concatenate(chosen))


def _balanced_counts(counts, n_samples, rng):
    """Rows to take from each class: equal shares, capped by each class's size."""
    take = np.zeros(len(counts), dtype=int)
    remaining = n_samples
    # Water-filling: give every class an equal share, capped by its size, and
    # hand what a small class cannot take to the others.
    while remaining:
        open_classes = np.flatnonzero(take < counts)
        share, extra = divmod(remaining, len(open_classes))
        grant = np.full(len(open_classes), share)
        grant[rng.choice(len(open_classes), extra, replace=False)] += 1
        grant = np.minimum(grant, counts[open_classes] - take[open_classes])
        take[open_classes] += grant
        remaining -= grant.sum()
    return take


def _proportional_counts(counts, n_samples):
    """Rows to take from each class in proportion to its size (largest remainders)."""
    exact = counts * (n_samples / counts.sum())
    take = np.floor(exact).astype(int)
    short = n_samples - take.sum()
    take[np.argsort(take - exact, kind="stable")[:short]] += 1
    return take


def check_groups(groups, n_samples):
    """``groups`` as a 1-D array of one label per sample; ValueError for a missing label.

    None or NaN would form a group of their own (or make sorting the labels
    fail): every sample needs a real group label.
    """
    groups = column_or_1d(groups)
    if len(groups) != n_samples:
        raise ValueError(
            f"groups has {len(groups)} entries for {n_samples} samples; give one "
            "group label per sample."
        )
    missing = [
        index
        for index, group in enumerate(groups.tolist())
        if group is None or (isinstance(group, float) and np.isnan(group))
    ]
    if missing:
        raise ValueError(
            f"groups has no label (None or NaN) for {len(missing)} samples, the first at "
            f"index {missing[0]}; give every sample its group, such as its patient ID."
        )
    return groups


def group_subsample(y, groups, n_samples, sampling, random_state=None):
    """Return the indices of ``n_samples`` rows drawn by whole groups.

    Groups are taken in random order, each as a whole, as long as its classes
    still need rows (per class: ``sampling="balanced"`` shares as in
    :func:`balanced_subsample`, ``"stratified"`` the class proportions,
    ``"random"`` one share for all); a group that holds more rows of a class
    than it still needs gives a random part of them. So the size is exact and
    at most one group per class is cut, on the training side only.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_vision._split import group_subsample
    >>> y = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    >>> groups = np.array(["a", "a", "b", "b", "c", "c", "d", "d"])
    >>> rows = group_subsample(y, groups, 4, "balanced", random_state=0)
    >>> np.bincount(y[rows]), len(np.unique(groups[rows]))
    (array([2, 2]), 2)
    """
    rng = check_random_state(random_state)
    labels = np.zeros(len(y), dtype=int) if sampling == "random" else y
    classes, y_indices, counts = np.unique(labels, return_inverse=True, return_counts=True)
    if sampling == "stratified":
        need = _proportional_counts(counts, n_samples)
    else:
        need = _balanced_counts(counts, n_samples, rng)
    group_ids, group_indices = np.unique(groups, return_inverse=True)
    members = np.split(
        np.argsort(group_indices, kind="stable"), np.cumsum(np.bincount(group_indices))[:-1]
    )
    chosen = []
    for group in rng.permutation(len(group_ids)):
        rows = members[group]
        for k in np.unique(y_indices[rows]):
            if need[k] == 0:
                continue
            rows_k = rows[y_indices[rows] == k]
            if len(rows_k) > need[k]:
                rows_k = rng.choice(rows_k, need[k], replace=False)
            need[k] -= len(rows_k)
            chosen.append(rows_k)
        if not need.any():
            break
    return np.sort(np.concatenate(chosen))


def _subsample(y, groups, n_samples, sampling, rng):
    """Return sorted indices of ``n_samples`` rows drawn by ``sampling`` (and by groups)."""
    if groups is not None:
        return group_subsample(y, groups, n_samples, sampling, rng)
    if sampling == "balanced":
        return balanced_subsample(y, n_samples, rng)
    indices = np.arange(len(y))
    if n_samples == len(y):
        return indices
    stratify = y if sampling == "stratified" else None
    return np.sort(
        resample(indices, replace=False, n_samples=n_samples, stratify=stratify, random_state=rng)
    )


def shuffled_folds(y, groups, n_splits, classifier, seed):
    """The sorted (train, test) indices of ``n_splits`` shuffled folds.

    Stratified for classifiers, as far as the classes allow; by whole groups
    with ``groups`` (:class:`~sklearn.model_selection.StratifiedGroupKFold`,
    :class:`~sklearn.model_selection.GroupKFold` for regressors). The one
    place the package cuts folds of its own: the test split of a learning
    curve, its folds that score every sample, and the classifier's early-stopping
    split with groups.
    """
    if groups is not None:
        kind = StratifiedGroupKFold if classifier else GroupKFold
    else:
        kind = StratifiedKFold if classifier else KFold
    cv = kind(n_splits=n_splits, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        # "The least populated class in y has only k members": as far as it allows.
        warnings.filterwarnings("ignore", "The least populated class", UserWarning)
        return [(np.sort(a), np.sort(b)) for a, b in cv.split(np.zeros(len(y)), y, groups)]


def group_test_split(y, groups, test_size, classifier, random_state=None):
    """Train and test indices, the test holding whole groups, about ``test_size`` of the samples.

    One fold of a :class:`~sklearn.model_selection.StratifiedGroupKFold` (a
    :class:`~sklearn.model_selection.GroupKFold` for regressors) of
    ``round(1 / test_size)`` folds; too few groups for it is an error that says
    how many are needed.
    """
    rng = check_random_state(random_state)
    n_test = test_size * len(y) if test_size < 1 else test_size
    n_splits = max(2, round(len(y) / n_test))
    n_groups = len(np.unique(groups))
    if n_groups < n_splits:
        raise ValueError(
            f"test_size={test_size} with groups holds out whole groups, one in "
            f"{n_splits} of them, and needs at least {n_splits} groups; got {n_groups}. "
            "Use a larger test_size (0.5 needs 2 groups) or cv=GroupKFold(n_splits) "
            "with fewer folds."
        )
    return shuffled_folds(y, groups, n_splits, classifier, rng.randint(2**31 - 1))[0]


# What next_round_size collects up to, as multiples of the largest size
# measured: at least 1.25 times (a round that adds little tells little), at


# A test split smaller than this (samples, or samples of its smallest class)
# is too noisy to share between all fits: the default protocol scores every
# sample instead. At 100 samples, one sample moves accuracy by 0.01.
SMALL_TEST_SPLIT = {"samples": 100, "per_class": 20}


def scores_every_sample(y, test_size, n_repeats, classifier):
    """Whether the default protocol spreads the repeats over folds that score every sample.

    True when there are at least 3 repeats (3 folds: two thirds of the data
    left to train on) and one test split of ``test_size``
    would hold fewer than 100 samples, or (for classifiers) fewer than 20 of
    some class.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_vision._split import scores_every_sample
    >>> scores_every_sample(np.repeat([0, 1], 120), 0.1, 5, classifier=True)
    True
    >>> scores_every_sample(np.repeat([0, 1], 1200), 0.1, 5, classifier=True)
    False
    """
    n_test = test_size * len(y) if test_size < 1 else test_size
    small = n_test < SMALL_TEST_SPLIT["samples"]
    if classifier:
        smallest_class = np.unique(y, return_counts=True)[1].min()
        small |= n_test * smallest_class / len(y) < SMALL_TEST_SPLIT["per_class"]
    return n_repeats >= 3 and bool(small)


def _check_no_group_on_both_sides(splits, groups, cv):
    for fold, (train, test) in enumerate(splits):
        shared = np.intersect1d(groups[train], groups[test])
        if len(shared):
            raise ValueError(
                f"cv={cv!r} puts group {shared.tolist()[0]!r} (and {len(shared) - 1} more) on both "
                f"sides of fold {fold}: the scores would be optimistic. Use a splitter "
                "that keeps groups whole, such as GroupKFold or StratifiedGroupKFold, "
                "or cv=<number of folds>."
            )


def learning_curve_splits(X, y, groups, *, cv, test_size, n_repeats, classifier, rng, split_params):
    """The (train, test) splits, and the split of each fit at a size, in order.

    The protocol of :class:`LearningCurveEstimator` for its ``cv``,
    ``test_size`` and ``n_repeats``: folds that score every sample on small
    data, one test split of ``test_size`` on larger data, or the ``cv`` folds.
    """
    if cv is None and scores_every_sample(y, test_size, n_repeats, classifier):
        splits = repeat_folds(y, groups, n_repeats, classifier, rng)
        # Each fold as often as the others (fewer folds than repeats: rounded up).
        n_fits = -(-n_repeats // len(splits)) * len(splits)
        return splits, [i % len(splits) for i in range(n_fits)]
    if cv is None and groups is None:
        indices = np.arange(len(y))
        train, test = train_test_split(
            indices,
            test_size=test_size,
            stratify=y if classifier else None,
            random_state=rng,
        )
        splits = [(np.sort(train), np.sort(test))]
    elif cv is None:
        splits = [group_test_split(y, groups, test_size, classifier, rng)]
    else:
        if groups is not None and isinstance(cv, Integral):
            splitter = StratifiedGroupKFold if classifier else GroupKFold
            cv = splitter(n_splits=cv)
            split_params = {"groups": groups}
        else:
            cv = check_cv(cv, y, classifier=classifier)
        splits = list(cv.split(X, y, **split_params))
        if groups is not None:
            _check_no_group_on_both_sides(splits, groups, cv)
    return splits, [i for i in range(len(splits)) for _ in range(n_repeats)]


def repeat_folds(y, groups, n_repeats, classifier, rng):
    """``n_repeats`` shuffled folds, stratified for classifiers.

    Fewer when there are fewer groups, or (for classifiers) fewer samples
    in the largest class. The fold with the smallest training part comes
    first: the refit uses it.
    """
    n_splits = n_repeats
    if groups is not None:
        n_splits = min(n_splits, len(np.unique(groups)))
    if classifier:
        n_splits = min(n_splits, np.unique(y, return_counts=True)[1].max())
    if n_splits < 2:
        raise ValueError(
            f"n_repeats={n_repeats} folds that score every sample need samples "
            "on both sides of a split, and here "
            + (
                "all samples belong to one group"
                if groups is not None
                else "each class has a single sample"
            )
            + ". Give more samples (or groups), or a test_size with cv=None and "
            "n_repeats below 3."
        )
    splits = shuffled_folds(y, groups, n_splits, classifier, rng.randint(2**31 - 1))
    return sorted(splits, key=lambda split: len(split[0]))


def absolute_train_sizes(train_sizes, n_train, n_classes, *, sampling, default_curve):
    """The distinct subsample sizes, in samples, that ``train_sizes`` give.

    Fractions are of ``n_train``; every size must hold one sample of each of
    ``n_classes`` (one sample with ``sampling="random"``) and at most
    ``n_train``, and the default curve needs at least 3 sizes.
    """
    sizes = np.asarray(train_sizes)
    if sizes.ndim != 1 or len(sizes) == 0:
        raise ValueError(f"train_sizes must be a non-empty 1-D list, got {train_sizes!r}.")
    if np.issubdtype(sizes.dtype, np.floating):
        if not np.all(np.isfinite(sizes)):
            raise ValueError(
                f"train_sizes must be finite numbers, got {sizes.tolist()}: give fractions "
                "of the training data in (0, 1] or numbers of samples."
            )
        if np.any((sizes <= 0) | (sizes > 1)):
            raise ValueError(
                f"Fractional train_sizes must lie in (0, 1], got {sizes.tolist()}; "
                "numbers of samples are ints, such as [20, 40, 80]."
            )
        absolute = np.floor(sizes * n_train).astype(int)
    elif np.issubdtype(sizes.dtype, np.integer):
        absolute = sizes.astype(int)
    else:
        raise ValueError(f"train_sizes must be floats or ints, got {sizes.dtype}.")
    smallest = max(n_classes, 1) if sampling != "random" else 1
    too_small = absolute[absolute < smallest]
    if len(too_small):
        reason = f"the {n_classes} classes" if sampling != "random" else "one sample"
        raise ValueError(
            f"train_sizes {sizes.tolist()} give subsamples of {too_small.tolist()} samples, "
            f"fewer than {reason}: a {sampling} subsample needs at least {smallest}."
        )
    too_large = absolute[absolute > n_train]
    if len(too_large):
        raise ValueError(
            f"train_sizes ask for {too_large.tolist()} samples, but only {n_train} are "
            "available for training (after the test split)."
        )
    unique = np.unique(absolute)
    if len(unique) < len(absolute):
        warnings.warn(
            f"train_sizes {sizes.tolist()} give {absolute.tolist()} samples; "
            f"the repeated sizes are merged, leaving {unique.tolist()}.",
            UserWarning,
        )
    if default_curve and len(unique) < 3:
        raise ValueError(
            f"train_sizes give {len(unique)} distinct size(s), {unique.tolist()}; "
            "a learning curve needs at least 3."
        )
    return unique

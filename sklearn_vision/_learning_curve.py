"""Learning curves: class-balanced subsamples of growing size."""

import numpy as np
from sklearn.utils import check_random_state


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
    >>> from sklearn_vision._learning_curve import balanced_subsample
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
    take = np.zeros(len(classes), dtype=int)
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
    chosen = [
        rng.choice(np.flatnonzero(y_indices == k), take[k], replace=False)
        for k in range(len(classes))
    ]
    return np.sort(np.concatenate(chosen))

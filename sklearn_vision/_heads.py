"""The heads of a study trained together: one softmax head per fit, on one set of features.

A frozen-backbone learning curve fits the same small head (dropout, then a
dense softmax layer) on many subsamples of one set of cached features. Fitted
one at a time through Keras's ``fit``, each fit builds, compiles and runs a
model of its own, and that, not the arithmetic, is most of its time. Here the
heads of all fits are one stacked set of weights trained in one loop: each head
on its own rows, with its own initialization, shuffling, validation split,
early stopping and best weights, and its own Adam state and step count (a head
whose epoch has fewer batches than another's waits, unchanged). The gradient of
the softmax cross-entropy is written out, so the loop runs in ``keras.ops``
with no traced function and no backend-specific code.
"""

import math
from dataclasses import dataclass

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

# Keras's Adam defaults: the one-at-a-time fits use keras.optimizers.Adam.
_BETA_1, _BETA_2, _EPSILON = 0.9, 0.999, 1e-7


@dataclass(frozen=True)
class HeadJob:
    """One head's data: rows of the shared features and what its fit decided.

    ``train`` and ``validation`` index the shared features (``validation``
    None: no early stopping); ``y`` and ``sample_weight`` are aligned with the
    whole features (only the head's rows are read); ``init`` is the head's
    ``(kernel, bias)`` as its own fit would start; ``shuffle_seed`` its order.
    """

    train: np.ndarray
    validation: np.ndarray | None
    y: np.ndarray
    sample_weight: np.ndarray | None
    init: tuple
    shuffle_seed: int


def train_heads(features, jobs, *, epochs, learning_rate, batch_size, dropout, patience, seed):
    """Train one dense softmax head per job on ``features``; return the (kernels, biases).

    Kernels ``(n_jobs, n_features, n_classes)``, biases ``(n_jobs, n_classes)``:
    each head's best weights on its validation loss (Keras's ``EarlyStopping``
    with ``restore_best_weights``), or its last with no validation rows.
    """
    import keras
    from keras import ops

    n_jobs = len(jobs)
    features = np.asarray(features, dtype=np.float32)
    kernel = np.stack([np.asarray(job.init[0], np.float32) for job in jobs])
    bias = np.stack([np.asarray(job.init[1], np.float32) for job in jobs])
    params = [ops.convert_to_tensor(kernel), ops.convert_to_tensor(bias)]
    moments = [[ops.zeros_like(p), ops.zeros_like(p)] for p in params]
    steps = np.zeros(n_jobs, dtype=np.float32)
    weights = [_job_weights(job) for job in jobs]
    orders = [np.random.RandomState(job.shuffle_seed) for job in jobs]
    dropout_seed = keras.random.SeedGenerator(seed)

    stopping = [job.validation is not None for job in jobs]
    best = [params[0], params[1]]
    best_loss = np.full(n_jobs, np.inf)
    wait = np.zeros(n_jobs, dtype=int)
    running = np.ones(n_jobs, dtype=bool)
    validation = _padded_rows([job.validation for job in jobs], stopping)
    for epoch in range(epochs):
        rows, present = _epoch_batches(jobs, orders, batch_size, running)
        for step in range(rows.shape[1]):
            active = present[:, step].any(axis=1)
            if not active.any():
                continue
            step_rows, step_present = rows[:, step], present[:, step]
            gradients = _gradients(
                params, features, step_rows, step_present, jobs, weights, dropout, dropout_seed
            )
            steps = steps + active
            params, moments = _adam(params, moments, gradients, steps, active, learning_rate)
        if not any(stopping):
            continue
        losses = _validation_losses(params, features, validation, jobs, weights)
        for j in np.flatnonzero(running & np.array(stopping)):
            wait[j] += 1
            if losses[j] < best_loss[j]:
                best_loss[j], wait[j] = losses[j], 0
                best = [_set_row(b, p, j) for b, p in zip(best, params, strict=True)]
            if wait[j] >= patience and epoch > 0:
                running[j] = False
        if not running.any():
            break
    final = [
        np.where(np.array(stopping).reshape(-1, *[1] * (ops.ndim(p) - 1)), b, p)
        for b, p in zip(
            [ops.convert_to_numpy(b) for b in best],
            [ops.convert_to_numpy(p) for p in params],
            strict=True,
        )
    ]
    return final[0], final[1]


def heads_proba(features, kernels, biases, rows):
    """Each head's class probabilities on its own ``rows`` of ``features`` (a list of arrays)."""
    from keras import ops

    features = np.asarray(features, dtype=np.float32)
    return [
        ops.convert_to_numpy(ops.softmax(ops.matmul(features[r], k) + b, axis=-1))
        for r, k, b in zip(rows, kernels, biases, strict=True)
    ]


def _job_weights(job):
    """The head's sample weights over all rows (ones where none are given)."""
    if job.sample_weight is None:
        return np.ones(len(job.y), dtype=np.float32)
    return np.asarray(job.sample_weight, dtype=np.float32)


def _set_row(stacked, values, j):
    """``stacked`` with its row ``j`` replaced by ``values``'s."""
    from keras import ops

    mask = np.zeros((ops.shape(stacked)[0],) + (1,) * (ops.ndim(stacked) - 1), dtype=bool)
    mask[j] = True
    return ops.where(mask, values, stacked)


def _epoch_batches(jobs, orders, batch_size, running):
    """Each running head's batches of one epoch: row indices and presence, padded.

    Returns ``rows`` and ``present`` of shape ``(n_jobs, n_steps, batch_size)``.
    """
    counts = [math.ceil(len(job.train) / batch_size) for job in jobs]
    n_steps = max(counts)
    rows = np.zeros((len(jobs), n_steps, batch_size), dtype=np.int64)
    present = np.zeros((len(jobs), n_steps, batch_size), dtype=bool)
    for j, (job, order) in enumerate(zip(jobs, orders, strict=True)):
        shuffled = job.train[order.permutation(len(job.train))]
        if not running[j]:
            continue
        flat = np.zeros(counts[j] * batch_size, dtype=np.int64)
        flat[: len(shuffled)] = shuffled
        rows[j, : counts[j]] = flat.reshape(counts[j], batch_size)
        mask = np.zeros(counts[j] * batch_size, dtype=bool)
        mask[: len(shuffled)] = True
        present[j, : counts[j]] = mask.reshape(counts[j], batch_size)
    return rows, present


def _padded_rows(row_sets, keep):
    """Rows of each head padded to one length, and which are real: ``(rows, present)``."""
    sets = [r if k else np.zeros(0, dtype=np.int64) for r, k in zip(row_sets, keep, strict=True)]
    width = max(1, max(len(r) for r in sets))
    rows = np.zeros((len(sets), width), dtype=np.int64)
    present = np.zeros((len(sets), width), dtype=bool)
    for j, r in enumerate(sets):
        rows[j, : len(r)], present[j, : len(r)] = r, True
    return rows, present


def _targets(rows, present, jobs, weights):
    """One-hot targets and the loss weight of each row (0 for padding), per head."""
    y = np.stack([job.y[r] for job, r in zip(jobs, rows, strict=True)])
    w = np.stack([wj[r] for wj, r in zip(weights, rows, strict=True)]) * present
    return y, w.astype(np.float32)


def _gradients(params, features, rows, present, jobs, weights, dropout, seed):
    """The gradient of each head's mean weighted cross-entropy on its batch."""
    from keras import ops, random

    kernel, bias = params
    x = ops.convert_to_tensor(features[rows])  # (n_jobs, batch, n_features)
    if dropout > 0:
        x = random.dropout(x, dropout, seed=seed)
    y, w = _targets(rows, present, jobs, weights)
    # Keras's "sum_over_batch_size": the weighted sum over the batch's real rows.
    scale = w / np.maximum(present.sum(axis=1, keepdims=True), 1)
    proba = ops.softmax(ops.einsum("jbf,jfc->jbc", x, kernel) + bias[:, None, :], axis=-1)
    n_classes = ops.shape(bias)[-1]
    delta = (proba - ops.one_hot(y, n_classes)) * scale[..., None]
    return [ops.einsum("jbf,jbc->jfc", x, delta), ops.sum(delta, axis=1)]


def _adam(params, moments, gradients, steps, active, learning_rate):
    """One step of Keras's Adam for the ``active`` heads, each at its own step count."""
    from keras import ops

    t = np.maximum(steps, 1)
    alpha = learning_rate * np.sqrt(1 - _BETA_2**t) / (1 - _BETA_1**t)
    new_params, new_moments = [], []
    for p, (m, v), g in zip(params, moments, gradients, strict=True):
        shape = (-1,) + (1,) * (ops.ndim(p) - 1)
        on = active.reshape(shape)
        m2 = m + (g - m) * (1 - _BETA_1)
        v2 = v + (ops.square(g) - v) * (1 - _BETA_2)
        p2 = p - alpha.astype(np.float32).reshape(shape) * m2 / (ops.sqrt(v2) + _EPSILON)
        new_params.append(ops.where(on, p2, p))
        new_moments.append([ops.where(on, m2, m), ops.where(on, v2, v)])
    return new_params, new_moments


def _validation_losses(params, features, validation, jobs, weights):
    """Each head's weighted cross-entropy on its validation rows (as Keras's val_loss)."""
    from keras import ops

    rows, present = validation
    kernel, bias = params
    x = ops.convert_to_tensor(features[rows])
    proba = ops.softmax(ops.einsum("jbf,jfc->jbc", x, kernel) + bias[:, None, :], axis=-1)
    y, w = _targets(rows, present, jobs, weights)
    picked = ops.take_along_axis(proba, ops.convert_to_tensor(y[..., None]), axis=-1)[..., 0]
    nll = -ops.log(ops.clip(picked, 1e-7, 1.0))
    total = ops.convert_to_numpy(ops.sum(nll * w, axis=1))
    return total / np.maximum(present.sum(axis=1), 1)


class HeadPredictions(ClassifierMixin, BaseEstimator):
    """A fitted head's probabilities on the rows it is scored on, for a scorer.

    Scorers call an estimator on the test samples; this one answers with the
    probabilities computed when its head was trained (the ``X`` it is given
    must be those samples).
    """

    def __init__(self, classes, proba):
        self.classes = classes
        self.proba = proba

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.estimator_type = "classifier"
        return tags

    @property
    def classes_(self):
        return self.classes

    def _checked(self, X):
        if len(X) != len(self.proba):
            raise ValueError(
                f"These predictions are of {len(self.proba)} samples; got {len(X)}."
            )
        return self.proba

    def predict_proba(self, X):
        return self._checked(X)

    def predict(self, X):
        return self.classes[np.argmax(self._checked(X), axis=1)]

"""Groups (several images per patient), end to end: no group on both sides of any split."""

import numpy as np
import pytest
import sklearn
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import GridSearchCV, GroupKFold, KFold, cross_val_score
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from sklearn_vision import LearningCurveEstimator, TransferImageClassifier

pytestmark = pytest.mark.filterwarnings("ignore::sklearn_vision.LearningCurveWarning")


class IdRecorder(ClassifierMixin, BaseEstimator):
    """Records the sample ids (column 0 of X) it is fitted on and scored on, and its groups."""

    log = []

    def fit(self, X, y, groups=None):
        self.classes_ = np.unique(y)
        self.fit_ids_ = X[:, 0].astype(int)
        IdRecorder.log.append({"fit": self.fit_ids_, "groups": groups, "scored": None})
        return self

    def predict(self, X):
        for entry in IdRecorder.log:
            if entry["fit"] is self.fit_ids_ and entry["scored"] is None:
                entry["scored"] = X[:, 0].astype(int)
        return np.full(len(X), self.classes_[0])


class NoGroups(IdRecorder):
    """An estimator whose fit takes no groups (most of scikit-learn's)."""

    def fit(self, X, y):
        return super().fit(X, y)


@pytest.fixture
def patients():
    """300 samples of 3 classes from 40 patients of 2 to 13 samples each."""
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(40), rng.integers(2, 14, 40))[:300]
    groups = np.concatenate([groups, np.full(300 - len(groups), 40)])
    y = rng.integers(0, 3, 300)
    X = np.c_[np.arange(300), rng.normal(size=300)]
    IdRecorder.log = []
    yield X, y, np.array([f"P{g}" for g in groups], dtype=object)
    IdRecorder.log = []


@pytest.mark.parametrize("cv", [None, 3, GroupKFold(n_splits=4)], ids=["test_split", "3", "gkf"])
def test_no_group_is_ever_on_both_sides(patients, cv):
    X, y, groups = patients
    lce = LearningCurveEstimator(
        IdRecorder(), train_sizes=[20, 50, 100], n_repeats=3, cv=cv, random_state=0
    ).fit(X, y, groups=groups)
    fits = IdRecorder.log
    n_folds = 1 if cv is None else (3 if cv == 3 else 4)
    assert len(fits) == 3 * 3 * n_folds + 1  # and the refit
    for entry in fits:
        trained, scored = set(groups[entry["fit"]]), entry["scored"]
        # The fit received the groups of its own rows.
        np.testing.assert_array_equal(entry["groups"], groups[entry["fit"]])
        if scored is not None:
            assert not trained & set(groups[scored])
        # Drawn by whole groups: at most one group per class is cut.
        assert _cut_groups(entry["fit"], y, groups) <= 3
    # The sizes are exact, and count samples.
    sizes = [len(entry["fit"]) for entry in fits[:-1]]
    assert sizes == sorted(sizes) and set(sizes) == {20, 50, 100}
    assert lce.n_train_groups_.shape == lce.scores_.shape
    assert np.all(np.diff(lce.n_train_groups_.mean(axis=1)) > 0)


def _cut_groups(rows, y, groups):
    """How many (group, class) pairs a subsample holds only part of."""
    cut = 0
    for group in np.unique(groups[rows]):
        for k in np.unique(y):
            have = np.sum((groups[rows] == group) & (y[rows] == k))
            total = np.sum((groups == group) & (y == k))
            cut += 0 < have < total
    return cut


def test_subsamples_are_whole_groups_but_one_per_class(patients):
    X, y, groups = patients
    sizes = [9, 30, 120]
    LearningCurveEstimator(
        IdRecorder(), train_sizes=sizes, n_repeats=1, sampling="balanced", random_state=1
    ).fit(X, y, groups=groups)
    fits = IdRecorder.log[:-1]  # the refit aside
    assert [len(entry["fit"]) for entry in fits] == sizes
    for size, entry in zip(sizes, fits, strict=True):
        rows = entry["fit"]
        assert len(np.unique(rows)) == size
        assert np.bincount(y[rows], minlength=3).tolist() == [size // 3] * 3
        # Every group drawn is whole for each class, except at most one per class.
        assert _cut_groups(rows, y, groups) <= 3


def test_grouped_subsamples_hold_fewer_groups_than_random_rows(patients):
    X, y, groups = patients
    lce = LearningCurveEstimator(
        IdRecorder(), train_sizes=[20, 40, 60], n_repeats=20, sampling="random", random_state=0
    ).fit(X, y, groups=groups)
    grouped = lce.n_train_groups_[lce.train_sizes_ == 60].ravel()
    rng = np.random.RandomState(0)
    rows = [rng.choice(300, 60, replace=False) for _ in range(20)]
    scattered = [len(np.unique(groups[r])) for r in rows]
    assert max(grouped) < min(scattered)


def test_estimators_without_groups_still_work(patients):
    X, y, groups = patients
    LearningCurveEstimator(NoGroups(), train_sizes=[20, 50, 100], n_repeats=1).fit(
        X, y, groups=groups
    )
    for entry in IdRecorder.log:
        assert entry["groups"] is None
        if entry["scored"] is not None:
            assert not set(groups[entry["fit"]]) & set(groups[entry["scored"]])


def test_without_groups_nothing_changes(patients):
    X, y, _ = patients
    first = LearningCurveEstimator(IdRecorder(), train_sizes=[20, 50, 100], random_state=0)
    first.fit(X, y)
    ids = [entry["fit"] for entry in IdRecorder.log]
    assert all(entry["groups"] is None for entry in IdRecorder.log)
    assert not hasattr(first, "n_train_groups_")
    IdRecorder.log = []
    LearningCurveEstimator(IdRecorder(), train_sizes=[20, 50, 100], random_state=0).fit(X, y)
    for before, entry in zip(ids, IdRecorder.log, strict=True):
        np.testing.assert_array_equal(before, entry["fit"])


def test_too_few_groups_and_leaky_folds_are_refused(patients):
    X, y, groups = patients
    few = np.array(["a", "b", "c", "d", "e"] * 60, dtype=object)
    # One held-out split (one repeat) of whole groups needs round(1 / test_size) groups.
    with pytest.raises(ValueError, match=r"needs at least 10 groups; got 5.*larger test_size"):
        LearningCurveEstimator(IdRecorder(), train_sizes=[20, 50, 100], n_repeats=1).fit(
            X, y, groups=few
        )
    with pytest.raises(ValueError, match=r"puts group .* on both sides of fold 0.*GroupKFold"):
        LearningCurveEstimator(IdRecorder(), train_sizes=[20, 50, 100], cv=KFold(3)).fit(
            X, y, groups=groups
        )
    with pytest.raises(ValueError, match="groups has 10 entries for 300 samples"):
        LearningCurveEstimator(IdRecorder(), train_sizes=[20, 50, 100]).fit(
            X, y, groups=groups[:10]
        )


def test_groups_are_routed_through_pipelines(patients):
    X, y, groups = patients
    with sklearn.config_context(enable_metadata_routing=True):
        inner = IdRecorder().set_fit_request(groups=True)
        pipe = make_pipeline(FunctionTransformer(), inner)
        lce = LearningCurveEstimator(pipe, train_sizes=[20, 50, 100], n_repeats=1, random_state=0)
        lce.fit(X, y, groups=groups)
        assert len(IdRecorder.log) == 4
        for entry in IdRecorder.log:
            np.testing.assert_array_equal(entry["groups"], groups[entry["fit"]])
        # Not requested: the estimator does not get them, the splits still hold groups whole.
        IdRecorder.log = []
        inner = IdRecorder().set_fit_request(groups=False)
        LearningCurveEstimator(make_pipeline(inner), train_sizes=[20, 50, 100], n_repeats=1).fit(
            X, y, groups=groups
        )
        for entry in IdRecorder.log:
            assert entry["groups"] is None
            if entry["scored"] is not None:
                assert not set(groups[entry["fit"]]) & set(groups[entry["scored"]])
        # A learning curve inside cross_val_score: the groups reach the splitter and it.
        IdRecorder.log = []
        inner = IdRecorder().set_fit_request(groups=True)
        lce = LearningCurveEstimator(inner, train_sizes=[20, 50, 100], n_repeats=1, test_size=0.25)
        cross_val_score(
            lce.set_fit_request(groups=True), X, y, cv=GroupKFold(2), params={"groups": groups}
        )
        assert len(IdRecorder.log) == 2 * 4
        for entry in IdRecorder.log:
            np.testing.assert_array_equal(entry["groups"], groups[entry["fit"]])


def test_unrequested_groups_are_an_error_under_routing(patients):
    X, y, groups = patients
    with sklearn.config_context(enable_metadata_routing=True):
        with pytest.raises(ValueError, match="groups"):
            LearningCurveEstimator(IdRecorder(), train_sizes=[20, 50, 100]).fit(X, y, groups=groups)


def _memorizer(**params):
    """A softmax on feature rows that learns each training group's label in a few epochs."""
    defaults = dict(backbone=None, learning_rate=5e-2, dropout=0.0, validation_fraction=0.2)
    return TransferImageClassifier(**{**defaults, **params})


def _group_codes(groups, seed=0):
    """One-hot rows naming each sample's group, and a random label per group.

    Nothing carries over from one group to another: a validation split of whole
    groups stays at chance (val_loss near log(3)), while a split whose validation
    rows have siblings in training is learnt with the training rows (val_loss near 0).
    """
    names, codes = np.unique(groups, return_inverse=True)
    labels = np.random.default_rng(seed).integers(0, 3, len(names))
    return np.eye(len(names), dtype=np.float32)[codes], labels[codes]


def _split_recorder():
    """A Keras callback that logs, for every fit (clones included), its split and val_loss."""
    import keras

    class SplitRecorder(keras.callbacks.Callback):
        fits = []

        def on_train_begin(self, logs=None):
            self.fit_ = {"train_batches": 0, "validation_batches": 0, "val_loss": []}
            SplitRecorder.fits.append(self.fit_)

        def on_train_batch_end(self, batch, logs=None):
            self.fit_["train_batches"] += not self.fit_["val_loss"]  # first epoch only

        def on_test_batch_end(self, batch, logs=None):
            self.fit_["validation_batches"] += not self.fit_["val_loss"]

        def on_epoch_end(self, epoch, logs=None):
            self.fit_["val_loss"].append(logs["val_loss"])

    return SplitRecorder()


def test_classifier_validation_split_holds_whole_groups(patients):
    _, _, groups = patients
    X, y = _group_codes(groups)
    # The detector works: without groups, validation rows have siblings in training.
    leaky = _memorizer(epochs=1, batch_size=1, random_state=0).fit(X, y)
    assert leaky.history_["frozen"]["val_loss"][0] < 0.5
    for seed in range(3):
        recorder = _split_recorder()
        clf = _memorizer(epochs=1, batch_size=1, random_state=seed, callbacks=[recorder])
        clf.fit(X, y, groups=groups)
        assert clf.history_["frozen"]["val_loss"][0] > 0.7  # near chance: log(3) = 1.1
        # One row a batch: the batches count the rows on each side.
        n_train, n_validation = recorder.fit_["train_batches"], recorder.fit_["validation_batches"]
        assert n_train + n_validation == len(y)
        assert 0.1 < n_validation / len(y) < 0.35
        assert clf.early_stopping_ is True
    with pytest.raises(ValueError, match="needs at least 2 groups; got 1"):
        _memorizer(epochs=1, early_stopping=True).fit(X, y, groups=np.zeros(len(y)))


def test_classifier_with_a_single_group_trains_every_epoch(patients):
    _, _, groups = patients
    X, y = _group_codes(groups)
    # Without groups these rows hold a validation split; one group cannot.
    assert _memorizer(epochs=1, random_state=0).fit(X, y).early_stopping_ is True
    clf = _memorizer(epochs=4, random_state=0).fit(X, y, groups=np.zeros(len(y)))
    assert clf.early_stopping_ is False
    assert len(clf.history_["frozen"]["loss"]) == 4
    assert "val_loss" not in clf.history_["frozen"]


def test_classifier_takes_groups_in_grid_search(patients):
    _, _, groups = patients
    X, y = _group_codes(groups)
    recorder = _split_recorder()
    clf = _memorizer(epochs=10, batch_size=8, validation_fraction=0.25, callbacks=[recorder])
    with sklearn.config_context(enable_metadata_routing=True):
        search = GridSearchCV(
            make_pipeline(FunctionTransformer(), clf.set_fit_request(groups=True)),
            {"transferimageclassifier__random_state": [0, 1]},
            cv=GroupKFold(2),
        )
        search.fit(X, y, groups=groups)
    # Every fit (2 candidates x 2 folds, and the refit) held out whole groups of its own rows.
    assert len(type(recorder).fits) == 2 * 2 + 1
    for fit in type(recorder).fits:
        assert min(fit["val_loss"]) > 0.7
    assert search.best_estimator_[-1].history_["frozen"]["accuracy"][-1] > 0.9


def test_grouped_curve_is_less_optimistic_than_ungrouped():
    """Near-copies of each sample within a patient: only the grouped test split is honest."""
    rng = np.random.default_rng(0)
    n_patients, views = 150, 6
    centres = rng.normal(size=(n_patients, 20))
    labels = rng.integers(0, 2, n_patients)  # the label is noise: chance is 0.5
    X = np.repeat(centres, views, axis=0) + 0.05 * rng.normal(size=(n_patients * views, 20))
    y = np.repeat(labels, views)
    groups = np.repeat(np.arange(n_patients), views)
    model = KNeighborsClassifier(n_neighbors=1)
    params = {"train_sizes": [120, 240, 480], "n_repeats": 2, "test_size": 0.2, "random_state": 0}
    leaky = LearningCurveEstimator(model, **params).fit(X, y)
    honest = LearningCurveEstimator(model, **params).fit(X, y, groups=groups)
    assert leaky.scores_[-1].mean() > 0.8
    assert abs(honest.scores_[-1].mean() - 0.5) < 0.12

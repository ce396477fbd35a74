import itertools
import json
import time

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin, clone, is_classifier
from sklearn.datasets import load_digits, make_regression
from sklearn.dummy import DummyClassifier
from sklearn.exceptions import FitFailedWarning, NotFittedError
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.svm import LinearSVC

from sklearn_vision import LearningCurveEstimator, PowerLawRegressor

from .conftest import TINY_MOBILENET


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(n_class=4, return_X_y=True)
    return X / 16.0, y


def logistic():
    return LogisticRegression(max_iter=500)


def fast_curve(estimator, **params):
    """A LearningCurveEstimator whose curve fits in milliseconds, for tests not about it."""
    params.setdefault("curve", PowerLawRegressor(model="pow3"))
    return LearningCurveEstimator(estimator, **params)


class RecordingClassifier(ClassifierMixin, BaseEstimator):
    """Predicts the majority class; records the labels and weights of every fit."""

    fits = []

    def __init__(self, random_state=None):
        self.random_state = random_state

    def fit(self, X, y, sample_weight=None):
        self.classes_, counts = np.unique(y, return_counts=True)
        RecordingClassifier.fits.append(
            dict(counts=counts, n=len(y), sample_weight=sample_weight, seed=self.random_state, X=X)
        )
        self.majority_ = self.classes_[np.argmax(counts)]
        return self

    def predict(self, X):
        return np.full(len(X), self.majority_)


@pytest.fixture
def recording():
    RecordingClassifier.fits = []
    yield RecordingClassifier
    RecordingClassifier.fits = []


IMBALANCED = np.array([0] * 80 + [1] * 15 + [2] * 5)


def _balanced_fits(recording, sizes):
    """The fits of a learning curve whose subsamples are drawn from the rows of IMBALANCED."""
    # Those 100 rows (ids in X) train every fit; three more, one per class, score it.
    y = np.r_[IMBALANCED, 0, 1, 2]
    X = np.arange(len(y), dtype=float)[:, np.newaxis]
    split = [(np.arange(100), np.arange(100, 103))]
    fast_curve(
        recording(), train_sizes=sizes, n_repeats=1, cv=split, refit=False, random_state=0
    ).fit(X, y)
    return recording.fits


@pytest.mark.filterwarnings("ignore::sklearn_vision.LearningCurveWarning")
def test_balanced_subsample_is_exact_and_balanced(recording):
    sizes = [4, 7, 40, 100]
    available = np.bincount(IMBALANCED)
    for n_samples, fit in zip(sizes, _balanced_fits(recording, sizes), strict=True):
        assert fit["n"] == len(np.unique(fit["X"][:, 0])) == n_samples
        counts = fit["counts"]
        # Equal shares, a class short of its share gives all it has.
        for count, have in zip(counts, available, strict=True):
            assert count <= have
        # Water-filling: the classes with more left share the rest within one,
        # and a class given all it has never has more than they do.
        open_ = counts < available
        if open_.any():
            assert np.ptp(counts[open_]) <= 1
            assert np.all(counts[~open_] <= counts[open_].min())


@pytest.mark.filterwarnings("ignore::sklearn_vision.LearningCurveWarning")
def test_balanced_subsample_clips_small_classes(recording):
    fits = _balanced_fits(recording, [10, 30, 60])
    assert fits[-1]["counts"].tolist() == [40, 15, 5]


def test_fit_shapes_sizes_and_curve(digits):
    X, y = digits
    lce = LearningCurveEstimator(
        logistic(), train_sizes=[0.05, 0.1, 0.25, 0.5], n_repeats=3, random_state=0
    ).fit(X, y)
    # 720 samples: a test split of 10% would hold 72, so 3 folds score every sample.
    n_train = len(y) - len(y) // 3
    assert lce.n_train_ == n_train and lce.n_scored_ == len(y)
    assert lce.resolve_train_sizes(y).tolist() == lce.train_sizes_.tolist()
    np.testing.assert_array_equal(
        lce.train_sizes_, np.floor(np.array([0.05, 0.1, 0.25, 0.5]) * n_train)
    )
    assert lce.scores_.shape == lce.fit_times_.shape == (4, 3)
    assert np.all(lce.fit_times_ > 0)
    assert isinstance(lce.curve_, PowerLawRegressor)
    # More data helps on digits, and the curve follows the means.
    means = lce.scores_.mean(axis=1)
    assert means[-1] > means[0]
    np.testing.assert_allclose(lce.predict_score(lce.train_sizes_), means, atol=0.03)


def test_extrapolation_interval_and_samples_needed(digits):
    X, y = digits
    lce = LearningCurveEstimator(
        logistic(), train_sizes=[20, 40, 80, 160], n_repeats=4, random_state=0
    ).fit(X, y)
    big = [320, 640]
    score = lce.predict_score(big)
    lower, upper = lce.score_interval(big, confidence=0.9)
    assert np.all(lower <= score + 1e-9) and np.all(score <= upper + 1e-9)
    assert np.all(upper <= 1.0)
    target = float(lce.predict_score(300)[0])
    needed = lce.samples_needed(target)
    assert needed.shape == (1,)
    assert 250 <= needed[0] <= 350
    # Planning on the pessimistic side of the band asks for more samples.
    assert lce.samples_needed(target, confidence=0.9)[0] >= needed[0]
    assert np.isinf(lce.samples_needed(1.5)[0])


class ScoredRecorder(ClassifierMixin, BaseEstimator):
    """Predicts the first class; records the sample ids (column 0 of X) it predicts."""

    scored = []

    def __init__(self, random_state=None):
        self.random_state = random_state

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        return self

    def predict(self, X):
        ScoredRecorder.scored.append(X[:, 0].astype(int))
        return np.full(len(X), self.classes_[0])


@pytest.mark.parametrize("groups", [False, True], ids=["samples", "groups"])
def test_small_data_set_scores_every_sample_with_the_same_fits(groups):
    rng = np.random.RandomState(0)
    X = np.c_[np.arange(200), rng.normal(size=200)]
    y = rng.randint(0, 3, 200)
    patients = np.repeat(np.arange(50), 4) if groups else None
    ScoredRecorder.scored = []
    lce = fast_curve(ScoredRecorder(), train_sizes=[12, 24, 48, 96], n_repeats=5, refit=False)
    lce.fit(X, y, groups=patients)
    assert lce.scores_.shape == (4, 5) and len(ScoredRecorder.scored) == 4 * 5
    for size in range(4):  # at each size, its 5 fits score every sample once
        scored = np.concatenate(ScoredRecorder.scored[5 * size : 5 * size + 5])
        assert len(np.unique(scored)) >= 0.9 * len(y)
        assert len(scored) == len(np.unique(scored))
    assert lce.n_scored_ == len(y) and lce.test_sizes_.sum(axis=1).tolist() == [200] * 4
    # One held-out split of 10% would score 20 of them.
    ScoredRecorder.scored = []
    fast_curve(ScoredRecorder(), train_sizes=[12, 24, 48], n_repeats=1, refit=False).fit(X, y)
    assert len(np.unique(np.concatenate(ScoredRecorder.scored))) == 20


def test_large_data_set_keeps_one_test_split():
    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(2000, 2)), rng.randint(0, 2, 2000)
    lce = fast_curve(logistic(), train_sizes=[20, 40, 80], n_repeats=3, random_state=0).fit(X, y)
    assert lce.n_scored_ == 200 and lce.test_sizes_.tolist() == [[200] * 3] * 3
    assert lce.n_train_ == 1800


def test_flat_at_chance_says_so_and_needs_no_size():
    from sklearn_vision import LearningCurveWarning

    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(300, 5)), rng.randint(0, 2, 300)  # labels unrelated to X
    with pytest.warns(LearningCurveWarning, match="flat"):
        lce = LearningCurveEstimator(
            logistic(), train_sizes=[10, 20, 40, 80], n_repeats=5, random_state=0
        ).fit(X, y)
    assert lce.chance_score_ == pytest.approx(np.bincount(y).max() / len(y), abs=0.05)
    assert lce.flat_at_chance()
    with pytest.warns(LearningCurveWarning, match="flat at chance level"):
        needed = lce.samples_needed([0.6, 0.9])
    assert np.isinf(needed).all()


def test_balanced_sampling_draws_equal_class_counts(digits, recording):
    X, y = digits
    fast_curve(recording(), train_sizes=[8, 20, 40], n_repeats=2, refit=False, random_state=0).fit(
        X, y
    )
    assert [fit["n"] for fit in recording.fits] == [8, 8, 20, 20, 40, 40]
    for fit in recording.fits:
        assert fit["counts"].max() - fit["counts"].min() <= 1


def test_stratified_and_random_sampling(recording):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(400, 3))
    y = np.r_[np.zeros(300), np.ones(100)].astype(int)
    fast_curve(
        recording(), train_sizes=[40, 80, 120], sampling="stratified", n_repeats=2, refit=False
    ).fit(X, y)
    assert [fit["counts"].tolist() for fit in recording.fits[:2]] == [[30, 10], [30, 10]]
    assert [fit["counts"].tolist() for fit in recording.fits[4:]] == [[90, 30], [90, 30]]

    recording.fits.clear()
    fast_curve(
        recording(),
        train_sizes=[40, 80, 120],
        sampling="random",
        n_repeats=5,
        refit=False,
        random_state=0,
    ).fit(X, y)
    assert [fit["n"] for fit in recording.fits[:5]] == [40] * 5
    assert len({tuple(fit["counts"]) for fit in recording.fits[:5]}) > 1


def test_each_fit_gets_its_own_seed_and_subsampled_weights(digits, recording):
    X, y = digits
    weights = np.linspace(0.5, 1.5, len(y))
    fast_curve(recording(), train_sizes=[12, 24, 36], n_repeats=3, random_state=0).fit(
        X, y, sample_weight=weights
    )
    seeds = [fit["seed"] for fit in recording.fits]
    assert None not in seeds and len(set(seeds)) == len(seeds)
    for fit in recording.fits:
        assert len(fit["sample_weight"]) == fit["n"]
        assert np.all(np.isin(fit["sample_weight"], weights))


def test_random_state_reproducible_and_independent_of_n_jobs(digits):
    X, y = digits
    params = dict(train_sizes=[20, 40, 80], n_repeats=2, random_state=0, refit=False)
    one = fast_curve(logistic(), **params).fit(X, y)
    again = fast_curve(logistic(), **params).fit(X, y)
    parallel = fast_curve(logistic(), n_jobs=2, **params).fit(X, y)
    np.testing.assert_array_equal(one.scores_, again.scores_)
    np.testing.assert_array_equal(one.scores_, parallel.scores_)


def test_refit_delegates_and_scores_the_test_split(digits):
    X, y = digits
    lce = fast_curve(logistic(), train_sizes=[20, 40, 80], n_repeats=2, random_state=0)
    assert is_classifier(lce)
    lce.fit(X, y)
    assert lce.estimator_.n_features_in_ == X.shape[1]
    assert len(lce.estimator_.classes_) == 4
    np.testing.assert_array_equal(lce.classes_, np.unique(y))
    np.testing.assert_array_equal(lce.predict(X), lce.estimator_.predict(X))
    np.testing.assert_allclose(lce.predict_proba(X), lce.estimator_.predict_proba(X))
    assert lce.score(X, y) == pytest.approx(accuracy_score(y, lce.predict(X)))
    assert 0.9 < lce.test_score_ <= 1.0


def test_the_fit_on_all_the_training_images_is_the_refit(digits, recording):
    X, y = digits
    lce = fast_curve(recording(), train_sizes=[0.25, 0.5, 1.0], n_repeats=2, random_state=0)
    lce.fit(X, y)
    # Six fits, not seven: the first repeat at the largest size is estimator_.
    assert len(recording.fits) == 6
    last = recording.fits[4]
    assert last["n"] == lce.n_train_ == lce.train_sizes_[-1]
    assert lce.estimator_.random_state == last["seed"]
    assert lce.test_score_ == lce.scores_[-1, 0]
    recording.fits.clear()
    fast_curve(recording(), train_sizes=[0.2, 0.4, 0.6], n_repeats=2, random_state=0).fit(X, y)
    assert len(recording.fits) == 7  # below all the images: a fit of its own


def test_delegation_follows_the_estimator(digits):
    X, y = digits
    lce = fast_curve(LinearSVC(), train_sizes=[20, 40, 80], n_repeats=1)
    assert hasattr(lce, "decision_function") and not hasattr(lce, "predict_proba")
    no_refit = fast_curve(logistic(), train_sizes=[20, 40, 80], n_repeats=1, refit=False).fit(X, y)
    assert not hasattr(no_refit, "estimator_")
    with pytest.raises(NotFittedError, match="This LearningCurveEstimator instance is not fitted"):
        no_refit.predict(X)


def test_cv_folds_instead_of_a_test_split(digits):
    X, y = digits
    lce = fast_curve(
        logistic(), train_sizes=[0.1, 0.3, 0.6], n_repeats=2, cv=3, random_state=0
    ).fit(X, y)
    assert lce.scores_.shape == (3, 6)
    assert lce.n_train_ == min(len(y) - len(y) // 3 - (len(y) % 3 > 0), len(y) * 2 // 3)
    assert not hasattr(lce, "test_score_")
    assert len(lce.predict(X)) == len(y)


def test_regressor_with_random_sampling():
    X, y = make_regression(300, 5, noise=20, random_state=0)
    lce = fast_curve(
        LinearRegression(),
        train_sizes=[10, 20, 40, 80],
        n_repeats=3,
        sampling="random",
        scoring="r2",
        random_state=0,
    ).fit(X, y)
    assert not is_classifier(lce)
    assert lce.scores_.shape == (4, 3)
    with pytest.raises(ValueError, match="needs class labels.*sampling='random'"):
        fast_curve(LinearRegression(), train_sizes=[10, 20, 40]).fit(X, y)


def test_unbounded_scores_get_an_unbounded_curve(digits):
    X, y = digits
    lce = LearningCurveEstimator(
        logistic(),
        train_sizes=[20, 40, 80],
        n_repeats=2,
        scoring="neg_log_loss",
        random_state=0,
        refit=False,
    ).fit(X, y)
    assert np.all(lce.scores_ < 0)
    assert lce.curve_.score_bounds == (None, None)


@pytest.mark.parametrize(
    "params, message",
    [
        (dict(train_sizes=[2, 10, 20]), r"\[2\] samples, fewer than the 4 classes"),
        (dict(train_sizes=[0.001, 0.2, 0.5]), r"fewer than the 4 classes"),
        (dict(train_sizes=[0.2, 0.5, 1.5]), r"must lie in \(0, 1\]"),
        (dict(train_sizes=[np.nan, 0.2, 0.5]), r"must be finite numbers, got \[nan, 0.2, 0.5\]"),
        (dict(train_sizes=[10, 20, 100000]), r"\[100000\] samples, but only \d+ are available"),
        (dict(train_sizes=[]), "non-empty"),
        (dict(train_sizes=[10, 20], curve=None), r"2 distinct size\(s\), \[10, 20\]"),
    ],
)
def test_bad_sizes_name_the_problem(digits, params, message):
    X, y = digits
    with pytest.raises(ValueError, match=message):
        fast_curve(logistic(), n_repeats=1, **params).fit(X, y)


def test_repeated_sizes_are_merged_with_a_warning(digits):
    X, y = digits
    with pytest.warns(UserWarning, match="merged"):
        lce = fast_curve(DummyClassifier(), train_sizes=[20, 20, 40, 80], n_repeats=1).fit(X, y)
    assert lce.train_sizes_.tolist() == [20, 40, 80]


def test_imbalanced_learn_pipeline_with_smote(digits):
    from imblearn.over_sampling import SMOTE
    from imblearn.pipeline import make_pipeline

    X, y = digits
    keep = (y != 3) | (np.arange(len(y)) % 4 == 0)  # class 3 is rare
    pipeline = make_pipeline(SMOTE(k_neighbors=2, random_state=0), logistic())
    lce = fast_curve(
        pipeline,
        train_sizes=[40, 80, 160],
        n_repeats=2,
        scoring="balanced_accuracy",
        random_state=0,
    ).fit(X[keep], y[keep])
    assert lce.scores_.shape == (3, 2)
    assert lce.test_score_ > 0.8


def test_progress_bar(digits, capsys, monkeypatch):
    X, y = digits
    curve = fast_curve(
        DummyClassifier(), train_sizes=[20, 30, 40], n_repeats=2, verbose=1, refit=False
    )
    # Off a terminal (a log file): no redraws, one summary line.
    curve.fit(X, y)
    err = capsys.readouterr().err
    assert err.startswith("6/6 fits in ") and err.count("\n") == 1 and "\r" not in err
    # In a terminal: rich's live bar, with the current fit and the time left.
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    curve.fit(X, y)
    err = capsys.readouterr().err
    assert "6/6 fits" in err and "size 40, repeat 2/2" in err and "left" in err


class PausingClassifier(ClassifierMixin, BaseEstimator):
    """Predicts the first class; a fit on 800 samples pauses long enough for a redraw, or fails."""

    def __init__(self, fail=False):
        self.fail = fail

    def fit(self, X, y):
        if len(y) == 800:
            if self.fail:
                raise RuntimeError("the fit on 800 samples fails")
            time.sleep(0.5)  # rich redraws a live bar ten times a second
        self.classes_ = np.unique(y)
        return self

    def predict(self, X):
        return np.full(len(X), self.classes_[0])


def _bar_halves(frame):
    """How full the bar of a frame of rich's progress bar is, in half characters."""
    return 2 * frame.count("━") + frame.count("╸")


@pytest.mark.filterwarnings("ignore::sklearn_vision.LearningCurveWarning")
def test_progress_time_left_is_weighted_by_the_work_left(capsys, monkeypatch):
    X, y = load_digits(return_X_y=True)
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    monkeypatch.setenv("NO_COLOR", "1")  # the bar's done part alone is drawn
    curve = fast_curve(
        PausingClassifier(), train_sizes=[50, 100, 800], n_repeats=1, verbose=1, refit=False
    )
    curve.fit(X, y)
    frames = capsys.readouterr().err.split("\r")
    during = [frame for frame in frames if "2/3 fits" in frame]
    done = [frame for frame in frames if "3/3 fits" in frame]
    assert during and done
    # 2 of 3 fits, but 150 of the 950 samples' work: the bar is 16% full, not 67%.
    assert _bar_halves(during[-1]) / _bar_halves(done[-1]) == pytest.approx(150 / 950, abs=0.1)


@pytest.mark.filterwarnings("ignore::sklearn_vision.LearningCurveWarning")
def test_progress_bar_is_closed_when_a_fit_fails(capsys, monkeypatch):
    X, y = load_digits(return_X_y=True)
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    failing = fast_curve(
        PausingClassifier(fail=True),
        train_sizes=[50, 100, 800],
        n_repeats=1,
        verbose=1,
        refit=False,
        error_score="raise",
    )
    with pytest.raises(RuntimeError, match="800 samples"):
        failing.fit(X, y)
    assert "2/3 fits" in capsys.readouterr().err
    # Closed as the error left the loop: the next fit draws its own bar.
    clone(failing).set_params(estimator=DummyClassifier()).fit(X, y)
    assert "3/3 fits" in capsys.readouterr().err


def test_fit_leaves_the_given_estimator_unfitted():
    X, y = load_digits(return_X_y=True)
    estimator = logistic()
    lce = LearningCurveEstimator(estimator, train_sizes=[100, 200, 400], n_repeats=2)
    lce.fit(X / 16, y)
    assert not hasattr(estimator, "coef_")
    assert lce.estimator is estimator and lce.estimator_ is not estimator
    assert lce.estimator_.coef_.shape == (10, X.shape[1])


def test_transfer_classifier_computes_each_image_once(fresh_cache):
    from sklearn_vision import TransferImageClassifier
    from sklearn_vision.datasets import load_digits_images

    X, y = load_digits_images(image_size=32, n_class=3, return_X_y=True)
    X, y = X[:90], y[:90]
    store = fresh_cache
    clf = TransferImageClassifier(
        "mobilenet_v2",
        **TINY_MOBILENET,
        epochs=2,
        fine_tune_from=None,
        early_stopping=False,
        random_state=0,
    )
    lce = fast_curve(clf, train_sizes=[15, 30, 60], n_repeats=2, random_state=0).fit(X, y)
    assert lce.scores_.shape == (3, 2)
    # One backbone pass per image for the 6 fits, their scoring and the refit:
    # every other lookup (each fit's subsample and test split, the refit's
    # 81 training and 9 test images) is a hit.
    assert store.misses == len(X)
    assert store.hits + store.misses == 2 * (15 + 30 + 60) + 6 * 9 + 81 + 9


def test_scikeras_classifier():
    scikeras = pytest.importorskip("scikeras.wrappers")
    import keras

    def build(meta):
        model = keras.Sequential(
            [
                keras.Input((meta["n_features_in_"],)),
                keras.layers.Dense(meta["n_classes_"], activation="softmax"),
            ]
        )
        model.compile(loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.Adam(0.05))
        return model

    X, y = load_digits(n_class=3, return_X_y=True)
    X = (X / 16.0).astype("float32")
    model = scikeras.KerasClassifier(build, epochs=5, verbose=0, random_state=0)
    lce = fast_curve(model, train_sizes=[15, 30, 60, 120], n_repeats=2, random_state=0).fit(X, y)
    assert lce.scores_.shape == (4, 2)
    assert lce.scores_.mean(axis=1)[-1] > 0.8
    assert lce.predict(X[:5]).shape == (5,)


def test_dask_backend_on_a_local_cluster(digits):
    pytest.importorskip("distributed")
    import joblib
    from distributed import Client, LocalCluster

    X, y = digits
    params = dict(train_sizes=[20, 40, 80], n_repeats=2, random_state=0, refit=False)
    local = fast_curve(logistic(), **params).fit(X, y)
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=False,
            protocol="tcp",
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        Client(cluster),
        joblib.parallel_config(backend="dask"),
    ):
        on_dask = fast_curve(logistic(), n_jobs=-1, **params).fit(X, y)
    np.testing.assert_array_equal(local.scores_, on_dask.scores_)


class FailsSometimes(ClassifierMixin, BaseEstimator):
    """Fails on every ``fail_every``-th fit of its clones, the first included.

    The fits are counted across clones, in the order the learning curve runs
    them (size by size, repeat by repeat, with n_jobs=None).
    """

    fits = itertools.count()

    def __init__(self, fail_every=3, random_state=None):
        self.fail_every = fail_every
        self.random_state = random_state

    def fit(self, X, y):
        fit = next(FailsSometimes.fits)
        if fit % self.fail_every == 0:
            raise RuntimeError(f"out of memory (fit {fit})")
        self.classes_ = np.unique(y)
        self.model_ = LogisticRegression(max_iter=200).fit(X, y)
        return self

    def predict(self, X):
        return self.model_.predict(X)


def test_failing_fits_score_error_score_with_a_warning(monkeypatch):
    X, y = load_digits(n_class=3, return_X_y=True)
    monkeypatch.setattr(FailsSometimes, "fits", itertools.count())
    lce = LearningCurveEstimator(
        FailsSometimes(), train_sizes=[30, 60, 120, 240], n_repeats=3, refit=False
    )
    with pytest.warns(
        FitFailedWarning,
        match=r"4 of 12 fits failed and score nan.*size 30, repeat 1: RuntimeError: out of memory",
    ):
        lce.fit(X / 16, y)
    assert np.isnan(lce.scores_).sum() == 4 and np.isnan(lce.scores_[:, 0]).all()
    assert np.isfinite(lce.predict_score(1000)).all()  # fitted on the 8 that ran
    with pytest.raises(RuntimeError, match="out of memory"):
        monkeypatch.setattr(FailsSometimes, "fits", itertools.count())
        lce.set_params(error_score="raise").fit(X / 16, y)


def test_all_fits_failing_is_an_error():
    X, y = load_digits(n_class=3, return_X_y=True)
    with pytest.raises(RuntimeError, match="out of memory") as raised:
        LearningCurveEstimator(
            FailsSometimes(fail_every=1), train_sizes=[30, 60, 120], n_repeats=2, refit=False
        ).fit(X / 16, y)
    assert "All 6 fits of the learning curve failed; this is the first, at size 30" in str(
        raised.value.__notes__
    )


class CountsFits(ClassifierMixin, BaseEstimator):
    """Counts its fits in a file; stops the run (as Ctrl-C would) at the ``stop_at``-th fit.

    The ``fail_at``-th fit runs out of memory.
    """

    stop_at = None
    fail_at = None

    def __init__(self, counter=None, random_state=None):
        self.counter = counter
        self.random_state = random_state

    def fit(self, X, y):
        done = int(self.counter.read_text() or 0) + 1
        self.counter.write_text(str(done))
        if done == CountsFits.stop_at:
            raise KeyboardInterrupt
        if done == CountsFits.fail_at:
            raise MemoryError("out of memory, once")
        self.model_ = LogisticRegression(max_iter=200).fit(X, y)
        self.classes_ = self.model_.classes_
        return self

    def predict(self, X):
        return self.model_.predict(X)


def test_an_interrupted_run_resumes_from_memory(tmp_path):
    X, y = load_digits(n_class=3, return_X_y=True)
    counter = tmp_path / "fits"
    counter.write_text("0")
    params = dict(
        train_sizes=[30, 60, 120], n_repeats=3, random_state=0, memory=tmp_path / "fits_cache"
    )
    CountsFits.stop_at = 6
    with pytest.raises(KeyboardInterrupt):
        LearningCurveEstimator(CountsFits(counter), **params).fit(X / 16, y)
    CountsFits.stop_at = None
    counter.write_text("0")
    resumed = LearningCurveEstimator(CountsFits(counter), **params).fit(X / 16, y)
    # The 5 fits done before the interruption are reused: 4 of the 9 run, and the refit.
    assert counter.read_text() == "5"
    counter.write_text("0")
    fresh = LearningCurveEstimator(CountsFits(counter), **{**params, "memory": None}).fit(X / 16, y)
    assert counter.read_text() == "10"
    np.testing.assert_array_equal(resumed.scores_, fresh.scores_)
    # Other data: nothing reused.
    counter.write_text("0")
    LearningCurveEstimator(CountsFits(counter), **params).fit(X[::-1] / 16, y[::-1])
    assert counter.read_text() == "10"


def test_resume_records_are_plain_data_and_keep_no_failure(tmp_path, monkeypatch):
    X, y = load_digits(n_class=3, return_X_y=True)
    X = X / 16
    counter = tmp_path / "fits"
    counter.write_text("0")
    params = dict(train_sizes=[30, 60, 120], n_repeats=2, random_state=0, refit=False)
    store = tmp_path / "fit_records"
    CountsFits.fail_at = 2  # the second fit raises, once
    with pytest.warns(FitFailedWarning):
        first = fast_curve(CountsFits(counter), memory=store, **params).fit(X, y)
    CountsFits.fail_at = None
    assert np.isnan(first.scores_).sum() == 1
    records = sorted((store / "sklearn-vision-fits").iterdir())
    assert len(records) == 5  # the failed fit is not kept
    for record in records:  # plain JSON, nothing that runs code on loading
        assert set(json.loads(record.read_text())) == {"score", "seconds", "digest"}
    # A rerun tries the failed fit again (the cause is gone) and reuses the others.
    counter.write_text("0")
    again = fast_curve(CountsFits(counter), memory=store, **params).fit(X, y)
    assert counter.read_text() == "1" and not np.isnan(again.scores_).any()
    # A record replaced by anything else (a pickle, say) is never loaded: fitted again.
    import pickle

    records[0].write_bytes(pickle.dumps({"score": 1.0, "seconds": 0.0}))
    monkeypatch.setattr(pickle, "loads", lambda *a, **k: pytest.fail("a pickle was loaded"))
    counter.write_text("0")
    final = fast_curve(CountsFits(counter), memory=store, **params).fit(X, y)
    assert counter.read_text() == "1"
    np.testing.assert_array_equal(final.scores_, again.scores_)


def test_folds_are_capped_by_groups_and_classes_and_used_equally():
    rng = np.random.RandomState(0)
    X = np.c_[np.arange(60), rng.normal(size=60)]
    y = np.tile([0, 1, 2], 20)
    three_patients = np.repeat(["a", "b", "c"], 20)
    ScoredRecorder.scored = []
    lce = fast_curve(ScoredRecorder(), train_sizes=[3, 6, 12], n_repeats=5, refit=False)
    lce.fit(X, y, groups=three_patients)
    # 3 folds for 5 repeats: each fold twice a size, 6 fits, every sample scored twice.
    assert lce.scores_.shape == (3, 6)
    scored = np.concatenate(ScoredRecorder.scored[:6])
    assert np.all(np.bincount(scored) == 2)
    # Four samples a class and five repeats: four folds, not an error about n_splits.
    small = fast_curve(logistic(), train_sizes=[3, 4, 6], n_repeats=5, refit=False)
    small.fit(rng.normal(size=(8, 2)), np.tile([0, 1], 4))
    assert small.scores_.shape == (3, 8)


def test_binomial_noise_only_for_proportions():
    X, y = make_regression(300, 5, noise=20, random_state=0)
    params = dict(train_sizes=[10, 20, 40, 80], n_repeats=3, sampling="random", random_state=0)
    r2 = LearningCurveEstimator(LinearRegression(), scoring="r2", **params).fit(X, y)
    # Scores in [0, 1], but no proportion: the spread of the repeats alone.
    spread = r2.scores_[-1].std(ddof=1) / np.sqrt(3)
    assert r2.curve_.standard_error_ == pytest.approx(spread, rel=1e-6)


def test_resume_records_keep_only_finite_scores(tmp_path):
    X, y = load_digits(n_class=3, return_X_y=True)

    def nan_score(estimator, X, y):
        return np.nan

    params = dict(train_sizes=[30, 60, 120], n_repeats=2, random_state=0, refit=False)
    with pytest.raises(ValueError, match="scored NaN"):
        fast_curve(logistic(), scoring=nan_score, memory=tmp_path, **params).fit(X / 16, y)
    assert not (tmp_path / "sklearn-vision-fits").exists()


def test_samples_needed_interval_and_the_next_round(digits):
    X, y = digits
    lce = LearningCurveEstimator(
        logistic(), train_sizes=[20, 40, 80, 160], n_repeats=4, random_state=0
    ).fit(X, y)
    target = float(lce.predict_score(400)[0])
    low, high = lce.samples_needed_interval(target)
    needed = lce.samples_needed(target)
    assert low.shape == high.shape == (1,)
    assert low[0] <= needed[0] <= high[0] and low[0] == np.ceil(low[0])
    # The next round aims at the estimate, 1.25 to 3 times the largest size measured.
    next_round = lce.next_round_size(target)
    assert 1.25 * 160 <= next_round <= 3 * 160
    assert next_round == np.ceil(min(max(needed[0], 1.25 * 160), 3 * 160))
    far = float(lce.predict_score(20 * 160)[0])  # an estimate far beyond: capped at 3x
    assert lce.next_round_size(far) == 3 * 160
    # A target already measured needs no more; one the curve cannot reach, no size.
    assert lce.next_round_size(lce.scores_[0].mean()) == lce.n_train_
    assert np.isinf(lce.next_round_size(1.5))
    assert np.isinf(lce.samples_needed_interval(1.5)[0]).all()


def test_flat_at_chance_gives_no_range():
    from sklearn_vision import LearningCurveWarning

    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(300, 5)), rng.randint(0, 2, 300)
    with pytest.warns(LearningCurveWarning, match="flat"):
        lce = LearningCurveEstimator(
            logistic(), train_sizes=[10, 20, 40, 80], n_repeats=5, random_state=0
        ).fit(X, y)
    with pytest.warns(LearningCurveWarning, match="flat at chance level"):
        low, high = lce.samples_needed_interval([0.6, 0.9])
    assert np.isinf(low).all() and np.isinf(high).all()


class BatchScoring(ClassifierMixin, BaseEstimator):
    """A logistic regression that also scores a batch of subsamples in one call."""

    batches = []

    def __init__(self, random_state=None):
        self.random_state = random_state

    def fit(self, X, y, sample_weight=None, groups=None):
        self.model_ = LogisticRegression(max_iter=500).fit(X, y, sample_weight=sample_weight)
        self.classes_ = self.model_.classes_
        return self

    def predict(self, X):
        return self.model_.predict(X)

    def score_subsamples(self, X, y, jobs, scorer, groups=None):
        BatchScoring.batches.append([(len(train), len(test), seed) for train, test, seed in jobs])
        BatchScoring.groups = groups
        fits = [clone(self).set_params(random_state=seed).fit(X[tr], y[tr]) for tr, _, seed in jobs]
        # Halved: marks the scores that came through here.
        return [scorer(fit, X[test], y[test]) / 2 for fit, (_, test, _) in zip(fits, jobs)]


def test_a_study_is_scored_in_one_batch_where_the_estimator_offers_it(digits):
    X, y = digits
    BatchScoring.batches = []
    lce = fast_curve(BatchScoring(), train_sizes=[40, 80, 160], n_repeats=2, random_state=0)
    lce.fit(X, y)
    assert len(BatchScoring.batches) == 1
    assert [n for n, _, _ in BatchScoring.batches[0]] == [40, 40, 80, 80, 160, 160]
    assert len({seed for _, _, seed in BatchScoring.batches[0]}) == 6  # each fit its own seed
    assert np.all(lce.scores_ <= 0.5)
    plain = fast_curve(logistic(), train_sizes=[40, 80, 160], n_repeats=2, random_state=0)
    np.testing.assert_allclose(lce.scores_ * 2, plain.fit(X, y).scores_)
    # Per-sample fit parameters go one fit at a time.
    BatchScoring.batches = []
    lce.fit(X, y, sample_weight=np.ones(len(y)))
    assert BatchScoring.batches == [] and lce.scores_.max() > 0.5
    # Groups go to the batch, as they would to each fit.
    groups = np.arange(len(y)) // 3
    lce.fit(X, y, groups=groups)
    assert len(BatchScoring.batches) == 1
    np.testing.assert_array_equal(BatchScoring.groups, groups)

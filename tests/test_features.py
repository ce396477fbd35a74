import os

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline

from sklearn_vision import (
    BACKBONES,
    TransferImageClassifier,
    feature_cache_context,
)

from .conftest import TINY_MOBILENET, small_features


def test_embeddings_shape_and_pipeline(digits, fresh_cache):
    X, y = digits
    features = small_features().fit(X[:20])
    Z = features.transform(X[:20])
    assert Z.shape == (20, features.n_features_out_) and Z.dtype == np.float32
    assert features.get_feature_names_out()[0] == "backbone0"
    # At 64 pixels the last feature map is 2x2 (at 32 it is 1x1: avg == max).
    average = small_features(image_size=64).fit_transform(X[:20])
    maximum = small_features(image_size=64, pooling="max").fit_transform(X[:20])
    assert np.all(maximum >= average) and not np.allclose(maximum, average, rtol=1e-3, atol=0)
    pipe = make_pipeline(small_features(), LogisticRegression(max_iter=300)).fit(X[:60], y[:60])
    assert pipe.predict(X[60:70]).shape == (10,)


def test_cache_is_shared_across_clones(digits, fresh_cache):
    X, _ = digits
    first = small_features().fit(X[:30])
    computed = first.transform(X[:30])
    assert fresh_cache.misses == 30 and fresh_cache.hits == 0
    again = clone(first).fit(X[:30]).transform(X[:30])
    assert fresh_cache.hits == 30  # the clone computed nothing
    np.testing.assert_array_equal(computed, again)
    uncached = small_features(cache=False).fit(X[:30]).transform(X[:30])
    np.testing.assert_allclose(uncached, computed, rtol=1e-5, atol=0)
    assert fresh_cache.hits == 30 and fresh_cache.misses == 30


@pytest.mark.parametrize(
    "change", [{"random_state": 1}, {"image_size": 48}, {"backbone_kwargs": {"alpha": 0.5}}]
)
def test_cache_never_serves_features_of_other_weights_or_sizes(digits, fresh_cache, change):
    X, _ = digits
    base = small_features().fit(X[:10]).transform(X[:10])
    other = small_features(**change).fit(X[:10]).transform(X[:10])
    assert fresh_cache.hits == 0 and fresh_cache.misses == 20
    # Random-weight embeddings are tiny (about 1e-12): compare relatively.
    assert other.shape != base.shape or not np.allclose(other, base, rtol=1e-3, atol=0)


def test_a_changed_file_is_a_miss(image_files, fresh_cache):
    from PIL import Image

    paths, X, _ = image_files
    features = small_features().fit(paths[:5])
    before = features.transform(paths[:5])
    Image.fromarray(255 - X[0]).save(paths[0])
    os.utime(paths[0], ns=(1, 1))  # a new mtime even on a coarse clock
    after = features.transform(paths[:5])
    assert fresh_cache.misses == 6 and fresh_cache.hits == 4
    assert not np.allclose(before[0], after[0], rtol=1e-3, atol=0)
    np.testing.assert_array_equal(before[1:], after[1:])


def test_memory_bound_evicts_least_recently_used(digits, fresh_cache):
    X, _ = digits
    features = small_features().fit(X[:1])
    row_bytes = features.transform(X[:1]).nbytes
    with feature_cache_context(max_bytes=10 * row_bytes) as bounded:
        features.transform(X[:25])
        assert len(bounded) == 10 and bounded.nbytes <= 10 * row_bytes
        features.transform(X[15:25])  # the 10 most recent are all still there
        assert bounded.hits == 10


def test_on_disk_store_survives_a_new_cache(digits, fresh_cache, tmp_path):
    X, _ = digits
    store = tmp_path / "features"
    with feature_cache_context(location=store):
        computed = small_features().fit(X[:12]).transform(X[:12])
    assert len(list(store.rglob("*.npy"))) == 12
    with feature_cache_context(location=store) as reopened:
        np.testing.assert_array_equal(small_features().fit(X[:12]).transform(X[:12]), computed)
        assert reopened.hits == 12 and reopened.misses == 0


def test_smote_in_embedding_space(digits, fresh_cache):
    from imblearn.over_sampling import SMOTE
    from imblearn.pipeline import make_pipeline as make_imblearn_pipeline

    X, y = digits
    keep = np.r_[np.flatnonzero(y == 0)[:40], np.flatnonzero(y == 1)[:8]]
    pipe = make_imblearn_pipeline(
        small_features(), SMOTE(k_neighbors=3, random_state=0), LogisticRegression(max_iter=500)
    )
    pipe.fit(X[keep], y[keep])
    # The same as oversampling the embeddings by hand, then fitting on them.
    embeddings = small_features().fit_transform(X[keep])
    Z, z = SMOTE(k_neighbors=3, random_state=0).fit_resample(embeddings, y[keep])
    assert np.bincount(z).tolist() == [40, 40]
    by_hand = LogisticRegression(max_iter=500).fit(Z, z)
    test = small_features().fit_transform(X[100:160])
    np.testing.assert_allclose(pipe.predict_proba(X[100:160]), by_hand.predict_proba(test))


def test_classifier_cross_validation_computes_each_image_once(digits, fresh_cache):
    X, y = digits
    clf = TransferImageClassifier(
        "mobilenet_v2",
        **TINY_MOBILENET,
        fine_tune_from=None,
        epochs=2,
        early_stopping=False,
        random_state=0,
    )
    cross_val_score(clf, X[:60], y[:60], cv=3)
    # Fold 1 computes every image (40 to train on, 20 to score); folds 2 and 3
    # find all 60 of theirs in the cache: each image went through the backbone once.
    assert fresh_cache.misses == 60
    assert fresh_cache.hits == 120


def test_stage_two_caches_the_split_point(digits, fresh_cache):
    X, y = digits
    params = dict(
        **TINY_MOBILENET,
        epochs=2,
        fine_tune_from="block_13",
        fine_tune_epochs=2,
        early_stopping=True,
        random_state=0,
    )
    other = dict(random_state=1, learning_rate=3e-3, fine_tune_learning_rate=3e-4)
    TransferImageClassifier("mobilenet_v2", cache=True, **{**params, **other}).fit(X[:60], y[:60])
    assert fresh_cache.misses == 120  # pooled features and split-point activations
    # A second fit borrows the first one's trainers (head; top and head), which
    # must start it from its own weights, seeds, optimizer state and learning rate.
    cached = TransferImageClassifier("mobilenet_v2", cache=True, **params).fit(X[:60], y[:60])
    assert fresh_cache.stats()["trainers"]["entries"] == 2
    plain = TransferImageClassifier("mobilenet_v2", cache=False, **params).fit(X[:60], y[:60])
    for stage in ("frozen", "fine_tune"):
        np.testing.assert_allclose(
            cached.history_[stage]["loss"], plain.history_[stage]["loss"], rtol=1e-4
        )
    np.testing.assert_allclose(
        cached.predict_proba(X[60:80]), plain.predict_proba(X[60:80]), atol=1e-5
    )


def test_trainers_are_lent_to_one_fit_at_a_time(fresh_cache):
    class Trainer:
        released = False

        def release(self):
            self.released = True

    with fresh_cache.borrowed_trainer("head", Trainer) as first:
        with fresh_cache.borrowed_trainer("head", Trainer) as second:
            assert second is not first  # a concurrent fit gets its own
    with fresh_cache.borrowed_trainer("head", Trainer) as third:
        assert third in (first, second)
    kept = [first, second]
    for key in range(3):
        with fresh_cache.borrowed_trainer(key, Trainer) as trainer:
            kept.append(trainer)
    # At most four kept idle: one of the least recently used key's is dropped.
    assert [trainer.released for trainer in kept].count(True) == 1
    assert first.released or second.released


def test_split_point_crossed_by_a_skip_connection(digits, fresh_cache):
    X, y = digits
    params = dict(weights=None, image_size=32, epochs=1, fine_tune_epochs=1, random_state=0)
    # conv5_block1_2_conv sits inside a residual block: a skip connection
    # crosses its input, so stage 2 cannot train on cached activations there.
    inside = TransferImageClassifier("resnet50", fine_tune_from="conv5_block1_2", **params)
    plan = inside.fit(X[:30], y[:30]).stage_plan_
    assert (plan.frozen_input, plan.fine_tune_input, plan.cut) == ("features", "images", False)
    with pytest.raises(ValueError, match="does not cut the network in two"):
        clone(inside).set_params(cache=True).fit(X[:30], y[:30])
    # At the start of a block the cut is one tensor: stage 2 trains on its activations.
    start = TransferImageClassifier("resnet50", fine_tune_from="conv5_block1", **params)
    plan = start.fit(X[:30], y[:30]).stage_plan_
    assert (plan.fine_tune_input, plan.cut) == ("activations", True)
    assert start.model_.layers[1].layers[start.fine_tune_index_].name == "conv5_block1_1_conv"


def test_repeated_misses_reuse_a_frozen_traced_copy(digits, fresh_cache):
    import tensorflow as tf

    X, _ = digits
    features = small_features(batch_size=8).fit(X[:30])
    reference = clone(features).set_params(cache=False).fit(X[:30]).transform(X[:30])
    # Random weights give outputs from 1e-14 to 1e-2: compare to float32
    # precision at their scale, not to each value's own.
    close = dict(rtol=1e-4, atol=1e-6 * np.abs(reference).max())
    first = features.transform(X[:10])
    functions = fresh_cache.inference_functions
    assert len(functions) == 0  # the first miss traces the model, keeps nothing
    second = features.transform(X[10:20])
    assert len(functions) == 1  # a frozen copy from the second miss on
    np.testing.assert_allclose(np.vstack([first, second]), reference[:20], **close)

    # Training the model afterwards (as stage 2 does) leaves the kept copy as it was.
    (key,) = functions.keys()
    kept = functions.get(key)
    preprocessing = BACKBONES["mobilenet_v2"].preprocessing
    batch = preprocessing(tf.image.resize(tf.constant(X[:30], tf.float32), (32, 32)))
    model = features.model_
    model.set_weights([w * 1.5 for w in model.get_weights()])
    np.testing.assert_allclose(kept(batch), reference, **close)
    assert not np.allclose(model(batch, training=False), reference, rtol=0.01, atol=0)


def test_frozen_fits_share_one_pretrained_backbone(digits, fresh_cache, tmp_path):
    X, y = digits
    path = str(tmp_path / "backbone.weights.h5")
    small = dict(image_size=(32, 32), backbone_kwargs={"alpha": 0.35})
    BACKBONES["mobilenet_v2"].build(weights=None, seed=3, **small).save_weights(path)
    params = dict(
        weights=path,
        image_size=32,
        backbone_kwargs={"alpha": 0.35},
        epochs=2,
        early_stopping=False,
        random_state=0,
    )
    frozen = TransferImageClassifier("mobilenet_v2", fine_tune_from=None, **params)
    first = clone(frozen).fit(X[:40], y[:40])
    second = clone(frozen).set_params(random_state=1).fit(X[:40], y[:40])
    backbone = first.model_.layers[1]
    assert second.model_.layers[1] is backbone  # built once, shared
    # The same predictions as a fit on a backbone of its own.
    own = clone(frozen).set_params(cache=False).fit(X[:40], y[:40])
    assert own.model_.layers[1] is not backbone
    np.testing.assert_allclose(
        first.predict_proba(X[40:60]), own.predict_proba(X[40:60]), atol=1e-4
    )
    # A shared backbone changed by hand is rebuilt, never served.
    backbone.set_weights([w * 1.5 for w in backbone.get_weights()])
    third = clone(frozen).fit(X[:40], y[:40])
    assert third.model_.layers[1] is not backbone
    # Fine-tuning or random weights: each fit builds its own.
    tuned = TransferImageClassifier(
        "mobilenet_v2", fine_tune_from="block_16", fine_tune_epochs=1, **params
    )
    assert clone(tuned).fit(X[:40], y[:40]).model_.layers[1] is not third.model_.layers[1]
    random_weights = clone(frozen).set_params(weights=None).fit(X[:40], y[:40])
    assert random_weights.model_.layers[1] is not third.model_.layers[1]


def test_feature_extraction_reports_progress(digits, fresh_cache, capsys):
    X, _ = digits
    small_features(verbose=1).fit_transform(X[:40])
    assert capsys.readouterr().err.startswith("40/40 images in ")
    small_features(verbose=1).fit_transform(X[:40])  # all cached: nothing computed, no bar
    assert capsys.readouterr().err == ""


def test_one_progress_bar_is_drawn_at_a_time(digits, fresh_cache, monkeypatch, capsys):
    from sklearn_vision import LearningCurveEstimator

    X, y = digits
    # As on a terminal, where rich draws live displays and allows one at a time:
    # the fits' bar is drawn, the features' bar inside each fit is not.
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    pipe = make_pipeline(small_features(verbose=1), LogisticRegression(max_iter=200))
    LearningCurveEstimator(
        pipe, train_sizes=[20, 30, 40], n_repeats=1, cv=2, verbose=1, random_state=0
    ).fit(X[:100], y[:100])
    err = capsys.readouterr().err
    assert "fits" in err and "images" not in err

import os

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline

from sklearn_vision import (
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


def test_split_point_crossed_by_a_skip_connection():
    from sklearn_vision._backbones import build_backbone, get_spec

    resnet = build_backbone(
        get_spec("resnet50"), weights=None, image_size=(32, 32), backbone_kwargs=None, seed=0
    )
    inside_block = [layer.name for layer in resnet.layers].index("conv5_block1_2_conv")
    assert TransferImageClassifier("resnet50")._split_at(resnet, inside_block) is None
    with pytest.raises(ValueError, match="does not cut the network in two"):
        TransferImageClassifier("resnet50", cache=True)._split_at(resnet, inside_block)
    block_start = [layer.name for layer in resnet.layers].index("conv5_block1_1_conv")
    bottom, top = TransferImageClassifier("resnet50")._split_at(resnet, block_start)
    assert bottom.output.shape[1:] == top.input.shape[1:]


def test_repeated_misses_reuse_a_frozen_traced_copy(digits, fresh_cache):
    from sklearn_vision._backbones import build_backbone, get_spec
    from sklearn_vision._features import cached_predict, model_key
    from sklearn_vision._images import check_images
    from sklearn_vision._keras_utils import inference, pooled_model
    from sklearn_vision._tf_data import make_dataset

    X, _ = digits
    images = check_images(X[:30])
    backbone = build_backbone(
        get_spec("mobilenet_v2"),
        weights=None,
        image_size=(32, 32),
        backbone_kwargs={"alpha": 0.35},
        seed=0,
    )
    model = pooled_model(backbone)
    params = dict(image_size=(32, 32), preprocessing="mobilenet_v2", batch_size=8)
    reference = cached_predict(model, images, cache=False, **params)
    # Random weights give outputs from 1e-14 to 1e-2: compare to float32
    # precision at their scale, not to each value's own.
    close = dict(rtol=1e-4, atol=1e-6 * np.abs(reference).max())
    first = cached_predict(model, images[np.arange(10)], **params)
    functions = fresh_cache.inference_functions
    assert len(functions) == 0  # the first miss traces the model, keeps nothing
    second = cached_predict(model, images[np.arange(10, 20)], **params)
    assert len(functions) == 1  # a frozen copy from the second miss on
    np.testing.assert_allclose(np.vstack([first, second]), reference[:20], **close)

    # Training the model afterwards (as stage 2 does) leaves the kept copy as it was.
    key = model_key(model, image_size=(32, 32), preprocessing="mobilenet_v2")
    dataset = make_dataset(
        images, batch_size=8, image_size=(32, 32), preprocess=get_spec_preprocess()
    )
    kept = functions.get((key, repr(dataset.element_spec)))
    backbone.set_weights([w * 1.5 for w in backbone.get_weights()])
    np.testing.assert_allclose(inference(model, dataset, kept), reference, **close)
    assert not np.allclose(inference(model, dataset), reference, rtol=0.01, atol=0)


def get_spec_preprocess():
    from sklearn_vision._backbones import get_spec, preprocess_function

    return preprocess_function(get_spec("mobilenet_v2"))


def test_frozen_fits_share_one_pretrained_backbone(digits, fresh_cache, tmp_path):
    from sklearn_vision._backbones import build_backbone, get_spec

    X, y = digits
    path = str(tmp_path / "backbone.weights.h5")
    small = dict(image_size=(32, 32), backbone_kwargs={"alpha": 0.35})
    build_backbone(get_spec("mobilenet_v2"), weights=None, seed=3, **small).save_weights(path)
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


def test_one_progress_bar_is_drawn_at_a_time(monkeypatch):
    from sklearn_vision._progress import ProgressBar

    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    with ProgressBar(2, True, unit="fits") as outer:
        with ProgressBar(5, True, unit="images") as inner:  # rich allows one live display
            inner.update(5)
        assert inner._bar is None and outer._bar is not None
        outer.update(2)
    assert ProgressBar._drawing is None

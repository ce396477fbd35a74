import numpy as np
import pytest

from sklearn_vision import feature_cache_context
from sklearn_vision._augmentation import AugmentedViews, can_cache_views, default_augmentation
from sklearn_vision._tf_data import make_dataset

from .conftest import mobilenet


def flip(seed=0):
    import keras

    return keras.layers.RandomFlip("horizontal", seed=seed)


def test_each_view_is_a_function_of_its_image():
    images = np.random.default_rng(0).uniform(0, 255, (6, 16, 16, 3)).astype(np.float32)
    views = AugmentedViews(default_augmentation(0), 3, (16, 16))
    keys = [f"image-{i}" for i in range(6)]
    entries = [entry for key in keys for entry in views.entry_keys(key)]
    together = views.apply(np.repeat(images, 3, axis=0), entries)
    # The same views whatever else is augmented with them, in whatever order.
    alone = views.apply(images[[4, 1]].repeat(3, axis=0), entries[12:15] + entries[3:6])
    np.testing.assert_array_equal(alone, together[[12, 13, 14, 3, 4, 5]])
    # The views of an image differ from each other and from the image.
    first = together[:3]
    assert not np.array_equal(first[0], first[1]) and not np.array_equal(first[0], images[0])
    # More views keep the first ones.
    more = AugmentedViews(default_augmentation(0), 5, (16, 16))
    assert more.entry_keys("image-0")[:3] == views.entry_keys("image-0")


def test_an_augmentation_of_many_random_layers_gets_a_seed_each():
    import keras

    # More seed generators than one blake2b digest has room for (8).
    layers = [keras.layers.RandomRotation(0.2, seed=i) for i in range(10)]
    views = AugmentedViews(keras.Sequential(layers), 2, (8, 8))
    image = np.random.default_rng(0).uniform(0, 255, (1, 8, 8, 3)).astype(np.float32)
    first, second = views.apply(np.repeat(image, 2, axis=0), views.entry_keys("image"))
    assert not np.array_equal(first, second)


def test_views_are_keyed_by_the_augmentation_and_its_seeds():
    keys = {
        AugmentedViews(augmentation, 2, (16, 16)).entry_keys("image")[0]
        for augmentation in (flip(0), flip(0), flip(1), default_augmentation(0))
    }
    assert len(keys) == 3


def test_views_are_cached_only_for_layers_whose_configuration_says_what_they_do():
    import keras

    class Blank(keras.layers.Layer):
        def call(self, x):
            return x * 0.0

    class Scale(keras.layers.Layer):
        def __init__(self, factor, **kwargs):
            super().__init__(**kwargs)
            self.factor = factor

        def call(self, x):
            return x * self.factor

    class DescribedScale(Scale):
        def get_config(self):
            return {**super().get_config(), "factor": self.factor}

    assert can_cache_views(default_augmentation(0)) and can_cache_views(flip())
    assert can_cache_views(Blank()) and can_cache_views(DescribedScale(0.5))
    # Scale(0.5) and Scale(2.0) would describe alike: their views would share keys.
    assert not can_cache_views(Scale(0.5))
    assert not can_cache_views(keras.Sequential([flip(), Scale(0.5)]))
    assert not can_cache_views(lambda images, training=True: images)


def test_an_augmentation_drawing_outside_its_seeds_is_refused():
    import keras
    import tensorflow as tf

    class Noise(keras.layers.Layer):
        def call(self, x, training=False):
            return x + tf.random.uniform(tf.shape(x)) if training else x

    views = AugmentedViews(Noise(), 2, (8, 8))
    with pytest.raises(ValueError, match="outside its Keras seed generators.*cache=False"):
        views.apply(np.zeros((1, 8, 8, 3), np.float32), ["entry"])


def test_each_epoch_draws_one_view_per_sample_reproducibly():
    # Sample i, view v holds 10 * i + v.
    X = (10 * np.arange(8)[:, None] + np.arange(3)[None, :]).astype(np.float32)[..., None]

    def epochs(seed):
        dataset = make_dataset(X, np.arange(8), batch_size=4, shuffle_seed=0, view_seed=seed)
        return [np.concatenate([x.numpy().ravel() for x, _ in dataset]).tolist() for _ in range(6)]

    drawn = epochs(1)
    assert drawn == epochs(1)
    assert drawn != epochs(2)
    samples = np.array([sorted(v // 10 for v in epoch) for epoch in drawn])
    assert (samples == np.arange(8)).all()  # each sample once per epoch
    assert len({v % 10 for epoch in drawn for v in epoch}) == 3  # every view drawn


def test_augmented_fits_share_one_bank(digits, fresh_cache):
    X, y = digits
    params = dict(augmentation="default", augmentation_views=2, epochs=1)
    mobilenet(**params).fit(X[:30], y[:30])
    # Two views of each image, pooled (stage 1) and at the split point (stage 2).
    assert fresh_cache.misses == 2 * 2 * 30
    # A subsample: every view is served from the cache.
    mobilenet(**params).fit(X[:20], y[:20])
    assert fresh_cache.misses == 2 * 2 * 30
    # Another augmentation is never served this bank.
    mobilenet(**{**params, "augmentation": flip()}, fine_tune_from=None).fit(X[:20], y[:20])
    assert fresh_cache.misses == 2 * 2 * 30 + 2 * 20


@pytest.mark.slow
def test_augmented_fits_are_reproducible_from_a_cold_cache(digits, mobilenet_v2_weights):
    X, y = digits
    params = dict(weights=mobilenet_v2_weights, backbone_kwargs=None, augmentation="default")
    params.update(augmentation_views=2, epochs=3, early_stopping=True, fine_tune_from=None)
    with feature_cache_context():
        # Views of X[20:40] are first computed in other chunks, for another fit.
        mobilenet(**params, random_state=1).fit(X[20:60], y[20:60])
        warm = mobilenet(**params).fit(X[:40], y[:40]).predict_proba(X[60:90])
    with feature_cache_context():
        cold = mobilenet(**params).fit(X[:40], y[:40]).predict_proba(X[60:90])
    assert np.ptp(cold, axis=0).max() > 1e-2  # the features tell the images apart
    np.testing.assert_allclose(warm, cold, atol=1e-5)


@pytest.mark.slow
def test_the_views_carry_the_augmentation(digits, mobilenet_v2_weights):
    import keras

    class Blank(keras.layers.Layer):
        """Blanks every training image: nothing is left to learn from."""

        def call(self, x, training=False):
            return x * 0.0 if training else x

    X, y = digits
    params = dict(weights=mobilenet_v2_weights, backbone_kwargs=None, fine_tune_from=None)
    params.update(epochs=5, learning_rate=1e-2, augmentation_views=1)
    with feature_cache_context():
        plain = mobilenet(**params).fit(X[:90], y[:90])
        blanked = mobilenet(**params, augmentation=Blank()).fit(X[:90], y[:90])
    # Pretrained features separate the digits; all-blank views cannot.
    prior = np.bincount(y[:90]).max() / 90
    assert plain.history_["frozen"]["accuracy"][-1] > prior + 0.2
    assert blanked.history_["frozen"]["accuracy"][-1] <= prior + 0.05
    assert np.ptp(blanked.predict_proba(X[:20]), axis=0).max() > 1e-3  # not at prediction


def test_a_bank_over_the_cache_bound_trains_stage_two_on_images(digits):
    X, y = digits
    params = dict(augmentation="default", augmentation_views=2, epochs=1)
    # No room for any bank: stage 1 computes its views (they are not kept), stage 2
    # augments the images afresh.
    with feature_cache_context(max_bytes=1000) as cache:
        clf = mobilenet(**params).fit(X[:30], y[:30])
        assert clf.history_["fine_tune"]  # stage 2 ran, on augmented images
        assert cache.misses == 2 * 30  # only the pooled views were cached
        with pytest.raises(ValueError, match="max_bytes"):
            mobilenet(**{**params, "epochs": 0}, cache=True).fit(X[:30], y[:30])


def test_an_augmentation_function_trains_on_images(digits):
    import tensorflow as tf

    X, y = digits

    def brighter(images, training=True):
        return tf.minimum(images * 1.1, 255.0)

    with feature_cache_context() as cache:
        mobilenet(augmentation=brighter, fine_tune_from=None).fit(X[:30], y[:30])
        assert cache.misses == 0
        with pytest.raises(ValueError, match="cannot be seeded per image"):
            mobilenet(augmentation=brighter, cache=True).fit(X[:30], y[:30])

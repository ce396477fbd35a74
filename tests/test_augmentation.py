import numpy as np
import pytest

from sklearn_vision import TransferImageClassifier, feature_cache_context

from .conftest import mobilenet


def flip(seed=0):
    import keras

    return keras.layers.RandomFlip("horizontal", seed=seed)


def head_only(**params):
    """The tiny MobileNetV2, its head trained on cached views: one backbone pass per view."""
    return mobilenet(**{"augmentation_views": 2, "epochs": 1, "fine_tune_from": None, **params})


def conv_net(**params):
    """A frozen one-layer convnet of seeded weights: cheap features that tell the digits apart."""
    import keras

    backbone = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            keras.layers.Rescaling(1 / 255),
            keras.layers.Conv2D(
                16,
                5,
                strides=2,
                activation="relu",
                kernel_initializer=keras.initializers.he_uniform(0),
            ),
        ],
        name="conv_net",
    )
    defaults = dict(augmentation="default", augmentation_views=2, fine_tune_from=None)
    defaults.update(epochs=3, learning_rate=1e-2, early_stopping=False, random_state=0)
    return TransferImageClassifier(backbone, **{**defaults, **params})


def cached_rows(cache):
    """Every feature row the cache holds, one per image or view."""
    return np.stack([cache.get(key).ravel() for key in cache.features.keys()])


def test_each_view_is_a_function_of_its_image(digits, fresh_cache):
    X, y = digits
    head_only(augmentation="default").fit(X[:30], y[:30])
    views = cached_rows(fresh_cache)
    # Two views of each image, all different.
    assert len(views) == 2 * 30 and len(np.unique(views, axis=0)) == 2 * 30
    # More views keep the first ones: only the third view of each image is new.
    head_only(augmentation="default", augmentation_views=3).fit(X[:30], y[:30])
    assert fresh_cache.misses == 3 * 30
    # The views differ from the images.
    head_only(augmentation=None).fit(X[:30], y[:30])
    assert fresh_cache.misses == 4 * 30
    assert len(np.unique(cached_rows(fresh_cache), axis=0)) == 4 * 30


def test_a_view_does_not_depend_on_what_else_is_augmented_with_it(digits):
    X, y = digits
    with feature_cache_context():
        # Views of X[20:40] are first computed at other places in other batches, for another fit.
        conv_net(random_state=1).fit(X[20:60], y[20:60])
        warm = conv_net().fit(X[:40], y[:40]).predict_proba(X[60:90])
    with feature_cache_context():
        cold = conv_net().fit(X[:40], y[:40]).predict_proba(X[60:90])
    assert np.ptp(cold, axis=0).max() > 1e-2  # the features tell the images apart
    np.testing.assert_allclose(warm, cold, atol=1e-6)


def test_an_augmentation_of_many_random_layers_gets_a_seed_each(digits, fresh_cache):
    import keras

    X, y = digits
    # More seed generators than one blake2b digest has room for (8).
    rotations = keras.Sequential([keras.layers.RandomRotation(0.2, seed=i) for i in range(10)])
    head_only(augmentation=rotations).fit(X[:10], y[:10])
    assert len(np.unique(cached_rows(fresh_cache), axis=0)) == 2 * 10


def test_views_are_keyed_by_the_augmentation_and_its_seeds(digits, fresh_cache):
    X, y = digits
    new_misses = []
    for augmentation in (flip(0), flip(0), flip(1), "default"):
        before = fresh_cache.misses
        head_only(augmentation=augmentation).fit(X[:20], y[:20])
        new_misses.append(fresh_cache.misses - before)
    # Another flip of the same seed is served the first one's views; another seed is not.
    assert new_misses == [2 * 20, 0, 2 * 20, 2 * 20]


def test_views_are_cached_only_for_layers_whose_configuration_says_what_they_do(digits):
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

    X, y = digits
    # epochs=0: the stages are planned, nothing is computed.
    for augmentation in ("default", flip(), Blank(), DescribedScale(0.5)):
        clf = head_only(augmentation=augmentation, epochs=0, cache=True).fit(X[:10], y[:10])
        assert clf.stage_plan_.frozen_input == "feature_views", augmentation
    # Scale(0.5) and Scale(2.0) would describe alike: their views would share keys.
    for augmentation in (
        Scale(0.5),
        keras.Sequential([flip(), Scale(0.5)]),
        lambda images, training=True: images,
    ):
        with pytest.raises(ValueError, match="cannot be seeded per image"):
            head_only(augmentation=augmentation, epochs=0, cache=True).fit(X[:10], y[:10])
        clf = head_only(augmentation=augmentation, epochs=0).fit(X[:10], y[:10])
        assert clf.stage_plan_.frozen_input == "images", augmentation


def test_an_augmentation_drawing_outside_its_seeds_is_refused(digits, fresh_cache):
    import keras
    import tensorflow as tf

    class Noise(keras.layers.Layer):
        def call(self, x, training=False):
            return x + tf.random.uniform(tf.shape(x)) if training else x

    X, y = digits
    with pytest.raises(ValueError, match="outside its Keras seed generators.*cache=False"):
        head_only(augmentation=Noise()).fit(X[:10], y[:10])
    # As the message says: without the cache, fresh noise every epoch.
    looked_up = fresh_cache.misses
    clf = head_only(augmentation=Noise(), cache=False).fit(X[:10], y[:10])
    assert clf.stage_plan_.frozen_input == "images" and fresh_cache.misses == looked_up


def test_each_epoch_draws_one_view_per_sample_reproducibly(digits, fresh_cache):
    import keras

    class CountBatches(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.per_epoch = []

        def on_epoch_begin(self, epoch, logs=None):
            self.per_epoch.append(0)

        def on_train_batch_end(self, batch, logs=None):
            self.per_epoch[-1] += 1

    X, y = digits

    def history(**params):
        clf = conv_net(**{"augmentation_views": 3, "batch_size": 4, **params})
        return clf.fit(X[:30], y[:30]).history_["frozen"]

    drawn = history()
    assert drawn == history()
    assert drawn != history(random_state=1)
    # One view of each image an epoch: 30 samples in batches of 4.
    counter = CountBatches()
    history(callbacks=[counter])
    assert counter.per_epoch == [8] * 3
    # Not always the first view: with that one view alone, the epochs train otherwise.
    assert drawn != history(augmentation_views=1)


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

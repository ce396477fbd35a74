"""Image augmentation: the default layers, and augmented views that can be cached.

A bank of ``n_views`` augmented views per image can be cached like plain
backbone outputs only if each view is a fixed function of the image: the same
pixels whichever fit, subsample, batch or process computes it. Keras's random
layers draw from the state of their seed generators; setting that state from
the image's key and the view's index before augmenting the image makes each
view such a function, so every fit, fold, grid point and learning-curve
subsample shares the backbone outputs of the views.
"""

import hashlib
import inspect
import json
import threading

import numpy as np

from ._backend import seeded_per_image
from ._cache import get_feature_cache
from ._keras_utils import architecture, leaf_layers

_SEED_STATE = "seed_generator_state"


def default_augmentation(seed):
    """Flips, small rotations and zooms, and contrast changes, as Keras's guides use."""
    import keras

    layers = keras.layers
    return keras.Sequential(
        [
            layers.RandomFlip("horizontal", seed=seed),
            layers.RandomRotation(0.05, seed=seed + 1),
            layers.RandomZoom(0.1, seed=seed + 2),
            layers.RandomContrast(0.1, seed=seed + 3),
        ],
        name="augmentation",
    )


def resolve_augmentation(augmentation, seed):
    """The layers the ``augmentation`` parameter names (``"default"`` built at ``seed``)."""
    if isinstance(augmentation, str) and augmentation == "default":
        return default_augmentation(seed)
    return augmentation


def can_cache_views(augmentation):
    """Whether the views of ``augmentation`` can be cached: Keras layers that describe themselves.

    Views are seeded through Keras's seed generators, and keyed by the layers'
    configurations: each layer must be one of Keras's own, or take no
    arguments of its own, or override ``get_config`` (else two layers with
    other arguments would share a key).
    """
    import keras

    if not isinstance(augmentation, keras.layers.Layer):
        return False
    return all(_describes_itself(layer) for layer in leaf_layers(augmentation))


def _describes_itself(layer):
    import keras

    kind = type(layer)
    if kind.__module__.startswith("keras.") or kind.get_config is not keras.layers.Layer.get_config:
        return True
    base = set(inspect.signature(keras.layers.Layer.__init__).parameters) | {"seed"}
    own = [
        p
        for name, p in inspect.signature(kind.__init__).parameters.items()
        if name not in base and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    return not own


class AugmentedViews:
    """``n_views`` augmented views of each image, each a function of the image's key.

    The view ``v`` of an image is ``augmentation`` applied with its seed
    generators set from a hash of the image key, of the augmentation's
    configuration (seeds included) and of ``v``. The views of an image thus
    do not depend on what else is augmented with it, and view ``v`` is the
    same for any ``n_views`` above ``v``.

    Parameters
    ----------
    augmentation : keras.layers.Layer
        Random layers applied to pixels in [0, 255], at the backbone's input size.
    n_views : int
        Views per image.
    image_size : tuple of int
        Height and width of the images augmented.
    """

    def __init__(self, augmentation, n_views, image_size):
        self.augmentation = augmentation
        self.n_views = int(n_views)
        self.image_size = tuple(image_size)
        description = (architecture(augmentation), self.image_size)
        self.key = hashlib.blake2b(
            json.dumps(description, sort_keys=True, default=repr).encode(), digest_size=16
        ).hexdigest()

    def entry_keys(self, image_key):
        """Return the cache key of each view of the image keyed ``image_key``."""
        return [
            hashlib.blake2b(f"{image_key}|{self.key}|{v}".encode(), digest_size=16).hexdigest()
            for v in range(self.n_views)
        ]

    def apply(self, pixels, entry_keys):
        """Return the views keyed ``entry_keys`` of ``pixels`` (one image per key), as float32."""
        # Fits with the same configuration share one traced augmentation.
        seeded = get_feature_cache().augmentation(
            self.key, lambda: _SeededAugmentation(self.augmentation, self.image_size)
        )
        return seeded(pixels, entry_keys)


class _SeededAugmentation:
    """An augmentation traced once, applied image by image, each with its own seeds.

    Its seed generators are set before each image; a lock keeps two threads
    from setting them at once.
    """

    def __init__(self, augmentation, image_size):
        augmentation.build((None, *image_size, 3))
        states = [v for v in augmentation.variables if v.name == _SEED_STATE]
        self._n_states = len(states)
        self._lock = threading.Lock()
        self._function = seeded_per_image(augmentation, states, image_size)
        self._check_reproducible(image_size)

    def _seeds(self, entry_key):
        """The seed-generator states of one view: two 31-bit integers per generator."""
        n = max(1, self._n_states)
        # blake2b gives at most 64 bytes (8 generators) a digest; blocks beyond
        # the first are told apart by their personalization.
        digest = b"".join(
            hashlib.blake2b(
                entry_key.encode(),
                digest_size=8 * min(8, n - 8 * block),
                person=str(block).encode() if block else b"",
            ).digest()
            for block in range(-(-n // 8))
        )
        words = np.frombuffer(digest, dtype="<u4").astype(np.int64) & 0x7FFFFFFF
        return words.reshape(n, 2)

    def __call__(self, pixels, entry_keys):
        seeds = np.stack([self._seeds(key) for key in entry_keys])
        with self._lock:
            return self._function(pixels.astype(np.float32), seeds)

    def _check_reproducible(self, image_size):
        """Raise when the same seeds give other pixels: the layer draws from elsewhere."""
        pattern = np.random.default_rng(0).uniform(0, 255, (2, *image_size, 3))
        first, second = (self(pattern, ["probe", "probe"]) for _ in range(2))
        if not np.array_equal(first, second):
            raise ValueError(
                "The augmentation gives other pixels for the same seeds: it draws random "
                "numbers outside its Keras seed generators (tf.random or NumPy calls, or "
                "layers without a seed generator), so its views cannot be cached. "
                "Use Keras random layers (keras.layers.RandomFlip, ...), or cache=False "
                "for fresh augmentation every epoch."
            )

"""Backbone features: the BackboneFeatures transformer and the cache every fit shares.

A frozen backbone in inference mode is a pure function of the image, so its
output is computed once per (model, image) and reused by every fit in the
process: each epoch, fold, grid point and learning-curve subsample.
"""

import hashlib
import json
import os
import threading
from collections import OrderedDict
from contextlib import contextmanager
from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ._backbones import (
    BACKBONE_PARAMETER_CONSTRAINTS,
    BACKBONES,
    get_spec,
    make_backbone,
    preprocess_function,
    release_step_functions,
)
from ._images import check_images, image_read_errors, make_dataset


class FeatureCache:
    """An LRU store of per-image model outputs, bounded in bytes, optionally on disk.

    Keys are ``(model_key, image_key)``: :func:`model_key` fingerprints the
    weights and architecture that produce the output, :func:`image_keys` the
    content of each image (or a file's path, size and modification time), so a
    change to either is a miss, never a stale hit.

    Parameters
    ----------
    max_bytes : int, default=2 GiB
        Memory bound; least recently used entries are dropped beyond it.
    location : str or None, default=None
        A folder where entries are also written (one ``.npy`` file each), for
        datasets larger than memory and across processes. Nothing else in it is
        touched.
    """

    def __init__(self, max_bytes=2 * 2**30, location=None):
        self.max_bytes = int(max_bytes)
        self.location = location
        self._entries = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = self.misses = 0
        self._functions = OrderedDict()  # (model key, input spec) -> traced inference
        self._seen = set()
        self._backbones = OrderedDict()  # build parameters -> (built, weights digest)
        self._trainers = OrderedDict()  # architecture and optimizer -> idle trainers

    @property
    def nbytes(self):
        """Bytes held in memory."""
        return self._bytes

    def __len__(self):
        return len(self._entries)

    def clear(self):
        """Drop every entry held in memory (files under ``location`` stay)."""
        with self._lock:
            self._entries.clear()
            self._bytes = 0
            self._functions.clear()
            self._backbones.clear()
            self._trainers.clear()

    def shared_backbone(self, key, build):
        """Return what ``build()`` returns for ``key``, built once and shared.

        For frozen backbones with pretrained weights, which no fit changes:
        every fit that trains only a head on one (each fit of a frozen-stage
        learning curve, cross-validation or grid search) shares one model
        instead of building its own, about a second for MobileNetV2 on CPU.
        ``build()`` returns ``(backbone, extra)``. The weights are hashed when
        stored and checked when served: a shared backbone that was changed
        after all (a user training ``model_`` by hand) is rebuilt, never
        served. At most two are kept.
        """
        with self._lock:
            entry = self._backbones.get(key)
        if entry is not None and _weights_digest(entry[0][0]) == entry[1]:
            with self._lock:
                if key in self._backbones:
                    self._backbones.move_to_end(key)
            return entry[0]
        built = build()
        with self._lock:
            self._backbones[key] = (built, _weights_digest(built[0]))
            while len(self._backbones) > 2:
                self._backbones.popitem(last=False)
        return built

    @contextmanager
    def borrowed_trainer(self, key, build):
        """Lend a trainer for ``key`` (what ``build()`` returns), kept between fits.

        Tracing a Keras model's training step costs more than training a head
        for ten epochs on cached features. A trainer is a compiled model whose
        traced steps outlive the fit: each fit copies its own starting state in,
        trains it, copies the result out, and gives it back for the next fit of
        the same architecture and optimizer. A trainer is lent to one fit at a
        time (concurrent fits each get one); at most four are kept idle, and
        ``release()`` is called on one that is dropped.
        """
        with self._lock:
            idle = self._trainers.get(key)
            trainer = idle.pop() if idle else None
        if trainer is None:
            trainer = build()
        try:
            yield trainer
        finally:
            with self._lock:
                self._trainers.setdefault(key, []).append(trainer)
                self._trainers.move_to_end(key)
                while sum(map(len, self._trainers.values())) > 4:
                    oldest = next(iter(self._trainers))
                    self._trainers[oldest].pop(0).release()
                    if not self._trainers[oldest]:
                        del self._trainers[oldest]

    def inference_function(self, key, model, input_spec):
        """Return a traced inference function of what ``key`` fingerprints.

        Tracing a backbone costs about as much as running it on a few hundred
        small images, and each fit builds its own model. The first time a key
        needs computing, ``model`` is traced and not kept (the caller may go on
        to train it); from the second time on, a frozen copy of it is kept,
        traced once, and serves every later miss of that key. At most two
        copies are kept.
        """
        slot = (key, repr(input_spec))
        with self._lock:
            function = self._functions.get(slot)
            if function is not None:
                self._functions.move_to_end(slot)
                return function
            first_time = slot not in self._seen
            self._seen.add(slot)
        if first_time:
            return _traced_inference(model, input_spec)
        function = _traced_inference(_frozen_copy(model), input_spec)
        with self._lock:
            self._functions[slot] = function
            while len(self._functions) > 2:
                self._functions.popitem(last=False)
        return function

    def _path(self, key):
        model, image = key
        return os.path.join(self.location, model, image + ".npy")

    def get(self, key):
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                self._entries.move_to_end(key)
                self.hits += 1
                return value
        if self.location is not None and os.path.exists(self._path(key)):
            value = np.load(self._path(key))
            self._remember(key, value)
            self.hits += 1
            return value
        self.misses += 1
        return None

    def put(self, key, value):
        value = np.ascontiguousarray(value)
        if self.location is not None:
            path = self._path(key)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            temporary = f"{path}.{os.getpid()}.{threading.get_ident()}.tmp.npy"
            np.save(temporary, value)
            os.replace(temporary, path)  # atomic: readers never see half a file
        self._remember(key, value)

    def _remember(self, key, value):
        with self._lock:
            if key in self._entries:
                return
            self._entries[key] = value
            self._bytes += value.nbytes
            while self._bytes > self.max_bytes and self._entries:
                _, dropped = self._entries.popitem(last=False)
                self._bytes -= dropped.nbytes


_CACHE = FeatureCache()


def get_feature_cache():
    """Return the process-wide :class:`FeatureCache` that backbone features go through."""
    return _CACHE


def set_feature_cache(*, max_bytes=None, location=None):
    """Configure the process-wide feature cache; return it.

    Parameters
    ----------
    max_bytes : int, default=None
        New memory bound (``None`` keeps the current one).
    location : str or None, default=None
        Folder for an on-disk copy of every entry; ``None`` keeps features in
        memory only.

    Returns
    -------
    cache : FeatureCache
        The (new) process-wide cache.
    """
    global _CACHE
    _CACHE = FeatureCache(
        max_bytes=_CACHE.max_bytes if max_bytes is None else max_bytes, location=location
    )
    return _CACHE


def image_keys(images):
    """Return a key per image: a content hash, or a file's path, size and mtime."""
    if images.is_paths:
        keys = []
        for path in images.data:
            stat = os.stat(path)
            identity = f"{os.path.abspath(path)}|{stat.st_size}|{stat.st_mtime_ns}"
            keys.append(hashlib.blake2b(identity.encode(), digest_size=16).hexdigest())
        return keys
    data = images.data
    header = f"{data.dtype.str}|{data.shape[1:]}".encode()
    return [
        hashlib.blake2b(header + np.ascontiguousarray(row).tobytes(), digest_size=16).hexdigest()
        for row in data
    ]


def model_key(model, *, image_size, preprocessing):
    """Fingerprint what maps an image to ``model``'s output.

    Hashes the model's weights and layer configuration with the input size, the
    preprocessing and the dtype policy: other weights, another cut layer or
    another image size give another key.
    """
    digest = hashlib.blake2b(digest_size=16)
    description = (
        architecture(model),
        [tuple(t.shape) for t in model.outputs],
        tuple(image_size),
        preprocessing,
    )
    digest.update(json.dumps(description, sort_keys=True, default=repr).encode())
    return _hash_weights(digest, model).hexdigest()


def _weights_digest(model):
    return _hash_weights(hashlib.blake2b(digest_size=16), model).hexdigest()


def _hash_weights(digest, model):
    """Feed every weight array of ``model`` (dtype, shape, bytes) to ``digest``."""
    for weights in model.get_weights():
        digest.update(f"{weights.dtype.str}{weights.shape}".encode())
        digest.update(np.ascontiguousarray(weights).tobytes())
    return digest


def keras_backend():
    import keras

    return keras.backend.backend()


def architecture(model):
    """Describe ``model``'s layers, in order: their kind and configuration.

    Layer names are left out: Keras numbers them per process (input_layer_7),
    so the same network built twice would describe differently.
    """
    return [
        (type(layer).__name__, {k: v for k, v in layer.get_config().items() if k != "name"})
        for layer in leaf_layers(model)
    ]


def leaf_layers(model):
    import keras

    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from leaf_layers(layer)
        else:
            yield layer


def _frozen_copy(model):
    """A copy of ``model`` with its current weights, that no fit will train."""
    import keras

    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    copy.trainable = False
    return copy


def _traced_inference(model, input_spec):
    """One ``tf.function`` of ``model`` in inference mode, for any batch size.

    ``Model.predict`` traces the model once per batch shape, so a last, smaller
    batch costs a second trace of the whole backbone.
    """
    import tensorflow as tf

    return tf.function(lambda batch: model(batch, training=False), input_signature=[input_spec])


def inference(model, dataset, function=None):
    """Return ``model``'s inference-mode output on every batch of ``dataset``."""
    import keras

    if keras.backend.backend() != "tensorflow":
        output = model.predict(dataset, verbose=0)
        release_step_functions(model)
        return output
    function = function or _traced_inference(model, dataset.element_spec)
    return np.concatenate([function(batch).numpy() for batch in dataset])


def cached_predict(model, images, *, image_size, preprocessing, batch_size, cache=True):
    """Return ``model``'s output for every image, computing only what the cache lacks.

    ``preprocessing`` names the backbone's preprocessing (a registered backbone
    name, or None for none); it is part of the key.
    """
    preprocess = preprocess_function(get_spec(preprocessing)) if preprocessing else None

    def predict(subset, store=None, key=None):
        dataset = make_dataset(
            subset, batch_size=batch_size, image_size=image_size, preprocess=preprocess
        )
        function = None
        if store is not None and keras_backend() == "tensorflow":
            function = store.inference_function(key, model, dataset.element_spec)
        with image_read_errors():
            return inference(model, dataset, function)

    if not cache:
        return predict(images)
    store = get_feature_cache()
    key = model_key(model, image_size=image_size, preprocessing=preprocessing)
    keys = image_keys(images)
    found = [store.get((key, image)) for image in keys]
    missing = [i for i, value in enumerate(found) if value is None]
    if missing:
        computed = predict(images[np.asarray(missing)], store, key)
        for i, value in zip(missing, computed, strict=True):
            store.put((key, keys[i]), value)
            found[i] = value
    return np.stack(found)


def feature_model(backbone, pooling):
    """Return ``backbone`` followed by global pooling, in inference mode."""
    import keras

    inputs = keras.Input(backbone.input_shape[1:])
    x = backbone(inputs, training=False)
    if len(x.shape) == 4:
        pool = (
            keras.layers.GlobalAveragePooling2D
            if pooling == "avg"
            else keras.layers.GlobalMaxPooling2D
        )
        x = pool(name=f"{pooling}_pool")(x)
    return keras.Model(inputs, x, name="features")


class BackboneFeatures(TransformerMixin, BaseEstimator):
    """Pooled embeddings of a pretrained Keras backbone ("bottleneck features").

    Images go in (arrays or file paths, as for
    :class:`TransferImageClassifier`); ``(n_samples, n_features)`` float32
    embeddings come out, so any scikit-learn or imbalanced-learn model can work on
    them, SMOTE included. Embeddings go through the process-wide feature cache:
    each image is run through the backbone once, whatever the number of fits,
    folds or grid points.

    Parameters
    ----------
    backbone : str, keras.Model or callable, default="mobilenet_v2"
        As in :class:`TransferImageClassifier`.
    weights : "imagenet", path or None, default="imagenet"
        Backbone weights.
    image_size : int, (int, int) or None, default=None
        Size images are resized to; ``None`` is the backbone's default.
    backbone_kwargs : dict, default=None
        Extra keyword arguments for the ``keras.applications`` constructor.
    pooling : {"avg", "max"}, default="avg"
        Global pooling of the last feature map.
    batch_size : int, default=64
        Images per forward pass.
    cache : bool, default=True
        Whether embeddings go through the shared cache.
    random_state : int or None, default=None
        Seeds the weights when ``weights=None``.

    Attributes
    ----------
    model_ : keras.Model
        Backbone and pooling, taking preprocessed images of ``image_size_``.
    image_size_ : tuple of int
        ``(height, width)`` images are resized to.
    n_features_out_ : int
        Embedding size.
    n_features_in_ : int
        Values per image seen in ``fit`` (1 for file paths).

    See Also
    --------
    TransferImageClassifier : Trains a head on the same features, and fine-tunes.

    Examples
    --------
    >>> from sklearn_vision import BackboneFeatures
    >>> from sklearn_vision.datasets import load_digits_images
    >>> X, y = load_digits_images(image_size=32, return_X_y=True)
    >>> features = BackboneFeatures(weights=None, image_size=32, random_state=0)
    >>> features.fit_transform(X[:8]).shape
    (8, 1280)
    """

    _parameter_constraints = {
        "backbone": [StrOptions(set(BACKBONES)), callable],
        **BACKBONE_PARAMETER_CONSTRAINTS,
        "pooling": [StrOptions({"avg", "max"})],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "cache": ["boolean"],
        "random_state": [Interval(Integral, 0, None, closed="left"), None],
    }

    def __init__(
        self,
        backbone="mobilenet_v2",
        *,
        weights="imagenet",
        image_size=None,
        backbone_kwargs=None,
        pooling="avg",
        batch_size=64,
        cache=True,
        random_state=None,
    ):
        self.backbone = backbone
        self.weights = weights
        self.image_size = image_size
        self.backbone_kwargs = backbone_kwargs
        self.pooling = pooling
        self.batch_size = batch_size
        self.cache = cache
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Build the backbone; nothing is learnt.

        Parameters
        ----------
        X : array-like of images or file paths
            Images with pixel values in [0, 255], or paths.
        y : None
            Ignored.

        Returns
        -------
        self : BackboneFeatures
            The transformer, ready to transform.
        """
        from ._transfer import _seeded_keras

        images = check_images(X)
        self.n_features_in_ = images.n_features
        seed = np.random.randint(2**31 - 1) if self.random_state is None else self.random_state
        with _seeded_keras(seed):
            backbone, self.image_size_, _ = make_backbone(
                self.backbone,
                weights=self.weights,
                image_size=self.image_size,
                backbone_kwargs=self.backbone_kwargs,
                seed=seed,
            )
            self.model_ = feature_model(backbone, self.pooling)
        self.n_features_out_ = int(self.model_.output.shape[-1])
        return self

    def transform(self, X):
        """Return the pooled backbone embedding of each image.

        Parameters
        ----------
        X : array-like of images or file paths
            As in :meth:`fit`; other image sizes are resized.

        Returns
        -------
        features : ndarray of shape (n_samples, n_features_out)
            float32 embeddings.
        """
        check_is_fitted(self)
        return cached_predict(
            self.model_,
            check_images(X),
            image_size=self.image_size_,
            preprocessing=self.backbone if isinstance(self.backbone, str) else None,
            batch_size=self.batch_size,
            cache=self.cache,
        ).astype(np.float32, copy=False)

    def get_feature_names_out(self, input_features=None):
        """Return ``backbone0``, ``backbone1``, ... as the output feature names."""
        check_is_fitted(self)
        return np.asarray([f"backbone{i}" for i in range(self.n_features_out_)], dtype=object)

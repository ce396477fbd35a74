"""Backbone features: the BackboneFeatures transformer, and model outputs through the cache.

A frozen backbone in inference mode is a pure function of the image, so its
output is computed once per (model, image) and reused by every fit in the
process: each epoch, fold, grid point and learning-curve subsample.
"""

import hashlib
import json
import os
from contextlib import nullcontext
from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ._backbones import backbone_record
from ._backend import backend_name, inference, input_spec, traced_inference
from ._cache import get_feature_cache
from ._images import Images, check_images
from ._intensity import check_window
from ._keras_utils import architecture, clone_with_weights, hash_weights, seeded_keras
from ._progress import ProgressBar
from ._record import BACKBONE_PARAMETER_CONSTRAINTS
from ._tf_data import ImagePipeline, dataset_arrays, image_read_errors, images_dataset

# Part of a file's key: a change in how files are decoded (16-bit files were once
# clipped to 8 bits) must not reuse features a disk cache kept from before.
_DECODING = "decoding-2"
# Views augmented and run through the model at a time, in batches.
_VIEW_CHUNK = 8


def image_keys(images, window="auto"):
    """Return a key per image: a content hash, or a file's path, size, mtime and window."""
    if images.is_paths:
        keys = []
        for path in images.data:
            stat = os.stat(path)
            identity = (
                f"{_DECODING}|{window!r}|{os.path.abspath(path)}|{stat.st_size}|{stat.st_mtime_ns}"
            )
            keys.append(hashlib.blake2b(os.fsencode(identity), digest_size=16).hexdigest())
        return keys
    data = images.data
    header = f"{data.dtype.str}|{data.shape[1:]}".encode()
    return [
        hashlib.blake2b(header + np.ascontiguousarray(row).tobytes(), digest_size=16).hexdigest()
        for row in data
    ]


def model_key(model, pipeline):
    """Fingerprint what maps an image to ``model``'s output through ``pipeline``.

    Hashes the model's weights and layer configuration with the input size, the
    preprocessing, the dtype policy and the Keras backend: other weights,
    another cut layer or another image size give another key, and so does
    another backend, whose outputs differ in the last digits (a disk cache may
    serve processes of both).
    """
    digest = hashlib.blake2b(digest_size=16)
    description = (
        backend_name(),
        architecture(model),
        [tuple(t.shape) for t in model.outputs],
        tuple(pipeline.image_size),
        repr(pipeline.preprocessing),
    )
    digest.update(json.dumps(description, sort_keys=True, default=repr).encode())
    return hash_weights(digest, model).hexdigest()


def cached_outputs(model, images, pipeline, *, batch_size, cache=True, verbose=0):
    """Return ``model``'s output for every image, computing only what the cache lacks.

    ``images`` are :class:`Images` fed through ``pipeline`` (an :class:`ImagePipeline`
    without augmentation). With ``verbose`` above 0, a progress bar over the
    images computed.
    """
    if not cache:
        with ProgressBar(len(images), verbose > 0, unit="images") as bar:
            return _predict(model, images, pipeline, batch_size, bar)
    key = model_key(model, pipeline)
    entries = image_keys(images, pipeline.window)

    def compute(rows, bar):
        return _predict(model, images[np.asarray(rows)], pipeline, batch_size, bar, key)

    # All at once: the images are already in memory, or stream from their files.
    outputs = _through_cache(key, entries, compute, len(entries), ("images", verbose))
    return np.stack(outputs)


def cached_view_outputs(model, images, pipeline, views, *, batch_size, verbose=0):
    """Return ``model``'s outputs of each image's augmented views, ``(n_images, n_views, ...)``.

    ``views`` (:class:`AugmentedViews`) makes the views; each is keyed by its
    own entry key, so every fit sharing the images shares them.
    """
    key = model_key(model, pipeline)
    entries = [e for image in image_keys(images, pipeline.window) for e in views.entry_keys(image)]

    def compute(flat, bar):
        pixels = _view_pixels(images, flat, [entries[i] for i in flat], views, pipeline)
        return _predict(model, Images(pixels, False), pipeline, batch_size, bar, key)

    # Views are augmented a chunk at a time: their pixels are never all in memory.
    outputs = _through_cache(key, entries, compute, _VIEW_CHUNK * batch_size, ("views", verbose))
    outputs = np.stack(outputs)
    return outputs.reshape(len(images), views.n_views, *outputs.shape[1:])


def _through_cache(key, entries, compute, chunk, progress):
    """The cached value of each entry; those missing computed ``chunk`` at a time and stored."""
    store = get_feature_cache()
    found = [store.get((key, entry)) for entry in entries]
    missing = [i for i, value in enumerate(found) if value is None]
    unit, verbose = progress
    with ProgressBar(len(missing), verbose > 0, unit=unit) if missing else nullcontext() as bar:
        for start in range(0, len(missing), max(chunk, 1)):
            part = missing[start : start + chunk]
            for i, value in zip(part, compute(part, bar), strict=True):
                store.put((key, entries[i]), value)
                found[i] = value
    return found


def _predict(model, images, pipeline, batch_size, bar, key=None):
    """``model``'s inference output on ``images``; with ``key``, its traced function shared."""
    dataset = images_dataset(images, pipeline=pipeline, batch_size=batch_size)
    function = None
    if key is not None:
        spec = input_spec(dataset, batch_size)
        function = get_feature_cache().inference_function(
            (key, repr(spec)),
            trace=lambda: traced_inference(model, spec),
            trace_copy=lambda: traced_inference(clone_with_weights(model, trainable=False), spec),
        )
    with image_read_errors():
        return inference(model, dataset, batch_size=batch_size, function=function, progress=bar)


def _view_pixels(images, flat, entries, views, pipeline):
    """The augmented pixels of the views ``flat`` (indices into image x view)."""
    rows = np.asarray(flat) // views.n_views
    unique, inverse = np.unique(rows, return_inverse=True)
    plain_pipeline = ImagePipeline(pipeline.image_size, window=pipeline.window)
    dataset = images_dataset(images[unique], pipeline=plain_pipeline, batch_size=64)
    with image_read_errors():
        plain = dataset_arrays(dataset)
    pixels = views.apply(plain[inverse], entries)
    # Interpolation can land a hair outside [0, 255]: values the augmentation
    # made, not the user's pixels.
    return np.clip(pixels, 0, 255)


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
    window : "auto", "minmax" or a pair, default="auto"
        How image files deeper than 8 bits (16-bit PNG and TIFF, float TIFF,
        DICOM) are scaled to [0, 255] when read, as in :func:`read_image`:
        their bit depth (a DICOM file's own window), their minimum and
        maximum, ``(low, high)`` values such as ``(-160, 240)`` Hounsfield
        units, or percentiles such as ``("1%", "99%")``. Arrays are not
        rescaled: give them in [0, 255].
    backbone_kwargs : dict, default=None
        Extra keyword arguments for the
        `keras.applications <https://keras.io/api/applications/>`__ constructor.
    pooling : {"avg", "max"}, default="avg"
        Global pooling of a convnet's last feature map. KerasHub backbones pool
        as their family does: DINOv2 and DINOv3 the class token and the mean
        of the patch tokens, SigLIP its attention-pooled output, ViT the class
        token.
    batch_size : int, default=64
        Images per forward pass.
    cache : bool, default=True
        Whether embeddings go through the shared cache.
    random_state : int or None, default=None
        Seeds the weights when ``weights=None``.
    verbose : int, default=0
        Above 0, a progress bar on stderr while the backbone computes the
        embeddings the cache lacks.

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
        "backbone": [str, callable],
        **BACKBONE_PARAMETER_CONSTRAINTS,
        "window": [StrOptions({"auto", "minmax"}), tuple, list],
        "pooling": [StrOptions({"avg", "max"})],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "cache": ["boolean"],
        "random_state": [Interval(Integral, 0, None, closed="left"), None],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        backbone="mobilenet_v2",
        *,
        weights="imagenet",
        image_size=None,
        window="auto",
        backbone_kwargs=None,
        pooling="avg",
        batch_size=64,
        cache=True,
        random_state=None,
        verbose=0,
    ):
        self.backbone = backbone
        self.weights = weights
        self.image_size = image_size
        self.window = window
        self.backbone_kwargs = backbone_kwargs
        self.pooling = pooling
        self.batch_size = batch_size
        self.cache = cache
        self.random_state = random_state
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # Images (n, h, w[, c]) or a column of file paths, not a table.
        tags.input_tags.two_d_array = False
        tags.input_tags.three_d_array = True
        tags.input_tags.string = True
        tags.requires_fit = True
        return tags

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
        images = check_images(X)
        check_window(self.window)
        record = backbone_record(self.backbone)
        record.check_weights(self.weights)
        self.n_features_in_ = images.n_features
        seed = np.random.randint(2**31 - 1) if self.random_state is None else self.random_state
        with seeded_keras(seed):
            backbone, self.image_size_ = record.make(
                weights=self.weights,
                image_size=self.image_size,
                backbone_kwargs=self.backbone_kwargs,
                seed=seed,
            )
            self.model_ = record.pooled(backbone, pooling=self.pooling, name="features")
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
        pipeline = ImagePipeline(
            self.image_size_,
            preprocessing=backbone_record(self.backbone).preprocessing,
            window=check_window(self.window),
        )
        return cached_outputs(
            self.model_,
            check_images(X),
            pipeline,
            batch_size=self.batch_size,
            cache=self.cache,
            verbose=self.verbose,
        ).astype(np.float32, copy=False)

    def get_feature_names_out(self, input_features=None):
        """Return ``backbone0``, ``backbone1``, ... as the output feature names."""
        check_is_fitted(self)
        return np.asarray([f"backbone{i}" for i in range(self.n_features_out_)], dtype=object)

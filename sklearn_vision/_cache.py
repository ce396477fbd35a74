"""The process-wide cache: one owner for everything kept between fits.

A frozen backbone in inference mode is a pure function of the image, so its
output is computed once per (model, image) and reused by every fit in the
process. Around those features, a few built things are also worth keeping
between fits; each lives in a store of :class:`FeatureCache` named for what
it holds, bounded, counted, and cleared with the others.

NumPy only: what the stores hold is built by their callers.
"""

import hashlib
import itertools
import os
import re
import threading
from collections import OrderedDict
from contextlib import contextmanager, suppress
from numbers import Integral

import numpy as np
from sklearn.utils._param_validation import Interval, validate_params


class LRUStore:
    """Entries by key, the least recently used dropped beyond a bound.

    Bounded by a number of entries, or by bytes (``value.nbytes``) when
    ``max_bytes`` is given. ``on_evict(value)`` is called on every dropped
    entry. Counts its hits and misses.
    """

    def __init__(self, name, *, max_entries=None, max_bytes=None, on_evict=None, lock=None):
        self.name = name
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._on_evict = on_evict
        self._lock = lock or threading.RLock()
        self._entries = OrderedDict()
        self.nbytes = 0
        self.hits = self.misses = 0

    def __len__(self):
        return len(self._entries)

    def __contains__(self, key):
        return key in self._entries

    def keys(self):
        with self._lock:
            return list(self._entries)

    def get(self, key, default=None):
        """The value of ``key`` (now the most recently used), or ``default``."""
        with self._lock:
            if key not in self._entries:
                self.misses += 1
                return default
            self._entries.move_to_end(key)
            self.hits += 1
            return self._entries[key]

    def put(self, key, value):
        """Store ``value`` under ``key``, then drop the oldest entries beyond the bound."""
        with self._lock:
            if key in self._entries:
                self._drop(key, evicted=False)
            self._entries[key] = value
            self.nbytes += self._size(value)
            while self._entries and self._over_bound():
                self._drop(next(iter(self._entries)), evicted=True)

    def pop(self, key, default=None):
        """Remove ``key`` and return its value (no ``on_evict``), or ``default``."""
        with self._lock:
            if key not in self._entries:
                return default
            return self._drop(key, evicted=False)

    def clear(self):
        """Drop every entry (``on_evict`` is called on each); counts are kept."""
        with self._lock:
            for key in list(self._entries):
                self._drop(key, evicted=True)

    def stats(self):
        """Entries, bytes held (bounded by bytes only), hits and misses."""
        stats = {"entries": len(self), "hits": self.hits, "misses": self.misses}
        if self.max_bytes is not None:
            stats["bytes"] = self.nbytes
        return stats

    def _size(self, value):
        return int(value.nbytes) if self.max_bytes is not None else 0

    def _over_bound(self):
        if self.max_bytes is not None:
            return self.nbytes > self.max_bytes
        return self.max_entries is not None and len(self._entries) > self.max_entries

    def _drop(self, key, *, evicted):
        value = self._entries.pop(key)
        self.nbytes -= self._size(value)
        if evicted and self._on_evict is not None:
            self._on_evict(value)
        return value


class DiskStore:
    """Arrays as ``.npy`` files in a folder of their own under ``location``.

    One file per entry, at ``location/sklearn-vision-features/<model>/<image>.npy``
    (``<model>`` and ``<image>``: 32 hexadecimal digits hashing each part of the
    key), written atomically so readers (other processes too) never see half a
    file. Only files of that folder and naming are ever read, replaced or
    removed; nothing else under ``location`` is touched. Use marks a file (its
    modification time), and when the files exceed ``max_bytes`` the oldest are
    removed until they fill 90% of it. An entry that cannot be read (a
    truncated or emptied file) is a miss: it is computed again and replaced.
    """

    FOLDER = "sklearn-vision-features"
    # A name the store itself made: the entry files, never a user's or a temporary one.
    _NAME = re.compile(r"[0-9a-f]{32}")

    def __init__(self, location, max_bytes):
        self.location = os.fspath(location)
        self.root = os.path.join(self.location, self.FOLDER)
        self.max_bytes = int(max_bytes)
        self.hits = self.misses = 0
        self._lock = threading.Lock()
        self.nbytes = sum(size for _, _, size in self._files())

    def _path(self, key):
        # Hashed, so that any key gives a name of the store's own, inside its folder.
        model, image = (
            hashlib.blake2b(str(part).encode(), digest_size=16).hexdigest() for part in key
        )
        return os.path.join(self.root, model, image + ".npy")

    def _files(self):
        """``(mtime, path, size)`` of every entry file the store wrote."""
        if not os.path.isdir(self.root):
            return []
        found = []
        for folder in os.scandir(self.root):
            if not (self._NAME.fullmatch(folder.name) and folder.is_dir(follow_symlinks=False)):
                continue
            for entry in os.scandir(folder.path):
                name, extension = os.path.splitext(entry.name)
                if (
                    extension == ".npy"
                    and self._NAME.fullmatch(name)
                    and entry.is_file(follow_symlinks=False)
                ):
                    stat = entry.stat()
                    found.append((stat.st_mtime_ns, entry.path, stat.st_size))
        return found

    def get(self, key):
        path = self._path(key)
        try:
            value = np.load(path)
        except FileNotFoundError:
            self.misses += 1
            return None
        except (OSError, ValueError, EOFError) as exc:
            self._remove_damaged(path, exc)
            self.misses += 1
            return None
        try:
            os.utime(path)  # recently used: evicted last
        except OSError:
            pass
        self.hits += 1
        return value

    def _remove_damaged(self, path, exc):
        """Remove the unreadable entry ``path`` (computed again), or say how to."""
        try:
            os.remove(path)
        except FileNotFoundError:
            pass  # another process removed or replaced it first
        except OSError as error:
            raise OSError(
                f"The feature cache entry {path!r} cannot be read ({exc}) nor removed "
                f"({error}). Delete that file, or the cache folder {self.root!r} (it holds "
                "only features, computed again when missing), and run again."
            ) from None

    def put(self, key, value):
        path = self._path(key)
        temporary = f"{path}.{os.getpid()}.{threading.get_ident()}.tmp.npy"
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            np.save(temporary, value)
            os.replace(temporary, path)
        except OSError as exc:
            with suppress(OSError):
                os.remove(temporary)
            raise OSError(
                f"The feature cache could not write its entry {path!r} ({exc}). Free space "
                f"or fix the permissions of {self.root!r}, delete that entry or the whole "
                "folder (it holds only features), or give the cache another location."
            ) from None
        with self._lock:
            self.nbytes += os.path.getsize(path)
            if self.nbytes > self.max_bytes:
                self._evict()

    def _evict(self):
        # Other processes may share the folder: count what is really there.
        files = sorted(self._files())
        total = sum(size for _, _, size in files)
        for _, path, size in files:
            if total <= 0.9 * self.max_bytes:
                break
            try:
                os.remove(path)
            except FileNotFoundError:
                pass
            total -= size
        self.nbytes = total

    def stats(self):
        return {"bytes": self.nbytes, "hits": self.hits, "misses": self.misses}


class FeatureCache:
    """What every fit in the process shares: backbone outputs, and what builds them.

    Keys of features are ``(model_key, image_key)``: the model key fingerprints
    the weights and architecture that produce the output, the image key the
    content of each image (or a file's path, size and modification time), so a
    change to either is a miss, never a stale hit.

    Each store is named for what it holds and bounded; :meth:`stats` counts
    each, :meth:`clear` empties them all:

    - ``features``: per-image model outputs, least recently used dropped beyond
      ``max_bytes``; with ``location``, also files on disk (``disk``), bounded
      by ``max_disk_bytes``;
    - ``pretrained_weights``: the weight arrays of the last 2 weights files read
      (reading a file costs about as much as building the network);
    - ``shared_backbones``: up to 2 frozen pretrained backbones shared by every
      fit that trains only a head on them;
    - ``trainers``: up to 4 idle compiled models whose traced training steps
      serve every fit of their architecture;
    - ``inference_functions``: up to 2 traced inference functions of frozen
      copies of models, and the keys of the last 256 models seen once
      (``seen_models``), so that a model is kept only from its second use on;
    - ``augmentations``: up to 2 traced augmentations that make the views of
      each image, one per augmentation configuration.

    Parameters
    ----------
    max_bytes : int, default=2 GiB
        Memory bound of ``features``.
    location : str or None, default=None
        A folder where features are also written (one ``.npy`` file each, in
        its subfolder ``sklearn-vision-features``), for datasets larger than
        memory and across processes. Only those files are ever written or
        removed under it; an entry file found damaged is computed again.
    max_disk_bytes : int, default=20 GiB
        Bound of the feature files under ``location``: the least recently used
        are removed beyond it.

    See Also
    --------
    feature_cache_context : A fresh cache for the duration of a ``with`` block.
    """

    def __init__(self, max_bytes=2 * 2**30, location=None, max_disk_bytes=20 * 2**30):
        self.max_bytes = int(max_bytes)
        self.location = location
        self.max_disk_bytes = int(max_disk_bytes)
        self._lock = threading.RLock()
        self.features = LRUStore("features", max_bytes=self.max_bytes, lock=self._lock)
        self.disk = None if location is None else DiskStore(location, self.max_disk_bytes)
        self.pretrained_weights = LRUStore("pretrained_weights", max_entries=2, lock=self._lock)
        self.shared_backbones = LRUStore("shared_backbones", max_entries=2, lock=self._lock)
        self.trainers = LRUStore(
            "trainers", max_entries=4, on_evict=lambda trainer: trainer.release(), lock=self._lock
        )
        self.inference_functions = LRUStore("inference_functions", max_entries=2, lock=self._lock)
        self.seen_models = LRUStore("seen_models", max_entries=256, lock=self._lock)
        self.augmentations = LRUStore("augmentations", max_entries=2, lock=self._lock)
        self._serial = itertools.count()

    def _stores(self):
        return [
            self.features,
            self.pretrained_weights,
            self.shared_backbones,
            self.trainers,
            self.inference_functions,
            self.seen_models,
            self.augmentations,
        ]

    # ------------------------------------------------------------ features

    @property
    def hits(self):
        """Feature look-ups answered, from memory or disk."""
        return self.features.hits + (self.disk.hits if self.disk else 0)

    @property
    def misses(self):
        """Feature look-ups that had to be computed."""
        return self.disk.misses if self.disk else self.features.misses

    @property
    def nbytes(self):
        """Bytes of features held in memory."""
        return self.features.nbytes

    def __len__(self):
        return len(self.features)

    def get(self, key):
        """The features stored under ``key``, from memory or disk, or None."""
        value = self.features.get(key)
        if value is None and self.disk is not None:
            value = self.disk.get(key)
            if value is not None:
                self.features.put(key, value)
        return value

    def put(self, key, value):
        """Store the features ``value`` under ``key`` (and on disk with ``location``)."""
        value = np.ascontiguousarray(value)
        if self.disk is not None:
            self.disk.put(key, value)
        self.features.put(key, value)

    # ------------------------------------------------------------ built things

    def shared_backbone(self, key, build, digest):
        """Return what ``build()`` returns for ``key``, built once and shared.

        For frozen backbones with pretrained weights, which no fit changes:
        every fit that trains only a head on one (each fit of a frozen-stage
        learning curve, cross-validation or grid search) shares one model
        instead of building its own. ``build()`` returns ``(backbone, extra)``;
        ``digest(backbone)`` fingerprints its weights, taken when stored and
        checked when served: a shared backbone that was changed after all (a
        user training ``model_`` by hand) is rebuilt, never served.
        """
        entry = self.shared_backbones.get(key)
        if entry is not None and digest(entry[0][0]) == entry[1]:
            return entry[0]
        built = build()
        self.shared_backbones.put(key, (built, digest(built[0])))
        return built

    @contextmanager
    def borrowed_trainer(self, key, build):
        """Lend a trainer for ``key`` (what ``build()`` returns), kept between fits.

        A trainer is lent to one fit at a time (concurrent fits each get one)
        and given back when the fit ends; ``release()`` is called on one that
        is dropped.
        """
        with self._lock:
            slot = next((slot for slot in self.trainers.keys() if slot[0] == key), None)
            trainer = None if slot is None else self.trainers.pop(slot)
            self.trainers.hits += slot is not None
            self.trainers.misses += slot is None
        if trainer is None:
            trainer = build()
        try:
            yield trainer
        finally:
            self.trainers.put((key, next(self._serial)), trainer)

    def inference_function(self, key, trace, trace_copy):
        """A traced inference function for the model ``key`` fingerprints.

        Tracing a backbone costs about as much as running it on a few hundred
        small images, and each fit builds its own model. The first time a key
        is seen, ``trace()`` (of the caller's model, which may go on to be
        trained) is returned and not kept; from the second time on,
        ``trace_copy()`` (of a frozen copy) is kept and serves every later miss.
        """
        function = self.inference_functions.get(key)
        if function is not None:
            return function
        with self._lock:
            first_time = key not in self.seen_models
            self.seen_models.put(key, True)
        if first_time:
            return trace()
        function = trace_copy()
        self.inference_functions.put(key, function)
        return function

    def augmentation(self, key, build):
        """The traced augmentation for the configuration ``key``: ``build()``, once.

        Tracing it costs a second or so; every fit with the same
        configuration makes the same views with it.
        """
        with self._lock:
            function = self.augmentations.get(key)
            if function is None:
                function = build()
                self.augmentations.put(key, function)
            return function

    # ------------------------------------------------------------ all stores

    def clear(self):
        """Empty every store held in memory (files under ``location`` stay)."""
        with self._lock:
            for store in self._stores():
                store.clear()

    def stats(self):
        """Per store: entries held (bytes for features), hits and misses."""
        stats = {store.name: store.stats() for store in self._stores()}
        if self.disk is not None:
            stats["disk"] = self.disk.stats()
        return stats


_CACHE = FeatureCache()


def get_feature_cache():
    """Return the process-wide :class:`FeatureCache` that backbone features go through.

    Returns
    -------
    cache : FeatureCache
        The cache now in use.
    """
    return _CACHE


_CACHE_PARAMETERS = {
    "max_bytes": [Interval(Integral, 0, None, closed="left"), None],
    "location": [str, os.PathLike, None],
    "max_disk_bytes": [Interval(Integral, 0, None, closed="left"), None],
}


def _new_cache(max_bytes, location, max_disk_bytes):
    return FeatureCache(
        max_bytes=_CACHE.max_bytes if max_bytes is None else max_bytes,
        location=None if location is None else os.fspath(location),
        max_disk_bytes=_CACHE.max_disk_bytes if max_disk_bytes is None else max_disk_bytes,
    )


@validate_params(_CACHE_PARAMETERS, prefer_skip_nested_validation=True)
def set_feature_cache(*, max_bytes=None, location=None, max_disk_bytes=None):
    """Replace the process-wide feature cache by a new, empty one; return it.

    Parameters
    ----------
    max_bytes : int, default=None
        Memory bound of the features (``None`` keeps the current one).
    location : str or path-like, default=None
        Folder for an on-disk copy of every feature, written in its subfolder
        ``sklearn-vision-features`` (nothing else under it is touched); ``None``
        keeps features in memory only.
    max_disk_bytes : int, default=None
        Bound of the feature files under ``location`` (``None`` keeps the
        current one).

    Returns
    -------
    cache : FeatureCache
        The new process-wide cache.

    See Also
    --------
    feature_cache_context : The same for the duration of a ``with`` block.
    """
    global _CACHE
    old, _CACHE = _CACHE, _new_cache(max_bytes, location, max_disk_bytes)
    old.clear()
    return _CACHE


@validate_params(_CACHE_PARAMETERS, prefer_skip_nested_validation=True)
@contextmanager
def feature_cache_context(*, max_bytes=None, location=None, max_disk_bytes=None):
    """Use a new, empty process-wide feature cache inside a ``with`` block.

    The cache in use before is restored, untouched, when the block ends: for
    tests and benchmarks that must start cold, and for a run that should keep
    its features apart.

    Parameters
    ----------
    max_bytes : int, default=None
        Memory bound of the features (``None``: the current cache's).
    location : str or path-like, default=None
        Folder for an on-disk copy of every feature, written in its subfolder
        ``sklearn-vision-features`` (nothing else under it is touched).
    max_disk_bytes : int, default=None
        Bound of the feature files under ``location`` (``None``: the current
        cache's).

    Yields
    ------
    cache : FeatureCache
        The cache in use inside the block.

    Examples
    --------
    >>> from sklearn_vision import feature_cache_context, get_feature_cache
    >>> with feature_cache_context(max_bytes=2**20) as cache:
    ...     get_feature_cache() is cache, len(cache)
    (True, 0)
    """
    global _CACHE
    previous, _CACHE = _CACHE, _new_cache(max_bytes, location, max_disk_bytes)
    try:
        yield _CACHE
    finally:
        scoped, _CACHE = _CACHE, previous
        scoped.clear()

"""The resume store: each finished fit of a learning curve kept on disk (``memory=``)."""

import json
import os
import stat

import joblib
import numpy as np


class FitRecords:
    """Each finished fit's score and seconds, one small JSON file per fit.

    The files are plain data: reading them never runs code, and a file that
    is not a record of this form (damaged, edited, not a regular file, or not
    ours) is ignored and the fit run again; a digest of the fit's key and
    values shows an edited score. Only fits that succeeded with a finite score are kept,
    so a fit that failed
    (out of memory, say) is tried again on the next run. The files live in
    ``location/sklearn-vision-fits/``, named by a digest of what identifies
    the fit; nothing else under ``location`` is read or written.
    """

    FOLDER = "sklearn-vision-fits"

    def __init__(self, location):
        self.folder = os.path.join(os.fspath(location), self.FOLDER)

    @classmethod
    def from_memory(cls, memory):
        """The records a ``memory`` parameter names: a folder, a joblib.Memory, or None."""
        location = getattr(memory, "location", memory)
        return None if location is None else cls(location)

    @staticmethod
    def key(*parts):
        """A digest of what identifies a fit (hashed, never stored or loaded)."""
        return joblib.hash(parts)

    def _path(self, key):
        return os.path.join(self.folder, f"{key}.json")

    MAX_BYTES = 4096  # a record is about 100 bytes

    def get(self, key):
        """``(score, seconds, None)`` as recorded, or None.

        Only a regular file of at most :attr:`MAX_BYTES` is read (a pipe or a
        link to a device is never opened), and only a record whose fields are
        finite numbers, seconds not negative, and whose digest matches its key
        and values is trusted: an edited score is fitted again, never believed.
        """
        path = self._path(key)
        try:
            info = os.stat(path)
            if not stat.S_ISREG(info.st_mode) or info.st_size > self.MAX_BYTES:
                return None
            with open(path, "rb") as file:
                record = json.loads(file.read(self.MAX_BYTES + 1))
            score, seconds = record["score"], record["seconds"]
        except (OSError, ValueError, TypeError, KeyError, RecursionError):
            return None  # none, or not a record of ours: fit again
        numbers = all(
            isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value)
            for value in (score, seconds)
        )
        if not numbers or seconds < 0 or record.get("digest") != self._digest(key, score, seconds):
            return None
        return float(score), float(seconds), None

    @staticmethod
    def _digest(key, score, seconds):
        return joblib.hash((key, float(score), float(seconds)))

    def put(self, key, score, seconds):
        """Record a finished fit (written whole, so a reader never sees half a file)."""
        os.makedirs(self.folder, exist_ok=True)
        path = self._path(key)
        temporary = f"{path}.{os.getpid()}.tmp"
        record = {"score": score, "seconds": seconds, "digest": self._digest(key, score, seconds)}
        with open(temporary, "w", encoding="utf-8") as file:
            json.dump(record, file, allow_nan=False)
        os.replace(temporary, path)


def _scoring_key(scoring):
    """What identifies a scoring in the fit records: its name, or a digest of it."""
    if isinstance(scoring, str):
        return scoring
    try:
        return joblib.hash(scoring)
    except Exception:  # not picklable (a lambda, say): its repr, never the same twice
        return repr(scoring)

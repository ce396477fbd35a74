"""The disk cache touches only what it wrote, and recovers from damaged entries."""

import os

import numpy as np
import pytest

from sklearn_vision import feature_cache_context

from .conftest import small_features

# Names a user could give their own files: a folder and a file of 32 hex digits,
# like the hashes the cache names its entries with.
HEX_FOLDER, HEX_FILE = "0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210"


def _users_files(root):
    """Files of a user's beside and inside the cache's location, older than any entry."""
    rng = np.random.default_rng(0)
    paths = [
        root / "subject01" / "scan.npy",
        root / HEX_FOLDER / f"{HEX_FILE}.npy",
        root / "subject02" / "deep" / "scan.npy",
        root / "notes.txt",
        root.parent / "beside" / "scan.npy",
        root.parent / f"{HEX_FILE}.npy",
    ]
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".npy":
            np.save(path, rng.normal(size=5_000))  # 40 kB: the bound cannot ignore them
        else:
            path.write_text("my notes")
        os.utime(path, ns=(1, 1))  # the oldest files there: the first an eviction would take
    return {path: (path.read_bytes(), path.stat().st_mtime_ns) for path in paths}


def _entries(root, users=()):
    """The cache's entry files: every ``.npy`` file under ``root`` but the user's."""
    return sorted(path for path in root.rglob("*.npy") if path not in users)


def test_eviction_never_removes_a_users_files(digits, tmp_path):
    X, _ = digits
    root = tmp_path / "location"
    before = _users_files(root)
    with feature_cache_context(location=root, max_disk_bytes=100_000) as cache:
        features = small_features().fit(X[:40])
        computed = features.transform(X[:40])
        assert cache.stats()["disk"]["bytes"] <= 100_000  # the bound was reached, and held
    after = {path: (path.read_bytes(), path.stat().st_mtime_ns) for path in before}
    assert after == before
    entries = _entries(root, before)
    assert 0 < len(entries) < 40 and sum(path.stat().st_size for path in entries) <= 100_000
    # A new cache on the same folder counts only its own files, and evicts only them.
    with feature_cache_context(location=root, max_disk_bytes=100_000) as reopened:
        assert reopened.stats()["disk"]["bytes"] == sum(p.stat().st_size for p in entries)
        np.testing.assert_allclose(features.transform(X[:40]), computed, rtol=1e-5, atol=0)
    assert {path: (path.read_bytes(), path.stat().st_mtime_ns) for path in before} == before


@pytest.mark.parametrize("damage", ["truncated", "empty"])
def test_a_damaged_entry_is_computed_again(digits, tmp_path, damage):
    X, _ = digits
    root = tmp_path / "location"
    with feature_cache_context(location=root):
        computed = small_features().fit(X[:6]).transform(X[:6])
    entries = _entries(root)
    assert len(entries) == 6
    damaged = entries[2]
    data = damaged.read_bytes()
    damaged.write_bytes(data[: len(data) // 2] if damage == "truncated" else b"")
    with feature_cache_context(location=root) as reopened:
        recomputed = small_features().fit(X[:6]).transform(X[:6])
        assert reopened.misses == 1 and reopened.hits == 5
    np.testing.assert_allclose(recomputed, computed, rtol=1e-5, atol=0)
    assert np.load(damaged).shape == computed.shape[1:]  # replaced by the features computed again
    with feature_cache_context(location=root) as again:
        np.testing.assert_array_equal(small_features().fit(X[:6]).transform(X[:6]), recomputed)
        assert again.hits == 6 and again.misses == 0


def test_an_entry_that_cannot_be_replaced_is_named(digits, tmp_path):
    X, _ = digits
    root = tmp_path / "location"
    with feature_cache_context(location=root):
        small_features().fit(X[:3]).transform(X[:3])
    blocked = _entries(root)[0]
    blocked.unlink()
    (blocked / "inside").mkdir(parents=True)  # a folder where the entry file was
    with feature_cache_context(location=root):
        with pytest.raises(OSError, match=f"{blocked.name}.*Delete that file, or the cache"):
            small_features().fit(X[:3]).transform(X[:3])

"""The backbone records: names, recommended blocks, fine-tuning points, weights files."""

import numpy as np
import pytest

from sklearn_vision import BACKBONES

from .conftest import TINY_MOBILENET

MOBILENET = BACKBONES["mobilenet_v2"]


def test_fine_tune_from_forms():
    backbone = MOBILENET.build(
        weights=None,
        image_size=(32, 32),
        backbone_kwargs=TINY_MOBILENET["backbone_kwargs"],
        seed=0,
    )
    n_layers = len(backbone.layers)
    by_name = MOBILENET.fine_tune_index(backbone, "block_1")
    assert backbone.layers[by_name].name == "block_1_expand"  # not block_10
    assert MOBILENET.fine_tune_index(backbone, 10) == n_layers - 10
    assert MOBILENET.fine_tune_index(backbone, 0.5) == n_layers - round(0.5 * n_layers)
    assert MOBILENET.fine_tune_index(backbone, 1.0) == 0
    with pytest.raises(ValueError, match=r"block_99.*Valid block names: block_1, block_2"):
        MOBILENET.fine_tune_index(backbone, "block_99")
    with pytest.raises(ValueError, match="between 1 and"):
        MOBILENET.fine_tune_index(backbone, n_layers + 1)


@pytest.mark.parametrize("name", sorted(BACKBONES))
def test_registry_recommended_block_exists(name):
    record = BACKBONES[name]
    size = max(record.min_size, 32)
    backbone, _ = record.make(weights=None, image_size=size, seed=0)
    if record.fine_tune_from is not None:
        index = record.fine_tune_index(backbone, record.fine_tune_from)
        # "auto" fine-tunes the top of the network, never all or nothing of it.
        assert 0.5 * len(backbone.layers) < index < len(backbone.layers)


def test_weights_file_is_read_once_and_its_arrays_stay_intact(tmp_path, fresh_cache):
    params = dict(image_size=(32, 32), backbone_kwargs=TINY_MOBILENET["backbone_kwargs"], seed=0)
    path = tmp_path / "backbone.weights.h5"
    MOBILENET.build(weights=None, **params).save_weights(path)
    first = MOBILENET.build(weights=str(path), **params)
    original = [w.copy() for w in first.get_weights()]
    first.set_weights([w + 1.0 for w in original])  # as training would
    second = MOBILENET.build(weights=str(path), **params)
    assert any(str(path) in slot[1] for slot in fresh_cache.pretrained_weights.keys())
    for got, want in zip(second.get_weights(), original, strict=True):
        np.testing.assert_array_equal(got, want)
    # Another file at the same path (new size or mtime) is read again.
    MOBILENET.build(weights=None, **{**params, "seed": 1}).save_weights(path)
    third = MOBILENET.build(weights=str(path), **params)
    assert not all(np.array_equal(a, b) for a, b in zip(third.get_weights(), original, strict=True))


def test_pretrained_weights_arrays_are_cleared_with_the_cache(tmp_path, fresh_cache):
    params = dict(image_size=(32, 32), backbone_kwargs=TINY_MOBILENET["backbone_kwargs"], seed=0)
    path = tmp_path / "backbone.weights.h5"
    MOBILENET.build(weights=None, **params).save_weights(path)
    MOBILENET.build(weights=str(path), **params)
    assert fresh_cache.stats()["pretrained_weights"]["entries"] == 1
    fresh_cache.clear()
    assert fresh_cache.stats()["pretrained_weights"]["entries"] == 0

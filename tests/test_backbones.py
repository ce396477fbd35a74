"""The backbone registry: names, recommended blocks, fine-tuning points, weights files."""

import numpy as np
import pytest

from sklearn_vision import BACKBONES
from sklearn_vision._backbones import build_backbone, fine_tune_index, get_spec

from .conftest import TINY_MOBILENET


def test_fine_tune_from_forms():
    backbone = build_backbone(
        get_spec("mobilenet_v2"),
        weights=None,
        image_size=(32, 32),
        backbone_kwargs=TINY_MOBILENET["backbone_kwargs"],
        seed=0,
    )
    n_layers = len(backbone.layers)
    by_name = fine_tune_index(backbone, "block_1", r"block_\d+")
    assert backbone.layers[by_name].name == "block_1_expand"  # not block_10
    assert fine_tune_index(backbone, 10) == n_layers - 10
    assert fine_tune_index(backbone, 0.5) == n_layers - round(0.5 * n_layers)
    assert fine_tune_index(backbone, 1.0) == 0
    with pytest.raises(ValueError, match=r"block_99.*Valid block names: block_1, block_2"):
        fine_tune_index(backbone, "block_99", r"block_\d+")
    with pytest.raises(ValueError, match="between 1 and"):
        fine_tune_index(backbone, n_layers + 1)


@pytest.mark.parametrize("name", sorted(BACKBONES))
def test_registry_recommended_block_exists(name):
    spec = get_spec(name)
    size = max(spec.min_size, 32)
    backbone = build_backbone(
        spec, weights=None, image_size=(size, size), backbone_kwargs=None, seed=0
    )
    if spec.fine_tune_from is not None:
        index = fine_tune_index(backbone, spec.fine_tune_from, spec.block_pattern)
        # "auto" fine-tunes the top of the network, never all or nothing of it.
        assert 0.5 * len(backbone.layers) < index < len(backbone.layers)


def test_weights_file_is_read_once_and_its_arrays_stay_intact(tmp_path, fresh_cache):
    spec = get_spec("mobilenet_v2")
    params = dict(image_size=(32, 32), backbone_kwargs=TINY_MOBILENET["backbone_kwargs"], seed=0)
    path = tmp_path / "backbone.weights.h5"
    build_backbone(spec, weights=None, **params).save_weights(path)
    first = build_backbone(spec, weights=str(path), **params)
    original = [w.copy() for w in first.get_weights()]
    first.set_weights([w + 1.0 for w in original])  # as training would
    second = build_backbone(spec, weights=str(path), **params)
    assert any(str(path) in slot[1] for slot in fresh_cache.pretrained_weights.keys())
    for got, want in zip(second.get_weights(), original, strict=True):
        np.testing.assert_array_equal(got, want)
    # Another file at the same path (new size or mtime) is read again.
    build_backbone(spec, weights=None, **{**params, "seed": 1}).save_weights(path)
    third = build_backbone(spec, weights=str(path), **params)
    assert not all(np.array_equal(a, b) for a, b in zip(third.get_weights(), original, strict=True))


def test_pretrained_weights_arrays_are_cleared_with_the_cache(tmp_path, fresh_cache):
    spec = get_spec("mobilenet_v2")
    params = dict(image_size=(32, 32), backbone_kwargs=TINY_MOBILENET["backbone_kwargs"], seed=0)
    path = tmp_path / "backbone.weights.h5"
    build_backbone(spec, weights=None, **params).save_weights(path)
    build_backbone(spec, weights=str(path), **params)
    assert fresh_cache.stats()["pretrained_weights"]["entries"] == 1
    fresh_cache.clear()
    assert fresh_cache.stats()["pretrained_weights"]["entries"] == 0

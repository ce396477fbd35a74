import os
from pathlib import Path

import numpy as np
import pytest

from sklearn_vision import BackboneFeatures, TransferImageClassifier, feature_cache_context
from sklearn_vision.datasets import load_digits_images

REPO = Path(__file__).resolve().parents[1]
SHARED_WEIGHTS = Path(os.environ.get("SKLEARN_VISION_WEIGHTS", REPO.parent / "shared" / "weights"))
MOBILENET_V2_WEIGHTS = SHARED_WEIGHTS / "mobilenet_v2_1.0_stanford_dogs_no_top.weights.h5"

# MobileNetV2 at width 0.35 with random weights at 32 pixels: seconds to fit.
TINY_MOBILENET = dict(weights=None, image_size=32, backbone_kwargs={"alpha": 0.35})


def small_cnn(**params):
    """The from-scratch convnet at 32 pixels, 3 epochs, no early stopping."""
    defaults = dict(
        weights=None,
        image_size=32,
        epochs=3,
        learning_rate=3e-3,
        early_stopping=False,
        random_state=0,
    )
    return TransferImageClassifier("small_cnn", **{**defaults, **params})


def mobilenet(**params):
    """The tiny MobileNetV2, 2 frozen epochs and 1 fine-tuning epoch from block_15."""
    defaults = dict(
        **TINY_MOBILENET,
        epochs=2,
        fine_tune_from="block_15",
        fine_tune_epochs=1,
        early_stopping=False,
        random_state=0,
    )
    return TransferImageClassifier("mobilenet_v2", **{**defaults, **params})


def small_features(**params):
    """Pooled embeddings of the tiny MobileNetV2."""
    return BackboneFeatures(**{**TINY_MOBILENET, "random_state": 0, **params})


@pytest.fixture(scope="session")
def digits():
    """300 digits of 3 classes as 32x32 RGB uint8 images."""
    X, y = load_digits_images(image_size=32, n_class=3, return_X_y=True)
    return X[:300], y[:300]


@pytest.fixture
def fresh_cache():
    """A new, empty process-wide cache for the test; the one before is restored after."""
    with feature_cache_context() as cache:
        yield cache


@pytest.fixture
def mobilenet_v2_weights():
    if not MOBILENET_V2_WEIGHTS.exists():
        pytest.skip(f"real MobileNetV2 weights not found at {MOBILENET_V2_WEIGHTS}")
    return MOBILENET_V2_WEIGHTS


def rss_bytes():
    """Resident set size of this process (Linux), or None."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return None


@pytest.fixture
def image_files(tmp_path, digits):
    """The digits written as PNG files; returns (paths, images, labels)."""
    from PIL import Image

    X, y = digits
    X, y = X[:60], y[:60]
    paths = []
    for index, image in enumerate(X):
        path = tmp_path / f"{y[index]}_{index}.png"
        Image.fromarray(image).save(path)
        paths.append(str(path))
    return np.array(paths), X, y

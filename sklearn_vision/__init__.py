"""sklearn-vision: Keras transfer learning for images as scikit-learn estimators."""

from ._backbones import BACKBONES
from ._images import read_image
from ._power_law import PowerLawRegressor
from ._transfer import TransferImageClassifier

__version__ = "0.1.0.dev0"

__all__ = [
    "BACKBONES",
    "PowerLawRegressor",
    "TransferImageClassifier",
    "__version__",
    "read_image",
]

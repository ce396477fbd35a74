"""sklearn-vision: Keras transfer learning for images as scikit-learn estimators."""

from ._backbones import BACKBONES
from ._features import BackboneFeatures, FeatureCache, get_feature_cache, set_feature_cache
from ._images import load_image_folder, read_image
from ._learning_curve import LearningCurveEstimator
from ._plotting import LearningCurveExtrapolationDisplay, TrainingHistoryDisplay
from ._power_law import PowerLawRegressor
from ._transfer import TransferImageClassifier

__version__ = "0.1.0.dev0"

__all__ = [
    "BACKBONES",
    "BackboneFeatures",
    "FeatureCache",
    "LearningCurveEstimator",
    "LearningCurveExtrapolationDisplay",
    "PowerLawRegressor",
    "TrainingHistoryDisplay",
    "TransferImageClassifier",
    "__version__",
    "get_feature_cache",
    "load_image_folder",
    "read_image",
    "set_feature_cache",
]

"""sklearn-vision: Keras transfer learning for images as scikit-learn estimators."""

from ._backbones import BACKBONES
from ._cache import FeatureCache, feature_cache_context, get_feature_cache, set_feature_cache
from ._decoding import read_image
from ._features import BackboneFeatures
from ._learning_curve import LearningCurveEstimator
from ._loaders import load_image_csv, load_image_folder
from ._plotting import LearningCurveExtrapolationDisplay, TrainingHistoryDisplay
from ._power_law import LearningCurveWarning, PowerLawRegressor
from ._transfer import TransferImageClassifier, load_model
from ._version import __version__

__all__ = [
    "BACKBONES",
    "BackboneFeatures",
    "FeatureCache",
    "LearningCurveEstimator",
    "LearningCurveExtrapolationDisplay",
    "LearningCurveWarning",
    "PowerLawRegressor",
    "TrainingHistoryDisplay",
    "TransferImageClassifier",
    "__version__",
    "feature_cache_context",
    "get_feature_cache",
    "load_image_csv",
    "load_image_folder",
    "load_model",
    "read_image",
    "set_feature_cache",
]

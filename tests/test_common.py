"""scikit-learn's estimator checks over every public estimator."""

import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.utils import get_tags
from sklearn.utils.estimator_checks import (
    check_estimator_cloneable,
    check_estimator_repr,
    check_estimator_tags_renamed,
    check_get_params_invariance,
    check_no_attributes_set_in_init,
    check_parameters_default_constructible,
    check_set_params,
    check_valid_tag_types,
    parametrize_with_checks,
)

from sklearn_vision import (
    BackboneFeatures,
    LearningCurveEstimator,
    PowerLawRegressor,
    TransferImageClassifier,
)

from .conftest import TINY_MOBILENET

# The checks feed 2-D tabular data: the classifier meets them with backbone=None
# (feature rows, head only), the same estimator code as on images. Early stopping
# is off because several checks fit on 10 samples, too few for a stratified
# validation split (that error is tested in test_transfer.py).
ESTIMATORS = [
    TransferImageClassifier(
        backbone=None, early_stopping=False, epochs=30, learning_rate=0.05, random_state=0
    ),
    PowerLawRegressor(score_bounds=(None, None)),
    # Fractions large enough for the checks' smallest data sets (10 samples).
    LearningCurveEstimator(
        LogisticRegression(),
        train_sizes=[0.5, 0.75, 1.0],
        n_repeats=2,
        test_size=0.25,
        curve=PowerLawRegressor(model="pow3"),
        random_state=0,
    ),
]

# PowerLawRegressor's X is one column of training-set sizes, as
# IsotonicRegression's is one feature; scikit-learn skips all of that one's
# checks, we run them and list those that feed several columns. Each fails on
# that refusal (checked), so the list is one reason, not many.
ONE_COLUMN = "X is one column of training-set sizes; the check feeds several columns"
POWER_LAW_ONE_COLUMN_CHECKS = [
    "check_all_zero_sample_weights_error",
    "check_dict_unchanged",
    "check_dont_overwrite_parameters",
    "check_dtype_object",
    "check_estimators_dtypes",
    "check_estimators_fit_returns_self",
    "check_estimators_nan_inf",
    "check_estimators_overwrite_params",
    "check_estimators_pickle",
    "check_estimators_pickle(readonly_memmap=True)",
    "check_f_contiguous_array_estimator",
    "check_fit2d_1sample",
    "check_fit2d_predict1d",
    "check_fit_check_is_fitted",
    "check_fit_idempotent",
    "check_fit_score_takes_y",
    "check_methods_sample_order_invariance",
    "check_methods_subset_invariance",
    "check_n_features_in",
    "check_n_features_in_after_fitting",
    "check_pipeline_consistency",
    "check_positive_only_tag_during_fit",
    "check_readonly_memmap_input",
    "check_regressor_data_not_an_array",
    "check_regressors_int",
    "check_regressors_no_decision_function",
    "check_regressors_train",
    "check_regressors_train(readonly_memmap=True)",
    "check_regressors_train(readonly_memmap=True,X_dtype=float32)",
    "check_sample_weight_equivalence_on_dense_data",
    "check_sample_weights_list",
    "check_sample_weights_not_an_array",
    "check_sample_weights_not_overwritten",
    "check_sample_weights_pandas_series",
    "check_sample_weights_shape",
    "check_supervised_y_2d",
]

EXPECTED_FAILED_CHECKS = {
    "TransferImageClassifier": {
        "check_sample_weight_equivalence_on_dense_data": (
            "mini-batch SGD: a weight of 2 is not the same as a repeated sample, since "
            "batches and their number change"
        ),
    },
    "PowerLawRegressor": {
        **dict.fromkeys(POWER_LAW_ONE_COLUMN_CHECKS, ONE_COLUMN),
        "check_fit2d_1feature": (
            "its non-negative sizes include 0, and a learning curve is not defined at "
            "0 training samples"
        ),
    },
}


@parametrize_with_checks(
    ESTIMATORS,
    expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS.get(type(est).__name__, {}),
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


# Estimators on images say so in their tags (input is images or file paths, not
# a table), and parametrize_with_checks skips them, as it skips every estimator
# whose input is not a 2-D array. The API checks that feed no data run here.
IMAGE_ESTIMATORS = [
    TransferImageClassifier("mobilenet_v2", **TINY_MOBILENET, random_state=0),
    TransferImageClassifier("small_cnn", weights=None, random_state=0),
    BackboneFeatures(**TINY_MOBILENET, random_state=0),
]
DATA_FREE_CHECKS = [
    check_estimator_cloneable,
    check_estimator_tags_renamed,
    check_valid_tag_types,
    check_estimator_repr,
    check_no_attributes_set_in_init,
    check_parameters_default_constructible,
    check_get_params_invariance,
    check_set_params,
]


@pytest.mark.parametrize("estimator", IMAGE_ESTIMATORS, ids=repr)
@pytest.mark.parametrize("check", DATA_FREE_CHECKS, ids=lambda check: check.__name__)
def test_image_estimator_api(estimator, check):
    check(type(estimator).__name__, estimator)


@pytest.mark.parametrize("estimator", IMAGE_ESTIMATORS, ids=repr)
def test_image_estimators_tag_their_input_as_images(estimator):
    tags = get_tags(estimator).input_tags
    assert not tags.two_d_array and tags.three_d_array and tags.string


def test_classifier_on_feature_rows_takes_a_table():
    assert get_tags(TransferImageClassifier(backbone=None)).input_tags.two_d_array

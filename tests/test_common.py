"""scikit-learn's estimator checks over every public estimator."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_vision import TransferImageClassifier

# The checks feed 2-D tabular data: the classifier meets them with backbone=None
# (feature rows, head only), the same estimator code as on images. Early stopping
# is off because several checks fit on 10 samples, too few for a stratified
# validation split (that error is tested in test_transfer.py).
ESTIMATORS = [
    TransferImageClassifier(
        backbone=None, early_stopping=False, epochs=30, learning_rate=0.05, random_state=0
    ),
]

EXPECTED_FAILED_CHECKS = {
    "TransferImageClassifier": {
        "check_sample_weight_equivalence_on_dense_data": (
            "mini-batch SGD: a weight of 2 is not the same as a repeated sample, since "
            "batches and their number change"
        ),
    },
}


@parametrize_with_checks(
    ESTIMATORS,
    expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS.get(type(est).__name__, {}),
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)

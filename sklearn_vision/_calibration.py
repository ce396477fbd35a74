"""The calibration of the intervals: tables measured on real learning curves, and their rules.

The multiples of its scale that each end of an interval (and of the range of
sizes) needs at each confidence, and the rules calibrated with them.
"""

import numpy as np
from scipy import special

# Conformal calibration of the intervals beyond the sizes seen, each end on
# its own: at each confidence c, the multiple of its scale that each end of
# the band needs so that the truth lies beyond it in (1 - c) / 2 of the
# extrapolations of each of two corpora of real learning curves, the larger
# of the two: the image learning curves of benchmarks/data (19 curves of
# chest X-rays, PneumoniaMNIST and digits; pilots of every size emulated as
# the study measures them; the truth the dense curve made monotone) and LCDB
# 1.0's (Mohr, Viering, Loog and van Rijn 2022) with an even OpenML id (2,119
# curves cut at a half, a quarter and a tenth of their largest size; the
# truth the mean measured there); the truth 2, 4 and 10 times the largest
# size seen, regular and irregular curves apart. A multiple whose tail holds
# fewer than 5 cases carries the last measured one on by the normal tails'
# ratio; one past 50 scales is 50 (an end beyond any score).
# ``python benchmarks/bench_calibration.py --max-curves 0 --calibrate`` prints them.
_CONFIDENCES = np.array([0.5, 0.68, 0.8, 0.9, 0.95, 0.99])
_CALIBRATION = {
    ("regular", "better"): np.array([0.429, 0.614, 0.769, 0.993, 1.355, 2.638]),  # 7710 cases
    ("regular", "worse"): np.array([0.000, 0.069, 0.382, 0.961, 1.785, 9.268]),  # 7710 cases
    ("irregular", "better"): np.array([1.147, 1.691, 2.179, 2.797, 3.333, 4.380]),  # 1640 cases
    ("irregular", "worse"): np.array([0.042, 0.190, 0.414, 1.004, 1.512, 2.820]),  # 1640 cases
}
# The range of sizes of inverse_predict_interval: its low end where the
# prediction less a multiple of the full scale (in the score's better
# direction) reaches the target, its high end where the prediction less a
# multiple of the narrow scale does, the multiples calibrated on the same
# cases for the range: the size at which the truth first reaches the
# target (the truth at 2, 4 or 10 times the largest size seen) lies below the
# range, or above it, in (1 - c) / 2 of each corpus's.
_RANGE_CALIBRATION = {
    ("regular", "better"): np.array([0.467, 0.678, 0.897, 1.253, 1.620, 2.951]),  # 7710 cases
    ("regular", "worse"): np.array([0.174, 0.466, 0.858, 1.477, 1.805, 3.118]),  # 7710 cases
    ("irregular", "better"): np.array([1.249, 1.842, 2.373, 3.046, 3.673, 8.030]),  # 1640 cases
    ("irregular", "worse"): np.array([0.000, 0.578, 2.114, 9.798, 50.000, 50.000]),  # 1640 cases
}
# Beyond this many times the largest size seen the range has no upper end:
# no calibration reaches that far.
_BOUNDED_HORIZON = 16.0
# The room left to the best score widens the better end beyond the sizes
# seen, per doubling of the size: a curve far from its ceiling can still
# move a lot.
_ROOM_PER_DOUBLING = 0.05
# The worse end of a regular curve counts on this part of the gain the curves
# predict beyond the sizes seen. On the same curves cut at 1/8 and 1/16 (8 to
# about 30 times the largest size seen, past the calibration), its 2.5% miss
# rate grew to 3.2-3.6% counting on none of it, 3.3-3.6% on 0.25 and 3.5-4.0%
# on 0.5: a quarter lifts the bound with the predicted gain at little cost.
_TRUSTED_GAIN = 0.25
# The worse end's envelope is drawn on a grid of this many points per doubling
# of the size from the largest seen, fixed in advance, not by the sizes asked:
# a size gets the same bound whatever else is asked with it.
_ENVELOPE_STEPS = 64


def _calibrated_quantile(confidence, group, end, table=None):
    """The multiple of its scale that ``end`` of an interval of ``confidence`` needs.

    From ``table`` (``_CALIBRATION`` by default); normal tails outside the
    confidences calibrated.
    """
    table = (_CALIBRATION if table is None else table)[group, end]
    if confidence < _CONFIDENCES[0] or confidence > _CONFIDENCES[-1]:
        edge = 0 if confidence < _CONFIDENCES[0] else -1
        z = special.ndtri(0.5 + confidence / 2) / special.ndtri(0.5 + _CONFIDENCES[edge] / 2)
        return float(table[edge] * z)
    return float(np.interp(confidence, _CONFIDENCES, table))


def band_ends(parts, q_better, q_worse, regular, bounds):
    """The (better, worse) ends of the band in t from its parts and the two multiples.

    ``parts`` is what :meth:`PowerLawRegressor._band_parts` returns. The better
    end lies ``q_better`` full scales before the prediction. The worse end of
    a regular curve lies ``q_worse`` narrow scales behind the prediction less
    the part of the predicted gain it counts on; that of an irregular curve,
    ``q_worse`` full scales behind it.
    """
    prediction, gain, full, narrow = parts
    better = prediction - q_better * full
    if regular:
        worse = prediction + (1 - _TRUSTED_GAIN) * gain + q_worse * narrow
    else:
        worse = prediction + q_worse * full
    return np.clip(better, *bounds), np.clip(worse, *bounds)


def _range_quantile(confidence, group, end):
    """The multiple of its scale that ``end`` of a range of sizes of ``confidence`` needs."""
    return _calibrated_quantile(confidence, group, end, _RANGE_CALIBRATION)

"""Which training sizes should the default study measure? Designs compared on real curves.

``sklearn-vision sample-size FOLDER`` measures by default 5%, 10%, 25%, 50% and
100% of the training images, 5 repeats, each repeat scored on its own fold of a
5-fold split. Fits cost about in proportion to their size, so the 100% size
costs about as much as the four others together (1.9 against 0.9). This
benchmark asks what it buys, and what cheaper designs give, on real curves.

Data: the dense image learning curves of ``benchmarks/data/image_curves.csv.gz``
(made by ``benchmarks/image_curves.py``: the Kermany et al. 2018 pediatric chest
X-rays and PneumoniaMNIST (MedMNIST v2), both CC BY 4.0, and scikit-learn's 8x8
digits (BSD), through the pretrained MobileNetV2 features or the raw pixels,
several learners). No LCDB data are read.

A pilot of ``N`` images is emulated as ``bench_calibration.py`` does (its
``Pilot``, truth and fold noise), generalised to a design: the sizes nearest each
fraction of the training part (``0.8 N`` with 5 folds, ``2 N / 3`` with 3), the
design's repeats at each size, each score redrawn as a proportion of the
``N / folds`` images of its fold, the fold's luck shared by every size. ``N`` runs
over the curve's measured sizes (``0.8 N`` one of them, from 40 up to half the
curve), each ``--draws`` times with the same random seeds for every design; a
pilot is kept only where every design measures at least 3 sizes. The curve is
fitted as the product fits it: ``PowerLawRegressor()`` with ``n_test=N`` (every
image scored at each size), the interval tables the package ships.

Designs: the default; without the 100% size; without it but with the refit's
score (the product always fits the model on the whole training part of the
first fold: with the 100% size that fit is the first repeat's, kept; without,
it is an extra fit whose held-out score could join the curve as one repeat at
100%); 3 repeats (3 folds) with and without the 5% size; 5 repeats without 5%.
The product anchors the prediction on the mean at the largest size, so the
refit's lone score there brings one fold's luck undiluted. Note: the curves' grid steps by sqrt(2), so the 3-fold designs' training part
(``2 N / 3``) snaps to about ``0.71 x 0.8 N``, a slight handicap to them.

Prints, per design: the relative cost (sum of size fraction x repeats x
training part, relative to the default; ``+refit`` adds the refit on the whole
training part where the design has no 100% fit to keep); the mean absolute
error of the predicted accuracy at 2x, 4x and 10x ``0.8 N`` (the same future
sizes for every design); the 95% interval's coverage there; for the accuracy
the truth reaches there, the point answer in images: the share within 2x of
the true first size and the median absolute log2 of their ratio (``pt_log2``);
the 80% range's coverage and how often it is bounded; the share of regular
fits; the steadiness across draws of the same pilot, over pilots x horizons: the median sd of the predicted accuracy, the share of draws whose
point answer lies within 2x of the pilot's median answer (two "not reached"
agree), and the same for the 80% range's low end. Then the figures by
horizon, and on the targets the truth clearly reaches (a rise of at least 2
sds of a proportion on ``N`` images from ``0.8 N`` to the horizon: the median
rise is about 1.2, so most targets sit within one pilot's noise of a plateau).

    python benchmarks/bench_sizes.py [--draws 8] [--seed 0] [--max-curves N]
"""

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_calibration import (  # noqa: E402
    HORIZONS,
    IMAGE_CURVES,
    Case,
    Pilot,
    evaluate,
    family,
    fit,
    level_means,
    monotone,
)

from sklearn_vision._calibration import _CALIBRATION, _RANGE_CALIBRATION  # noqa: E402

# name: (fractions, repeats per size, folds)
DESIGNS = {
    "default .05-1 x5": ((0.05, 0.1, 0.25, 0.5, 1.0), (5, 5, 5, 5, 5), 5),
    "no 100% .05-.5 x5": ((0.05, 0.1, 0.25, 0.5), (5, 5, 5, 5), 5),
    "no 100% + refit": ((0.05, 0.1, 0.25, 0.5, 1.0), (5, 5, 5, 5, 1), 5),
    ".1-1 x3 (3 folds)": ((0.1, 0.25, 0.5, 1.0), (3, 3, 3, 3), 3),
    ".05-1 x3 (3 folds)": ((0.05, 0.1, 0.25, 0.5, 1.0), (3, 3, 3, 3, 3), 3),
    ".1-1 x5": ((0.1, 0.25, 0.5, 1.0), (5, 5, 5, 5), 5),
}


def cost(design):
    """Images fitted, over the pilot's images: without and with the refit on the whole training part."""
    fractions, repeats, folds = design
    part = (folds - 1) / folds
    fits = part * sum(f * r for f, r in zip(fractions, repeats, strict=True))
    return fits, fits + (0.0 if 1.0 in fractions else part)


def emulate(curve, n_pilot, design, rng):
    """A study of ``design`` on ``n_pilot`` images, emulated from one dense curve.

    ``bench_calibration._emulate`` with the design's sizes, repeats and folds
    (the same draws, in the same order, for the default design).
    """
    fractions, repeats, folds = design
    levels, means = level_means(curve["size"].to_numpy(float), curve.score.to_numpy())
    part = n_pilot * (folds - 1) / folds
    nearest = np.abs(np.log(levels)[:, None] - np.log(part * np.array(fractions)))
    picked = levels[nearest.argmin(axis=0)]
    per_fold = max(n_pilot // folds, 1)
    offsets = rng.standard_normal(folds)
    sizes, scores = [], []
    for size in np.unique(picked):
        n_repeats = max(r for s, r in zip(picked, repeats, strict=True) if s == size)
        measured = curve.score[curve["size"] == size].to_numpy()
        measured = rng.choice(measured, min(n_repeats, len(measured)), replace=False)
        spread = np.sqrt(measured * (1 - measured) / per_fold)
        noisy = measured + offsets[: len(measured)] * spread
        scores.extend(np.clip(np.round(noisy * per_fold) / per_fold, 0, 1))
        sizes.extend([size] * len(measured))
    return Pilot(
        curve.dataset.iloc[0],
        "",
        np.array(sizes),
        np.array(scores),
        n_pilot,
        levels,
        monotone(levels, means),
    )


def rows_of(frame, draws, seed, max_curves):
    rows = []
    groups = list(frame.groupby(["task", "representation", "learner"], sort=True))
    if max_curves:
        groups = groups[:max_curves]
    for index, (key, curve) in enumerate(groups):
        name = "/".join(key)
        levels = np.unique(curve["size"].to_numpy(float))
        for part in levels[(levels >= 40) & (2 * levels <= levels[-1])]:
            n_pilot = int(round(part / 0.8))
            for draw in range(draws):
                pilots = {
                    design: emulate(
                        curve,
                        n_pilot,
                        DESIGNS[design],
                        np.random.RandomState([seed, index, int(part), draw]),
                    )
                    for design in DESIGNS
                }
                if min(len(np.unique(p.sizes)) for p in pilots.values()) < 3:
                    continue
                for design, pilot in pilots.items():
                    curve_ = fit(pilot)
                    for horizon in HORIZONS:
                        n = part * horizon
                        if n > levels[-1] * 1.001:
                            continue
                        truth = pilot.truth_at(n)
                        true_size = pilot.first_size(truth)
                        with warnings.catch_warnings():
                            warnings.simplefilter("ignore")
                            point = float(curve_.inverse_predict([truth])[0])
                            low = float(curve_.inverse_predict_interval([truth], 0.8)[0][0])
                        case = Case(
                            family(pilot.dataset),
                            "images",
                            name,
                            part,
                            horizon,
                            not curve_.irregularities_,
                            truth,
                            true_size,
                            float(curve_.predict([[n]])[0]),
                            point,
                            {},
                            curve_,
                        )
                        rows.append(
                            {
                                "design": design,
                                "curve": name,
                                "part": part,
                                "draw": draw,
                                "horizon": horizon,
                                "regular": case.regular,
                                "point": point,
                                # the truth's rise from 0.8 N to the horizon, in
                                # sds of a proportion on the pilot's N images
                                "rise": (truth - pilot.truth_at(part))
                                / np.sqrt(max(truth * (1 - truth), 1e-4) / n_pilot),
                                "low": low,
                                **evaluate(case, _CALIBRATION, _RANGE_CALIBRATION),
                            }
                        )
    return pd.DataFrame(rows)


def agreement(values):
    """The share of draws whose answer lies within 2x of the pilot's median answer.

    Two draws that find no answer (inf: not reached) agree.
    """
    values = np.asarray(values, float)
    middle = np.median(values)
    if not np.isfinite(middle):
        return np.mean(~np.isfinite(values))
    with np.errstate(all="ignore"):
        return np.mean((values > middle / 2) & (values < middle * 2))


def within_2x(ratio):
    return np.mean((ratio > 0.5) & (ratio < 2))


def log2_error(ratio):
    """Median |log2(point answer / true size)| (inf where no answer)."""
    return np.median(np.abs(np.log2(ratio)))


def steadiness(rows):
    """Per pilot x horizon, across the draws: the prediction's sd, the answers' agreement."""
    return rows.groupby(["design", "curve", "part", "horizon"], sort=False).agg(
        pred_sd=("error", "std"),  # the truth is the same for every draw
        pt_agree=("point", agreement),
        low_agree=("low", agreement),
        rise=("rise", "mean"),
    )


def table(rows):
    default_cost = cost(DESIGNS[next(iter(DESIGNS))])[0]
    steady = (
        steadiness(rows)
        .groupby("design")
        .agg(
            pred_sd=("pred_sd", "median"),
            pt_agree=("pt_agree", "mean"),
            low_agree=("low_agree", "mean"),
        )
    )
    out = []
    for design in DESIGNS:
        r = rows[rows.design == design]
        fits, with_refit = cost(DESIGNS[design])
        line = {
            "design": design,
            "cost": fits / default_cost,
            "+refit": with_refit / default_cost,
        }
        for horizon in HORIZONS:
            line[f"mae{horizon}x"] = r.error[r.horizon == horizon].abs().mean()
        line |= {
            "bias": r.error.mean(),
            "cov95": r.covered.mean(),
            "pt_2x": within_2x(r.point_ratio),
            "pt_log2": log2_error(r.point_ratio),
            "r80_holds": r.range_holds.mean(),
            "r80_bounded": r.bounded.mean(),
            "regular": r.regular.mean(),
            **steady.loc[design].to_dict(),
        }
        out.append(line)
    return pd.DataFrame(out).set_index("design")


def by_horizon(rows):
    return (
        rows.groupby(["horizon", "design"], sort=False)
        .agg(
            cases=("error", "size"),
            mae=("error", lambda e: np.mean(np.abs(e))),
            bias=("error", "mean"),
            cov95=("covered", "mean"),
            pt_2x=("point_ratio", within_2x),
            pt_log2=("point_ratio", log2_error),
            r80_holds=("range_holds", "mean"),
        )
        .sort_index(level=0, sort_remaining=False)
    )


def clear_targets(rows, rise=2.0):
    """The answer in images where the truth rises clearly (``rise`` sds of the pilot's noise)."""
    clear = rows[rows.rise >= rise]
    steady = steadiness(clear).groupby("design", sort=False)
    return pd.concat(
        [
            clear.groupby("design", sort=False).agg(
                cases=("error", "size"),
                pt_2x=("point_ratio", within_2x),
                pt_log2=("point_ratio", log2_error),
                r80_holds=("range_holds", "mean"),
                r80_bounded=("bounded", "mean"),
            ),
            steady.agg(
                pt_agree=("pt_agree", "mean"),
                low_agree=("low_agree", "mean"),
            ),
        ],
        axis=1,
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=8, help="draws of each pilot (default 8)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--max-curves", type=int, default=0, help="the first N image curves only (0: all)"
    )
    args = parser.parse_args()
    pd.set_option("display.width", 250)
    pd.set_option("display.max_columns", 30)
    pd.set_option("display.precision", 3)
    start = time.perf_counter()
    frame = pd.read_csv(IMAGE_CURVES)
    rows = rows_of(frame, args.draws, args.seed, args.max_curves)
    pilots = rows.groupby(["curve", "part"]).ngroups
    first = rows[rows.design == next(iter(DESIGNS))]
    print(
        f"{rows.curve.nunique()} image curves, {pilots} pilot sizes x {args.draws} draws: "
        f"{len(first)} cases per design (pilot x horizon); "
        f"{time.perf_counter() - start:.0f} s\n"
    )
    print(table(rows), "\n")
    print("By horizon (of 0.8 N, the default's largest training size):")
    print(by_horizon(rows), "\n")
    print("Targets the truth clearly reaches (a rise of 2 sds of a proportion on N from 0.8 N):")
    print(clear_targets(rows))


if __name__ == "__main__":
    main()

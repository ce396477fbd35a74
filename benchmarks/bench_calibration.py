"""How far can a pilot's learning curve be trusted? The curve's intervals on real curves.

Two corpora of real learning curves, each cut at a pilot's size and compared with
what more data really gave:

- the image learning curves of ``benchmarks/data/image_curves.csv.gz`` (made by
  ``benchmarks/image_curves.py``: chest X-rays, PneumoniaMNIST and digits, through
  the pretrained MobileNetV2 features or the raw pixels, several learners). A pilot of
  ``N`` images is emulated as the product's default study measures one: sizes of
  5%, 10%, 25%, 50% and 100% of its ``0.8 N`` training images (the nearest measured
  sizes), 5 repeats, each fit's score redrawn as a proportion of the ``N / 5``
  images of its fold, the fold's luck shared by every size (every image scored once
  per size, as the study does). The truth is the dense
  curve made monotone (isotonic in log size);
- LCDB 1.0's learning curves (Mohr, Viering, Loog and van Rijn 2022) of datasets with
  an even OpenML id (odd ids are held out and never read), from the PyPI package
  ``lcdb`` (``--lcdb CSV``), cut at a half, a quarter and a tenth of their largest
  size; the truth the mean measured at each anchor, as LCDB's protocol scores it.

For every pilot and horizon (2x, 4x and 10x its largest training size): the error
of the predicted score, the coverage and width of the 95% score interval, and, for
the target the truth reaches there, the point answer in images against the true
first size and the 80% range; first held out by data set (the figures of each data
set from multiples calibrated on the others; the chest X-rays and PneumoniaMNIST,
made of the same images, held out together), then with the multiples the package
ships. ``--calibrate`` prints those multiples (the package's come from
``--max-curves 0``); ``--rounds`` simulates rounds of collection by several rules on
the image curves' truth.

    python benchmarks/bench_calibration.py [--lcdb CSV] [--max-curves N] [--calibrate | --rounds]
"""

import argparse
import importlib.util
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import special
from sklearn.isotonic import IsotonicRegression

from sklearn_vision import PowerLawRegressor, _calibration
from sklearn_vision._calibration import (
    _CALIBRATION,
    _CONFIDENCES,
    _RANGE_CALIBRATION,
)

HERE = Path(__file__).resolve().parent
IMAGE_CURVES = HERE / "data/image_curves.csv.gz"
PILOT_FRACTIONS = np.array([0.05, 0.1, 0.25, 0.5, 1.0])
HORIZONS = (2, 4, 10)


@dataclass
class Pilot:
    """A pilot cut from a real curve, and the truth beyond it."""

    dataset: str
    curve: str
    sizes: np.ndarray
    scores: np.ndarray
    n_test: object
    levels: np.ndarray  # the truth: sizes and monotone mean scores
    truth: np.ndarray

    @property
    def largest(self):
        return self.sizes.max()

    def truth_at(self, n):
        return float(np.interp(np.log(n), np.log(self.levels), self.truth))

    def first_size(self, target):
        """The first size at which the truth reaches ``target`` (log-interpolated)."""
        above = np.flatnonzero(self.truth >= target - 1e-12)
        if len(above) == 0:
            return np.inf
        i = above[0]
        if i == 0:
            return float(self.levels[0])
        a, b = self.truth[i - 1], self.truth[i]
        share = (target - a) / (b - a) if b > a else 1.0
        logs = np.log(self.levels[i - 1 : i + 1])
        return float(np.exp(logs[0] + share * (logs[1] - logs[0])))


def monotone(levels, means):
    return IsotonicRegression().fit(np.log(levels), means).predict(np.log(levels))


def level_means(sizes, scores):
    levels = np.unique(sizes)
    return levels, np.array([scores[sizes == level].mean() for level in levels])


def _emulate(curve, largest, rng, n_repeats=5):
    """A study on ``largest / 0.8`` images, emulated from one dense image curve.

    The sizes nearest 5%, 10%, 25%, 50% and 100% of ``largest``; at each,
    ``n_repeats`` of the measured fits, each score redrawn as the proportion of
    the ``largest / 0.8 / n_repeats`` images of its fold it gets right. Repeat
    k of every size is scored on the same fold, so a fold's luck is shared
    across the sizes, as in the study (every image scored once per size).
    """
    levels, means = level_means(curve["size"].to_numpy(float), curve.score.to_numpy())
    nearest = np.abs(np.log(levels)[:, None] - np.log(largest * PILOT_FRACTIONS))
    chosen = np.unique(levels[nearest.argmin(axis=0)])
    n_pilot = int(round(largest / 0.8))
    per_fold = max(n_pilot // n_repeats, 1)
    offsets = rng.standard_normal(n_repeats)
    sizes, scores = [], []
    for size in chosen:
        measured = curve.score[curve["size"] == size].to_numpy()
        measured = rng.choice(measured, min(n_repeats, len(measured)), replace=False)
        spread = np.sqrt(measured * (1 - measured) / per_fold)
        noisy = measured + offsets[: len(measured)] * spread
        scores.extend(np.clip(np.round(noisy * per_fold) / per_fold, 0, 1))
        sizes.extend([size] * len(measured))
    truth = monotone(levels, means)
    return Pilot(
        curve.dataset.iloc[0], "", np.array(sizes), np.array(scores), n_pilot, levels, truth
    )


def image_pilots(frame, rng):
    """Pilots of every dense image curve, at every measured size from 40 with 2x beyond it."""
    pilots = []
    for key, curve in frame.groupby(["task", "representation", "learner"], sort=True):
        levels = np.unique(curve["size"].to_numpy(float))
        for largest in levels[(levels >= 40) & (2 * levels <= levels[-1])]:
            pilot = _emulate(curve, largest, rng)
            pilot.curve = "/".join(key)
            if len(np.unique(pilot.sizes)) >= 3:
                pilots.append(pilot)
    return pilots


def lcdb_csv():
    """LCDB's accuracy curves as the ``lcdb`` package ships them, if installed."""
    spec = importlib.util.find_spec("lcdb")
    if spec is None:
        return None
    path = Path(spec.submodule_search_locations[0]) / "database-accuracy.csv"
    return path if path.exists() else None


def lcdb_pilots(path, max_curves, seed=0):
    """Pilots of LCDB's even-id curves: the sizes up to a half, a quarter and a tenth."""
    columns = ["openmlid", "learner", "size_train", "score_test"]
    chunks = [
        chunk[chunk.openmlid % 2 == 0]  # odd ids are held out: dropped as they are read
        for chunk in pd.read_csv(path, usecols=columns, chunksize=200_000)
    ]
    frame = pd.concat(chunks)
    groups = [
        g
        for g in frame.groupby(["openmlid", "learner"], sort=True)
        if g[1].size_train.nunique() >= 6
    ]
    if max_curves and len(groups) > max_curves:
        picked = np.random.RandomState(seed).choice(len(groups), max_curves, replace=False)
        groups = [groups[i] for i in sorted(picked)]
    pilots = []
    for (openmlid, learner), rows in groups:
        sizes, scores = rows.size_train.to_numpy(float), rows.score_test.to_numpy(float)
        # The truth is the mean measured at each anchor, as LCDB's own protocol
        # (bench_extrapolation.py --lcdb) scores it: not made monotone.
        levels, truth = level_means(sizes, scores)
        for horizon in HORIZONS:
            largest = levels[np.argmin(np.abs(np.log(levels) - np.log(levels[-1] / horizon)))]
            seen = sizes <= largest
            if len(np.unique(sizes[seen])) >= 3 and largest < levels[-1]:
                pilots.append(
                    Pilot(
                        f"lcdb{openmlid}",
                        f"lcdb{openmlid}/{learner}",
                        sizes[seen],
                        scores[seen],
                        None,
                        levels,
                        truth,
                    )
                )
    return pilots


def family(dataset):
    """Data sets held out together: PneumoniaMNIST is made of the Kermany chest X-rays."""
    return "kermany" if dataset in ("chest_xray", "pneumoniamnist") else dataset


def fit(pilot):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return PowerLawRegressor().fit(pilot.sizes[:, None], pilot.scores, n_test=pilot.n_test)


@dataclass
class Case:
    """One pilot, one horizon: the truth there and the multiples each end needs."""

    family: str
    corpus: str
    name: str
    pilot_size: float
    horizon: int
    regular: bool
    truth: float  # the score at the horizon
    true_size: float  # the first size at which the truth reaches it
    prediction: float
    point: float  # the point answer in images
    needs: dict  # (kind, end) -> the least multiple that does not miss
    curve: PowerLawRegressor  # fitted on the pilot


def _least_multiples(curve, pilot, n, truth, true_size):
    """For each end of the score band and of the range, the least multiple that holds the truth.

    In t (falling as the score improves): the score band's better end misses
    when the truth lies below ``pred - q full`` at ``n``; its worse end when
    the truth lies above its running best (envelope) from the largest size
    seen to ``n``. The range's low end misses when the better end reaches the
    target only after the true size; its high end when the worse end reaches
    it before.
    """
    sign = curve._sign()
    tau = sign * truth
    x_n = n / curve.n_max_
    grid = np.exp(np.linspace(np.log(pilot.sizes.min() / curve.n_max_ / 4), np.log(x_n), 400))
    prediction, gain, full, narrow = curve._band_parts(grid)
    regular = not curve.irregularities_
    worse_scale = narrow if regular else full
    worse_base = prediction + ((1 - 0.25) * gain if regular else 0.0)
    with np.errstate(all="ignore"):
        better = (prediction - tau) / full  # q at which the better end meets tau, per size
        worse = (tau - worse_base) / worse_scale
    needs = {}
    # The score band at n.
    needs["score", "better"] = better[-1]
    beyond = grid >= 1.0
    needs["score", "worse"] = np.max(worse[beyond]) if regular else worse[-1]
    # The range: sizes up to the true first size.
    x_true = true_size / curve.n_max_
    before = grid <= x_true
    if not np.isfinite(x_true) or not before.any():
        return needs
    needs["range", "low"] = np.min(better[before])
    with np.errstate(all="ignore"):
        needs["range", "high"] = np.max(((tau - prediction) / narrow)[before])
    return needs


def cases(pilots, corpus):
    found = []
    for pilot in pilots:
        curve = fit(pilot)
        for horizon in HORIZONS:
            n = pilot.largest * horizon
            if n > pilot.levels[-1] * 1.001:
                continue
            truth = pilot.truth_at(n)
            true_size = pilot.first_size(truth)
            found.append(
                Case(
                    family(pilot.dataset),
                    corpus,
                    pilot.curve,
                    pilot.largest,
                    horizon,
                    not curve.irregularities_,
                    truth,
                    true_size,
                    float(curve.predict([[n]])[0]),
                    float(curve.inverse_predict([truth])[0]),
                    _least_multiples(curve, pilot, n, truth, true_size),
                    curve,
                )
            )
    return found


def _quantiles(needs, kind):
    """The multiple each confidence needs: the truth beyond it in (1 - c) / 2 of ``needs``.

    A quantile whose tail holds fewer than 5 cases is not measured: the last
    measured one, carried on by the normal tails' ratio.
    """
    # 0/0 or x/0: a prediction on or short of the target with no spread at all.
    needs = needs[np.isfinite(needs)]
    quantiles = np.array([np.quantile(needs, 1 - (1 - c) / 2) for c in _CONFIDENCES])
    measured = len(needs) * (1 - _CONFIDENCES) / 2 >= 5
    if not measured.any():
        return None
    last = np.flatnonzero(measured)[-1]
    z = special.ndtri(0.5 + _CONFIDENCES / 2)
    quantiles = np.where(measured, quantiles, quantiles[last] * z / z[last])
    # The score band's ends never cross the prediction; the range's may. A
    # multiple past 50 scales puts an end beyond any score: the same as 50.
    return np.clip(quantiles, 0.0 if kind == "score" else -np.inf, 50.0)


def calibrate(found, kind):
    """The table of multiples for ``kind`` ("score" or "range"): {(group, end): array}.

    Each corpus (images, LCDB) calibrated on its own, and each multiple the
    larger of the two: the stated rate holds on both, whatever their sizes.
    """
    ends = ("better", "worse") if kind == "score" else ("low", "high")
    table = {}
    for group in ("regular", "irregular"):
        chosen = [case for case in found if case.regular == (group == "regular")]
        for end, name in zip(ends, ("better", "worse"), strict=True):
            per_corpus = []
            for corpus in sorted({case.corpus for case in chosen}):
                needs = np.array(
                    [
                        c.needs[kind, end]
                        for c in chosen
                        if c.corpus == corpus and (kind, end) in c.needs
                    ]
                )
                quantiles = _quantiles(needs, kind) if len(needs) else None
                if quantiles is not None:
                    per_corpus.append(quantiles)
            table[group, name] = np.max(per_corpus, axis=0)
    return table


def multiple(table, group, end, confidence):
    return float(np.interp(confidence, _CONFIDENCES, table[group, end]))


def score_band_holds(case, table, confidence):
    group = "regular" if case.regular else "irregular"
    better = case.needs["score", "better"] <= multiple(table, group, "better", confidence)
    worse = case.needs["score", "worse"] <= multiple(table, group, "worse", confidence)
    return better, worse


def range_holds(case, table, confidence):
    if ("range", "low") not in case.needs:
        return np.nan, np.nan
    group = "regular" if case.regular else "irregular"
    low = case.needs["range", "low"] <= multiple(table, group, "better", confidence)
    high = case.needs["range", "high"] <= multiple(table, group, "worse", confidence)
    return low, high


@contextmanager
def calibrated(score_table, range_table):
    """The regressor's intervals with these tables (calibrated on other data sets)."""
    saved = _calibration._CALIBRATION, _calibration._RANGE_CALIBRATION
    _calibration._CALIBRATION, _calibration._RANGE_CALIBRATION = score_table, range_table
    try:
        yield
    finally:
        _calibration._CALIBRATION, _calibration._RANGE_CALIBRATION = saved


def evaluate(case, score_table, range_table):
    """The case's figures with these tables."""
    n = case.pilot_size * case.horizon
    with calibrated(score_table, range_table), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lower, upper = case.curve.predict_interval([[n]], confidence=0.95)
        low, high = case.curve.inverse_predict_interval([case.truth], confidence=0.8)
    return {
        "error": case.prediction - case.truth,
        "covered": float(lower[0] <= case.truth <= upper[0]),
        "width": float(upper[0] - lower[0]),
        "point_ratio": case.point / case.true_size,
        "range_holds": float(
            low[0] <= case.true_size * 1.0001 and case.true_size <= high[0] * 1.0001
        ),
        "range_ratio": high[0] / low[0],
        "bounded": float(np.isfinite(high[0])),
    }


def held_out_rows(found, by_family=True):
    """Every case's figures, its multiples calibrated without its own data set."""
    families = np.array([case.family for case in found])
    rows = []
    for name in np.unique(families):
        others = [case for case, f in zip(found, families, strict=True) if f != name]
        tables = calibrate(others, "score"), calibrate(others, "range")
        for case, f in zip(found, families, strict=True):
            if f == name:
                rows.append(
                    {
                        "family": f,
                        "corpus": case.corpus,
                        "horizon": case.horizon,
                        "pilot": case.pilot_size,
                        **evaluate(case, *tables),
                    }
                )
    return pd.DataFrame(rows)


def summary(rows):
    def within(r):
        return np.mean((r > 0.5) & (r < 2))

    return rows.groupby(["corpus", "horizon"]).agg(
        cases=("error", "size"),
        mae=("error", lambda e: np.mean(np.abs(e))),
        bias=("error", "mean"),
        coverage95=("covered", "mean"),
        width95=("width", "mean"),
        point_within_2x=("point_ratio", within),
        range80_holds=("range_holds", "mean"),
        range_bounded=("bounded", "mean"),
        range_median_ratio=("range_ratio", "median"),
    )


# The rules of what to collect next, from the images in hand (``n``), the 80%
# range (``low``, ``high``) and the point answer; each collects at least a
# quarter more.
RULES = {
    "point": lambda n, low, high, point: point,
    "low end": lambda n, low, high, point: low,
    "point, at most 2x": lambda n, low, high, point: min(point, 2 * n),
    "point, at most 3x": lambda n, low, high, point: min(point, 3 * n),
    "low end, at most 2x": lambda n, low, high, point: min(low, 2 * n),
    "low end, at most 3x": lambda n, low, high, point: min(low, 3 * n),
    "low end, at most 4x": lambda n, low, high, point: min(low, 4 * n),
    "between low and point, at most 3x": lambda n, low, high, point: min(
        np.sqrt(low * point), 3 * n
    ),
}


def simulate_rounds(curve, target, start, rule, rng, max_rounds=8):
    """Collect by ``rule`` from a pilot of ``start`` training images until ``target`` is measured.

    Returns (training images at the end, rounds, whether the truth reached the
    target there).
    """
    largest_measured = curve["size"].max()
    n = start
    for round_ in range(1, max_rounds + 1):
        pilot = _emulate(curve, n, rng)
        if pilot.scores[pilot.sizes == pilot.largest].mean() >= target or n >= largest_measured:
            return n, round_
        fitted = fit(pilot)
        low, high = fitted.inverse_predict_interval([target], confidence=0.8)
        point = fitted.inverse_predict([target])[0]
        wanted = rule(n, low[0], high[0], point)
        n = float(min(max(wanted, 1.25 * n), largest_measured))
    return n, max_rounds


def rounds_table(frame, rng, starts=(80, 160, 320), horizons=(4, 8)):
    """Each rule's images collected over the true need, and its rounds, on the image curves."""
    rows = []
    for key, curve in frame.groupby(["task", "representation", "learner"], sort=True):
        levels, means = level_means(curve["size"].to_numpy(float), curve.score.to_numpy())
        truth = monotone(levels, means)
        reference = Pilot("", "", levels, means, None, levels, truth)
        for start in starts:
            for horizon in horizons:
                if start * horizon > levels[-1]:
                    continue
                target = reference.truth_at(start * horizon)
                need = reference.first_size(target)
                if need <= start:
                    continue
                for name, rule in RULES.items():
                    final, rounds = simulate_rounds(curve, target, start, rule, rng)
                    rows.append(
                        {
                            "rule": name,
                            "curve": "/".join(key),
                            "start": start,
                            "collected_over_need": final / need,
                            "rounds": rounds,
                        }
                    )
    table = (
        pd.DataFrame(rows)
        .groupby("rule")
        .agg(
            cases=("rounds", "size"),
            median_collected_over_need=("collected_over_need", "median"),
            p90_collected_over_need=("collected_over_need", lambda r: np.percentile(r, 90)),
            short=("collected_over_need", lambda r: np.mean(r < 0.95)),
            mean_rounds=("rounds", "mean"),
            max_rounds=("rounds", "max"),
        )
    )
    return table.sort_values("mean_rounds")


def package_rows(found):
    """Every case's figures with the tables the package ships."""
    rows = []
    for case in found:
        figures = evaluate(case, _CALIBRATION, _RANGE_CALIBRATION)
        rows.append(
            {
                "family": case.family,
                "corpus": case.corpus,
                "horizon": case.horizon,
                "pilot": case.pilot_size,
                **figures,
            }
        )
    return pd.DataFrame(rows)


def print_tables(found):
    for kind, name in (("score", "_CALIBRATION"), ("range", "_RANGE_CALIBRATION")):
        table = calibrate(found, kind)
        counts = {
            group: sum(
                case.regular == (group == "regular")
                and (kind, "better" if kind == "score" else "low") in case.needs
                for case in found
            )
            for group in ("regular", "irregular")
        }
        print(f"{name} = {{")
        for (group, end), values in table.items():
            print(
                f'    ("{group}", "{end}"): np.array([{", ".join(f"{q:.3f}" for q in values)}]),'
                f"  # {counts[group]} cases"
            )
        print("}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--lcdb",
        metavar="CSV",
        default=lcdb_csv(),
        help="LCDB's database-accuracy.csv (default: the lcdb package's, if installed)",
    )
    parser.add_argument(
        "--max-curves",
        type=int,
        default=300,
        help="LCDB curves, a random sample (0: all; default 300)",
    )
    parser.add_argument(
        "--calibrate",
        action="store_true",
        help="print the tables of multiples calibrated on every case",
    )
    parser.add_argument(
        "--rounds",
        action="store_true",
        help="simulate rounds of collection by each rule on the image curves",
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    pd.set_option("display.width", 200)
    pd.set_option("display.max_columns", 20)
    pd.set_option("display.precision", 3)
    start = time.perf_counter()
    frame = pd.read_csv(IMAGE_CURVES)
    rng = np.random.RandomState(args.seed)
    if args.rounds:
        print(rounds_table(frame, rng))
        return
    found = cases(image_pilots(frame, rng), "images")
    n_curves = frame.groupby(["task", "representation", "learner"]).ngroups
    print(f"{n_curves} image curves: {len(found)} cases (pilot x horizon)")
    if args.lcdb:
        lcdb = cases(lcdb_pilots(args.lcdb, args.max_curves, args.seed), "lcdb")
        print(f"LCDB (even ids): {len(lcdb)} cases")
        found += lcdb
    print(f"built in {time.perf_counter() - start:.0f} s\n")
    if args.calibrate:
        return print_tables(found)
    print("Held out by data set (multiples calibrated on the other data sets):")
    print(summary(held_out_rows(found)), "\n")
    print("With the multiples the package ships (calibrated on every case):")
    print(summary(package_rows(found)))


if __name__ == "__main__":
    main()

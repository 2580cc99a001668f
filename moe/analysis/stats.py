"""Intervals and tests across seeds: `mean_ci` is the interval of every table and figure but the
multi-task suites' IQM (`iqm_interval`, `iqm_difference_interval`, a stratified bootstrap).

Why a t-interval: with 5-10 seeds it is the interval whose coverage holds up best
when simulated (`python -m moe.tools.coverage` prints the figures quoted in
results/README.md; tests/test_analysis.py checks them): 0.95 on normal values and
about 0.90 on values piled near 1 at 5 seeds, where resampling 5 values (a
percentile bootstrap, or scipy's BCa) covers 0.80-0.85: a resample can only show
the spread the 5 values happen to have.

When every seed agrees: the t-interval has zero width there, and it is kept: any
wider interval at a tie would make the interval jump when the values move apart by
1e-8 (five seeds of success 1.0 got [0.478, 1], five values 1e-8 apart a zero-width
interval). Agreeing seeds show no spread, and no interval computed from them can
show one; the tables print such a cell as the value and "(seeds agree)", never as
an interval (`moe.analysis.tables.interval_cell`), and a value the run's setup fixes
(the intent oracle's intent_explained of 1) as "(by construction)".
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import optimize as scipy_optimize
from scipy import stats as scipy_stats

CONFIDENCE = 0.95


def _finite(values) -> np.ndarray:
    x = np.asarray(values, dtype=float).ravel()
    return x[~np.isnan(x)]


def mean_ci(values, confidence: float = CONFIDENCE,
            bounds: Sequence[float] | None = None) -> tuple[float, float, float]:
    """Mean of `values` (NaNs dropped) and its two-sided confidence interval: `(mean, low, high)`.

    - no value: all NaN; one value: the value and a NaN interval (one seed shows no spread);
    - several: Student's t-interval `mean +- t_{n-1} * s / sqrt(n)`, clipped to `bounds`
      (the range one run's value can take) when given; zero width where every value is
      the same, so that the interval moves continuously with the values.
    """
    x = _finite(values)
    if x.size == 0:
        return math.nan, math.nan, math.nan
    mean = float(x.mean())
    if x.size == 1:
        return mean, math.nan, math.nan
    half_width = float(scipy_stats.t.ppf(0.5 + confidence / 2, df=x.size - 1) * scipy_stats.sem(x))
    low, high = mean - half_width, mean + half_width
    if bounds is not None:
        low, high = max(low, bounds[0]), min(high, bounds[1])
    return mean, float(low), float(high)


def linear_bounds(weights, bounds: Sequence[float] | None) -> tuple[float, float] | None:
    """Range of `sum_i w_i y_i` when every `y_i` lies in `bounds` (a contrast's range); None if unbounded."""
    if bounds is None:
        return None
    w = np.asarray(weights, dtype=float)
    low, high = bounds
    positive, negative = w[w > 0].sum(), w[w < 0].sum()

    def scaled(weight: float, bound: float) -> float:  # 0 * inf is 0 here: a side without weights adds nothing
        return weight * bound if weight else 0.0

    return scaled(positive, low) + scaled(negative, high), scaled(positive, high) + scaled(negative, low)


def t_test_p(values) -> float:
    """Two-sided p-value of "the mean is 0" from the same t distribution as `mean_ci`
    (so p < 0.05 exactly when the 95% t-interval excludes 0). NaN with fewer than two
    values or no spread."""
    x = _finite(values)
    if x.size < 2 or np.all(x == x[0]):
        return math.nan
    return float(scipy_stats.ttest_1samp(x, 0.0).pvalue)


def holm(p_values) -> np.ndarray:
    """Holm's step-down adjustment (controls the family-wise error rate at any dependence).

    Sorted ascending, the i-th smallest p (i = 0, 1, ...) becomes max over j <= i of
    min(1, (m - j) p_(j)). Every entry counts in the family size m; a NaN (undefined
    test) counts as a p-value of 1 and stays NaN. Not scipy's `false_discovery_control`:
    that is Benjamini-Hochberg (false discovery rate), a weaker guarantee.
    """
    p = np.asarray(p_values, dtype=float)
    filled = np.where(np.isnan(p), 1.0, p)
    m = filled.size
    order = np.argsort(filled, kind="stable")
    adjusted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * filled[order]))
    result = np.empty(m)
    result[order] = adjusted
    result[np.isnan(p)] = math.nan
    return result


def iqm(scores) -> float:
    """The interquartile mean of every score (NaNs dropped): the mean of the middle 50%, the
    lowest and highest quarters cut (`scipy.stats.trim_mean(x, 0.25)`; Agarwal et al. 2021,
    "Deep RL at the Edge of the Statistical Precipice", over runs x tasks at once)."""
    x = _finite(scores)
    return float(scipy_stats.trim_mean(x, 0.25)) if x.size else math.nan


def iqm_interval(scores, confidence: float = CONFIDENCE, resamples: int = 10_000,
                 seed: int = 0) -> tuple[float, float, float]:
    """`(iqm, low, high)` of a runs x tasks matrix, with the stratified bootstrap of Agarwal et al.
    (rliable's default): each resample draws, for every task alone, as many runs as it has, with
    replacement, and takes the IQM of the whole matrix; the interval is the resamples' percentiles.
    Stratified, so that every resample keeps every task: an IQM over few tasks is otherwise
    mostly the middle task's score."""
    matrix = np.asarray(scores, dtype=float)
    if matrix.ndim != 2 or not matrix.size:
        raise ValueError(f"scores must be a runs x tasks matrix, got shape {matrix.shape}")
    if np.isnan(matrix).any():
        raise ValueError("scores hold NaN: a failed run scores as a failure (0), a missing one has no place here")
    statistics = _stratified_iqms(matrix, np.random.default_rng(seed), resamples)
    tail = (1 - confidence) / 2
    low, high = np.quantile(statistics, [tail, 1 - tail])
    return iqm(matrix), float(low), float(high)


def _stratified_iqms(matrix: np.ndarray, rng: np.random.Generator, resamples: int) -> np.ndarray:
    picks = rng.integers(matrix.shape[0], size=(resamples, matrix.shape[0], matrix.shape[1]))
    resampled = np.take_along_axis(matrix[None].repeat(resamples, 0), picks, axis=1)
    return scipy_stats.trim_mean(resampled.reshape(resamples, -1), 0.25, axis=1)


def iqm_difference_interval(scores, reference, confidence: float = CONFIDENCE, resamples: int = 10_000,
                            seed: int = 0) -> tuple[float, float, float]:
    """`(difference, low, high)`: IQM(scores) - IQM(reference), two runs x tasks matrices of the same tasks
    from independent runs, each resampled on its own by the stratified bootstrap of `iqm_interval`; the
    interval is the percentiles of the resampled differences."""
    first, second = (np.asarray(matrix, dtype=float) for matrix in (scores, reference))
    if first.ndim != 2 or second.ndim != 2 or first.shape[1] != second.shape[1] or not first.size or not second.size:
        raise ValueError(f"two runs x tasks matrices of the same tasks, got shapes {first.shape} and {second.shape}")
    if np.isnan(first).any() or np.isnan(second).any():
        raise ValueError("scores hold NaN: a failed run scores as a failure (0), a missing one has no place here")
    rng = np.random.default_rng(seed)
    differences = _stratified_iqms(first, rng, resamples) - _stratified_iqms(second, rng, resamples)
    tail = (1 - confidence) / 2
    low, high = np.quantile(differences, [tail, 1 - tail])
    return iqm(first) - iqm(second), float(low), float(high)


def detectable_effect(seeds: int, tests: int = 1, alpha: float = 0.05, power: float = 0.8) -> float:
    """The smallest seed-paired effect, in standard deviations of the paired differences (Cohen's d_z), that
    a two-sided paired t-test on `seeds` pairs finds with probability `power` at the strictest level Holm's
    correction over `tests` comparisons applies (alpha / tests): what a study of that size can resolve.
    Solved on the noncentral t distribution."""
    if seeds < 2 or tests < 1 or not 0 < alpha < 1 or not 0 < power < 1:
        raise ValueError(f"need seeds >= 2, tests >= 1, alpha and power in (0, 1); got {seeds}, {tests}, "
                         f"{alpha}, {power}")
    freedom = seeds - 1
    critical = scipy_stats.t.ppf(1 - alpha / tests / 2, freedom)

    def shortfall(effect: float) -> float:
        shift = effect * math.sqrt(seeds)
        # Far in the tails scipy's nct returns NaN: there the upper tail is 1 and the lower one 0.
        upper = scipy_stats.nct.sf(critical, freedom, shift)
        lower = scipy_stats.nct.cdf(-critical, freedom, shift)
        return (1.0 if math.isnan(upper) else upper) + (0.0 if math.isnan(lower) else lower) - power

    high = 1.0
    while shortfall(high) < 0:  # widen the bracket by doubling: far tails of nct return NaN
        high *= 2
    return float(scipy_optimize.brentq(shortfall, 1e-6, high))

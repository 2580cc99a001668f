"""Intervals and tests across seeds: `mean_ci` is the one interval of every table and figure.

Why a t-interval: with 5-10 seeds it is the interval whose coverage holds up best
when simulated (`python -m moe.tools.coverage` prints the figures quoted in
results/README.md; tests/test_analysis.py checks them): 0.95 on normal values and
about 0.90 on values piled near 1 at 5 seeds, where resampling 5 values (a
percentile bootstrap, or scipy's BCa) covers 0.80-0.85: a resample can only show
the spread the 5 values happen to have.

Why something special when every seed agrees: the t-interval then has zero width,
claiming a certainty 5 seeds cannot give (5 seeds of success 1.0 do not show that
every seed succeeds). For a metric with a known range we use what the data do show:
with confidence 1 - (1 - confidence)/2, the probability q that a run lands exactly on
the observed value v is at least q_low = ((1 - confidence)/2)^(1/n) (Clopper-Pearson
with n hits out of n), and a run that does not land on v lies somewhere in the range,
so the mean lies in [q_low v + (1 - q_low) lo, q_low v + (1 - q_low) hi]. With 5
seeds at 95%, q_low = 0.478: success 1.0 on every seed gives [0.478, 1]. Without a
known range there is no honest interval: it is NaN (tables print "no spread").
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import stats as scipy_stats

CONFIDENCE = 0.95


def _finite(values) -> np.ndarray:
    x = np.asarray(values, dtype=float).ravel()
    return x[~np.isnan(x)]


def mean_ci(values, confidence: float = CONFIDENCE,
            bounds: Sequence[float] | None = None) -> tuple[float, float, float]:
    """Mean of `values` (NaNs dropped) and its two-sided confidence interval: `(mean, low, high)`.

    - no value: all NaN; one value: the value and a NaN interval (one seed shows no spread);
    - values that differ: Student's t-interval `mean +- t_{n-1} * s / sqrt(n)`,
      clipped to `bounds` (the range one run's value can take) when given;
    - values that are all equal: the interval above from `bounds`, NaN without them.
    """
    x = _finite(values)
    if x.size == 0:
        return math.nan, math.nan, math.nan
    mean = float(x.mean())
    if x.size == 1:
        return mean, math.nan, math.nan
    if np.all(x == x[0]):
        return (float(x[0]), *no_spread_interval(float(x[0]), x.size, confidence, bounds))
    low, high = scipy_stats.t.interval(confidence, df=x.size - 1, loc=mean, scale=scipy_stats.sem(x))
    if bounds is not None:
        low, high = max(low, bounds[0]), min(high, bounds[1])
    return mean, float(low), float(high)


def no_spread_interval(value: float, n: int, confidence: float, bounds: Sequence[float] | None) -> tuple[float, float]:
    """Interval of the mean when all `n` runs gave `value` (see the module docstring)."""
    if bounds is None:
        return math.nan, math.nan
    q_low = ((1.0 - confidence) / 2.0) ** (1.0 / n)
    low, high = bounds
    return q_low * value + (1.0 - q_low) * low, q_low * value + (1.0 - q_low) * high


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

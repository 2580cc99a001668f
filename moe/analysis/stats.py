"""Confidence intervals across seeds."""

from __future__ import annotations

import math

import numpy as np

#: Fixed so that tables are reproducible bit for bit.
BOOTSTRAP_SEED = 0
BOOTSTRAP_RESAMPLES = 10_000


def bootstrap_ci(
    values,
    confidence: float = 0.95,
    n_resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> tuple[float, float, float]:
    """Mean of `values` and the percentile bootstrap CI of the mean: `(mean, low, high)`.

    NaNs are dropped first. With no value everything is NaN; with one value the
    mean is that value and the interval is NaN (one seed says nothing about spread).
    A percentile bootstrap rather than scipy's BCa: BCa is undefined when every
    resample has the same mean (e.g. all seeds reach success rate 1.0), which
    happens here; the percentile interval is then the zero-width one it should be.
    """
    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    if x.size == 0:
        return math.nan, math.nan, math.nan
    mean = float(x.mean())
    if x.size == 1:
        return mean, math.nan, math.nan
    rng = np.random.default_rng(seed)
    indices = rng.integers(0, x.size, size=(n_resamples, x.size))
    resampled_means = x[indices].mean(axis=1)
    tail = (1.0 - confidence) / 2.0 * 100.0
    low, high = np.percentile(resampled_means, [tail, 100.0 - tail])
    # Clamp float noise so that an all-equal sample gives exactly mean == low == high.
    return mean, float(min(low, mean)), float(max(high, mean))

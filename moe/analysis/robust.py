"""Robust aggregates across tasks in the style of rliable (Agarwal et al., 2021).

`rliable` 1.2.0 does not import next to pandas 3 (its `arch` dependency breaks), so
the few functions needed are implemented here with numpy/scipy, following rliable's
definitions:

- **IQM** (interquartile mean): `scipy.stats.trim_mean(x, 0.25)` of all runs of all
  tasks pooled, i.e. the mean of the middle 50% of scores (`int(0.25 n)` dropped at
  each end). Scores are used as they are: MiniGrid returns already lie in [0, 1]
  (0 = failure, 1 = instant success), so they need no normalisation; router
  entropies are in nats (every task has the same K in this benchmark).
- **Probability of improvement** `P(X > Y)`: per task, the Mann-Whitney U statistic
  over all pairs of a run of X and a run of Y divided by the number of pairs
  (a tie counts 1/2), then averaged over tasks.
- **Intervals**: stratified percentile bootstrap: runs are resampled with
  replacement within each task (and, for P(X > Y), within each algorithm and task)
  independently, with `numpy.random.default_rng(seed)` so tables are reproducible.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy.stats import trim_mean

from moe.analysis.runs import FINISHED
from moe.analysis.stats import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED
from moe.variants import BASELINE

#: Metric -> whether larger is better, for "improves on the baseline".
#: Lower router entropy = a more committed router (the corrections' aim).
HIGHER_IS_BETTER = {"return_mean": True, "router_entropy": False, "success_rate": True,
                    "marginal_router_entropy": False, "switch_rate": False, "intent_nmi": True}


def _clean(values) -> np.ndarray:
    x = np.asarray(values, dtype=float).ravel()
    return x[~np.isnan(x)]


def iqm(values) -> float:
    """Interquartile mean: mean of the middle 50% (NaNs dropped; NaN if empty)."""
    x = _clean(values)
    return float(trim_mean(x, 0.25)) if x.size else math.nan


def _percentiles(replicates: np.ndarray, estimate: float, confidence: float) -> tuple[float, float]:
    tail = (1.0 - confidence) / 2.0 * 100.0
    low, high = np.percentile(replicates, [tail, 100.0 - tail])
    return float(min(low, estimate)), float(max(high, estimate))


def stratified_resample(strata: Sequence[np.ndarray], rng: np.random.Generator, n_resamples: int) -> list[np.ndarray]:
    """For each stratum, an `(n_resamples, n_stratum)` array of its values drawn with replacement."""
    return [x[rng.integers(0, x.size, size=(n_resamples, x.size))] for x in strata]


def iqm_bootstrap(
    scores_by_task: Sequence,
    confidence: float = 0.95,
    n_resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
    return_replicates: bool = False,
):
    """IQM of all runs pooled over tasks and its stratified bootstrap interval: `(iqm, low, high)`.

    `scores_by_task` holds one array of run scores per task (tasks may have different
    numbers of runs; empty tasks are skipped). With fewer than two runs in all, the
    interval is NaN.
    """
    strata = [x for x in (_clean(s) for s in scores_by_task) if x.size]
    if not strata:
        result = (math.nan, math.nan, math.nan)
        return (*result, np.array([])) if return_replicates else result
    estimate = iqm(np.concatenate(strata))
    if sum(x.size for x in strata) < 2:
        result = (estimate, math.nan, math.nan)
        return (*result, np.array([])) if return_replicates else result
    rng = np.random.default_rng(seed)
    pooled = np.concatenate(stratified_resample(strata, rng, n_resamples), axis=1)
    replicates = trim_mean(pooled, 0.25, axis=1)
    result = (estimate, *_percentiles(replicates, estimate, confidence))
    return (*result, replicates) if return_replicates else result


def pairwise_probability(x, y) -> float:
    """P(X > Y) + P(X = Y)/2 over all pairs (the normalised Mann-Whitney U of x)."""
    x, y = _clean(x), _clean(y)
    if x.size == 0 or y.size == 0:
        return math.nan
    diff = x[:, None] - y[None, :]
    return float(((diff > 0) + 0.5 * (diff == 0)).mean())


def probability_of_improvement(x_by_task: Sequence, y_by_task: Sequence) -> float:
    """rliable's P(X > Y): the pairwise probability per task, averaged over the tasks
    where both have runs (NaN if none)."""
    values = [pairwise_probability(x, y) for x, y in zip(x_by_task, y_by_task)]
    values = [v for v in values if not math.isnan(v)]
    return float(np.mean(values)) if values else math.nan


def probability_of_improvement_bootstrap(
    x_by_task: Sequence,
    y_by_task: Sequence,
    confidence: float = 0.95,
    n_resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> tuple[float, float, float]:
    """P(X > Y) and its stratified bootstrap interval (runs of X and of Y resampled within each task)."""
    pairs = [(_clean(x), _clean(y)) for x, y in zip(x_by_task, y_by_task)]
    pairs = [(x, y) for x, y in pairs if x.size and y.size]
    if not pairs:
        return math.nan, math.nan, math.nan
    estimate = probability_of_improvement(*zip(*pairs))
    if all(x.size < 2 and y.size < 2 for x, y in pairs):
        return estimate, math.nan, math.nan
    rng = np.random.default_rng(seed)
    per_task = []
    for x, y in pairs:
        xs = x[rng.integers(0, x.size, size=(n_resamples, x.size))]
        ys = y[rng.integers(0, y.size, size=(n_resamples, y.size))]
        diff = xs[:, :, None] - ys[:, None, :]
        per_task.append(((diff > 0) + 0.5 * (diff == 0)).mean(axis=(1, 2)))
    replicates = np.mean(per_task, axis=0)
    return (estimate, *_percentiles(replicates, estimate, confidence))


def scores_by_task(runs: pd.DataFrame, variant: str, metric: str, tasks: Sequence[str]) -> list[np.ndarray]:
    """The finished runs' `metric` of `variant`, one array per task (in `tasks` order)."""
    done = runs[(runs["status"] == FINISHED) & (runs["variant"] == variant)]
    return [_clean(done.loc[done["task"] == task, metric]) for task in tasks]


def robust_aggregates(
    runs: pd.DataFrame,
    variants: Sequence[str],
    tasks: Sequence[str],
    metrics: Sequence[str] = ("return_mean", "router_entropy"),
    baseline: str = BASELINE,
    higher_is_better: Mapping[str, bool] = HIGHER_IS_BETTER,
    confidence: float = 0.95,
    n_resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> pd.DataFrame:
    """One row per metric and variant: IQM across all runs x tasks with its interval,
    and the probability that the variant improves on `baseline` with its interval.

    "Improves" is `P(X > Y)` for a metric where higher is better and `P(X < Y)` where
    lower is better (router entropy), computed as P(-X > -Y). The baseline's own row
    gets 0.5 by definition (P(X > X') with ties counted 1/2 over identical run sets).
    """
    rows = []
    for metric in metrics:
        sign = 1.0 if higher_is_better.get(metric, True) else -1.0
        base = scores_by_task(runs, baseline, metric, tasks)
        for variant in variants:
            scores = scores_by_task(runs, variant, metric, tasks)
            value, low, high = iqm_bootstrap(scores, confidence, n_resamples, seed)
            p, p_low, p_high = probability_of_improvement_bootstrap(
                [sign * s for s in scores], [sign * b for b in base], confidence, n_resamples, seed
            )
            rows.append({
                "metric": metric, "variant": variant, "better": "higher" if sign > 0 else "lower",
                "iqm": value, "iqm_ci_low": low, "iqm_ci_high": high,
                "p_improve": p, "p_improve_ci_low": p_low, "p_improve_ci_high": p_high,
                "n_tasks": sum(1 for s in scores if s.size), "n_runs": int(sum(s.size for s in scores)),
            })
    return pd.DataFrame(rows)

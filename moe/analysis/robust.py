"""Aggregates across tasks, paired by seed: each variant's level, its change from the
baseline, and the probability that it improves on the baseline.

A seed is the same warm-up, levels and minibatch order in every variant of a task, so
each seed s compares a variant with the baseline run it is paired with, and averages
over the tasks:

- `level`: mean over tasks of y(task, variant, s);
- `difference`: mean over tasks of y(task, variant, s) - y(task, baseline, s);
- `p_improve`: mean over tasks of 1 if the variant's run is better than the
  baseline's (1/2 for a tie), "better" in the metric's registered direction. The
  probability that, on a random task and seed, the variant beats its paired baseline
  run (rliable's probability of improvement, paired by seed rather than taken over
  all pairs of runs). Metrics without a direction (router entropy: collapse is low)
  get none: ranking on them would reward the failure the benchmark looks for.

Each is summarised over seeds with `mean_ci`, so every interval's n is the number of
seeds (`n_seeds`: those with values for the variant and the baseline on every task).
Diverged runs are in the return statistics as failures (`runs.scored`).

Paired by seed rather than rliable's interquartile mean with a stratified bootstrap:
with 3 tasks x 5 seeds the IQM trims runs by task difficulty more than by outlier,
its bootstrap interval's coverage at these sizes is unchecked, and it treats the runs
of a seed as unrelated.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from moe.analysis.metrics import HIGHER, LOWER, metric
from moe.analysis.stats import CONFIDENCE, linear_bounds, mean_ci
from moe.variants import BASELINE

COLUMNS = ["metric", "variant", "direction",
           "level", "level_ci_low", "level_ci_high",
           "difference", "difference_ci_low", "difference_ci_high",
           "p_improve", "p_improve_ci_low", "p_improve_ci_high", "n_seeds", "n_tasks"]


def by_seed(runs: pd.DataFrame, variant: str, name: str, tasks: Sequence[str]) -> pd.DataFrame:
    """The variant's (scored) `name` values: one row per seed, one column per task."""
    data = runs[runs["variant"] == variant]
    return data.pivot(index="seed", columns="task", values=name).reindex(columns=list(tasks))


def improvement_share(variant: pd.DataFrame, baseline: pd.DataFrame, direction: str) -> pd.Series:
    """Per seed, the fraction of tasks where the variant's run beats the baseline's (ties 1/2)."""
    gain = (variant - baseline) * (1.0 if direction == HIGHER else -1.0)
    return ((gain > 0) + 0.5 * (gain == 0)).mean(axis=1)


def robust_aggregates(
    runs: pd.DataFrame,
    variants: Sequence[str],
    tasks: Sequence[str],
    metrics: Sequence[str] = ("return_mean", "router_mutual_information"),
    baseline: str = BASELINE,
    confidence: float = CONFIDENCE,
) -> pd.DataFrame:
    """One row per metric and variant (see the module docstring). The baseline's own
    `difference` and `p_improve` are NaN: it is the reference, not a comparison."""
    rows = []
    for name in metrics:
        bounds, direction = metric(name).bounds, metric(name).direction
        reference = by_seed(runs, baseline, name, tasks).dropna()
        for variant in variants:
            values = by_seed(runs, variant, name, tasks).dropna()
            seeds = values.index.intersection(reference.index)
            own, base = values.loc[seeds], reference.loc[seeds]
            row = {"metric": name, "variant": variant, "direction": direction, "n_seeds": len(seeds),
                   "n_tasks": len(tasks)}
            row["level"], row["level_ci_low"], row["level_ci_high"] = mean_ci(own.mean(axis=1), confidence, bounds)
            comparison = [math.nan] * 6
            if variant != baseline:
                comparison[:3] = mean_ci((own - base).mean(axis=1), confidence, linear_bounds([1, -1], bounds))
                if direction in (HIGHER, LOWER):
                    comparison[3:] = mean_ci(improvement_share(own, base, direction), confidence, (0.0, 1.0))
            row.update(zip(COLUMNS[6:12], comparison, strict=True))
            rows.append(row)
    return pd.DataFrame(rows, columns=COLUMNS)

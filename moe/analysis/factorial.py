"""Factorial effects of the corrections: the grid is a full 2^k design, paired by seed.

Each correction is a two-level factor coded -1 (off) / +1 (on); a variant is one
cell. For a term T (a non-empty set of corrections: a main effect if |T| = 1, an
interaction otherwise) the code of a cell is the product of its factors' codes, and
seed s's **contrast** is

    effect_s(T) = (2 / 2^k) * sum_cells code_T(cell) * y(cell, s)
                = mean over cells at code +1 of y(cell, s) - mean over cells at code -1

i.e. twice the coefficient of T in the ±1-coded regression on that seed's cells (the
standard Yates contrast divided by 2^(k-1)). A main effect is the average change when
that correction is switched on, over all settings of the others; a two-factor
interaction is half the difference between A's effect with B on and with B off.

Why per seed: a seed is the same warm-up, levels and minibatch order in every
variant, so whatever a seed does to all variants alike cancels inside its own
contrast. The effect is the mean of the seeds' contrasts, with `mean_ci` (a paired
t-interval) and the matching t-test p-value, Holm-adjusted over the whole table. A
seed counts only where it has a value in every cell: a diverged run scores 0 in return
statistics, so it stays there; it has no router statistics, so there it leaves its
seed out, and `note` says so. If a variant has no value at all, the effect is NaN,
never an estimate from the cells that happen to exist.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import combinations

import numpy as np
import pandas as pd

from moe.analysis.metrics import metric
from moe.analysis.stats import CONFIDENCE, holm, linear_bounds, mean_ci, t_test_p
from moe.variants import all_variants, parse_variant

#: Separator of the corrections in an interaction term's name, e.g. `entropy_min:temporal`.
TERM_SEPARATOR = ":"


def effect_terms(corrections: Sequence[str]) -> list[tuple[str, ...]]:
    """Main effects, then two-factor interactions, ... up to the k-factor one (2^k - 1 terms)."""
    return [combo for order in range(1, len(corrections) + 1) for combo in combinations(corrections, order)]


def term_name(term: Sequence[str]) -> str:
    return TERM_SEPARATOR.join(term)


def contrast_matrix(corrections: Sequence[str], variants: Sequence[str] | None = None) -> pd.DataFrame:
    """±1 codes: one row per term (named), one column per variant (cell)."""
    corrections = list(corrections)
    variants = list(variants) if variants is not None else all_variants(corrections)
    on = {variant: set(parse_variant(variant, corrections)) for variant in variants}
    rows = {
        term_name(term): [int(np.prod([1 if c in on[v] else -1 for c in term])) for v in variants]
        for term in effect_terms(corrections)
    }
    return pd.DataFrame.from_dict(rows, orient="index", columns=variants)


def contrast_weights(corrections: Sequence[str]) -> pd.DataFrame:
    """Weight of each cell (column) in each term's effect (row): code * 2 / 2^k."""
    codes = contrast_matrix(corrections)
    return codes * (2.0 / codes.shape[1])


def seed_contrasts(values: pd.DataFrame, corrections: Sequence[str]) -> pd.DataFrame:
    """Each seed's effects: `values` has one row per seed and one column per variant;
    the result one row per seed with a value in every cell of the 2^k design, one column per term."""
    weights = contrast_weights(corrections)
    cells = values.reindex(columns=weights.columns).dropna()
    return cells @ weights.T


def _note(values: pd.DataFrame, variants: Sequence[str]) -> str:
    """Why seeds are missing from the contrasts (empty if none is)."""
    cells = values.reindex(columns=variants)
    empty = [v for v in variants if cells[v].isna().all()]
    if empty:
        return "no value in " + ", ".join(empty)
    incomplete = cells[cells.isna().any(axis=1)]
    return "; ".join(
        f"seed {seed} left out: no value in " + ", ".join(v for v in variants if math.isnan(row[v]))
        for seed, row in incomplete.iterrows()
    )


def factorial_effects(
    runs: pd.DataFrame,
    corrections: Sequence[str],
    metrics: Sequence[str],
    group_cols: Sequence[str] = ("task",),
    confidence: float = CONFIDENCE,
) -> pd.DataFrame:
    """Effect table from `runs.csv`-style rows (one per run: group columns, variant, seed, scored metrics).

    Columns: group columns, `metric, term, order, effect, effect_ci_low, effect_ci_high,
    p_value, p_holm, n_seeds, note`. `n_seeds` counts the seeds with a value in every
    variant (their contrasts make the estimate); `note` names the seeds left out and
    why, or the variant without any value (effects NaN). `p_holm` adjusts over every
    row of the returned table (its family).
    """
    group_cols = list(group_cols)
    weights = contrast_weights(corrections)
    variants = list(weights.columns)
    rows = []
    for keys, group in runs.groupby(group_cols, sort=False):
        keys = keys if isinstance(keys, tuple) else (keys,)
        for name in metrics:
            values = group.pivot(index="seed", columns="variant", values=name).reindex(columns=variants)
            contrasts = seed_contrasts(values, corrections)
            note = _note(values, variants)
            for term, term_weights in weights.iterrows():
                bounds = linear_bounds(term_weights, metric(name).bounds)
                effect, low, high = mean_ci(contrasts[term], confidence, bounds)
                rows.append({
                    **dict(zip(group_cols, keys, strict=True)), "metric": name, "term": term,
                    "order": term.count(TERM_SEPARATOR) + 1,
                    "effect": effect, "effect_ci_low": low, "effect_ci_high": high,
                    "p_value": t_test_p(contrasts[term]), "n_seeds": len(contrasts), "note": note,
                })
    columns = [*group_cols, "metric", "term", "order", "effect", "effect_ci_low", "effect_ci_high",
               "p_value", "p_holm", "n_seeds", "note"]
    if not rows:
        return pd.DataFrame(columns=columns)
    table = pd.DataFrame(rows)
    table["p_holm"] = holm(table["p_value"])
    return table[columns]

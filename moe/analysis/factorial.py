"""Factorial effects of the corrections: the grid is a full 2^k design.

Each correction is a two-level factor coded -1 (off) / +1 (on); a variant is one
cell. For a term T (a non-empty set of corrections: a main effect if |T| = 1, an
interaction otherwise) the code of a cell is the product of its factors' codes,
and the **effect** is

    effect(T) = mean of the cell means at code +1  -  mean of the cell means at code -1
              = (2 / 2^k) * sum_cells code_T(cell) * cell_mean

i.e. twice the coefficient of T in the ±1-coded regression on the cell means (the
standard Yates contrast divided by 2^(k-1)). Each cell weighs the same whatever its
number of seeds. A main effect is the average change in the response when that
correction is switched on, over all settings of the others; a two-factor
interaction is half the difference between A's effect with B on and with B off.

Intervals: percentile bootstrap, resampling the seeds within each cell
independently (a stratified bootstrap over cells) with a fixed random state. If a
cell has no finished seed the effect is undefined: NaN, with a note naming the
cell, never an estimate from the cells that happen to exist.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import combinations

import numpy as np
import pandas as pd

from moe.analysis.runs import FINISHED
from moe.analysis.stats import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED
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


def effect_contrasts(cell_means, corrections: Sequence[str]) -> pd.Series:
    """Effects of every term from one response per cell (`{variant: mean}` or a Series).

    NaN for every term if a cell of the full 2^k design is absent or NaN.
    """
    codes = contrast_matrix(corrections)
    means = pd.Series(cell_means, dtype=float).reindex(codes.columns)
    return pd.Series(codes.to_numpy() @ means.to_numpy() * (2.0 / codes.shape[1]), index=codes.index)


def bootstrap_effects(
    cells: dict[str, np.ndarray],
    corrections: Sequence[str],
    confidence: float = 0.95,
    n_resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> pd.DataFrame:
    """Effects with percentile bootstrap intervals from per-cell seed values.

    `cells` maps every variant to its finished seeds' values (NaNs dropped). Returns
    one row per term: `term, order, effect, ci_low, ci_high`. Seeds are resampled
    within each cell, independently, with `numpy.random.default_rng(seed)`; a cell
    with one seed contributes no spread.
    """
    codes = contrast_matrix(corrections)
    variants = list(codes.columns)
    values = [np.asarray(cells.get(v, []), dtype=float) for v in variants]
    values = [x[~np.isnan(x)] for x in values]
    terms = list(codes.index)
    order = [term.count(TERM_SEPARATOR) + 1 for term in terms]
    result = pd.DataFrame({"term": terms, "order": order})
    if any(x.size == 0 for x in values):
        result["effect"] = result["ci_low"] = result["ci_high"] = math.nan
        return result
    weights = codes.to_numpy(dtype=float) * (2.0 / len(variants))
    effects = weights @ np.array([x.mean() for x in values])
    rng = np.random.default_rng(seed)
    boot_means = np.stack(
        [x[rng.integers(0, x.size, size=(n_resamples, x.size))].mean(axis=1) for x in values], axis=1
    )  # (n_resamples, cells)
    boot_effects = boot_means @ weights.T  # (n_resamples, terms)
    tail = (1.0 - confidence) / 2.0 * 100.0
    low, high = np.percentile(boot_effects, [tail, 100.0 - tail], axis=0)
    result["effect"] = effects
    result["ci_low"] = np.minimum(low, effects)  # float noise: keep the estimate inside its interval
    result["ci_high"] = np.maximum(high, effects)
    return result


def factorial_effects(
    runs: pd.DataFrame,
    corrections: Sequence[str],
    metrics: Sequence[str],
    group_cols: Sequence[str] = ("task",),
    confidence: float = 0.95,
    n_resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> pd.DataFrame:
    """Effect table from `runs.csv`-style rows (one per run: group columns, variant, status, metrics).

    Columns: group columns, `metric, term, order, effect, ci_low, ci_high, n_cells,
    min_seeds, note`. Only finished runs count. `note` names the cells without a
    finished seed (effects NaN) or says when some cell has a single seed.
    """
    group_cols = list(group_cols)
    variants = all_variants(list(corrections))
    finished = runs[runs["status"] == FINISHED]
    tables = []
    for keys, group in runs.groupby(group_cols, sort=False):
        keys = keys if isinstance(keys, tuple) else (keys,)
        done = finished.loc[finished.index.intersection(group.index)]
        for metric in metrics:
            cells = {v: done.loc[done["variant"] == v, metric].dropna().to_numpy(dtype=float) for v in variants}
            counts = {v: len(x) for v, x in cells.items()}
            table = bootstrap_effects(cells, corrections, confidence, n_resamples, seed)
            empty = [v for v in variants if counts[v] == 0]
            if empty:
                note = "no finished seed in " + ", ".join(empty)
            elif min(counts.values()) < 2:
                note = "a cell has 1 seed: interval ignores its spread"
            else:
                note = ""
            for col, key in zip(group_cols, keys):
                table.insert(group_cols.index(col), col, key)
            table.insert(len(group_cols), "metric", metric)
            table["n_cells"] = sum(1 for v in variants if counts[v] > 0)
            table["min_seeds"] = min(counts.values())
            table["note"] = note
            tables.append(table)
    columns = [*group_cols, "metric", "term", "order", "effect", "ci_low", "ci_high", "n_cells", "min_seeds", "note"]
    if not tables:
        return pd.DataFrame(columns=columns)
    return pd.concat(tables, ignore_index=True)[columns]

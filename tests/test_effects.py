"""Factorial effects and cross-task comparisons, paired by seed (moe.analysis.factorial, robust):
hand-computed designs, and simulated runs with a known effect and known seed-level noise."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from moe.analysis.factorial import contrast_matrix, contrast_weights, effect_terms, factorial_effects
from moe.analysis.robust import robust_aggregates
from moe.analysis.stats import holm
from moe.analysis.tables import effects_display_table, interval_table
from moe.variants import all_variants

CORRECTIONS = ["entropy_min", "temporal", "overlap"]

# A 2^3 design with A = entropy_min, B = temporal, C = overlap, coded -1/+1, and the
# response y = 10 + 2 A + 1 B + 0 C + 1.5 A B. Written out cell by cell:
HAND_CELLS = {
    "baseline": 8.5,                       # (-,-,-): 10 - 2 - 1 + 1.5
    "entropy_min": 9.5,                    # (+,-,-): 10 + 2 - 1 - 1.5
    "temporal": 7.5,                       # (-,+,-): 10 - 2 + 1 - 1.5
    "overlap": 8.5,                        # (-,-,+)
    "entropy_min+temporal": 14.5,          # (+,+,-): 10 + 2 + 1 + 1.5
    "entropy_min+overlap": 9.5,            # (+,-,+)
    "temporal+overlap": 7.5,               # (-,+,+)
    "entropy_min+temporal+overlap": 14.5,  # (+,+,+)
}
# effect = mean at + minus mean at - (twice the coefficient):
#   A: mean(9.5, 14.5, 9.5, 14.5) - mean(8.5, 7.5, 8.5, 7.5) = 12 - 8 = 4
#   B: mean(7.5, 14.5, 7.5, 14.5) - mean(8.5, 9.5, 8.5, 9.5) = 11 - 9 = 2
#   AB (+ where A = B): mean(8.5, 14.5, 8.5, 14.5) - mean(9.5, 7.5, 9.5, 7.5) = 11.5 - 8.5 = 3
HAND_EFFECTS = {
    "entropy_min": 4.0, "temporal": 2.0, "overlap": 0.0,
    "entropy_min:temporal": 3.0, "entropy_min:overlap": 0.0, "temporal:overlap": 0.0,
    "entropy_min:temporal:overlap": 0.0,
}


#: A metric name the registry does not know: no range, no direction (HAND_CELLS are not in [0, 1]).
RESPONSE = "response"


def runs_frame(cells: dict, task: str = "T", metric: str = RESPONSE, seed_offsets=(0.0, 0.0)):
    """runs.csv-like rows: one finished run per cell and seed, value = cell value + the seed's offset."""
    rows = [{"task": task, "variant": variant, "seed": seed, "status": "finished", metric: value + offset}
            for variant, value in cells.items() for seed, offset in enumerate(seed_offsets, start=1)]
    return pd.DataFrame(rows)


# --- factorial effects ------------------------------------------------------------


def test_effect_terms_and_codes_follow_the_corrections():
    assert [":".join(t) for t in effect_terms(CORRECTIONS)] == list(HAND_EFFECTS)
    codes = contrast_matrix(CORRECTIONS)
    assert codes.loc["entropy_min"].tolist() == [-1, 1, -1, -1, 1, 1, -1, 1]
    assert codes.loc["entropy_min:temporal"].tolist() == [1, -1, -1, 1, 1, -1, -1, 1]
    assert (codes.to_numpy() @ codes.to_numpy().T == 8 * np.eye(7)).all()  # orthogonal contrasts
    four = contrast_matrix([*CORRECTIONS, "fourth"])  # a fourth correction: 2^4 cells, 15 terms
    assert four.shape == (15, 16) and four.index[3] == "fourth"
    assert four.index[-1] == "entropy_min:temporal:overlap:fourth"


def test_factorial_effects_hand_computed_and_seed_offsets_cancel():
    # Each seed shifts every cell by its own offset: the offsets cancel in each seed's
    # contrast, so all seeds give the hand-computed effects exactly: no spread, a
    # zero-width interval (printed "(seeds agree)"), p undefined.
    table = factorial_effects(runs_frame(HAND_CELLS, seed_offsets=(-3.0, 0.5, 7.0)), CORRECTIONS, [RESPONSE])
    assert table["term"].tolist() == list(HAND_EFFECTS)
    assert table["order"].tolist() == [1, 1, 1, 2, 2, 2, 3]
    assert dict(zip(table["term"], table["effect"], strict=True)) == pytest.approx(HAND_EFFECTS)
    assert (table["effect_ci_low"] == table["effect"]).all() and (table["effect_ci_high"] == table["effect"]).all()
    assert table["p_value"].isna().all()
    assert effects_display_table(table).iloc[0]["effect [95% CI]"] == "4.000 (seeds agree)"
    assert (table["n_seeds"] == 3).all() and (table["note"] == "").all()


#: Known seed levels: seeds of one variant differ this much (sd about 0.2), and each seed
#: moves all its variants alike (same warm-up, levels, minibatch order).
SEED_LEVELS = [-0.25, -0.1, 0.0, 0.1, 0.3]


def simulated_grid(effects: dict, noise_sd: float, rng: np.random.Generator, seed_levels=SEED_LEVELS):
    """runs.csv rows of one task: y(cell, s) = 0.5 + sum_T effect_T/2 * code_T(cell) + seed_level_s + noise."""
    codes = contrast_matrix(CORRECTIONS)
    cell_means = 0.5 + sum(effect / 2 * codes.loc[term] for term, effect in effects.items())
    return pd.DataFrame([
        {"task": "T", "variant": variant, "seed": s, "status": "finished",
         RESPONSE: cell_means[variant] + level + rng.normal(0.0, noise_sd)}
        for variant in codes.columns for s, level in enumerate(seed_levels, start=1)
    ])


def unpaired_interval(runs: pd.DataFrame, term: str) -> tuple[float, float]:
    """The textbook interval that ignores the pairing: each cell's seeds independent,
    var(effect) = sum_c w_c^2 s_c^2 / n_c, Welch-Satterthwaite degrees of freedom."""
    weights = contrast_weights(CORRECTIONS).loc[term]
    cells = runs.groupby("variant")[RESPONSE]
    terms = np.array([weights[v] ** 2 * cells.var()[v] / cells.size()[v] for v in weights.index])
    df = terms.sum() ** 2 / sum(t ** 2 / (cells.size()[v] - 1) for t, v in zip(terms, weights.index, strict=True))
    effect = sum(weights[v] * cells.mean()[v] for v in weights.index)
    half = scipy_stats.t.ppf(0.975, df) * math.sqrt(terms.sum())
    return effect - half, effect + half


def test_paired_effects_recover_a_known_effect_and_are_narrower_than_unpaired():
    # Seeds differ a lot (SEED_LEVELS) but each seed moves all its variants alike; the
    # run-level noise is small (sd 0.02).
    true = {"entropy_min": 0.3, "temporal": -0.1, "entropy_min:temporal": 0.05}
    runs = simulated_grid(true, noise_sd=0.02, rng=np.random.default_rng(7))
    table = factorial_effects(runs, CORRECTIONS, [RESPONSE]).set_index("term")
    # One seed's contrast has noise sd 0.02 * sqrt(8) * 2/8 ~ 0.014; five seeds ~ 0.006.
    for term in HAND_EFFECTS:
        assert table.loc[term, "effect"] == pytest.approx(true.get(term, 0.0), abs=0.03), term
        low, high = unpaired_interval(runs, term)
        paired_width = table.loc[term, "effect_ci_high"] - table.loc[term, "effect_ci_low"]
        assert paired_width < (high - low) / 3, term
    assert table.loc["entropy_min", "p_holm"] < 0.05 and table.loc["entropy_min", "effect_ci_low"] > 0
    assert (table["n_seeds"] == 5).all()


def test_seeds_without_a_value_in_every_cell_are_left_out_and_named():
    runs = runs_frame(HAND_CELLS, seed_offsets=(0.0, 1.0, 2.0))
    runs.loc[(runs["variant"] == "overlap") & (runs["seed"] == 2), RESPONSE] = math.nan  # e.g. a diverged run
    table = factorial_effects(runs, CORRECTIONS, [RESPONSE])
    assert dict(zip(table["term"], table["effect"], strict=True)) == pytest.approx(HAND_EFFECTS)
    assert (table["n_seeds"] == 2).all() and (table["note"] == "seed 2 left out: no value in overlap").all()

    runs.loc[runs["variant"] == "temporal+overlap", RESPONSE] = math.nan
    table = factorial_effects(runs, CORRECTIONS, [RESPONSE])
    assert table["effect"].isna().all() and (table["n_seeds"] == 0).all()
    assert (table["note"] == "no value in temporal+overlap").all()


def test_holm_adjusts_over_the_whole_table_and_the_display_states_n():
    rng = np.random.default_rng(3)
    runs = pd.concat([simulated_grid({"temporal": 0.2}, 0.05, rng, SEED_LEVELS[:4]).assign(task=task) for task in "AB"])
    table = factorial_effects(runs, CORRECTIONS, [RESPONSE])
    assert len(table) == 2 * 7
    assert table["p_holm"].to_numpy() == pytest.approx(holm(table["p_value"]))
    assert (table["p_holm"] >= table["p_value"]).all()
    display = effects_display_table(table)
    assert list(display.columns) == ["task", "metric", "term", "effect [95% CI]", "n", "p (Holm)", "note"]
    assert (display["n"] == "4").all()


def test_effects_of_a_bounded_metric_when_every_seed_agrees():
    # Success 1.0 in every cell and seed: every contrast is 0 on every seed, and moving one
    # seed's cells by 1e-9 moves the interval by no more than that.
    cells = dict.fromkeys(all_variants(CORRECTIONS), 1.0)
    table = factorial_effects(runs_frame(cells, metric="success_rate", seed_offsets=(0.0,) * 5), CORRECTIONS,
                              ["success_rate"]).set_index("term")
    assert table.loc["temporal", ["effect", "effect_ci_low", "effect_ci_high"]].tolist() == [0.0, 0.0, 0.0]
    nudged = {v: 1.0 - 1e-9 * ("temporal" in v) for v in cells}
    table = factorial_effects(runs_frame(nudged, metric="success_rate", seed_offsets=(0.0,) * 4 + (-1e-9,)),
                              CORRECTIONS, ["success_rate"]).set_index("term")
    assert table.loc["temporal", ["effect", "effect_ci_low", "effect_ci_high"]].tolist() == pytest.approx(
        [0.0, 0.0, 0.0], abs=1e-8)


def test_factorial_effects_per_task_and_fourth_correction():
    four = [*CORRECTIONS, "fourth"]
    cells = {v: float(len(v.split("+"))) if v != "baseline" else 0.0 for v in all_variants(four)}
    # y = number of corrections on = sum of (code + 1) / 2: every main effect is 1, no interaction
    runs = pd.concat([runs_frame(cells, task="A"), runs_frame(cells, task="B")])
    table = factorial_effects(runs, four, [RESPONSE])
    assert len(table) == 2 * 15 and table["task"].unique().tolist() == ["A", "B"]
    mains = table[table["order"] == 1]
    assert mains["effect"].tolist() == pytest.approx([1.0] * 8)
    assert table[table["order"] > 1]["effect"].abs().max() == pytest.approx(0.0)


# --- across tasks, paired by seed -------------------------------------------------------


def paired_runs(values: dict) -> pd.DataFrame:
    """values: {(task, variant): [value per seed]} -> runs.csv-like rows of return_mean and router_entropy."""
    return pd.DataFrame([
        {"task": task, "variant": variant, "seed": seed, "status": "finished",
         "return_mean": value, "router_entropy": 1.0 - value}
        for (task, variant), seeds in values.items() for seed, value in enumerate(seeds, start=1)
    ])


def test_robust_aggregates_pair_by_seed():
    # Seeds differ widely, and the variant is better than its own seed's baseline on
    # 4 of 5 seeds of task A and on every seed of task B.
    runs = paired_runs({
        ("A", "baseline"): [0.1, 0.3, 0.5, 0.7, 0.9], ("A", "temporal"): [0.2, 0.4, 0.6, 0.8, 0.85],
        ("B", "baseline"): [0.2, 0.2, 0.4, 0.4, 0.6], ("B", "temporal"): [0.3, 0.3, 0.5, 0.5, 0.7],
    })
    table = robust_aggregates(runs, ["baseline", "temporal"], ["A", "B"],
                              ["return_mean", "router_entropy"]).set_index(["metric", "variant"])
    row = table.loc[("return_mean", "temporal")]
    seed_levels = [(0.2 + 0.3) / 2, (0.4 + 0.3) / 2, (0.6 + 0.5) / 2, (0.8 + 0.5) / 2, (0.85 + 0.7) / 2]
    assert row["level"] == pytest.approx(np.mean(seed_levels))
    seed_differences = [0.1, 0.1, 0.1, 0.1, (-0.05 + 0.1) / 2]
    assert row["difference"] == pytest.approx(np.mean(seed_differences))
    assert row["p_improve"] == pytest.approx((4 / 5 + 5 / 5) / 2)
    assert row["difference_ci_low"] > 0  # the pairing removes the seeds' spread
    assert (row["n_seeds"], row["n_tasks"], row["direction"]) == (5, 2, "higher")
    # Router entropy has no direction: a lower one (maybe collapse) is not ranked as better.
    entropy = table.loc[("router_entropy", "temporal")]
    assert entropy["direction"] == "none" and math.isnan(entropy["p_improve"])
    assert entropy["difference"] == pytest.approx(-row["difference"])
    baseline = table.loc[("return_mean", "baseline")]
    assert math.isnan(baseline["difference"]) and math.isnan(baseline["p_improve"])
    display = interval_table(table.reset_index(), ["metric", "variant"], {"p_improve": "P"})
    assert display.loc[3, "P"] == "n/a" and display.loc[1, "n"] == "5"


def test_robust_aggregates_leave_out_unpaired_seeds():
    runs = paired_runs({("A", "baseline"): [0.1, 0.3, 0.5], ("A", "temporal"): [0.2, math.nan, 0.6]})
    row = robust_aggregates(runs, ["temporal"], ["A"], ["return_mean"]).iloc[0]
    assert row["n_seeds"] == 2 and row["difference"] == pytest.approx(0.1)

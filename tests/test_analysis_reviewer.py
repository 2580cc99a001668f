"""Tests of the reviewer-facing analysis: factorial effects, rliable-style robust
aggregates, sample efficiency and specialisation (moe.analysis.{factorial,robust,
curves,specialisation}), against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import mannwhitneyu

from moe.analysis.curves import EFFICIENCY_METRICS, add_sample_efficiency, sample_efficiency
from moe.analysis.factorial import bootstrap_effects, contrast_matrix, effect_contrasts, effect_terms, factorial_effects
from moe.analysis.plots import plot_effects, plot_entropy_scatter, plot_episodes, plot_robust_aggregates, plot_usage_heatmaps
from moe.analysis.robust import (
    iqm,
    iqm_bootstrap,
    pairwise_probability,
    probability_of_improvement,
    probability_of_improvement_bootstrap,
    robust_aggregates,
)
from moe.analysis.runs import FINAL_METRICS, collect_runs
from moe.analysis.specialisation import episode_table, usage_matrix, usage_table
from moe.analysis.tables import display_table, interval_table, summarise
from moe.variants import all_variants

try:  # tests/ is on sys.path under pytest's default import mode
    from fakeruns import INTENTS, fake_usage, write_fake_run
except ImportError:  # tests/ imported as a package
    from tests.fakeruns import INTENTS, fake_usage, write_fake_run

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


def runs_frame(cells: dict, task: str = "T", metric: str = "return_mean", spread: float = 0.0, seeds: int = 2):
    """runs.csv-like rows: `seeds` finished seeds per cell at value +- spread around the cell's value."""
    rows = []
    for variant, value in cells.items():
        offsets = np.linspace(-spread, spread, seeds) if seeds > 1 else [0.0]
        for seed, offset in enumerate(offsets, start=1):
            rows.append({"task": task, "variant": variant, "seed": seed, "status": "finished",
                         metric: value + offset})
    return pd.DataFrame(rows)


# --- factorial effects ------------------------------------------------------------


def test_effect_terms_and_codes_follow_the_corrections():
    assert [":".join(t) for t in effect_terms(CORRECTIONS)] == list(HAND_EFFECTS)
    codes = contrast_matrix(CORRECTIONS)
    assert codes.loc["entropy_min"].tolist() == [-1, 1, -1, -1, 1, 1, -1, 1]
    assert codes.loc["entropy_min:temporal"].tolist() == [1, -1, -1, 1, 1, -1, -1, 1]
    assert (codes.to_numpy() @ codes.to_numpy().T == 8 * np.eye(7)).all()  # orthogonal contrasts
    four = contrast_matrix([*CORRECTIONS, "fourth"])  # a fourth correction: 2^4 cells, 15 terms
    assert four.shape == (15, 16) and four.index[3] == "fourth" and four.index[-1] == "entropy_min:temporal:overlap:fourth"


def test_effect_contrasts_hand_computed_2x2x2():
    effects = effect_contrasts(HAND_CELLS, CORRECTIONS)
    assert effects.to_dict() == pytest.approx(HAND_EFFECTS)


def test_factorial_effects_from_runs_hand_computed_and_zero_width_without_spread():
    table = factorial_effects(runs_frame(HAND_CELLS), CORRECTIONS, ["return_mean"])
    assert table["term"].tolist() == list(HAND_EFFECTS)
    assert table["order"].tolist() == [1, 1, 1, 2, 2, 2, 3]
    assert dict(zip(table["term"], table["effect"])) == pytest.approx(HAND_EFFECTS)
    # every seed of a cell equal: each resample gives the same effects
    assert np.allclose(table["ci_low"], table["effect"]) and np.allclose(table["ci_high"], table["effect"])
    assert (table["n_cells"] == 8).all() and (table["min_seeds"] == 2).all() and (table["note"] == "").all()


def test_bootstrap_effects_hand_computed_interval():
    # Only the `entropy_min` cell varies: seeds {9, 10} (mean 9.5). Its resampled mean is
    # 9, 9.5 or 10 with probabilities 1/4, 1/2, 1/4, so A's effect (weight +2/8 on that
    # cell) is 4 - 0.125, 4 or 4 + 0.125, and the 95% interval is [3.875, 4.125];
    # B's weight on that cell is -2/8: the same interval around 2.
    cells = {v: np.array([y, y]) for v, y in HAND_CELLS.items()}
    cells["entropy_min"] = np.array([9.0, 10.0])
    table = bootstrap_effects(cells, CORRECTIONS).set_index("term")
    assert table.loc["entropy_min", ["effect", "ci_low", "ci_high"]].tolist() == pytest.approx([4.0, 3.875, 4.125])
    assert table.loc["temporal", ["effect", "ci_low", "ci_high"]].tolist() == pytest.approx([2.0, 1.875, 2.125])
    again = bootstrap_effects(cells, CORRECTIONS).set_index("term")
    assert again.equals(table)  # fixed random state


def test_bootstrap_effects_reproducible_and_seeded():
    runs = runs_frame(HAND_CELLS, spread=0.7, seeds=4)
    first = factorial_effects(runs, CORRECTIONS, ["return_mean"])
    assert first.equals(factorial_effects(runs, CORRECTIONS, ["return_mean"]))
    other = factorial_effects(runs, CORRECTIONS, ["return_mean"], seed=1)
    assert not np.allclose(first["ci_low"], other["ci_low"])
    assert (first["ci_low"] < first["effect"]).all() and (first["effect"] < first["ci_high"]).all()
    assert dict(zip(first["term"], first["effect"])) == pytest.approx(HAND_EFFECTS)  # symmetric spread


def test_missing_cell_gives_nan_effects_with_a_note_and_diverged_runs_do_not_count():
    runs = runs_frame(HAND_CELLS)
    runs.loc[runs["variant"] == "temporal+overlap", "status"] = "diverged"
    runs.loc[(runs["variant"] == "overlap") & (runs["seed"] == 2), "status"] = "missing"
    table = factorial_effects(runs, CORRECTIONS, ["return_mean"])
    assert table["effect"].isna().all() and table["ci_low"].isna().all()
    assert (table["note"] == "no finished seed in temporal+overlap").all()
    assert (table["n_cells"] == 7).all() and (table["min_seeds"] == 0).all()

    runs = runs_frame(HAND_CELLS)
    runs.loc[(runs["variant"] == "overlap") & (runs["seed"] == 2), "status"] = "diverged"
    table = factorial_effects(runs, CORRECTIONS, ["return_mean"])
    assert dict(zip(table["term"], table["effect"])) == pytest.approx(HAND_EFFECTS)
    assert (table["min_seeds"] == 1).all() and table["note"].str.contains("1 seed").all()


def test_factorial_effects_per_task_and_fourth_correction():
    four = [*CORRECTIONS, "fourth"]
    cells = {v: float(len(v.split("+"))) if v != "baseline" else 0.0 for v in all_variants(four)}
    # y = number of corrections on = sum of (code + 1) / 2: every main effect is 1, no interaction
    runs = pd.concat([runs_frame(cells, task="A"), runs_frame(cells, task="B")])
    table = factorial_effects(runs, four, ["return_mean"])
    assert len(table) == 2 * 15 and table["task"].unique().tolist() == ["A", "B"]
    mains = table[table["order"] == 1]
    assert mains["effect"].tolist() == pytest.approx([1.0] * 8)
    assert table[table["order"] > 1]["effect"].abs().max() == pytest.approx(0.0)


# --- robust aggregates --------------------------------------------------------------


def test_iqm_hand_computed():
    assert iqm([1, 2, 3, 4, 5, 6, 7, 8]) == pytest.approx(4.5)          # mean(3, 4, 5, 6)
    assert iqm([0, 1, 2, 3, 100, 5, 6, 7]) == pytest.approx(4.0)        # mean(2, 3, 5, 6): outlier ignored
    assert iqm([1, 2, 3, 4, 10]) == pytest.approx(3.0)                  # int(1.25) = 1 cut each side
    assert iqm([0.5, math.nan, 0.5]) == 0.5 and math.isnan(iqm([]))


def test_iqm_bootstrap_stratified_hand_computed():
    # Two tasks with runs {0, 1} each. A stratified resample has j ~ Binomial(4, 1/2)
    # ones among 4 scores; the IQM (mean of the 2nd and 3rd sorted) is 0 for j <= 1,
    # 0.5 for j = 2 and 1 for j >= 3: probabilities 5/16, 6/16, 5/16.
    estimate, low, high, replicates = iqm_bootstrap([[0, 1], [1, 0]], return_replicates=True)
    assert estimate == 0.5 and (low, high) == (0.0, 1.0)
    frequencies = [np.mean(replicates == value) for value in (0.0, 0.5, 1.0)]
    assert frequencies == pytest.approx([5 / 16, 6 / 16, 5 / 16], abs=0.015)
    # Stratification: tasks {0, 0} and {1, 1} always give two 0s and two 1s -> IQM 0.5 exactly,
    # where an unstratified bootstrap of the pooled {0, 0, 1, 1} would vary.
    assert iqm_bootstrap([[0, 0], [1, 1]]) == (0.5, 0.5, 0.5)


def test_iqm_bootstrap_reproducible_and_degenerate():
    scores = [np.random.default_rng(1).random(5), np.random.default_rng(2).random(3)]
    assert iqm_bootstrap(scores) == iqm_bootstrap(scores)
    assert iqm_bootstrap(scores, seed=1) != iqm_bootstrap(scores, seed=2)
    assert all(math.isnan(v) for v in iqm_bootstrap([[], [math.nan]]))
    value, low, high = iqm_bootstrap([[0.3], []])
    assert value == 0.3 and math.isnan(low) and math.isnan(high)


def test_probability_of_improvement_hand_computed():
    # x = (1, 2, 3), y = (2, 2, 0): wins+ties/2 per x: 1 (1 > 0), 2 (two ties, 2 > 0), 3 -> 6/9
    assert pairwise_probability([1, 2, 3], [2, 2, 0]) == pytest.approx(2 / 3)
    assert pairwise_probability([1, 2, 3], [2, 2, 0]) == pytest.approx(
        mannwhitneyu([1, 2, 3], [2, 2, 0]).statistic / 9)
    # averaged over tasks: (2/3 + 0) / 2; a task without runs of one side is skipped
    assert probability_of_improvement([[1, 2, 3], [0, 0], [1]], [[2, 2, 0], [1, 1], []]) == pytest.approx(1 / 3)
    assert pairwise_probability([0.5], [0.5]) == 0.5


def test_probability_of_improvement_bootstrap():
    # x always beats y in every resample: P = 1 with a zero-width interval
    assert probability_of_improvement_bootstrap([[2, 3], [5, 6]], [[0, 1], [1, 2]]) == (1.0, 1.0, 1.0)
    # one task, x = {0, 1}, y = {0.5}: each resampled x has k ~ Bin(2, 1/2) ones: P = k/2
    # with probabilities 1/4, 1/2, 1/4 -> estimate 0.5, 95% interval [0, 1]
    assert probability_of_improvement_bootstrap([[0, 1]], [[0.5]]) == (0.5, 0.0, 1.0)
    x, y = [[0.1, 0.5, 0.9], [0.2, 0.4]], [[0.3, 0.6], [0.1, 0.7, 0.2]]
    first = probability_of_improvement_bootstrap(x, y)
    assert first == probability_of_improvement_bootstrap(x, y)
    assert first[0] == pytest.approx(probability_of_improvement(x, y))
    assert first[1] <= first[0] <= first[2]


def test_robust_aggregates_table_directions():
    cells = {"baseline": 0.5, "temporal": 0.8}
    runs = pd.concat([runs_frame(cells, task=t, spread=0.05, seeds=3) for t in ("A", "B")])
    entropy = pd.concat([runs_frame({"baseline": 1.0, "temporal": 0.4}, task=t, metric="router_entropy", seeds=3)
                         for t in ("A", "B")])
    runs["router_entropy"] = entropy["router_entropy"].to_numpy()
    table = robust_aggregates(runs, ["baseline", "temporal"], ["A", "B"]).set_index(["metric", "variant"])
    assert table.loc[("return_mean", "temporal"), "iqm"] == pytest.approx(0.8)
    assert table.loc[("return_mean", "temporal"), "p_improve"] == 1.0
    assert table.loc[("router_entropy", "temporal"), "better"] == "lower"
    assert table.loc[("router_entropy", "temporal"), "p_improve"] == 1.0   # lower entropy improves
    assert table.loc[("return_mean", "baseline"), "p_improve"] == 0.5
    assert table.loc[("return_mean", "baseline"), ["n_tasks", "n_runs"]].tolist() == [2, 6]
    display = interval_table(table.reset_index(), ["metric", "variant"], {"iqm": "IQM", "p_improve": "P"})
    assert display.loc[1, "P"] == "1.000 [1.000, 1.000]"


# --- sample efficiency ----------------------------------------------------------------


def test_sample_efficiency_hand_computed():
    metrics = pd.DataFrame({"frames": [100, 200, 300, 400], "return_mean": [np.nan, 0.5, 1.0, 1.0]})
    # trapezoid over (200, 0.5), (300, 1), (400, 1): 75 + 100 = 175, over 400 total frames
    assert sample_efficiency(metrics, 0.8) == {"return_auc": pytest.approx(175 / 400), "frames_to_threshold": 300.0}
    assert sample_efficiency(metrics, 0.5)["frames_to_threshold"] == 200.0
    assert math.isnan(sample_efficiency(metrics, 1.1)["frames_to_threshold"])  # never reached
    empty = sample_efficiency(metrics.assign(return_mean=np.nan))
    assert math.isnan(empty["return_auc"]) and math.isnan(empty["frames_to_threshold"])
    constant = pd.DataFrame({"frames": [0, 50, 100], "return_mean": [1.0, 1.0, 1.0]})
    assert sample_efficiency(constant)["return_auc"] == 1.0


def test_sample_efficiency_columns_and_summary(tmp_path):
    runs = []
    for seed, status in enumerate(["finished", "finished", "diverged"], start=1):
        run_dir = tmp_path / f"seed{seed}"
        write_fake_run(run_dir, "T", "baseline", seed, status=status)
        runs.append({"task": "T", "variant": "baseline", "seed": seed, "run_dir": str(run_dir)})
    table = add_sample_efficiency(collect_runs(runs), threshold=0.0)
    assert table["return_auc"].notna().tolist() == [True, True, False]
    assert table["frames_to_threshold"].tolist()[:2] == [1024.0, 1024.0]  # first update with a return
    metrics = pd.read_csv(tmp_path / "seed1/metrics.csv")
    assert table.loc[0, "return_auc"] == pytest.approx(sample_efficiency(metrics)["return_auc"])
    summary = summarise(table, metrics=FINAL_METRICS + EFFICIENCY_METRICS)
    assert summary.loc[0, "n_reached_threshold"] == 2
    display = display_table(summary, metrics=FINAL_METRICS + EFFICIENCY_METRICS)
    assert display.loc[0, "reached"] == "2/2" and display.loc[0, "frames to threshold"].startswith("1024")


# --- specialisation ---------------------------------------------------------------


def _grid(tmp_path, plan):
    runs = []
    for (task, variant), statuses in plan.items():
        for seed, status in enumerate(statuses, start=1):
            run_dir = tmp_path / task / variant / f"seed{seed}"
            if status is not None:
                write_fake_run(run_dir, task, variant, seed, status=status)
            runs.append({"task": task, "variant": variant, "seed": seed, "run_dir": str(run_dir)})
    return collect_runs(runs)


def test_usage_table_averages_finished_seeds(tmp_path):
    runs = _grid(tmp_path, {("T", "baseline"): ["finished", "finished", "diverged"], ("T", "temporal"): [None]})
    usage = usage_table(runs)
    assert set(usage["variant"]) == {"baseline"} and (usage["n_seeds"] == 2).all()
    matrix = usage_matrix(usage, "T", "baseline")
    assert list(matrix.index) == INTENTS and matrix.shape == (3, 4)
    expected = np.mean([fake_usage("T", "baseline", s, 1) for s in (1, 2)], axis=0)
    assert matrix.loc["fetch"].to_numpy() == pytest.approx(expected)
    assert matrix.sum(axis=1).to_numpy() == pytest.approx(1.0, abs=1e-5)
    assert usage_matrix(usage, "T", "temporal").empty


def test_episode_table_takes_first_finished_seed(tmp_path):
    runs = _grid(tmp_path, {("T", "baseline"): ["diverged", "finished", "finished"]})
    episodes = episode_table(runs)
    assert set(episodes["seed"]) == {2}
    assert episodes["intent"].tolist()[:5] == ["explore"] * 4 + ["fetch"]
    alphas = episodes[[f"alpha_{k}" for k in range(4)]].sum(axis=1)
    assert alphas.to_numpy() == pytest.approx(1.0, abs=1e-5)


def test_new_figures_write_pdf_and_png_even_with_empty_panels(tmp_path):
    runs = _grid(tmp_path / "runs", {("T", v): ["finished", "finished"] for v in all_variants(["temporal", "overlap"])})
    variants, tasks = all_variants(["temporal", "overlap"]), ["T", "EmptyTask"]
    effects = factorial_effects(runs, ["temporal", "overlap"], ["router_entropy", "return_mean"])
    robust = robust_aggregates(runs, variants, tasks)
    paths = {}
    for name, plot, args in [
        ("effects", plot_effects, (effects, tasks, ["router_entropy", "return_mean"])),
        ("robust", plot_robust_aggregates, (robust, variants)),
        ("usage", plot_usage_heatmaps, (usage_table(runs), tasks, variants)),
        ("episodes", plot_episodes, (episode_table(runs), tasks, variants)),
        ("scatter", plot_entropy_scatter, (runs, tasks, variants)),
    ]:
        paths[name] = [tmp_path / f"{name}.pdf", tmp_path / f"{name}.png"]
        plot(*args, paths[name])
    for name, files in paths.items():
        for path in files:
            assert path.stat().st_size > 1000, name

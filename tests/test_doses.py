"""The dose rule of moe.analysis.doses on hand-made cells."""

import math

import pandas as pd
import pytest

from moe.analysis.doses import choose_dose, dosed_term, gradient_ratio, summarise_doses


def cells(*rows) -> pd.DataFrame:
    """rows: (dose, task, intent explained, collapses, return vs baseline)."""
    return pd.DataFrame([{"dose": dose, "task": task, "intent_explained": explained, "collapses": collapses,
                          "return_vs_baseline": harm} for dose, task, explained, collapses, harm in rows])


def test_the_dose_with_most_intent_explained_wins_among_those_that_neither_collapse_nor_cost_return():
    table = cells(("0.01", "A", 0.1, 0, 0.0), ("0.01", "B", 0.1, 0, 0.0),
                  ("0.1", "A", 0.5, 1, -0.01), ("0.1", "B", 0.3, 0, 0.0),
                  ("1", "A", 0.9, 2, 0.0), ("1", "B", 0.9, 0, 0.0))  # 1 collapses 2 of 3 seeds on A
    dose, why = choose_dose(table)
    assert dose == "0.1" and "1 (collapses)" in why
    harmful = cells(("0.01", "A", 0.1, 0, 0.0), ("0.1", "A", 0.5, 0, -0.06))  # 0.06 below the baseline
    assert choose_dose(harmful)[0] == "0.01"


def test_within_the_tie_the_smaller_dose_is_chosen_and_zero_never_is():
    table = cells(("0", "A", 0.9, 0, 0.0), ("0.01", "A", 0.49, 0, 0.0), ("0.1", "A", 0.50, 0, 0.0))
    assert choose_dose(table)[0] == "0.01"  # 0.49 is within 0.02 of 0.50; the memory alone (0) is no fix
    assert choose_dose(cells(("0.01", "A", 0.40, 0, 0.0), ("0.1", "A", 0.50, 0, 0.0)))[0] == "0.1"


def test_when_every_dose_fails_the_smallest_is_carried_and_said_so():
    dose, why = choose_dose(cells(("0.01", "A", 0.1, 3, 0.0), ("0.1", "A", 0.2, 0, -0.2)))
    assert dose == "0.01" and why.startswith("none passed") and "0.1 costs return" in why


def test_summary_difference_from_the_baseline_and_gradient_ratio_by_hand():
    rows = pd.DataFrame({"task": ["A", "A", "B"], "dose": ["0.1"] * 3, "seed": [1, 2, 1],
                         "return_mean": [0.8, 0.6, 0.5], "intent_explained": [0.2, 0.4, 0.0],
                         "collapsed": [True, False, False], "gradient_ratio": [1.0, 3.0, 0.5]})
    summary = summarise_doses(rows, {"A": 0.75, "B": 0.5}).set_index("task")
    assert summary.loc["A", "return_vs_baseline"] == pytest.approx(-0.05)
    assert summary.loc["A", "collapses"] == 1 and summary.loc["A", "gradient_ratio"] == 2.0
    metrics = pd.DataFrame({"grad_router_temporal": [1.0, 2.0, 3.0, float("nan")],
                            "grad_router_policy": [2.0, 2.0, 2.0, 2.0]})
    assert gradient_ratio(metrics, "temporal") == 1.0
    assert math.isnan(gradient_ratio(metrics, "bias_balance"))


def test_the_dosed_term_is_read_from_the_sweep():
    assert dosed_term({"variant": "entropy_min+balance", "key": "corrections.balance.coef"}) == "balance"
    assert dosed_term({"variant": "temporal", "settings": {
        "0": {"corrections.temporal.coef": 0, "model.router_memory": "previous_alpha"},
        "1": {"corrections.temporal.coef": 1}}}) == "temporal"
    with pytest.raises(ValueError, match="one correction"):
        dosed_term({"variant": "baseline", "key": "model.num_experts"})


def test_doses_are_ordered_by_value_a_diverging_dose_is_out_and_zero_is_never_carried():
    table = cells(("1", "A", 0.50, 0, 0.0), ("0.3", "A", 0.49, 0, 0.0), ("3", "A", 0.1, 0, 0.0))
    assert choose_dose(table)[0] == "0.3"  # the smaller within the tie, whatever the table's order
    diverging = table.assign(diverged=[0, 1, 0])
    assert choose_dose(diverging)[0] == "1" and "0.3 (diverges)" in choose_dose(diverging)[1]
    everything_fails = cells(("0", "A", 0.9, 0, 0.0), ("0.01", "A", 0.1, 3, 0.0), ("0.1", "A", 0.1, 3, 0.0))
    assert choose_dose(everything_fails)[0] == "0.01"
    with pytest.raises(ValueError, match="no number"):
        choose_dose(cells(("fair", "A", 0.1, 0, 0.0)))


def test_a_diverged_run_counts_against_its_dose_and_a_missing_baseline_is_an_error():
    from moe.analysis.doses import dose_rows

    runs = pd.DataFrame({"task": ["A", "A"], "setting": ["0.1", "0.1"], "seed": [1, 2],
                         "status": ["finished", "diverged"], "return_mean": [0.8, None],
                         "intent_explained": [0.3, None], "verdict": ["hedge", None], "run_dir": ["r1", "r2"]})
    metrics = pd.DataFrame({"grad_router_balance": [1.0], "grad_router_policy": [4.0]})
    rows = dose_rows(runs, "balance", lambda run_dir: metrics)
    assert rows["diverged"].tolist() == [False, True] and rows["gradient_ratio"].iloc[0] == 0.25
    summary = summarise_doses(rows, {"A": 0.8})
    assert summary.loc[0, "diverged"] == 1 and summary.loc[0, "seeds"] == 2
    assert choose_dose(summary)[1].startswith("none passed")
    with pytest.raises(ValueError, match="no finished baseline run of A"):
        summarise_doses(rows, {"B": 0.8})


def test_a_dose_is_chosen_on_the_whole_grid_only():
    table = cells(("0.01", "A", 0.1, 0, 0.0), ("0.01", "B", 0.1, 0, 0.0), ("0.1", "A", 0.9, 0, 0.0))
    table["seeds"] = [3, 3, 3]
    assert choose_dose(table)[0] == "0.1"  # without the grid's shape, what is there decides
    dose, why = choose_dose(table, tasks=["A", "B"], seeds=3)
    assert dose == "0.01" and "0.1 (incomplete)" in why  # 0.1 has not run on B
    table["seeds"] = [3, 2, 3]
    assert choose_dose(table, tasks=["A", "B"], seeds=3)[1].startswith("none passed")

"""Unit tests of moe.analysis on fake run directories (no trainer needed)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from moe.analysis.curves import finetune_curves, learning_curves, resample_curve
from moe.analysis.metrics import (
    FINAL_JSON,
    FINAL_METRICS_TABLE,
    HIGHER,
    METRICS,
    NONE,
    ROUTER_STATISTICS,
    SUCCESS_SUFFIX,
    names,
    router_statistics,
)
from moe.analysis.plots import entropy_reference_lines, plot_final_metrics, plot_learning_curves
from moe.analysis.runs import VERDICT_COUNTS, VERDICTS, collect_runs, read_run
from moe.analysis.stats import holm, linear_bounds, mean_ci, t_test_p
from moe.analysis.tables import (
    display_table,
    interval_cell,
    latex_escape,
    summarise,
    to_latex,
    to_markdown,
    verdict_cell,
    write_table,
)
from moe.tools.coverage import DISTRIBUTIONS, coverage

try:  # tests/ is on sys.path under pytest's default import mode
    from fakeruns import fake_final, fake_verdict, write_fake_run
except ImportError:  # tests/ imported as a package
    from tests.fakeruns import fake_final, fake_verdict, write_fake_run

# --- intervals -------------------------------------------------------------------

#: Student's t quantile t_{0.975, 4}, from a printed table.
T_975_DF4 = 2.776445


def test_mean_ci_is_the_t_interval():
    values = [1.0, 2.0, 3.0, 4.0, 10.0]  # mean 4, sample sd sqrt(50 / 4), n 5
    half_width = T_975_DF4 * math.sqrt(50 / 4) / math.sqrt(5)
    mean, low, high = mean_ci(values)
    assert mean == pytest.approx(4.0)
    assert (low, high) == pytest.approx((4.0 - half_width, 4.0 + half_width), abs=1e-5)
    _, low50, high50 = mean_ci(values, confidence=0.5)
    assert low < low50 < high50 < high


def test_mean_ci_clips_to_the_metrics_range():
    mean, low, high = mean_ci([0.9, 1.0, 1.0, 0.8, 1.0], bounds=(0.0, 1.0))
    assert high == 1.0 and low < mean < high
    assert mean_ci([0.9, 1.0, 1.0, 0.8, 1.0])[2] > 1.0  # what the clip removed


def test_mean_ci_moves_by_no_more_than_the_values_at_ties():
    """Five identical values and five values 1e-8 apart: the intervals differ by rounding only.
    (The former rule gave [0.478, 1] to the first and a zero-width interval to the second.)"""
    for value in (1.0, 0.0, 0.5):
        tied = mean_ci([value] * 5, bounds=(0.0, 1.0))
        apart = mean_ci([min(max(value + 1e-8 * (i - 2), 0.0), 1.0) for i in range(5)], bounds=(0.0, 1.0))
        assert tied == pytest.approx((value, value, value), abs=1e-12)
        assert apart == pytest.approx(tied, abs=1e-7)
    assert mean_ci([0.7] * 4) == pytest.approx((0.7, 0.7, 0.7))


def test_a_cell_whose_seeds_agree_or_whose_value_is_fixed_prints_no_interval():
    assert interval_cell(*mean_ci([1.0] * 5, bounds=(0.0, 1.0)), 5) == "1.000 (seeds agree)"
    assert interval_cell(*mean_ci([1e-8 * i for i in range(5)], bounds=(0.0, 1.0)), 5) == "0.000 (seeds agree)"
    assert interval_cell(*mean_ci([0.9, 1.0, 1.0], bounds=(0.0, 1.0)), 3) == "0.967 [0.823, 1.000]"
    assert interval_cell(0.3, math.nan, math.nan, 1) == "0.300"  # one seed: its value
    assert interval_cell(1.0, 1.0, 1.0, 5, by_construction=True) == "1.000 (by construction)"


def test_values_the_routing_fixes_are_marked_by_construction_only_where_every_run_has_them():
    from moe.analysis.metrics import fixed_by_construction

    assert fixed_by_construction("intent_explained", "oracle", 3) == 1.0
    assert fixed_by_construction("router_entropy_success", "oracle", 2) == 0.0
    assert fixed_by_construction("intent_explained", "learned", 3) is None
    assert fixed_by_construction("return_mean", "oracle", 3) is None
    assert fixed_by_construction("marginal_router_entropy", "learned", 1) == 0.0
    runs = pd.DataFrame({"task": "T", "variant": ["oracle"] * 3 + ["baseline"] * 3, "seed": [1, 2, 3] * 2,
                         "status": "finished", "router": ["oracle"] * 3 + ["learned"] * 3, "num_experts": 3.0,
                         "intent_explained": [1.0, 1.0, 1.0, 1.0, 1.0, 1.0],
                         "state_split": [0.0, 0.0, 0.01, 0.0, 0.0, 0.0]})
    summary = summarise(runs, metrics=["intent_explained", "state_split"]).set_index("variant")
    assert summary.loc["oracle", "intent_explained_by_construction"]
    assert not summary.loc["oracle", "state_split_by_construction"]  # one run is off the fixed value
    assert not summary.loc["baseline", "intent_explained_by_construction"]  # a learned router's 1.0 is a finding
    display = display_table(summarise(runs, metrics=["intent_explained"])).set_index("variant")
    assert display.loc["oracle", "intent explained"] == "1.000 (by construction)"
    assert display.loc["baseline", "intent explained"] == "1.000 (seeds agree)"


def test_mean_ci_degenerate_samples():
    assert all(math.isnan(v) for v in mean_ci([]))
    mean, low, high = mean_ci([0.3], bounds=(0.0, 1.0))
    assert mean == 0.3 and math.isnan(low) and math.isnan(high)
    assert mean_ci([2.0, float("nan"), 4.0]) == mean_ci([2.0, 4.0])


def test_t_test_p_agrees_with_the_interval():
    for values in ([0.1, 0.3, -0.05, 0.2, 0.15], [0.1, -0.3, 0.05, 0.2, -0.15], [0.02, 0.05, 0.01, 0.03, 0.04]):
        _, low, high = mean_ci(values)
        assert (t_test_p(values) < 0.05) == (low > 0 or high < 0)
    assert math.isnan(t_test_p([0.5, 0.5, 0.5])) and math.isnan(t_test_p([1.0]))


def test_holm_hand_computed():
    # m = 4 (the undefined test counts as p = 1): sorted 0.01, 0.03, 0.04 -> 4 x 0.01, 3 x 0.03,
    # max(0.09, 2 x 0.04), and the last is min(1, 1 x 1).
    assert holm([0.01, 0.04, 0.03, math.nan])[:3] == pytest.approx([0.04, 0.09, 0.09])
    assert math.isnan(holm([0.01, math.nan])[1])
    assert holm([0.5, 0.6]).tolist() == [1.0, 1.0]


def test_linear_bounds():
    assert linear_bounds([1, -1], (0.0, 1.0)) == (-1.0, 1.0)
    assert linear_bounds([0.25] * 4 + [-0.25] * 4, (0.0, 1.0)) == (-1.0, 1.0)
    assert linear_bounds([1, 1], (-1.0, 1.0)) == (-2.0, 2.0) and linear_bounds([1], None) is None
    assert linear_bounds([0.5, 0.5], (0.0, math.inf)) == (0.0, math.inf)  # no 0 * inf
    assert linear_bounds([1, -1], (0.0, math.inf)) == (-math.inf, math.inf)


#: Required coverage of the true mean by mean_ci's 95% interval, per distribution.
REQUIRED_COVERAGE = {"normal": 0.93, "beta(2,2)": 0.93, "log-normal(0.5)": 0.90, "beta(8,1)": 0.90}
REPETITIONS = 2000


def test_mean_ci_coverage_by_simulation(show):
    """Seeded, so deterministic. The requirement is on the true coverage, which 2,000
    samples estimate with a standard error of about 0.007: a coverage counts as meeting
    its threshold unless it falls more than two standard errors below it. (20,000 samples,
    `python -m moe.tools.coverage --repetitions 20000 --no-bca`, put beta(8,1) at n = 5
    at 0.90, right at its threshold.)"""
    results = {(name, n): coverage(name, n, REPETITIONS) for name in DISTRIBUTIONS for n in (5, 10)}
    lines = [f"mean_ci coverage of the true mean, {REPETITIONS} seeded samples each:"]
    for name in DISTRIBUTIONS:
        note = "" if name in REQUIRED_COVERAGE else "  (not required)"
        lines.append(f"  {name:<16} n=5 {results[name, 5]:.3f}  n=10 {results[name, 10]:.3f}{note}")
    show("\n".join(lines))
    for (name, n), value in results.items():
        if name in REQUIRED_COVERAGE:
            required = REQUIRED_COVERAGE[name]
            allowance = 2 * math.sqrt(required * (1 - required) / REPETITIONS)
            assert value >= required - allowance, (name, n, value)
    assert coverage("normal", 5, 200) == coverage("normal", 5, 200)


# --- the metric registry ----------------------------------------------------------


def test_registry_directions_never_reward_collapse():
    for name in ("router_entropy", "marginal_router_entropy", "switch_rate", "expert_similarity", "effective_experts"):
        assert METRICS[name].direction == NONE
    for name in ("return_mean", "success_rate", "router_mutual_information", "intent_mutual_information",
                 "intent_mutual_information_normalized"):
        assert METRICS[name].direction == HIGHER
    summary_columns = [  # in this order; a metric registered later may join them
        "router_entropy", "marginal_router_entropy", "router_mutual_information",
        "intent_mutual_information_normalized", "expert_similarity", "intent_explained", "state_split",
        "return_mean", "success_rate", "return_auc", "frames_to_threshold"]
    assert [name for name in names(shown_in=FINAL_METRICS_TABLE) if name in summary_columns] == summary_columns
    for name in ("intent_entropy", "state_split", "pooled_router_entropy", "pooled_marginal_entropy",
                 "modal_expert_share", "distinct_modal_experts"):
        assert METRICS[name].direction == NONE, name
    assert METRICS["intent_mi"].direction == METRICS["intent_explained"].direction == HIGHER


#: final.json's per-episode router statistics, in the order its files have had them since the
#: first reference runs (written out here, not read from the registry, so a reordering fails;
#: a statistic registered later comes after them).
EPISODE_STATISTICS = [
    "router_entropy", "marginal_router_entropy", "router_mutual_information", "intent_mutual_information",
    "intent_mutual_information_normalized", "expert_similarity", "effective_experts", "switch_rate", "intent_nmi"]
#: The pooled ones, in the order of the contract (docs/DESIGN.md, "What a run reports").
POOLED_STATISTICS = ["intent_mi", "intent_entropy", "intent_explained", "state_split", "pooled_router_entropy",
                     "pooled_marginal_entropy", "modal_expert_share", "distinct_modal_experts"]


def test_router_statistics_are_listed_once_in_final_json_order():
    episode, pooled = router_statistics("episode"), router_statistics("pooled")
    assert episode[:len(EPISODE_STATISTICS)] == EPISODE_STATISTICS
    assert pooled[:len(POOLED_STATISTICS)] == POOLED_STATISTICS
    assert router_statistics() == episode + pooled == [m.name for m in ROUTER_STATISTICS]
    with pytest.raises(ValueError, match="unknown scope"):
        router_statistics("episodes")
    # Only the per-episode ones have a `_success` twin; every other metric has no scope.
    success = [name for name in METRICS if name.endswith(SUCCESS_SUFFIX)]
    assert success == [name + SUCCESS_SUFFIX for name in episode]
    assert {name for name, m in METRICS.items() if m.scope is not None} == set(episode + pooled)
    labels = [m.label for m in METRICS.values()]
    assert len(labels) == len(set(labels))  # a label is a display table's column header


def test_fake_trainer_writes_exactly_the_registrys_statistics():
    """tests/fakeruns.py takes its names from the registry: its final.json has every registered
    final.json metric and no other number, in the contract's order."""
    final = fake_final("T", "baseline", 3, 64)
    facts = {"status", "frames", "episodes", "greedy", "num_experts", "intents", "expert_usage_by_intent",
             "modal_expert_by_intent", "verdict", "settled", "settled_update", "settled_at_minimum"}
    assert set(final) - facts == set(names(source="final.json"))
    statistics = [key for key in final if key not in facts and key not in ("return_mean", "success_rate",
                                                                            "episode_length")]
    episode = router_statistics("episode")
    assert statistics == episode + [name + SUCCESS_SUFFIX for name in episode] + router_statistics("pooled")
    assert list(final)[-5:] == ["modal_expert_by_intent", "verdict", "settled", "settled_update",
                                "settled_at_minimum"]
    diverged = fake_final("T", "baseline", 3, 64, status="diverged")
    assert list(diverged) == list(final)
    assert all(diverged[key] is None for key in router_statistics("pooled") + ["verdict", "modal_expert_by_intent"])


def test_fake_pooled_statistics_hold_together():
    verdicts = set()
    for seed in range(1, 41):
        final = fake_final("T", "baseline", seed, 64)
        log_k = math.log(final["num_experts"])
        assert final["intent_explained"] == pytest.approx(
            final["intent_mi"] / min(final["intent_entropy"], log_k), abs=1e-5)
        pooled_mi = final["pooled_marginal_entropy"] - final["pooled_router_entropy"]
        assert 0 <= final["intent_mi"] <= pooled_mi + 1e-6 and final["intent_mi"] <= final["intent_entropy"]
        assert final["state_split"] == pytest.approx(pooled_mi - final["intent_mi"], abs=1e-5)
        assert final["state_split"] >= 0 and isinstance(final["distinct_modal_experts"], bool)
        experts = [entry["expert"] for entry in final["modal_expert_by_intent"].values()]
        assert (len(set(experts)) == len(experts)) == final["distinct_modal_experts"]
        verdicts.add(final["verdict"])
    assert verdicts == set(VERDICTS)  # the fake grid meets every verdict
    k1 = fake_final("T", "baseline", 1, 64, k=1)
    assert k1["verdict"] == "collapse" and k1["intent_explained"] is None


def test_verdict_rule_on_the_reference_routers():
    """The thresholds sit halfway between two reference routers (K = 4, 3 intents met evenly)."""
    h_intent, log_k = math.log(3), math.log(4)
    assert fake_verdict(4, log_k, log_k, 0.0, False) == "hedge"  # uniform router
    assert fake_verdict(4, 0.0, 0.0, 0.0, False) == "collapse"  # one expert everywhere
    assert fake_verdict(4, 0.0, h_intent, 1.0, True) == "specialise"  # the intent oracle
    assert fake_verdict(4, 0.0, log_k, 0.0, False) == "split"  # committed, blind to the intent
    assert fake_verdict(4, 0.0, h_intent, 1.0, False) == "split"  # two intents share an expert
    assert fake_verdict(4, log_k / 2, log_k, 1.0, True) == "hedge"  # at a threshold: the rule's side
    assert fake_verdict(4, 0.0, h_intent / 2, 0.5, True) == "specialise"
    # Collapse: under 1.5 effective experts (exp of the marginal entropy), between one expert and two used equally.
    assert fake_verdict(4, 0.0, math.log(1.5), 0.0, False) == "split"  # at the threshold: the rule's side
    assert fake_verdict(4, 0.0, math.log(1.49), 0.0, False) == "collapse"


def test_fake_verdicts_are_the_trainers():
    """The fake trainer's rule gives the trainer's verdict (moe.router_statistics.verdict) on its own runs."""
    from moe.router_statistics import verdict

    for seed in range(1, 41):
        for k in (1, 2, 4):
            final = fake_final("T", "baseline", seed, 64, k=k)
            statistics = {name: final[name] for name in router_statistics("pooled")}
            if statistics["intent_explained"] is None:
                statistics["intent_explained"] = math.nan
            assert verdict(statistics, k) == final["verdict"], (seed, k)


def test_configs_analyse_registered_metrics_only():
    """The schema's defaults and the workflow config name registered metrics with a mean (a
    censored median has no contrast); the cross-task ranking, metrics with a better side.
    (The schema no longer lists the metrics: the workflow checks them against the registry.)"""
    root = Path(__file__).resolve().parents[1]
    schema = yaml.safe_load((root / "workflow/schemas/config.schema.yaml").read_text())
    defaults = {key: entry["default"] for key, entry in schema["properties"]["analysis"]["properties"].items()}
    configured = yaml.safe_load((root / "workflow/config/config.yaml").read_text())["analysis"]
    for analysis in (defaults, configured):
        for key in ("effect_metrics", "robust_metrics"):
            assert set(analysis[key]) <= set(METRICS), key
            assert all(METRICS[name].summary == "mean" for name in analysis[key]), key
        assert all(METRICS[name].direction != NONE for name in analysis["robust_metrics"])


# --- reading runs ---------------------------------------------------------------


def test_read_run_statuses(tmp_path):
    finished = write_fake_run(tmp_path / "finished", status="finished")
    write_fake_run(tmp_path / "diverged", status="diverged")
    write_fake_run(tmp_path / "no_final", final=False)
    (tmp_path / "corrupt").mkdir()
    (tmp_path / "corrupt" / "final.json").write_text("{not json")
    (tmp_path / "odd").mkdir()
    (tmp_path / "odd" / "final.json").write_text(json.dumps({"status": "running"}))

    record = read_run(tmp_path / "finished")
    assert record["status"] == "finished"
    assert record["router_entropy"] == finished["router_entropy"]
    assert record["state_split"] == finished["state_split"]
    assert record["num_experts"] == 4
    assert record["verdict"] == finished["verdict"] in VERDICTS
    diverged = read_run(tmp_path / "diverged")
    assert diverged["status"] == diverged["verdict"] == "diverged"
    # a diverged run is a failure in return statistics and has no router statistics
    assert diverged["return_mean"] == 0.0 and diverged["success_rate"] == 0.0
    assert math.isnan(diverged["router_entropy"]) and math.isnan(diverged["router_mutual_information"])
    assert math.isnan(diverged["intent_explained"])
    for name, status in (("no_final", "missing"), ("never_created", "missing"), ("corrupt", "failed"),
                         ("odd", "failed")):
        record = read_run(tmp_path / name)
        assert (record["status"], record["verdict"]) == (status, ""), name


def test_read_run_new_keys_of_old_and_unlabelled_runs(tmp_path):
    final = write_fake_run(tmp_path / "old")
    path = tmp_path / "old" / "final.json"
    old = {key: value for key, value in final.items() if key not in router_statistics("pooled") + ["verdict"]}
    path.write_text(json.dumps(old))  # a run from before the pooled statistics (the 660 reference runs)
    record = read_run(tmp_path / "old")
    assert record["verdict"] == "n/a" and record["router_entropy"] == final["router_entropy"]
    assert all(math.isnan(record[name]) for name in router_statistics("pooled"))
    path.write_text(json.dumps({**final, "verdict": None, "intent_mi": None}))  # a task without intent labels
    record = read_run(tmp_path / "old")
    assert record["verdict"] == "n/a" and math.isnan(record["intent_mi"])
    for flag, value in ((True, 1.0), (False, 0.0)):
        path.write_text(json.dumps({**final, "distinct_modal_experts": flag}))
        assert read_run(tmp_path / "old")["distinct_modal_experts"] == value
    path.write_text(json.dumps({**final, "verdict": "specialize"}))
    with pytest.raises(ValueError, match="specialize"):
        read_run(tmp_path / "old")


def _fake_grid(tmp_path, plan):
    """plan: {(task, variant): [status per seed, None = missing]} -> expected-runs list."""
    runs, finals = [], {}
    for (task, variant), statuses in plan.items():
        for seed, status in enumerate(statuses, start=1):
            run_dir = tmp_path / task / variant / f"seed{seed}"
            runs.append({"task": task, "variant": variant, "seed": seed, "run_dir": str(run_dir)})
            if status is not None:
                finals[(task, variant, seed)] = write_fake_run(run_dir, task, variant, seed, status=status)
    return runs, finals


def test_summary_counts_runs_scores_diverged_as_failures_and_states_n(tmp_path):
    plan = {
        ("TaskB", "baseline"): ["finished", "finished", "diverged", None],
        ("TaskB", "temporal"): ["diverged", "diverged", None, None],
        ("TaskA", "baseline"): ["finished", "finished", "finished", "finished"],
    }
    runs, finals = _fake_grid(tmp_path, plan)
    table = collect_runs(runs)
    assert len(table) == 12  # every expected run has a row, present or not
    summary = summarise(table)

    assert list(zip(summary["task"], summary["variant"], strict=True)) == list(plan)  # config order kept
    row = summary.iloc[0]
    assert (row.n_seeds, row.n_finished, row.n_diverged, row.n_failed, row.n_missing) == (4, 2, 1, 0, 1)
    assert (row.seeds_diverged, row.seeds_missing) == ("3", "4")
    entropies = [finals[("TaskB", "baseline", s)]["router_entropy"] for s in (1, 2)]
    assert (row.router_entropy_n, row.router_entropy_mean) == (2, pytest.approx(np.mean(entropies)))
    returns = [finals[("TaskB", "baseline", s)]["return_mean"] for s in (1, 2)] + [0.0]  # seed 3 diverged
    assert (row.return_mean_n, row.return_mean_mean) == (3, pytest.approx(np.mean(returns)))
    assert (row.return_mean_ci_low, row.return_mean_ci_high) == pytest.approx(mean_ci(returns, bounds=(0, 1))[1:])

    all_diverged = summary.iloc[1]
    assert (all_diverged.n_finished, all_diverged.n_diverged, all_diverged.n_missing) == (0, 2, 2)
    # 2 failures: return 0 on both, no spread (the table prints "(seeds agree)")
    assert (all_diverged.return_mean_mean, all_diverged.return_mean_ci_high) == (0.0, 0.0)
    assert math.isnan(all_diverged.router_entropy_mean)
    display = display_table(summary).set_index(["task", "variant"])
    assert display.loc[("TaskB", "baseline"), "diverged"] == "1: seeds 3"
    assert display.loc[("TaskB", "baseline"), "router H"].endswith(" n=2")  # fewer runs than seeds: says so
    assert display.loc[("TaskB", "baseline"), "return"].endswith(" n=3")
    assert not display.loc[("TaskA", "baseline"), "return"].endswith("n=4")  # all seeds: the header's n
    assert display.loc[("TaskB", "temporal"), "router H"] == "n/a"
    for name in names(source="final.json"):
        assert {f"{name}_n", f"{name}_mean", f"{name}_ci_low", f"{name}_ci_high"} <= set(summary.columns)


def test_null_metric_is_nan_not_zero(tmp_path):
    runs, _ = _fake_grid(tmp_path, {("T", "baseline"): ["finished", "finished"]})
    for run in runs:  # a task without intent labels reports its intent statistics as null
        path = f"{run['run_dir']}/final.json"
        final = json.loads(open(path).read())
        final["intent_mutual_information_normalized"] = None
        open(path, "w").write(json.dumps(final))
    summary = summarise(collect_runs(runs))
    assert math.isnan(summary.loc[0, "intent_mutual_information_normalized_mean"])
    assert display_table(summary).loc[0, "intent MI (norm.)"] == "n/a"


def test_tables_written_in_three_formats(tmp_path):
    runs, _ = _fake_grid(tmp_path / "runs", {("Task_1", "entropy_min+temporal"): ["finished", "diverged", None]})
    summary = summarise(collect_runs(runs))
    paths = [tmp_path / "out" / name for name in ("t.csv", "t.md", "t.tex")]
    write_table(summary, display_table(summary), *paths, caption="Final 95% results", label="tab:x")
    csv = pd.read_csv(paths[0])
    assert csv["n_missing"].tolist() == [1] and "router_entropy_success_mean" in csv  # the CSV has every metric
    markdown = paths[1].read_text().splitlines()
    assert markdown[0].startswith("| task | variant | finished | diverged | failed | missing | verdicts | router H |")
    verdict = fake_final("Task_1", "entropy_min+temporal", 1, 4096)["verdict"]  # seed 1's; seed 2 diverged
    assert markdown[2].startswith("| Task_1 | entropy_min+temporal | 1/3 | 1: seeds 2 | 0 | 1: seeds 3 | "
                                  f"1/3 {verdict}, 1 diverged |")  # a tie: a verdict before `diverged`
    shown = names(source=FINAL_JSON, shown_in=FINAL_METRICS_TABLE)  # no metrics.csv here: no sample efficiency
    assert markdown[0].endswith("| verdicts | " + " | ".join(METRICS[name].label for name in shown) + " |")
    assert "| expert similarity | intent explained | state split |" in markdown[0]
    latex = paths[2].read_text()
    assert r"Task\_1 & entropy\_min+temporal & 1/3" in latex and r"Final 95\% results" in latex
    assert latex.count(r"\\") == 2  # header and one row


# --- verdicts ---------------------------------------------------------------------


def _verdict_runs(plan):
    """plan: {(task, variant): [(status, verdict) per seed]} -> a runs frame as collect_runs makes it."""
    return pd.DataFrame([{"task": task, "variant": variant, "seed": seed, "status": status, "verdict": verdict}
                         for (task, variant), seeds in plan.items()
                         for seed, (status, verdict) in enumerate(seeds, start=1)])


def test_verdict_counts_and_cells_by_hand():
    done, gone = "finished", "diverged"
    plan = {
        ("A", "baseline"): [(done, "specialise"), (done, "split"), (gone, "diverged"), (done, "specialise"),
                            (done, "specialise")],
        ("A", "temporal"): [(done, "split"), ("missing", ""), (done, "hedge"), (done, "split"), (done, "hedge")],
        ("A", "old"): [(done, "n/a")] * 10,
        ("A", "lost"): [("failed", ""), ("missing", "")],
        ("B", "baseline"): [(gone, "diverged"), (gone, "diverged"), (done, "collapse"), (done, "n/a")],
    }
    summary = summarise(_verdict_runs(plan), metrics=[])
    columns = [f"n_verdict_{v}" for v in ("hedge", "collapse", "split", "specialise", "diverged", "n/a")]
    assert list(VERDICT_COUNTS) == [column.removeprefix("n_verdict_") for column in columns]
    assert summary[columns].values.tolist() == [
        [0, 0, 1, 3, 1, 0], [2, 0, 2, 0, 0, 0], [0, 0, 0, 0, 0, 10], [0, 0, 0, 0, 0, 0], [0, 1, 0, 0, 2, 1]]
    assert display_table(summary, metrics=[])["verdicts"].tolist() == [
        "3/5 specialise, 1 split, 1 diverged",
        "2/5 hedge, 2 split",  # a tie: in the rule's order; the missing seed is in `missing`
        "10/10 n/a",  # runs from before the verdicts
        "none",
        "2/4 diverged, 1 collapse, 1 n/a",  # diverged runs are failures: they show
    ]
    assert verdict_cell({"split": 1}, 1) == "1/1 split" and verdict_cell({}, 3) == "none"


def test_verdicts_in_the_tables_from_run_directories(tmp_path):
    """Old runs (no verdict, no pooled statistics) count as n/a with n/a cells; a sweep's
    table (grouped by setting) shows verdicts too."""
    runs, finals = _fake_grid(tmp_path, {("T", "baseline"): ["finished", "finished", "diverged"]})
    for seed in (1, 2):
        path = Path(runs[seed - 1]["run_dir"]) / "final.json"
        path.write_text(json.dumps({key: value for key, value in finals[("T", "baseline", seed)].items()
                                    if key not in router_statistics("pooled") + ["verdict"]}))
    table = collect_runs(runs)
    assert table["verdict"].tolist() == ["n/a", "n/a", "diverged"]
    display = display_table(summarise(table)).iloc[0]
    assert display["verdicts"] == "2/3 n/a, 1 diverged"
    assert display["intent explained"] == display["state split"] == "n/a"

    runs, finals = _fake_grid(tmp_path / "sweep", {("T", "temporal"): ["finished"] * 3 + ["missing"]})
    table = collect_runs(runs).assign(setting="0.3")
    summary = summarise(table, group_cols=("task", "setting"))
    verdicts = [finals[("T", "temporal", seed)]["verdict"] for seed in (1, 2, 3)]
    assert sum(summary.loc[0, f"n_verdict_{v}"] for v in VERDICTS) == 3
    assert all(summary.loc[0, f"n_verdict_{v}"] == verdicts.count(v) for v in VERDICTS)
    cell = display_table(summary, group_cols=("task", "setting")).loc[0, "verdicts"]
    top = max(set(verdicts), key=lambda v: (verdicts.count(v), -VERDICTS.index(v)))
    assert cell.startswith(f"{verdicts.count(top)}/4 {top}")
    explained = [finals[("T", "temporal", seed)]["intent_explained"] for seed in (1, 2, 3)]
    assert summary.loc[0, "intent_explained_mean"] == pytest.approx(np.mean(explained))


def test_settled_runs_are_counted_from_final_json(tmp_path):
    """final.json's `settled` (true / false / null) becomes runs.csv's 1 / 0 / NaN and the
    summary's n_settled / n_at_cap; the display has a `settled` column only where a run has the rule."""
    runs, finals = _fake_grid(tmp_path, {("T", "baseline"): ["finished"] * 3 + ["diverged"],
                                         ("T", "temporal"): ["finished"] * 2})
    for run, settled, update, minimum in zip(runs, [True, False, True, False, None, None],
                                             [71, None, 64, None, None, None], [True, None, False, None, None, None],
                                             strict=True):
        path = Path(run["run_dir"]) / "final.json"
        path.write_text(json.dumps({**json.loads(path.read_text()), "settled": settled, "settled_update": update,
                                    "settled_at_minimum": minimum}))
    table = collect_runs(runs)
    assert table["settled"].tolist()[:4] == [1.0, 0.0, 1.0, 0.0] and table["settled"].iloc[4:].isna().all()
    assert table["settled_update"].iloc[[0, 2]].tolist() == [71.0, 64.0] and math.isnan(table["settled_update"].iloc[1])
    summary = summarise(table)
    assert summary[["n_settled", "n_at_cap"]].values.tolist() == [[2, 1], [0, 0]]  # the diverged run is neither
    assert summary["n_at_minimum"].tolist() == [1, 0]
    assert display_table(summary)["settled"].tolist() == ["2/3 (1 at the minimum)", "n/a"]
    without_rule = summarise(table[table["variant"] == "temporal"])
    assert "settled" not in display_table(without_rule)  # no run has the rule: no column


def test_markdown_and_latex_helpers():
    table = pd.DataFrame({"a": ["x|y"], "b": ["1"]})
    assert to_markdown(table) == "| a | b |\n|---|---|\n| x\\|y | 1 |\n"
    assert latex_escape("a_b & 50% #1") == r"a\_b \& 50\% \#1"
    assert r"\begin{tabular}{ll}" in to_latex(table, "c", "l")


# --- learning curves --------------------------------------------------------------


def test_resample_curve_interpolates_and_never_extrapolates():
    frames = np.array([100.0, 200.0, 300.0, 400.0])
    values = np.array([np.nan, 1.0, 2.0, 4.0])
    out = resample_curve(frames, values, np.array([150.0, 200.0, 250.0, 400.0, 500.0]))
    assert math.isnan(out[0]) and math.isnan(out[4])
    assert out[1:4].tolist() == [1.0, 1.5, 4.0]
    assert np.isnan(resample_curve(frames, np.full(4, np.nan), frames)).all()


def test_learning_curves_only_from_finished_runs(tmp_path):
    plan = {("T", "baseline"): ["finished", "finished", "diverged", None]}
    runs, _ = _fake_grid(tmp_path, plan)
    curves = learning_curves(collect_runs(runs), points=8)
    assert set(curves["seed"]) == {1, 2}
    assert set(curves["metric"]) == {"return_mean", "router_entropy", "router_mutual_information"}
    entropy = curves[(curves.metric == "router_entropy") & (curves.seed == 1)]
    assert len(entropy) == 8 and entropy["frames"].max() == 4096
    # return is NaN at the first update in the fake runs: no point before the first value
    assert curves[curves.metric == "return_mean"]["frames"].min() >= 1024


def test_learning_curves_empty_when_nothing_finished(tmp_path):
    runs, _ = _fake_grid(tmp_path, {("T", "baseline"): [None, "diverged"]})
    curves = learning_curves(collect_runs(runs))
    assert curves.empty and list(curves.columns) == ["task", "variant", "seed", "frames", "metric", "value"]


def test_finetune_curves_align_each_seed_at_the_end_of_its_own_warmup(tmp_path):
    # Seed 1 learned its task in 2 warm-up updates, seed 2 in 4 (a learned gate):
    # both then fine-tune 2 updates of 100 frames.
    runs, _ = _fake_grid(tmp_path, {("T", "baseline"): ["finished", "finished", "diverged"]})
    for seed, warmup_updates in ((1, 2), (2, 4)):
        rows = ["update,frames,phase,router_entropy,return_mean"]
        for update in range(1, warmup_updates + 3):
            phase = "warmup" if update <= warmup_updates else "finetune"
            entropy = 1.0 if phase == "warmup" else 1.0 - 0.25 * (update - warmup_updates)
            returns = "" if update == warmup_updates + 1 else 0.5  # no episode ended in this update
            rows.append(f"{update},{100 * update},{phase},{entropy},{returns}")
        (Path(runs[seed - 1]["run_dir"]) / "metrics.csv").write_text("\n".join(rows) + "\n")
    curves = finetune_curves(collect_runs(runs), metrics=["router_entropy", "return_mean"])

    assert set(curves["seed"]) == {1, 2}  # the diverged run has no curve
    for seed in (1, 2):
        entropy = curves[(curves.seed == seed) & (curves.metric == "router_entropy")]
        assert entropy["finetune_frames"].tolist() == [0.0, 100.0, 200.0]  # 0: the warm-up's last update
        assert entropy["value"].tolist() == [1.0, 0.75, 0.5]
        returns = curves[(curves.seed == seed) & (curves.metric == "return_mean")]
        assert returns["finetune_frames"].tolist() == [0.0, 200.0]  # the update without an episode is skipped

    (Path(runs[0]["run_dir"]) / "metrics.csv").write_text("update,frames,phase,router_entropy\n1,100,warmup,1.0\n")
    single_phase = finetune_curves(collect_runs(runs[:1]), metrics=["router_entropy"])
    assert single_phase.empty and list(single_phase.columns) == ["task", "variant", "seed", "finetune_frames",
                                                                 "metric", "value"]


# --- plots ------------------------------------------------------------------------


def test_plots_write_pdf_and_png_even_with_empty_panels(tmp_path):
    plan = {("T", "baseline"): ["finished", "finished"], ("T", "temporal"): ["finished", None]}
    runs, _ = _fake_grid(tmp_path / "runs", plan)
    table = collect_runs(runs)
    curves = learning_curves(table, points=5)
    order = ["baseline", "temporal"]
    curve_paths = [tmp_path / "curves.pdf", tmp_path / "curves.png"]
    plot_learning_curves(curves, ["T", "EmptyTask"], order, curve_paths)
    finetune_paths = [tmp_path / "finetune.pdf", tmp_path / "finetune.png"]
    plot_learning_curves(finetune_curves(table), ["T", "EmptyTask"], order, finetune_paths, x="finetune_frames")
    curve_paths += finetune_paths
    final_paths = [tmp_path / "final.pdf", tmp_path / "final.png"]
    figure = plot_final_metrics(table, ["router_entropy", "return_mean"], ["T", "EmptyTask"], order, final_paths,
                                reference_lines={"router_entropy": entropy_reference_lines(4)}, xlabel="the variant")
    # Only the bottom row labels its x axis (EmptyTask's placeholder panel has none).
    assert [ax.get_xlabel() for ax in figure.axes[::2]] == ["", "the variant"]
    for path in curve_paths + final_paths:
        assert path.stat().st_size > 1000
    assert [label for _, label in entropy_reference_lines(4)] == ["ln 2", "ln 4"]
    assert entropy_reference_lines(2) == [(math.log(2), "ln 2")]

    # Redrawn from the same runs, a figure is the same file (no date, seeded jitter).
    np.random.seed(12345)  # whatever state the generator is in
    again = [tmp_path / "again.pdf", tmp_path / "again.png"]
    plot_final_metrics(table, ["router_entropy", "return_mean"], ["T", "EmptyTask"], order, again,
                       reference_lines={"router_entropy": entropy_reference_lines(4)}, xlabel="the variant")
    for first, second in zip(final_paths, again, strict=True):
        assert first.read_bytes() == second.read_bytes(), first.suffix


def test_the_iqm_and_its_stratified_bootstrap_interval():
    from moe.analysis.stats import iqm, iqm_interval

    # 8 scores: the middle four after cutting the lowest two and the highest two.
    assert iqm([0.0, 10.0, 1.0, 2.0, 3.0, 4.0, -5.0, 7.0]) == pytest.approx((1 + 2 + 3 + 4) / 4)
    # Runs x tasks: every score counts once, whatever its task.
    matrix = np.array([[0.1, 0.5, 0.9], [0.2, 0.6, 1.0], [0.3, 0.4, 0.8], [0.2, 0.5, 0.9]])
    estimate, low, high = iqm_interval(matrix, resamples=2000, seed=1)
    assert estimate == pytest.approx(iqm(matrix.ravel()))
    assert low <= estimate <= high and high - low < 0.3
    assert iqm_interval(matrix, resamples=2000, seed=1) == (estimate, low, high)  # seeded
    # Stratified: a resample keeps each task's runs in that task, so a task whose runs all
    # agree contributes its value to every resample; scores that all agree give a point.
    assert iqm_interval(np.full((5, 3), 0.7), resamples=500) == pytest.approx((0.7, 0.7, 0.7))
    # Enumerated by hand: task A's two runs score 0 and 1, task B's 10 and 11. Drawn within each task,
    # a resample is a, a', b, b' and its IQM (the middle two) is (max(a, a') + min(b, b')) / 2: 5 with
    # probability 1/4 * 3/4 = 3/16, 6 with 3/16, else 5.5. Drawn from the pool, 0.5 or 10.5 could occur.
    assert iqm_interval([[0.0, 10.0], [1.0, 11.0]], resamples=4000) == pytest.approx((5.5, 5.0, 6.0))
    with pytest.raises(ValueError, match="runs x tasks"):
        iqm_interval([0.1, 0.2])


def test_the_tables_intervals_stay_within_ln_k():
    runs = pd.DataFrame({"task": "T", "variant": "v", "seed": [1, 2, 3], "status": "finished",
                         "num_experts": 2.0, "router_entropy": [0.69, 0.60, 0.20]})
    row = summarise(runs, metrics=["router_entropy"]).iloc[0]
    assert mean_ci(runs["router_entropy"])[2] > math.log(2)  # the t-interval alone leaves the range
    assert row["router_entropy_ci_high"] == pytest.approx(math.log(2))
    assert row["router_entropy_ci_low"] == max(0.0, mean_ci(runs["router_entropy"])[1])


def test_the_detectable_effect_gives_the_power_asked_and_shrinks_with_seeds_and_grows_with_tests():
    from scipy import stats

    from moe.analysis.stats import detectable_effect

    effect = detectable_effect(20, tests=6)
    # At that effect the paired t-test at 0.05 / 6 rejects with probability 0.8, by simulation.
    rng = np.random.default_rng(0)
    samples = rng.normal(effect, 1.0, size=(20000, 20))
    rejected = stats.ttest_1samp(samples, 0.0, axis=1).pvalue < 0.05 / 6
    assert rejected.mean() == pytest.approx(0.8, abs=0.01)
    # Large samples: (z_{1 - a/2} + z_power) / sqrt(n).
    assert detectable_effect(2000) == pytest.approx((stats.norm.ppf(0.975) + stats.norm.ppf(0.8)) / 2000**0.5,
                                                    rel=0.01)
    assert detectable_effect(10) > detectable_effect(20) and detectable_effect(20, tests=6) > detectable_effect(20)
    with pytest.raises(ValueError, match="seeds"):
        detectable_effect(1)

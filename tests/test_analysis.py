"""Unit tests of moe.analysis on fake run directories (no trainer needed)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from moe.analysis.coverage import DISTRIBUTIONS, coverage
from moe.analysis.curves import finetune_curves, learning_curves, resample_curve
from moe.analysis.metrics import FINAL_METRICS_TABLE, HIGHER, METRICS, NONE, names
from moe.analysis.plots import entropy_reference_lines, plot_final_metrics, plot_learning_curves
from moe.analysis.runs import collect_runs, read_run
from moe.analysis.stats import holm, linear_bounds, mean_ci, t_test_p
from moe.analysis.tables import display_table, latex_escape, summarise, to_latex, to_markdown, write_tables

try:  # tests/ is on sys.path under pytest's default import mode
    from fakeruns import write_fake_run
except ImportError:  # tests/ imported as a package
    from tests.fakeruns import write_fake_run

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


def test_mean_ci_when_every_seed_agrees_is_not_zero_width():
    # 5 seeds of success 1.0: a run lands on 1.0 with probability >= 0.025^(1/5) (Clopper-Pearson),
    # and anywhere in [0, 1] otherwise, so the mean is at least 0.025^(1/5).
    assert mean_ci([1.0] * 5, bounds=(0.0, 1.0)) == pytest.approx((1.0, 0.025 ** 0.2, 1.0))
    assert mean_ci([0.0] * 10, bounds=(0.0, 1.0)) == pytest.approx((0.0, 0.0, 1 - 0.025 ** 0.1))
    value, low, high = mean_ci([0.7] * 4)  # no known range: no honest interval
    assert value == 0.7 and math.isnan(low) and math.isnan(high)
    assert mean_ci([0.7] * 4, bounds=(0.0, math.inf))[1:] == pytest.approx((0.7 * 0.025 ** 0.25, math.inf))


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
    `python -m moe.analysis.coverage --repetitions 20000 --no-bca`, put beta(8,1) at n = 5
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
    assert names(shown_in=FINAL_METRICS_TABLE)[:7] == [
        "router_entropy", "marginal_router_entropy", "router_mutual_information",
        "intent_mutual_information_normalized", "expert_similarity", "return_mean", "success_rate"]


def test_config_schema_offers_registered_metrics_only():
    schema = yaml.safe_load((Path(__file__).resolve().parents[1] / "workflow/schemas/config.schema.yaml").read_text())
    analysis = schema["properties"]["analysis"]["properties"]
    for key in ("effect_metrics", "robust_metrics"):
        offered = analysis[key]["items"]["enum"]
        assert set(offered) <= set(METRICS), key
        assert all(METRICS[name].summary == "mean" for name in offered), key  # a censored median has no contrast
        assert set(analysis[key]["default"]) <= set(offered)
    assert all(METRICS[name].direction != NONE for name in analysis["robust_metrics"]["default"])


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
    assert record["num_experts"] == 4
    diverged = read_run(tmp_path / "diverged")
    assert diverged["status"] == "diverged"
    # a diverged run is a failure in return statistics and has no router statistics
    assert diverged["return_mean"] == 0.0 and diverged["success_rate"] == 0.0
    assert math.isnan(diverged["router_entropy"]) and math.isnan(diverged["router_mutual_information"])
    assert read_run(tmp_path / "no_final")["status"] == "missing"
    assert read_run(tmp_path / "never_created")["status"] == "missing"
    assert read_run(tmp_path / "corrupt")["status"] == "failed"
    assert read_run(tmp_path / "odd")["status"] == "failed"


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
    assert all_diverged.return_mean_mean == 0.0 and all_diverged.return_mean_ci_high > 0.5  # 2 failures: wide
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
    write_tables(summary, *paths, caption="Final 95% results", label="tab:x")
    csv = pd.read_csv(paths[0])
    assert csv["n_missing"].tolist() == [1] and "router_entropy_success_mean" in csv  # the CSV has every metric
    markdown = paths[1].read_text().splitlines()
    assert markdown[0].startswith("| task | variant | finished | diverged | failed | missing | router H |")
    assert markdown[2].startswith("| Task_1 | entropy_min+temporal | 1/3 | 1: seeds 2 | 0 | 1: seeds 3 |")
    latex = paths[2].read_text()
    assert r"Task\_1 & entropy\_min+temporal & 1/3" in latex and r"Final 95\% results" in latex
    assert latex.count(r"\\") == 2  # header and one row


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

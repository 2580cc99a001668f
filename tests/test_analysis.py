"""Unit tests of moe.analysis on fake run directories (no trainer needed)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from moe.analysis import grid
from moe.analysis.curves import learning_curves, resample_curve
from moe.analysis.plots import entropy_reference_lines, plot_final_metrics, plot_learning_curves
from moe.analysis.runs import FINAL_METRICS, collect_runs, read_run
from moe.analysis.stats import bootstrap_ci
from moe.analysis.tables import display_table, latex_escape, summarise, to_latex, to_markdown, write_tables

try:  # tests/ is on sys.path under pytest's default import mode
    from fakeruns import write_fake_run
except ImportError:  # tests/ imported as a package
    from tests.fakeruns import write_fake_run

# --- bootstrap ------------------------------------------------------------------


def test_bootstrap_all_equal_values_give_zero_width_interval():
    assert bootstrap_ci([0.7, 0.7, 0.7, 0.7]) == (0.7, 0.7, 0.7)


def test_bootstrap_two_values_hand_computed():
    # Resample means of {0, 1} with n=2 are 0, 0.5, 1 with probabilities 1/4, 1/2, 1/4,
    # so the 2.5% and 97.5% percentiles are 0 and 1.
    assert bootstrap_ci([0.0, 1.0]) == (0.5, 0.0, 1.0)


def test_bootstrap_mean_and_interval_bracket_it():
    values = [1.0, 2.0, 3.0, 4.0, 10.0]
    mean, low, high = bootstrap_ci(values)
    assert mean == pytest.approx(4.0)
    assert 1.0 <= low < mean < high <= 10.0


def test_bootstrap_is_reproducible_and_seeded():
    values = np.random.default_rng(3).normal(size=7)
    assert bootstrap_ci(values) == bootstrap_ci(values)
    assert bootstrap_ci(values, seed=1) != bootstrap_ci(values, seed=2)


def test_bootstrap_narrower_at_lower_confidence():
    values = [0.1, 0.4, 0.35, 0.8, 0.5, 0.6]
    _, low95, high95 = bootstrap_ci(values)
    _, low50, high50 = bootstrap_ci(values, confidence=0.5)
    assert low95 <= low50 <= high50 <= high95


def test_bootstrap_degenerate_samples():
    assert all(math.isnan(v) for v in bootstrap_ci([]))
    mean, low, high = bootstrap_ci([0.3])
    assert mean == 0.3 and math.isnan(low) and math.isnan(high)
    assert bootstrap_ci([2.0, float("nan"), 2.0]) == (2.0, 2.0, 2.0)


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
    assert read_run(tmp_path / "diverged")["status"] == "diverged"
    assert math.isnan(read_run(tmp_path / "diverged")["return_mean"])  # nulls become NaN
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


def test_summary_counts_missing_and_diverged_and_averages_finished_only(tmp_path):
    plan = {
        ("TaskB", "baseline"): ["finished", "finished", "diverged", None],
        ("TaskB", "temporal"): ["diverged", "diverged", None, None],
        ("TaskA", "baseline"): ["finished", "finished", "finished", "finished"],
    }
    runs, finals = _fake_grid(tmp_path, plan)
    table = collect_runs(runs)
    assert len(table) == 12  # every expected run has a row, present or not
    summary = summarise(table)

    assert list(zip(summary["task"], summary["variant"])) == list(plan)  # config order kept
    row = summary.iloc[0]
    assert (row.n_seeds, row.n_finished, row.n_diverged, row.n_failed, row.n_missing) == (4, 2, 1, 0, 1)
    expected = np.mean([finals[("TaskB", "baseline", s)]["router_entropy"] for s in (1, 2)])
    assert row.router_entropy_mean == pytest.approx(expected)
    assert row.router_entropy_ci_low <= expected <= row.router_entropy_ci_high

    all_diverged = summary.iloc[1]
    assert (all_diverged.n_finished, all_diverged.n_diverged, all_diverged.n_missing) == (0, 2, 2)
    assert math.isnan(all_diverged.return_mean_mean)
    for metric in FINAL_METRICS:
        assert {f"{metric}_mean", f"{metric}_ci_low", f"{metric}_ci_high"} <= set(summary.columns)


def test_null_metric_is_nan_not_zero(tmp_path):
    runs, _ = _fake_grid(tmp_path, {("T", "baseline"): ["finished", "finished"]})
    for run in runs:  # a task without intent labels reports intent_nmi: null
        path = f"{run['run_dir']}/final.json"
        final = json.loads(open(path).read())
        final["intent_nmi"] = None
        open(path, "w").write(json.dumps(final))
    summary = summarise(collect_runs(runs))
    assert math.isnan(summary.loc[0, "intent_nmi_mean"])
    assert display_table(summary).loc[0, "intent NMI"] == "n/a"


def test_tables_written_in_three_formats(tmp_path):
    runs, _ = _fake_grid(tmp_path / "runs", {("Task_1", "entropy_min+temporal"): ["finished", "diverged", None]})
    summary = summarise(collect_runs(runs))
    paths = [tmp_path / "out" / name for name in ("t.csv", "t.md", "t.tex")]
    write_tables(summary, *paths, caption="Final 95% results", label="tab:x")
    assert pd.read_csv(paths[0])["n_missing"].tolist() == [1]
    markdown = paths[1].read_text().splitlines()
    assert markdown[0].startswith("| task | variant | finished | diverged | failed | missing |")
    assert markdown[2].startswith("| Task_1 | entropy_min+temporal | 1/3 | 1 | 0 | 1 |")
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
    assert set(curves["metric"]) == {"return_mean", "router_entropy"}
    entropy = curves[(curves.metric == "router_entropy") & (curves.seed == 1)]
    assert len(entropy) == 8 and entropy["frames"].max() == 4096
    # return is NaN at the first update in the fake runs: no point before the first value
    assert curves[curves.metric == "return_mean"]["frames"].min() >= 1024


def test_learning_curves_empty_when_nothing_finished(tmp_path):
    runs, _ = _fake_grid(tmp_path, {("T", "baseline"): [None, "diverged"]})
    curves = learning_curves(collect_runs(runs))
    assert curves.empty and list(curves.columns) == ["task", "variant", "seed", "frames", "metric", "value"]


# --- plots ------------------------------------------------------------------------


def test_plots_write_pdf_and_png_even_with_empty_panels(tmp_path):
    plan = {("T", "baseline"): ["finished", "finished"], ("T", "temporal"): ["finished", None]}
    runs, _ = _fake_grid(tmp_path / "runs", plan)
    table = collect_runs(runs)
    curves = learning_curves(table, points=5)
    order = ["baseline", "temporal"]
    curve_paths = [tmp_path / "curves.pdf", tmp_path / "curves.png"]
    plot_learning_curves(curves, ["T", "EmptyTask"], order, curve_paths)
    final_paths = [tmp_path / "final.pdf", tmp_path / "final.png"]
    plot_final_metrics(table, ["router_entropy", "return_mean"], ["T", "EmptyTask"], order, final_paths,
                       reference_lines={"router_entropy": entropy_reference_lines(4)})
    for path in curve_paths + final_paths:
        assert path.stat().st_size > 1000
    assert [label for _, label in entropy_reference_lines(4)] == ["ln 2", "ln 4"]
    assert entropy_reference_lines(2) == [(math.log(2), "ln 2")]

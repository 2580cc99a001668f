"""Sample efficiency over fine-tuning (moe.analysis.curves): hand-computed return AUC and
frames to a smoothed threshold, censored at the budget."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from moe.analysis.curves import add_sample_efficiency, sample_efficiency
from moe.analysis.metrics import NEVER
from moe.analysis.runs import collect_runs
from moe.analysis.tables import display_table, summarise
from moe.warmup import first_reaching

try:  # tests/ is on sys.path under pytest's default import mode
    from fakeruns import write_fake_run
except ImportError:  # tests/ imported as a package
    from tests.fakeruns import write_fake_run

# --- sample efficiency ----------------------------------------------------------------


def test_sample_efficiency_hand_computed():
    metrics = pd.DataFrame({
        "frames": [100, 200, 300, 400, 500, 600, 700, 800],
        "phase": ["warmup"] * 4 + ["finetune"] * 4,
        "return_mean": [np.nan, 0.9, 0.5, 0.7, 0.8, 0.8, 0.6, 1.0],
    })
    result = sample_efficiency(metrics, 0.7)
    # fine-tuning only: trapezoid over (500, 0.8), (600, 0.8), (700, 0.6), (800, 1.0) = 80 + 70 + 80, over 300 frames
    assert result["return_auc"] == pytest.approx(230 / 300)
    # the whole run, from the first measured update (200): 70 + 60 + 75 + 80 + 70 + 80 = 435 over 600 frames
    assert result["return_auc_run"] == pytest.approx(435 / 600)
    # trailing 5-update means from update 6 on (update 1 measured nothing): 0.74 at 600, 0.68, 0.78 at 800.
    # The single update at 0.9 (200 frames) does not count.
    assert result["frames_to_threshold"] == 600.0
    assert sample_efficiency(metrics, 0.75)["frames_to_threshold"] == 800.0
    assert sample_efficiency(metrics, 0.9)["frames_to_threshold"] == NEVER  # censored at the budget
    one_phase = sample_efficiency(metrics.assign(phase="finetune"), 0.7)
    assert math.isnan(one_phase["return_auc"])  # no warm-up before it: nothing counts as fine-tuning
    assert one_phase["return_auc_run"] == pytest.approx(435 / 600)  # the whole run still does
    empty = sample_efficiency(metrics.assign(return_mean=np.nan))
    assert math.isnan(empty["return_auc"]) and empty["frames_to_threshold"] == NEVER


def test_a_warmup_ends_by_the_same_rule_as_frames_to_threshold():
    """The return gate that ends a warm-up early (moe.warmup) counts updates where the table counts frames."""
    returns = [math.nan, 0.9, 0.5, 0.7, 0.8, 0.8, 0.6, 1.0]  # the case above, 100 frames an update
    assert first_reaching(returns, 0.7) == 6 and first_reaching(returns, 0.75) == 8
    assert first_reaching(returns, 0.9) is None and first_reaching(returns[:5], 0.0) is None  # window holds a NaN
    assert first_reaching([None, *returns[1:]], 0.7) == 6


def test_sample_efficiency_columns_and_summary(tmp_path):
    runs = []
    for seed, status in enumerate(["finished", "finished", "diverged", "finished"], start=1):
        run_dir = tmp_path / f"seed{seed}"
        write_fake_run(run_dir, "T", "baseline", seed, status=status)
        runs.append({"task": "T", "variant": "baseline", "seed": seed, "run_dir": str(run_dir)})
    table = add_sample_efficiency(collect_runs(runs), threshold=0.0)
    metrics = pd.read_csv(tmp_path / "seed1/metrics.csv")
    assert table.loc[0, "return_auc"] == pytest.approx(sample_efficiency(metrics)["return_auc"])
    # the fake's first return is at update 2 of 8: the 5-update mean first exists at update 6
    assert table["frames_to_threshold"].tolist() == [metrics["frames"][5], metrics["frames"][5], NEVER,
                                                    metrics["frames"][5]]
    assert table.loc[2, "return_auc"] == 0.0  # diverged: a failure
    summary = summarise(table)
    assert (summary.loc[0, "frames_to_threshold_median"], summary.loc[0, "frames_to_threshold_reached"]) == (
        metrics["frames"][5], 3)
    assert display_table(summary).loc[0, "frames to threshold (median)"] == f"{metrics['frames'][5]} (3/4 reached)"
    never = summarise(add_sample_efficiency(collect_runs(runs), threshold=2.0))
    assert display_table(never).loc[0, "frames to threshold (median)"] == ">budget (0/4 reached)"

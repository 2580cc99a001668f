"""The Remap calibration's gap breakdown and its qualifying rule, on hand-made runs."""

import numpy as np
import pandas as pd
import pytest

from moe.analysis.calibration import (
    BASELINE,
    K1_LABEL,
    ORACLE,
    SUPERVISED,
    arm_summary,
    knobs,
    qualifies,
)

TASK = "MultiIntent-Remap-n8-c3-8x8-v0"


def runs(values: dict[str, list[float]]) -> pd.DataFrame:
    """The same values for both measures, three seeds an arm."""
    return pd.DataFrame([{"task": TASK, "arm": arm, "seed": seed, "return_auc_run": value, "return_mean": value}
                         for arm, arms_values in values.items() for seed, value in enumerate(arms_values, 1)])


def test_gaps_are_in_units_of_the_baselines_seed_sd():
    summary = arm_summary(runs({BASELINE: [0.1, 0.2, 0.3], ORACLE: [0.6, 0.7, 0.8]})).set_index("arm")
    assert summary.loc[ORACLE, "return_auc_run_gap"] == pytest.approx(0.5)
    assert summary.loc[ORACLE, "return_auc_run_gap_sds"] == pytest.approx(0.5 / 0.1)  # the sample sd of .1 .2 .3
    assert summary.loc[BASELINE, "return_auc_run_gap"] == 0 and summary.loc[BASELINE, "seeds"] == 3


def test_a_setting_qualifies_only_when_both_ceilings_clear_three_sds_and_the_label_does_not_close_the_gap():
    values = {BASELINE: [0.1, 0.2, 0.3], ORACLE: [0.8] * 3, SUPERVISED: [0.7] * 3, K1_LABEL: [0.3] * 3}
    verdict = qualifies(arm_summary(runs(values))).iloc[0]
    # Yardstick 3 x 0.1: oracle +0.6, supervised +0.5, oracle - K = 1 with the label 0.5.
    assert verdict["yardstick"] == pytest.approx(0.3) and bool(verdict["qualifies"])
    closed = qualifies(arm_summary(runs({**values, K1_LABEL: [0.6] * 3}))).iloc[0]  # 0.8 - 0.6 < 0.3
    assert not closed["label_does_not_close"] and not closed["qualifies"]
    unreachable = qualifies(arm_summary(runs({**values, SUPERVISED: [0.35] * 3}))).iloc[0]  # +0.15 < 0.3
    assert not unreachable["supervised_above"] and not unreachable["qualifies"]


def test_a_baseline_whose_seeds_agree_still_needs_a_gap_of_the_floor():
    values = {BASELINE: [0.0] * 3, ORACLE: [0.04] * 3, SUPERVISED: [0.9] * 3, K1_LABEL: [0.0] * 3}
    verdict = qualifies(arm_summary(runs(values))).iloc[0]
    assert verdict["yardstick"] == 0.05 and not verdict["oracle_above"] and not verdict["qualifies"]
    equal = qualifies(arm_summary(runs({**values, ORACLE: [0.9] * 3, K1_LABEL: [0.9] * 3}))).iloc[0]
    assert not equal["label_does_not_close"]  # a shortfall of 0 does not clear the yardstick


def test_a_setting_without_every_control_or_seeds_is_not_judged_and_knobs_come_from_the_registry():
    assert qualifies(arm_summary(runs({BASELINE: [0.1, 0.2], ORACLE: [0.9, 0.9]})))["qualifies"].isna().all()
    single = {BASELINE: [0.1], ORACLE: [0.9], SUPERVISED: [0.9], K1_LABEL: [0.1]}
    assert qualifies(arm_summary(runs(single)))["qualifies"].isna().all()
    assert knobs(TASK) == (8, 3) and knobs("MultiIntent-Remap-n2-c0-8x8-v0") == (2, 0)
    assert np.isfinite(arm_summary(runs({BASELINE: [0.1, 0.3]}))["return_mean_std"]).all()


def test_the_report_reads_every_arm_of_the_screen_and_draws_the_gap_against_each_knob(tmp_path, monkeypatch):
    import json
    from pathlib import Path

    import yaml

    from moe.analysis.calibration import main
    from moe.plan import load_config, sweep_runs, train_runs

    root = Path(__file__).resolve().parents[1]
    grid = yaml.safe_load((root / "workflow/config/remap_screen.yaml").read_text())
    grid.update(runs_dir=str(tmp_path / "runs"), report_dir=str(tmp_path / "report"))
    config_path = tmp_path / "grid.yaml"
    config_path.write_text(yaml.safe_dump(grid))
    monkeypatch.chdir(root)
    config = load_config([config_path])
    cells = [{**row, "setting": "base"} for row in train_runs(config)]
    cells += [row for sweep in grid["sweeps"] for row in sweep_runs(config, sweep)]
    assert len(cells) == 4 * 3 * 6  # 4 settings, 3 seeds, the baseline and five controls
    level = {"base": 0.1, "oracle": 0.9, "supervised": 0.8, "k1": 0.1, "k1_label": 0.4, "k1_params": 0.15}
    for cell in cells:
        run_dir = Path(cell["run_dir"])
        run_dir.mkdir(parents=True)
        value = level[cell["setting"]] + 0.01 * cell["seed"]
        (run_dir / "final.json").write_text(json.dumps({"status": "finished", "return_mean": value,
                                                        "return_auc_run": value}))
    assert main(["--config", str(config_path)]) == 0
    verdicts = pd.read_csv(tmp_path / "report/tables/calibration_qualifies.csv")
    assert len(verdicts) == 4 * 2 and verdicts["qualifies"].all()
    assert (tmp_path / "report/figures/calibration_gap.png").stat().st_size > 0

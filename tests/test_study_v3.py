"""Study v3: its configs carry the doses the dose grid chose in the forms it chose them, and its report pairs
seeds, adjusts the fixes' family and no other, and reads the hand-over of a phased run."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
import yaml
from scipy import stats as scipy_stats

from moe.analysis.stats import detectable_effect, holm
from moe.analysis.study_v3 import BASELINE, arm_table, dose_notes, effects, oracle_arm, power_text, references
from moe.config import resolve
from moe.plan import build, format_value, load_config, own_sweeps, settings_id, sweep_runs

ROOT = Path(__file__).resolve().parents[1]
STUDY_CONFIGS = ["workflow/config/study_v3.yaml", "workflow/config/study_v3_basin.yaml"]
#: What each fix sweep must be: its variant's corrections, the model settings of its mechanism.
FIX_FORMS = {
    "fix_entropy_min_balance": ("entropy_min+balance", {}),
    "fix_entropy_min_bias_balance": ("entropy_min+bias_balance", {}),
    "fix_hard": ("baseline", {"routing": "hard"}),
    "fix_hard_balance": ("balance", {"routing": "hard"}),
    "fix_overlap": ("overlap", {}),
    "fix_temporal": ("temporal", {"router_memory": "previous_alpha"}),
}


def resolved_runs(config_file: str, sweep: str) -> list[dict]:
    config = load_config([ROOT / config_file], repo=ROOT)
    return [resolve(None, [f"{key}={format_value(value)}" for key, value in run.overrides.items()])
            for _, run in build(config)["sweeps"][sweep]]


@pytest.mark.parametrize("config_file", STUDY_CONFIGS)
def test_every_fix_runs_at_the_dose_grids_chosen_dose_in_its_form(config_file, monkeypatch):
    monkeypatch.chdir(ROOT)
    chosen = pd.read_csv(ROOT / "results/reference/dose/tables/dose_chosen.csv")
    dose = {(row.fix, row.term): float(row.chosen_dose) for row in chosen.itertuples()}
    sweeps = yaml.safe_load((ROOT / config_file).read_text())["sweeps"]
    assert set(FIX_FORMS) <= set(sweeps), "every fix of the issue has its sweep"
    one_phase = "fixes_act" in yaml.safe_load((ROOT / config_file).read_text())
    for sweep, (variant, model) in FIX_FORMS.items():
        assert sweeps[sweep]["variant"] == variant
        for config in resolved_runs(config_file, sweep):
            corrections = config["corrections"]
            acting = [] if variant == "baseline" else variant.split("+")
            explicit = sweeps[sweep]["settings"]
            for name in acting:
                # Set in the sweep itself, never left to a default that happens to equal the dose today.
                assert all(f"corrections.{name}.coef" in values for values in explicit.values()), (sweep, name)
                # The dose the grid chose for this correction: in the fix it was dosed in, else beside entropy_min.
                key = (variant, name) if (variant, name) in dose else (f"entropy_min+{name}", name)
                key = key if key in dose else (name, name)
                assert corrections[name]["coef"] == pytest.approx(dose[key]), (sweep, name)
                last_phase = config["phases"][-1]["name"]
                assert corrections[name]["phases"] == [last_phase], (sweep, name)
            for setting, value in model.items():
                assert config["model"][setting] == value, (sweep, setting)
            if "entropy_min" in acting:
                # Ramped only when the fix acts from the first update: in the basin it acts after the hand-over.
                assert corrections["entropy_min"].get("ramp", 0) == (0.25 if one_phase else 0)
            if "temporal" in acting:
                assert (corrections["temporal"]["divergence"], corrections["temporal"]["target"]) == ("js", "current")
            if "overlap" in acting:
                assert corrections["overlap"]["gradient"] == "router"
            assert config["router_entropy_coef"] == 0


def test_the_conflict_settings_baseline_and_controls_are_the_calibrations_confirmation(monkeypatch):
    """The confirmation's runs are study v3's first ten seeds: the same directories and trainer commands."""
    from moe.plan import trainer_command

    monkeypatch.chdir(ROOT)
    confirm, study = (load_config([ROOT / name], repo=ROOT) for name in
                      ("workflow/config/remap_confirm.yaml", "workflow/config/study_v3.yaml"))
    confirm_runs, study_runs = build(confirm)["runs"], build(study)["runs"]
    own = {run for sweep in ("controls", "k1_params") for _, run in build(confirm)["sweeps"][sweep]}
    own |= set(build(confirm)["grid"])
    assert len(own) == 60
    for run in own:
        key = (run.task, run.variant, run.settings, run.seed)
        assert study_runs[key].run_dir == run.run_dir
        assert trainer_command(study_runs[key], study) == trainer_command(confirm_runs[key], confirm)


def fake_runs(values: dict[str, list[float]], task: str = "T") -> pd.DataFrame:
    rows = [{"task": task, "arm": arm, "seed": seed, "diverged": False, "intent_explained": value,
             "auc": value, "return_mean": value}
            for arm, by_seed in values.items() for seed, value in enumerate(by_seed, start=1) if not math.isnan(value)]
    return pd.DataFrame(rows)


def fake_arms(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame([{"arm": arm, "kind": kind, "model": model, "corrections": corrections, "planned": planned,
                          "settings": settings_id(model)}
                         for arm, kind, model, corrections, planned in rows])


ARMS = fake_arms([(BASELINE, BASELINE, {}, [], 4), ("oracle", "control", {"model.router": "oracle"}, [], 4),
                  ("memory router", "control", {"model.router_memory": "previous_alpha"}, [], 4),
                  ("temporal+memory", "fix", {"model.router_memory": "previous_alpha"}, ["temporal"], 4),
                  ("hard routing", "fix", {"model.routing": "hard"}, [], 4),
                  ("hard routing+balance", "fix", {"model.routing": "hard"}, ["balance"], 4),
                  ("entropy_min+balance", "fix", {}, ["entropy_min", "balance"], 4)])


def test_a_fix_is_set_against_the_arm_it_adds_corrections_to():
    assert references(ARMS) == {"temporal+memory": "memory router", "hard routing+balance": "hard routing"}


def test_effects_pair_by_seed_and_holm_adjusts_the_fixes_alone():
    nan = math.nan
    runs = fake_runs({BASELINE: [0.1, 0.2, 0.3, 0.4], "oracle": [0.9, 0.8, 0.95, 0.85],
                      "memory router": [0.2, 0.2, 0.3, 0.5], "temporal+memory": [0.3, 0.25, 0.45, 0.5],
                      "hard routing": [0.1, 0.3, 0.2, 0.4], "hard routing+balance": [0.2, 0.1, 0.6, nan],
                      "entropy_min+balance": [0.5, 0.6, 0.6, 0.8]})
    table = effects(runs, ARMS)
    returns = table[table["measure"] == "final return"].set_index(["arm", "against"])
    baseline = [0.1, 0.2, 0.3, 0.4]
    # Seed 4 of hard routing+balance did not finish: its pairs are seeds 1-3, by seed, not by position.
    row = returns.loc[("hard routing+balance", BASELINE)]
    assert row["pairs"] == 3
    assert row["difference"] == pytest.approx((0.1 - 0.1 + 0.3) / 3)
    assert row["p"] == pytest.approx(scipy_stats.ttest_rel([0.2, 0.1, 0.6], baseline[:3]).pvalue)
    secondary = returns.loc[("temporal+memory", "memory router")]
    assert secondary["family"] == "secondary" and math.isnan(secondary["p_holm"])
    assert secondary["p"] == pytest.approx(scipy_stats.ttest_rel([0.3, 0.25, 0.45, 0.5], [0.2, 0.2, 0.3, 0.5]).pvalue)
    assert returns.loc[("oracle", BASELINE), "family"] == "control"
    assert math.isnan(returns.loc[("oracle", BASELINE), "p_holm"])
    primary = returns[returns["family"] == "primary"]
    assert len(primary) == 4  # the four fixes against the baseline, and no control in their family
    assert primary["p_holm"].to_numpy() == pytest.approx(holm(primary["p"].to_numpy()), nan_ok=True)
    assert (primary["p_holm"] >= primary["p"]).all()
    # Every arm but the baseline and the oracle itself is also set against the oracle, by seed and outside
    # the Holm family, on the AUC and the final return (the oracle's intent explained is 1 by construction).
    assert set(table.loc[table["family"] == "gap", "measure"]) == {"AUC", "final return"}
    gap = returns[returns["family"] == "gap"]
    assert sorted(gap.index) == sorted((arm, "oracle") for arm in ("memory router", "temporal+memory", "hard routing",
                                                                   "hard routing+balance", "entropy_min+balance"))
    assert gap.loc[("memory router", "oracle"), "difference"] == pytest.approx(
        ((0.2 - 0.9) + (0.2 - 0.8) + (0.3 - 0.95) + (0.5 - 0.85)) / 4)
    assert gap.loc[("entropy_min+balance", "oracle"), "difference"] == pytest.approx(
        ((0.5 - 0.9) + (0.6 - 0.8) + (0.6 - 0.95) + (0.8 - 0.85)) / 4)
    assert gap.loc[("hard routing+balance", "oracle"), "pairs"] == 3
    assert gap["p_holm"].isna().all()


def test_the_oracle_the_arms_are_set_against_is_the_noiseless_one(monkeypatch):
    noisy = fake_arms([("oracle p=0.219", "control", {"model.router": "oracle", "model.oracle_noise": "0.21875"},
                        [], 4)])
    assert oracle_arm(pd.concat([ARMS, noisy], ignore_index=True)) == "oracle"
    assert oracle_arm(pd.concat([ARMS[ARMS["arm"] != "oracle"], noisy], ignore_index=True)) is None
    twice = fake_arms([("oracle again", "control", {"model.router": "oracle"}, [], 4)])
    with pytest.raises(ValueError, match="oracle, oracle again"):
        oracle_arm(pd.concat([ARMS, twice], ignore_index=True))
    # The study's own configs, through the settings ids the plan writes: the conflict setting's oracle is found,
    # the basin test runs none.
    monkeypatch.chdir(ROOT)
    for config_file, expected in zip(STUDY_CONFIGS, ["oracle", None], strict=True):
        config = load_config([ROOT / config_file], repo=ROOT)
        cells = [run for name in own_sweeps(config_file) for run in sweep_runs(config, name)]
        assert oracle_arm(arm_table(config_file, config, cells)) == expected, config_file


def test_power_is_stated_for_the_planned_and_the_finished_seeds():
    runs = fake_runs({BASELINE: [0.1, 0.2, 0.3, 0.4], "hard routing": [0.1, 0.3, 0.2, 0.4],
                      "hard routing+balance": [0.2, 0.1, 0.6, math.nan], "entropy_min+balance": [0.5, 0.6, 0.6, 0.8],
                      "temporal+memory": [0.3, 0.25, 0.45, 0.5]})
    text = power_text(ARMS, runs)
    assert f"planned 4 seeds a paired effect of {detectable_effect(4, 4):.2f}" in text
    assert f"3 seeds a paired effect of {detectable_effect(3, 4):.2f}" in text
    # A fix cell with no finished run yet: nothing can be tested on the finished seeds.
    text = power_text(ARMS, runs[runs["arm"] != "hard routing"])
    assert "finished (fewest of any fix cell) 0 seeds no effect can be tested" in text


def test_each_fix_carries_the_dose_grids_choice_and_whether_any_dose_passed(tmp_path):
    chosen = tmp_path / "dose_chosen.csv"
    pd.DataFrame([["entropy_min", "entropy_min", "0.01", "none passed: every dose 0.01 collapses"],
                  ["entropy_min+balance", "balance", "0.01", "highest intent explained (0.007; best 0.021)"],
                  ["temporal", "temporal", "0.01", "highest intent explained (0.024; best 0.024)"]],
                 columns=["fix", "term", "chosen_dose", "why"]).to_csv(chosen, index=False)
    notes = dose_notes(ARMS, chosen)
    assert notes["entropy_min+balance"] == "entropy_min 0.01 (none passed); balance 0.01 (passed)"
    assert notes["hard routing+balance"] == "balance 0.01 (passed, dosed as entropy_min+balance)"
    assert notes["temporal+memory"] == "temporal 0.01 (passed)"
    assert notes["hard routing"] == "no dose"
    assert "oracle" not in notes and dose_notes(ARMS, tmp_path / "absent.csv") == {}


def test_an_arm_label_names_one_setting():
    cells = [{"setting": "k1_params", "sweep": "a", "settings": "model.hidden=68,model.num_experts=1",
              "variant": "baseline", "seed": 1},
             {"setting": "k1_params", "sweep": "b", "settings": "model.hidden=82,model.num_experts=1",
              "variant": "baseline", "seed": 1}]
    with pytest.raises(ValueError, match="'k1_params' names two settings"):
        arm_table("grid.yaml", {}, cells)


def test_the_basin_report_reads_every_arm_and_the_hand_over(tmp_path, monkeypatch):
    """A fake basin grid, three seeds: every arm in the cells table, fixes in the primary family, the AUC after
    the first phase, and the hand-over read from the fit phase's last rows."""
    from moe.analysis.study_v3 import main
    from moe.plan import grid_report_arguments

    grid = yaml.safe_load((ROOT / "workflow/config/study_v3_basin.yaml").read_text())
    grid.update(seeds=[4, 5, 6], runs_dir=str(tmp_path / "runs"), report_dir=str(tmp_path / "report"))
    config_path = tmp_path / "grid.yaml"
    config_path.write_text(yaml.safe_dump(grid))
    monkeypatch.chdir(ROOT)
    _, _, cells = grid_report_arguments(["--config", str(config_path)], "test", "", "")  # the report's own cells
    labels = sorted({cell["setting"] for cell in cells})
    assert len(cells) == 2 * 3 * len(labels) == 2 * 3 * 9
    for cell in cells:
        run_dir = Path(cell["run_dir"])
        run_dir.mkdir(parents=True)
        arm = labels.index(cell["setting"])
        value = 0.5 + 0.04 * arm + 0.01 * ((cell["seed"] * 7 + arm * 3) % 5)  # the seeds' differences vary
        (run_dir / "final.json").write_text(json.dumps(
            {"status": "finished", "verdict": "specialise", "return_mean": value, "return_auc": value - 0.1,
             "return_auc_run": 0.0, "intent_explained": value / 2}))
        pd.DataFrame({"frames": [1, 2, 3, 4, 5, 6], "phase": ["oracle"] * 2 + ["fit"] * 2 + ["finetune"] * 2,
                      "return_mean": [0.1] * 6, "loss_router_label": [0, 0, 0.4, 0.2, 0, 0],
                      "router_mutual_information": [0, 0, 0.5, 0.6, 0.3, value]}).to_csv(run_dir / "metrics.csv",
                                                                                       index=False)
    assert main(["--config", str(config_path)]) == 0
    tables = tmp_path / "report/tables"
    cells_table = pd.read_csv(tables / "study_v3_cells.csv")
    assert len(cells_table) == 2 * 9 and (cells_table["seeds"] == 3).all()
    baseline_auc = cells_table.set_index(["task", "arm"]).loc[("MultiIntent-Hunt-8x8-v0", BASELINE), "auc"]
    base = labels.index("base")
    values = [0.5 + 0.04 * base + 0.01 * ((seed * 7 + base * 3) % 5) for seed in (4, 5, 6)]
    assert baseline_auc == pytest.approx(sum(values) / 3 - 0.1)  # return_auc (after the first phase), not _run
    effects_table = pd.read_csv(tables / "study_v3_effects.csv")
    primary = effects_table[effects_table["family"] == "primary"]
    assert set(primary["arm"]) == {"entropy_min+balance", "entropy_min+bias_balance", "hard routing",
                                   "hard routing+balance", "overlap (router only)", "temporal+memory"}
    assert set(effects_table.loc[effects_table["family"] == "secondary", "against"]) == {"memory router",
                                                                                         "hard routing"}
    assert set(effects_table["family"]) == {"primary", "secondary", "control"}  # no oracle here: no gap
    handover = pd.read_csv(tables / "study_v3_handover.csv")
    assert handover["label_loss_end_of_fit"].to_numpy() == pytest.approx(0.3)
    assert handover["intent_weight_end_of_fit"].to_numpy() == pytest.approx(math.exp(-0.3))
    assert handover["router_mi_end_of_fit"].to_numpy() == pytest.approx(0.6)
    for figure in ("study_v3_return_vs_intent.png", "study_v3_curves.png"):
        assert (tmp_path / "report/figures" / figure).stat().st_size > 0
    # The seeds no choice has seen, alone, in a directory of their own.
    assert main(["--config", str(config_path), "--seeds", "5-6"]) == 0
    subset = pd.read_csv(tmp_path / "report/seeds5-6/tables/study_v3_cells.csv")
    assert (subset["seeds"] == 2).all() and (subset["planned"] == 2).all()
    with pytest.raises(SystemExit):
        main(["--config", str(config_path), "--seeds", "five"])

"""Study v3's report (issue "Study v3"; docs/DESIGN.md, "Statistics"): per setting, does a fix make the router
commit by intent, and does committing pay?

    python -m moe.analysis.study_v3 --config workflow/config/study_v3.yaml
    python -m moe.analysis.study_v3 --config workflow/config/study_v3_basin.yaml
    python -m moe.analysis.study_v3 --config workflow/config/study_v3.yaml --seeds 14-23

(`--seeds`: those seeds alone, into `{report_dir}/seeds14-23/`: the conflict setting's seeds 4-13 also
confirmed that it qualifies, so its seeds 14-23 are the ones no choice has seen)

reads every finished run of the config's grid (its own run is the baseline) and of the sweeps the file
declares, and writes to `{report_dir}/tables/`:
- `study_v3_cells.csv`: per task and arm (a setting's label; `fix_*` sweeps are the fixes, the other sweeps
  controls), the seeds finished of those planned, the diverged, the verdicts, and the mean with its
  t-interval of each measure: `intent_explained` (the share of the intent's entropy the router's choice
  explains), the normalised area under the training curve, and the final return. The AUC is the whole
  run's (`return_auc_run`) for a run of one phase, and the part after the first phase (`return_auc`) for a
  phased run (the basin test), whose first phase routes by the oracle in every arm. A diverged run scores
  0 on both returns (it failed; dropping it would flatter its arm) and has no intent explained. A fix's
  `dose` says what the dose grid chose for each of its corrections, and whether any dose passed its rule;
- `study_v3_effects.csv`: per task, arm and measure, the mean seed-paired difference against the baseline
  with its t-interval and paired t-test p. The fixes against the baseline are the primary family, Holm-
  adjusted over the fixes per task and measure (`p_holm`); controls against the baseline are shown with
  their raw p. A fix that adds a correction to another arm of the study (temporal+memory to the memory
  router, hard routing+balance to hard routing) is also set against that arm (family `secondary`, raw p): a
  contrast that separates the correction from the model setting it rides on. Where the setting runs the
  intent oracle, every arm but the baseline and the oracle itself is also set against it (family `gap`, raw
  p, on the AUC and the final return): arm - oracle, seed-paired, below 0 by the lead the oracle keeps over
  a fix, or over a control such as the label-trained router, which must find the intent in the view;
- `study_v3.md`: both tables for reading, the power of the primary family (the smallest seed-paired effect,
  in sds of the paired differences, that the planned and the finished seeds detect with 80% power after
  Holm; `moe.analysis.stats.detectable_effect`) and, for a phased run, the hand-over (`study_v3_handover.csv`):
  the supervised router's label cross-entropy over the fit phase's last updates (exp(-CE) is the geometric
  mean weight the router gives the intent's expert on the training rollouts: near 1, the hand-over starts
  from routing by intent) and the training router mutual information at the fit phase's end and the run's.
  Whether routing by intent persists is read from the final evaluation's intent explained of each fix
  against the `kept` control (the label to the end) and the baseline (the hand-over without a fix);
and to `{report_dir}/figures/`: `study_v3_return_vs_intent.png` (final return against intent explained per
arm: the noisy oracle's levels draw what committing is worth on one curve) and `study_v3_curves.png` (the
training return and router mutual information over frames, per arm, phase ends marked).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import pandas as pd

from moe.analysis.runs import read_run
from moe.analysis.stats import detectable_effect, holm, mean_ci, t_test_p
from moe.analysis.tables import interval_cell, p_value_cell, to_markdown, verdict_cell, write_report
from moe.plan import BASE_SETTINGS, grid_report_arguments, settings_id

BASELINE = "baseline"
FIX_SWEEP_PREFIX = "fix_"
INTENT, AUC, RETURN = "intent_explained", "auc", "return_mean"
MEASURES = {INTENT: "intent explained", AUC: "AUC", RETURN: "final return"}
POWER_FAMILY_ALPHA, POWER = 0.05, 0.8
DOSE_CHOICE = Path("results/reference/dose/tables/dose_chosen.csv")
ORACLE_SETTINGS = settings_id({"model.router": "oracle"})
#: What the gap to the oracle is read on: its intent explained is 1 by construction, so that row would
#: only restate the arm's own.
GAP_MEASURES = (AUC, RETURN)


def arm_of(cell: dict) -> str:
    return BASELINE if cell["setting"] == BASE_SETTINGS else cell["setting"]


def read_cell(cell: dict) -> dict | None:
    """One run's measures, scored by the metric registry (`moe.analysis.runs.read_run`: a diverged run scores 0
    in return and has no intent explained; the verdict by today's rule); None while it has not finished. The
    AUCs are final.json's (the trainer's `sample_efficiency` of its metrics.csv)."""
    run = read_run(cell["run_dir"])
    if run["status"] not in ("finished", "diverged"):
        return None
    diverged = run["status"] == "diverged"
    final = json.loads((Path(cell["run_dir"]) / "final.json").read_text())
    phased = final.get("return_auc") is not None or (diverged and phased_run(cell["run_dir"]))
    auc = 0.0 if diverged else final["return_auc" if phased else "return_auc_run"]
    return {"task": cell["task"], "arm": arm_of(cell), "seed": int(cell["seed"]), "run_dir": cell["run_dir"],
            "verdict": run["verdict"], "diverged": diverged, "phased": phased,
            INTENT: run[INTENT], AUC: auc, RETURN: run[RETURN]}


def phased_run(run_dir: str) -> bool:
    """Whether the run's record (config.yaml) has more than one phase."""
    import yaml

    record = yaml.safe_load((Path(run_dir) / "config.yaml").read_text())
    return len(record["config"]["phases"]) > 1


def model_settings(settings: str) -> dict[str, str]:
    """The `model.*` assignments of a run's settings id (`key=value,key=value`; `base` has none)."""
    if settings == BASE_SETTINGS:
        return {}
    pairs = (item.split("=", 1) for item in settings.split(","))
    return {key: value for key, value in pairs if key.startswith("model.")}


def references(arms: pd.DataFrame) -> dict[str, str]:
    """fix -> the arm it adds corrections to: the same model settings and a strict subset of its corrections,
    the most corrections of those (the baseline is left out: every fix is set against it already)."""
    found = {}
    for fix in arms[arms["kind"] == "fix"].itertuples():
        candidates = [other for other in arms.itertuples()
                      if other.arm not in (fix.arm, BASELINE) and other.model == fix.model
                      and set(other.corrections) < set(fix.corrections)]
        if candidates:
            found[fix.arm] = max(candidates, key=lambda other: len(other.corrections)).arm
    return found


def dose_notes(arms: pd.DataFrame, chosen_path: Path = DOSE_CHOICE) -> dict[str, str]:
    """fix -> the dose grid's choice for each of its corrections, and whether any dose passed the grid's rule
    (a fix carried at "none passed" collapsed the router at every dose on the calibration seeds)."""
    if not chosen_path.is_file():
        return {}
    chosen = pd.read_csv(chosen_path, dtype={"chosen_dose": str})
    notes = {}
    for fix in arms[arms["kind"] == "fix"].itertuples():
        variant = "+".join(fix.corrections)
        parts = []
        for name in fix.corrections:
            rows = chosen[chosen["term"] == name]
            own = rows[rows["fix"] == variant]
            row = (own if len(own) else rows).iloc[0] if len(rows) else None
            if row is None:
                parts.append(f"{name}: not dosed")
                continue
            passed = "none passed" if row["why"].startswith("none passed") else "passed"
            beside = "" if row["fix"] in (variant, name) else f", dosed as {row['fix']}"
            parts.append(f"{name} {row['chosen_dose']} ({passed}{beside})")
        notes[fix.arm] = "; ".join(parts) or "no dose"
    return notes


def arm_table(config_file: str, config: dict, cells: list[dict]) -> pd.DataFrame:
    """Per arm: kind (baseline, control, fix), planned seeds, model settings and corrections."""
    rows = {}
    for cell in cells:
        arm = arm_of(cell)
        sweep = cell.get("sweep")
        kind = BASELINE if arm == BASELINE else "fix" if sweep.startswith(FIX_SWEEP_PREFIX) else "control"
        if arm in rows and rows[arm]["settings"] != cell["settings"]:
            raise ValueError(f"{config_file}: the label {arm!r} names two settings ({rows[arm]['settings']} and "
                             f"{cell['settings']}): give each arm its own label")
        corrections = [] if cell["variant"] == BASELINE else cell["variant"].split("+")
        entry = rows.setdefault(arm, {"arm": arm, "kind": kind, "settings": cell["settings"],
                                      "model": model_settings(cell["settings"]), "corrections": corrections,
                                      "planned": set()})
        entry["planned"].add(int(cell["seed"]))
    table = pd.DataFrame(rows.values())
    table["planned"] = table["planned"].map(len)
    notes = dose_notes(table)
    table["dose"] = table["arm"].map(lambda arm: notes.get(arm, ""))
    return table


def summarise_cells(runs: pd.DataFrame, arms: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for (task, arm), group in runs.groupby(["task", "arm"], sort=False):
        info = arms.set_index("arm").loc[arm]
        row = {"task": task, "arm": arm, "kind": info["kind"], "seeds": len(group), "planned": info["planned"],
               "diverged": int(group["diverged"].sum()),
               "verdicts": verdict_cell(group["verdict"].value_counts().to_dict(), len(group)),
               "dose": info["dose"]}
        for measure in MEASURES:
            row[measure], row[f"{measure}_low"], row[f"{measure}_high"] = mean_ci(group[measure], bounds=(0, 1))
        rows.append(row)
    return pd.DataFrame(rows)


def paired(runs: pd.DataFrame, task: str, arm: str, other: str, measure: str) -> pd.Series:
    """arm - other per seed, over the seeds both finished (runs of one seed share their environment seeds)."""
    values = runs[runs["task"] == task].pivot_table(index="seed", columns="arm", values=measure)
    if arm not in values or other not in values:
        return pd.Series(dtype=float)
    return (values[arm] - values[other]).dropna()


def oracle_arm(arms: pd.DataFrame) -> str | None:
    """The intent oracle's arm: the control whose one setting is routing by the true intent (a noisy oracle,
    which also sets its noise, is not it); None where the setting runs none (the basin test)."""
    found = [arm.arm for arm in arms.itertuples() if arm.kind == "control" and not arm.corrections
             and arm.settings == ORACLE_SETTINGS]
    if len(found) > 1:
        raise ValueError(f"two arms route by the intent oracle alone ({', '.join(found)}): keep one")
    return found[0] if found else None


def effects(runs: pd.DataFrame, arms: pd.DataFrame) -> pd.DataFrame:
    reference_of = references(arms)
    oracle = oracle_arm(arms)
    rows = []
    for task in dict.fromkeys(runs["task"]):
        present = set(runs.loc[runs["task"] == task, "arm"])
        for arm in arms.itertuples():
            if arm.arm == BASELINE or arm.arm not in present:
                continue
            contrasts = [(BASELINE, "primary" if arm.kind == "fix" else "control")]
            if arm.arm in reference_of and reference_of[arm.arm] in present:
                contrasts.append((reference_of[arm.arm], "secondary"))
            if oracle in present and arm.arm != oracle:
                contrasts.append((oracle, "gap"))
            for other, family in contrasts:
                for measure in GAP_MEASURES if family == "gap" else MEASURES:
                    differences = paired(runs, task, arm.arm, other, measure)
                    mean, low, high = mean_ci(differences)
                    rows.append({"task": task, "arm": arm.arm, "against": other, "family": family,
                                 "measure": MEASURES[measure], "pairs": len(differences), "difference": mean,
                                 "low": low, "high": high, "p": t_test_p(differences)})
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    table["p_holm"] = math.nan
    primary = table["family"] == "primary"
    for _, index in table[primary].groupby(["task", "measure"]).groups.items():
        table.loc[index, "p_holm"] = holm(table.loc[index, "p"])
    return table


def handover(runs: pd.DataFrame) -> pd.DataFrame:
    """For phased runs: the supervised router's label cross-entropy over the fit phase's last 4 updates and the
    weight exp(-CE) it implies on the intent's expert, and the training router mutual information at the fit
    phase's last update and at the run's last, per arm (mean over seeds)."""
    rows = []
    for run in runs[runs["phased"] & ~runs["diverged"]].itertuples():
        metrics = pd.read_csv(Path(run.run_dir) / "metrics.csv")
        fit = metrics[metrics["phase"] == "fit"]
        if fit.empty or fit["loss_router_label"].tail(4).eq(0).all():
            continue  # no router fitted to the label there (an arm whose fit phase the oracle routes)
        label_loss = fit["loss_router_label"].tail(4).mean()
        rows.append({"task": run.task, "arm": run.arm, "label_loss_end_of_fit": label_loss,
                     "intent_weight_end_of_fit": math.exp(-label_loss),
                     "router_mi_end_of_fit": fit["router_mutual_information"].iloc[-1],
                     "router_mi_end": metrics["router_mutual_information"].iloc[-1]})
    if not rows:
        return pd.DataFrame()
    return pd.DataFrame(rows).groupby(["task", "arm"], sort=False).mean().reset_index()


def power_text(arms: pd.DataFrame, runs: pd.DataFrame) -> str:
    fix_arms = arms.loc[arms["kind"] == "fix", "arm"]
    if fix_arms.empty:
        return "No fix arms: no primary family."
    planned = int(arms.loc[arms["kind"] == "fix", "planned"].min())
    counts = runs.groupby(["task", "arm"]).size()
    finished = min(int(counts.get((task, arm), 0)) for task in dict.fromkeys(runs["task"]) for arm in fix_arms)
    parts = [f"The primary family is {len(fix_arms)} fixes against the baseline per task and measure (Holm)."]
    for label, seeds in (("planned", planned), ("finished (fewest of any fix cell)", finished)):
        if seeds >= 2:
            effect = detectable_effect(seeds, len(fix_arms), POWER_FAMILY_ALPHA, POWER)
            parts.append(f"With the {label} {seeds} seeds a paired effect of {effect:.2f} sds of the paired "
                         f"differences is found with {POWER:.0%} power.")
        else:
            parts.append(f"With the {label} {seeds} seeds no effect can be tested.")
    return " ".join(parts)


def display(cells: pd.DataFrame, effects_table: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    shown = cells[["task", "arm", "kind"]].copy()
    shown["seeds"] = [f"{row.seeds}/{row.planned}" + (f" ({row.diverged} diverged)" if row.diverged else "")
                      for row in cells.itertuples()]
    shown["verdicts"] = cells["verdicts"]
    shown["dose (dose grid)"] = cells["dose"]
    for measure, name in MEASURES.items():
        shown[name] = [interval_cell(row[measure], row[f"{measure}_low"], row[f"{measure}_high"], row["seeds"])
                       for _, row in cells.iterrows()]
    effect_rows = effects_table.copy()
    if not effect_rows.empty:
        effect_rows["difference"] = [interval_cell(row.difference, row.low, row.high, row.pairs)
                                     for row in effects_table.itertuples()]
        effect_rows["p"] = effect_rows["p"].map(p_value_cell)
        effect_rows["p_holm"] = effect_rows["p_holm"].map(lambda p: "-" if math.isnan(p) else p_value_cell(p))
        effect_rows = effect_rows.drop(columns=["low", "high"])
    return shown, effect_rows


def plot_return_vs_intent(cells: pd.DataFrame, path: Path) -> None:
    from moe.analysis.plots import plt, save_figure

    tasks = list(dict.fromkeys(cells["task"]))
    figure, axes = plt.subplots(1, len(tasks), figsize=(6 * len(tasks), 4.5), squeeze=False)
    for axis, task in zip(axes[0], tasks, strict=True):
        group = cells[cells["task"] == task]
        oracle_curve = group[group["arm"].str.startswith("oracle")].sort_values(INTENT)
        axis.plot(oracle_curve[INTENT], oracle_curve[RETURN], "k--", linewidth=0.8, label="(noisy) oracle")
        for index, row in enumerate(group.itertuples()):
            marker = {"fix": "o", "control": "s", BASELINE: "D"}[row.kind]
            axis.errorbar(row.intent_explained, row.return_mean,
                          xerr=[[row.intent_explained - row.intent_explained_low],
                                [row.intent_explained_high - row.intent_explained]],
                          yerr=[[row.return_mean - row.return_mean_low], [row.return_mean_high - row.return_mean]],
                          fmt=marker, color=f"C{index % 10}", label=row.arm, capsize=2)
        axis.set_xlabel("intent explained (final evaluation)")
        axis.set_ylabel("final return")
        axis.set_title(task, fontsize=9)
        axis.legend(fontsize=6, loc="best")
    figure.suptitle("Study v3: what committing by intent is worth (mean and 95% t-interval over seeds)")
    save_figure(figure, [path])


def plot_curves(runs: pd.DataFrame, path: Path) -> None:
    from moe.analysis.plots import plt, save_figure

    tasks = list(dict.fromkeys(runs["task"]))
    figure, axes = plt.subplots(2, len(tasks), figsize=(6 * len(tasks), 7), squeeze=False)
    for column, task in enumerate(tasks):
        group = runs[(runs["task"] == task) & ~runs["diverged"]]
        phase_ends: set[float] = set()
        for index, (arm, arm_runs) in enumerate(group.groupby("arm", sort=False)):
            metrics = pd.concat([pd.read_csv(Path(run_dir) / "metrics.csv") for run_dir in arm_runs["run_dir"]])
            curve = metrics.groupby("frames")[["return_mean", "router_mutual_information"]].mean()
            for row, name in enumerate(("return_mean", "router_mutual_information")):
                axes[row][column].plot(curve.index, curve[name], color=f"C{index % 10}", label=arm, linewidth=1)
            first = metrics.drop_duplicates("phase", keep="last")
            phase_ends |= set(first["frames"].iloc[:-1])
        for row, name in enumerate(("training return", "router mutual information (nats)")):
            for end in sorted(phase_ends):
                axes[row][column].axvline(end, color="grey", linewidth=0.6, linestyle=":")
            axes[row][column].set_ylabel(name)
            axes[row][column].set_xlabel("frames")
        axes[0][column].set_title(task, fontsize=9)
    axes[0][-1].legend(fontsize=6, loc="best")
    figure.suptitle("Study v3: training curves, mean over seeds (dotted: phase ends)")
    save_figure(figure, [path])


def seed_range(text: str) -> list[int]:
    """`14-23` or `14,15,16`: the seeds a report keeps."""
    try:
        if "-" in text:
            first, last = (int(part) for part in text.split("-"))
            return list(range(first, last + 1))
        return [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a seed range such as 14-23 or a list such as 4,5") from None


def main(argv: list[str] | None = None) -> int:
    seeds_option = argparse.ArgumentParser(add_help=False)
    seeds_option.add_argument("--seeds", type=seed_range)
    known, rest = seeds_option.parse_known_args(argv)
    config_file, config, cells = grid_report_arguments(
        rest, "python -m moe.analysis.study_v3 [--seeds 14-23]", __doc__.splitlines()[0],
        "workflow/config/study_v3.yaml")
    cells = [cell for cell in cells if not known.seeds or int(cell["seed"]) in known.seeds]
    arms = arm_table(config_file, config, cells)
    rows = [row for row in map(read_cell, cells) if row is not None]
    if not rows:
        print(f"no finished runs of {config_file} yet" + (f" on seeds {known.seeds}" if known.seeds else ""),
              file=sys.stderr)
        return 1
    runs = pd.DataFrame(rows)
    cells_table = summarise_cells(runs, arms)
    effects_table = effects(runs, arms)
    handover_table = handover(runs)
    shown_cells, shown_effects = display(cells_table, effects_table)
    phased = bool(runs["phased"].any())
    text = (f"# Study v3 ({config_file}{f', seeds {known.seeds[0]}-{known.seeds[-1]} only' if known.seeds else ''})\n\n"
            f"AUC: {'after the first phase (return_auc)' if phased else 'the whole run (return_auc_run)'}. "
            "Mean [95% t-interval] over seeds; a diverged run scores 0 in return.\n\n"
            + to_markdown(shown_cells) + "\n\n## Seed-paired effects\n\n"
            "primary: a fix against the baseline, Holm over the fixes per task and measure (p_holm); control, "
            "secondary (a fix against the arm it adds corrections to) and gap (an arm against the intent oracle: "
            "below 0 by the lead the oracle keeps): raw p, unadjusted.\n\n"
            + (to_markdown(shown_effects) if not shown_effects.empty else "(no pairs yet)") + "\n\n## Power\n\n"
            + power_text(arms, runs) + "\n")
    if not handover_table.empty:
        text += ("\n## The hand-over (phased runs)\n\nThe supervised router's label loss over the fit phase's "
                 "last 4 updates, and the training router mutual information at its end and at the run's end.\n\n"
                 + to_markdown(handover_table.round(4)) + "\n")
    out = Path(config["report_dir"]) / (f"seeds{known.seeds[0]}-{known.seeds[-1]}" if known.seeds else "")
    write_report(out / "tables", "study_v3.md", text,
                 {"study_v3_cells.csv": cells_table, "study_v3_effects.csv": effects_table,
                  **({"study_v3_handover.csv": handover_table} if not handover_table.empty else {})})
    plot_return_vs_intent(cells_table, out / "figures" / "study_v3_return_vs_intent.png")
    plot_curves(runs, out / "figures" / "study_v3_curves.png")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

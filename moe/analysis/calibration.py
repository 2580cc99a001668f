"""The conflict task's calibration: the gap between routing by intent and the hedging baseline, broken down
by controls, against each knob (issue "Intents that conflict"; docs/DESIGN.md, "Remap"):

    python -m moe.analysis.calibration --config workflow/config/remap_screen.yaml

reads every finished run of a Remap calibration grid (its own run is the learned router, the baseline; its
sweeps add the controls) and writes `{report_dir}/tables/calibration.{csv,md}` and
`{report_dir}/figures/calibration_gap.png`: per setting (n intents, conflict c) and arm, the seeds, the mean
and seed sd of the final return and of the normalised area under the training curve over the whole run
(`return_auc_run`), and each arm's gap to the baseline in units of the baseline's seed sd; then, per
setting and measure, whether it qualifies for study v3 by the rule stated before the screen ran:
- the intent oracle and the label-trained router are both above the baseline by at least the yardstick:
  `QUALIFYING_SDS` seed standard deviations of the baseline's measure, and never less than `FLOOR` (a
  baseline whose seeds agree has sd 0, and a gap of nothing would clear it), and
- K = 1 told the label does not close that gap: the oracle stays above it by more than the yardstick.
A setting whose baseline has fewer than two seeds, or that lacks a control, is not judged (None). A
diverged run scores 0 on both measures: it failed, and dropping it would flatter its arm.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import gymnasium as gym
import pandas as pd

from moe.analysis.tables import to_markdown, write_report
from moe.plan import grid_report_arguments

QUALIFYING_SDS = 3.0
FLOOR = 0.05  # in the measure's units: returns and normalised AUCs lie in [0, 1]
MEASURES = {"return_auc_run": "AUC (whole run)", "return_mean": "final return"}
#: The grid's setting labels, by the arm they are; a sweep's other labels are shown as they are.
ARMS = {"base": "learned router (baseline)", "oracle": "intent oracle", "supervised": "label-trained router",
        "k1": "K = 1", "k1_label": "K = 1 told the label", "k1_params": "K = 1, as many parameters"}
BASELINE, ORACLE, SUPERVISED, K1_LABEL = (ARMS[key] for key in ("base", "oracle", "supervised", "k1_label"))


def knobs(task: str) -> tuple[int, int]:
    """(n intents, conflict) of a Remap task, from its registration."""
    kwargs = gym.spec(task).kwargs
    return int(kwargs["n_intents"]), int(kwargs["conflict"])


def arm_summary(rows: pd.DataFrame) -> pd.DataFrame:
    """Per task and arm: seeds, mean and seed sd of each measure, and the gap to the baseline in its sds."""
    summary = rows.groupby(["task", "arm"], sort=False).agg(
        seeds=("seed", "count"), **{f"{measure}_{stat}": (measure, stat) for measure in MEASURES
                                    for stat in ("mean", "std")}).reset_index()
    for measure in MEASURES:
        baseline = summary[summary["arm"] == BASELINE].set_index("task")
        gap = summary[f"{measure}_mean"] - summary["task"].map(baseline[f"{measure}_mean"])
        summary[f"{measure}_gap"] = gap
        summary[f"{measure}_gap_sds"] = gap / summary["task"].map(baseline[f"{measure}_std"])
    return summary


def qualifies(summary: pd.DataFrame) -> pd.DataFrame:
    """Per task and measure, the rule of this module's docstring, with each condition."""
    rows = []
    for task, cells in summary.groupby("task", sort=False):
        cells = cells.set_index("arm")
        judged = {BASELINE, ORACLE, SUPERVISED, K1_LABEL} <= set(cells.index) and cells.loc[BASELINE, "seeds"] >= 2
        for measure, name in MEASURES.items():
            if not judged:
                rows.append({"task": task, "measure": name, "qualifies": None})
                continue
            yardstick = max(QUALIFYING_SDS * cells.loc[BASELINE, f"{measure}_std"], FLOOR)
            oracle_gap = cells.loc[ORACLE, f"{measure}_gap"]
            supervised_gap = cells.loc[SUPERVISED, f"{measure}_gap"]
            label_shortfall = cells.loc[ORACLE, f"{measure}_mean"] - cells.loc[K1_LABEL, f"{measure}_mean"]
            conditions = {"oracle_above": oracle_gap >= yardstick, "supervised_above": supervised_gap >= yardstick,
                          "label_does_not_close": label_shortfall > yardstick}
            rows.append({"task": task, "measure": name, "yardstick": yardstick, "oracle_gap": oracle_gap,
                         "supervised_gap": supervised_gap, "oracle_minus_k1_label": label_shortfall,
                         **conditions, "qualifies": all(conditions.values())})
    return pd.DataFrame(rows)


def plot_gaps(summary: pd.DataFrame, path: Path) -> None:
    from moe.analysis.plots import plt, save_figure  # its headless backend, and one way of writing a figure

    summary = summary.assign(n=[knobs(task)[0] for task in summary["task"]],
                             c=[knobs(task)[1] for task in summary["task"]])
    arms = [arm for arm in dict.fromkeys(summary["arm"]) if arm != BASELINE]
    figure, axes = plt.subplots(len(MEASURES), 2, figsize=(10, 3.4 * len(MEASURES)), squeeze=False)
    for row, (measure, name) in enumerate(MEASURES.items()):
        for column, (knob, other) in enumerate((("n", "c"), ("c", "n"))):
            axis = axes[row][column]
            for index, arm in enumerate(arms):
                for style, (level, cells) in zip(("-", "--", ":", "-."),
                                                 summary[summary["arm"] == arm].groupby(other), strict=False):
                    cells = cells.sort_values(knob)
                    axis.plot(cells[knob], cells[f"{measure}_gap"], style, marker="o", color=f"C{index}",
                              label=f"{arm}, {other} = {level}")
            axis.axhline(0, color="grey", linewidth=0.8)
            axis.set_xlabel({"n": "intents n", "c": "conflict c (moves remapped per intent)"}[knob])
            axis.set_ylabel(f"{name}: arm - baseline")
    axes[0][1].legend(fontsize=6, loc="best")
    figure.suptitle("Remap: each control's gap to the learned router (mean over seeds)")
    save_figure(figure, [path])


def main(argv: list[str] | None = None) -> int:
    config_file, config, cells = grid_report_arguments(argv, "python -m moe.analysis.calibration",
                                                       __doc__.splitlines()[0], "workflow/config/remap_screen.yaml")
    rows = []
    for cell in cells:
        final_path = Path(cell["run_dir"]) / "final.json"
        final = json.loads(final_path.read_text()) if final_path.is_file() else {}
        if final.get("status") in ("finished", "diverged"):
            failed = final["status"] == "diverged"
            rows.append({"task": cell["task"], "arm": ARMS.get(cell["setting"], cell["setting"]),
                         "seed": cell["seed"], **{measure: 0.0 if failed else final[measure] for measure in MEASURES}})
    if not rows:
        print(f"no finished runs of {config_file} yet", file=sys.stderr)
        return 1
    summary = arm_summary(pd.DataFrame(rows))
    verdicts = qualifies(summary)
    out = Path(config["report_dir"])
    text = ("# Remap calibration\n\nPer setting and arm: seeds, mean and seed sd, and the gap to the learned "
            "router (in its seed sds).\n\n" + to_markdown(summary.round(3)) + "\n\n## Qualifies for study v3\n\n"
            + (to_markdown(verdicts.round(3)) if len(verdicts) else "(no setting has every control yet)") + "\n")
    write_report(out / "tables", "calibration.md", text,
                 {"calibration.csv": summary, "calibration_qualifies.csv": verdicts})
    plot_gaps(summary, out / "figures" / "calibration_gap.png")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

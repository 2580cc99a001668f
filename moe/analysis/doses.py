"""The dose each fix carries into study v3, chosen on the dose grid's calibration seeds by a rule fixed
before the grid finished (docs/DESIGN.md, "Choosing a dose"):

    python -m moe.analysis.doses --config workflow/config/dose_grid.yaml

reads the grid's run tables (`{report_dir}/tables/runs.csv` for the baseline, `sweep_<name>_runs.csv` for
each dose sweep) and each run's metrics.csv, and writes `{report_dir}/tables/dose_choice.{csv,md}`: per
fix, dose and task, the seeds, the mean final return and its difference from the baseline's, the mean
share of the intent explained by the router, the collapses, and the median over updates of the fix's
gradient norm at the router's logits over the policy loss's; then each fix's chosen dose, also alone in
`dose_chosen.csv`, which study v3's configs are tested against (tests/test_study_v3.py).

The rule, per fix, over the tasks of the grid:
1. a dose is out if on some task any of its seeds diverged (a fix must not break training), or at least
   `COLLAPSED_SEEDS` of its seeds collapse (one expert carries nearly everything: no routing by intent
   is left to find), or its mean final return falls more than `RETURN_HARM` below the baseline's (a
   fix must not buy commitment with return);
2. of the doses left, the one whose mean intent explained (over tasks and seeds) is highest; a dose within
   `TIE` of it and smaller is preferred (the weakest dose that does as well);
3. if no dose is left, the smallest non-zero one, marked `none passed`: study v3's report marks that fix
   with it (`moe.analysis.study_v3`, its cells' `dose`).
A dose of 0 (temporal's memory router without the term) is reported, never chosen. Doses are ordered by
value, not by where they stand in a table.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from moe.analysis.tables import to_markdown, write_report
from moe.plan import load_config, own_sweeps, sweep_entry

COLLAPSED_SEEDS = 2
RETURN_HARM = 0.05
TIE = 0.02


def dosed_term(entry: dict) -> str:
    """The correction whose coefficient a dose sweep moves: `corrections.<name>.coef`."""
    keys = [entry["key"]] if "key" in entry else [key for setting in entry["settings"].values() for key in setting]
    names = {key.split(".")[1] for key in keys if key.startswith("corrections.") and key.endswith(".coef")}
    if len(names) != 1:
        raise ValueError(f"a dose sweep moves one correction's coef; this one moves {sorted(names) or 'none'}")
    return names.pop()


def gradient_ratio(metrics: pd.DataFrame, term: str) -> float:
    """Median over updates of |grad of the term at the router's logits| / |grad of the policy loss there|;
    NaN where the term has no gradient (bias_balance moves a bias, not a loss)."""
    column = f"grad_router_{term}"
    if column not in metrics or "grad_router_policy" not in metrics:
        return math.nan
    ratio = metrics[column] / metrics["grad_router_policy"]
    ratio = ratio[np.isfinite(ratio)]
    return float(ratio.median()) if len(ratio) else math.nan


def dose_rows(sweep_runs: pd.DataFrame, term: str, read_metrics) -> pd.DataFrame:
    """One row per finished or diverged run of a dose sweep: task, dose, seed, diverged, return, intent
    explained, collapsed, gradient ratio (a diverged run's measures are NaN: it counts against its dose)."""
    ended = sweep_runs[sweep_runs["status"].isin(["finished", "diverged"])]
    finished = ended["status"] == "finished"
    return pd.DataFrame({
        "task": ended["task"], "dose": ended["setting"].astype(str), "seed": ended["seed"],
        "diverged": ~finished, "return_mean": ended["return_mean"].where(finished),
        "intent_explained": ended["intent_explained"].where(finished),
        "collapsed": finished & (ended["verdict"] == "collapse"),
        "gradient_ratio": [gradient_ratio(read_metrics(run_dir), term) if done else math.nan
                           for run_dir, done in zip(ended["run_dir"], finished, strict=True)],
    })


def summarise_doses(rows: pd.DataFrame, baseline_return: dict[str, float]) -> pd.DataFrame:
    """Per dose and task: seeds, divergences, mean return, its difference from the baseline's, mean intent
    explained, collapses, median gradient ratio."""
    missing = sorted(set(rows["task"]) - set(baseline_return))
    if missing:
        raise ValueError(f"no finished baseline run of {', '.join(missing)}: a dose's return has nothing to be "
                         "compared with")
    if "diverged" not in rows:
        rows = rows.assign(diverged=False)
    grouped = rows.groupby(["dose", "task"], sort=False)
    table = grouped.agg(seeds=("seed", "count"), diverged=("diverged", "sum"), return_mean=("return_mean", "mean"),
                        intent_explained=("intent_explained", "mean"), collapses=("collapsed", "sum"),
                        gradient_ratio=("gradient_ratio", "median")).reset_index()
    table["return_vs_baseline"] = table["return_mean"] - table["task"].map(baseline_return)
    return table


def dose_value(label: str) -> float:
    try:
        return float(label)
    except ValueError:
        raise ValueError(f"dose {label!r} is no number: a dose sweep's settings are named by their value") from None


def choose_dose(table: pd.DataFrame, tasks: list[str] | None = None, seeds: int | None = None) -> tuple[str, str]:
    """(dose, why) by the rule of this module's docstring; given the grid's `tasks` and `seeds`, a dose
    without every task at every seed is out as incomplete (a choice is made on the whole grid or not at all)."""
    doses = sorted(set(table["dose"]), key=dose_value)
    if "diverged" not in table:
        table = table.assign(diverged=0)
    excluded = {}
    for dose in doses:
        cells = table[table["dose"] == dose]
        if tasks is not None and (set(cells["task"]) != set(tasks) or (seeds and (cells["seeds"] < seeds).any())):
            excluded[dose] = "incomplete"
        elif (cells["diverged"] > 0).any():
            excluded[dose] = "diverges"
        elif (cells["collapses"] >= COLLAPSED_SEEDS).any():
            excluded[dose] = "collapses"
        elif (cells["return_vs_baseline"] < -RETURN_HARM).any():
            excluded[dose] = "costs return"
    # A dose of 0 (temporal's memory router alone) is reported beside the others, never chosen: it is no fix.
    candidates = [dose for dose in doses if dose_value(dose) != 0]
    passed = [dose for dose in candidates if dose not in excluded]
    if not passed:
        return candidates[0], "none passed: every dose " + "; ".join(f"{d} {why}" for d, why in excluded.items())
    explained = {dose: float(table.loc[table["dose"] == dose, "intent_explained"].mean()) for dose in passed}
    best = max(explained.values())
    chosen = next(dose for dose in passed if explained[dose] >= best - TIE)  # the smallest within the tie
    return chosen, f"highest intent explained ({explained[chosen]:.3f}; best {best:.3f})" + (
        f"; out: {', '.join(f'{d} ({why})' for d, why in excluded.items())}" if excluded else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m moe.analysis.doses", description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="workflow/config/dose_grid.yaml", help="the dose grid's config")
    args = parser.parse_args(argv)
    if not Path(args.config).is_file():
        parser.error(f"--config {args.config}: no such file")
    config = load_config([args.config])
    tables = Path(config["report_dir"]) / "tables"
    runs = pd.read_csv(tables / "runs.csv")
    baseline = runs[(runs["variant"] == "baseline") & (runs["status"] == "finished")]
    baseline_return = baseline.groupby("task")["return_mean"].mean().to_dict()
    summaries, choices = [], []
    for sweep in own_sweeps(args.config):
        path = tables / f"sweep_{sweep}_runs.csv"
        if not path.is_file():
            print(f"no table {path}: run the grid's sweep_{sweep} target first", file=sys.stderr)
            return 1
        term = dosed_term(sweep_entry(config, sweep))
        rows = dose_rows(pd.read_csv(path, dtype={"setting": str}), term,
                         lambda run_dir: pd.read_csv(Path(run_dir) / "metrics.csv"))
        summary = summarise_doses(rows, baseline_return)
        summary.insert(0, "fix", sweep_entry(config, sweep)["variant"])
        summaries.append(summary)
        dose, why = choose_dose(summary, [task["name"] for task in config["tasks"]], len(config["seeds"]))
        choices.append({"fix": sweep_entry(config, sweep)["variant"], "term": term, "chosen_dose": dose,
                        "why": why})
    table = pd.concat(summaries, ignore_index=True)
    shown = table.copy()
    for column in ("return_mean", "return_vs_baseline", "intent_explained", "gradient_ratio"):
        shown[column] = shown[column].map(lambda value: "-" if pd.isna(value) else f"{value:.3g}")
    text = (f"# Dose choice ({args.config})\n\nBaseline mean final return: "
            + ", ".join(f"{task} {value:.3f}" for task, value in baseline_return.items())
            + "\n\n" + to_markdown(pd.DataFrame(choices)) + "\n\n" + to_markdown(shown) + "\n")
    write_report(tables, "dose_choice.md", text,
                 {"dose_choice.csv": table, "dose_chosen.csv": pd.DataFrame(choices)})
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

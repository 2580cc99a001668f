"""A regenerated grid against the committed reference results (`results/reference/`).

Two questions, two tables:

- per run: does `final.json` hold every key of the reference's with the same value? On
  the machine type the reference was made on, the same config and seed must give the same numbers (the
  trainer is deterministic: `tests/test_train.py::test_same_seed_gives_identical_outputs`).
- per task, variant and headline metric: does the regenerated mean over seeds fall
  inside the reference's 95% interval? On another machine type numbers drift in the
  last bits and runs diverge from there, so only this statistical comparison applies.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from moe.analysis.metrics import metric
from moe.analysis.runs import collect_runs
from moe.analysis.stats import mean_ci

HEADLINE_METRICS = ["router_entropy", "marginal_router_entropy", "router_mutual_information",
                    "intent_mutual_information_normalized", "return_mean", "success_rate"]
RUN_KEYS = ["task", "variant", "settings", "seed"]


def recorded_difference(record, current, where: str = "") -> str | None:
    """The first dotted key of `record` whose value `current` does not hold, or None: every key the
    record has must be there with the same value, and what was added since the record was made (a
    statistic, a config key whose default computes what the trainer computed before) is not compared."""
    if isinstance(record, Mapping) and isinstance(current, Mapping):
        for key, value in record.items():
            if key not in current:
                return f"{where}{key}"
            difference = recorded_difference(value, current[key], f"{where}{key}.")
            if difference:
                return difference
        return None
    return None if record == current else where.rstrip(".") or "(value)"


def matches_record(mine: Mapping, record: Mapping) -> bool:
    """Every key of the recorded final.json, with the same value, in the regenerated one."""
    return recorded_difference(record, mine) is None


def in_reference(run: Mapping, runs_dir: str, reference_runs_dir: str) -> dict:
    """The same run, in the reference's directory of runs."""
    relative = Path(run["run_dir"]).relative_to(runs_dir)
    return {**run, "run_dir": str(Path(reference_runs_dir) / relative)}


def _final(run_dir: str) -> dict | None:
    try:
        return json.loads((Path(run_dir) / "final.json").read_text())
    except (OSError, ValueError):
        return None


def compare_runs(runs: Sequence[Mapping], runs_dir: str, reference_runs_dir: str) -> pd.DataFrame:
    """One row per run: whether its final.json equals the reference's (None where either is missing)."""
    rows = []
    for run in runs:
        mine, theirs = _final(run["run_dir"]), _final(in_reference(run, runs_dir, reference_runs_dir)["run_dir"])
        rows.append({**{key: run.get(key) for key in RUN_KEYS},
                     "status": (mine or {}).get("status", "missing"),
                     "reference_status": (theirs or {}).get("status", "missing"),
                     "identical": None if mine is None or theirs is None else matches_record(mine, theirs)})
    return pd.DataFrame(rows, columns=[*RUN_KEYS, "status", "reference_status", "identical"])


def compare_cells(runs: Sequence[Mapping], runs_dir: str, reference_runs_dir: str,
                  metrics: Sequence[str] = HEADLINE_METRICS) -> pd.DataFrame:
    """One row per task, variant and metric: the regenerated mean against the reference's interval."""
    mine = collect_runs(runs)
    theirs = collect_runs([in_reference(run, runs_dir, reference_runs_dir) for run in runs])
    rows = []
    for (task, variant), group in mine.groupby(["task", "variant"], sort=False):
        reference = theirs.loc[group.index]
        for name in metrics:
            mean, _, _ = mean_ci(group[name], bounds=metric(name).bounds)
            reference_mean, low, high = mean_ci(reference[name], bounds=metric(name).bounds)
            inside = None if math.isnan(mean) or math.isnan(low) else bool(low <= mean <= high)
            rows.append({"task": task, "variant": variant, "metric": name, "mean": mean,
                         "n": int(group[name].notna().sum()), "reference_mean": reference_mean,
                         "reference_ci_low": low, "reference_ci_high": high,
                         "reference_n": int(reference[name].notna().sum()), "inside": inside})
    return pd.DataFrame(rows, columns=["task", "variant", "metric", "mean", "n", "reference_mean",
                                       "reference_ci_low", "reference_ci_high", "reference_n", "inside"])


def verdict(per_run: pd.DataFrame, per_cell: pd.DataFrame) -> str:
    """Two lines a person reads first."""
    compared = per_run["identical"].dropna()
    outside = per_cell[per_cell["inside"] == False]  # noqa: E712  (None means not compared)
    lines = [f"{int(compared.sum())} of {len(compared)} runs present in both match the reference's final.json, "
             "key for key "
             f"({len(per_run) - len(compared)} missing on one side).",
             f"{len(outside)} of {int(per_cell['inside'].notna().sum())} task x variant x metric means fall outside "
             "the reference's 95% interval (for two samples of one distribution with equal seed counts about "
             "1 in 6 does, by chance: the regenerated mean has its own spread)" + (": " + "; ".join(
                 f"{row.task} {row.variant} {row.metric} {row.mean:.3f} not in "
                 f"[{row.reference_ci_low:.3f}, {row.reference_ci_high:.3f}]" for row in outside.itertuples())
                 if len(outside) else ".")]
    return "\n".join(lines) + "\n"

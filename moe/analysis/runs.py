"""Reading run directories written by the trainer (`moe-train --out DIR`)."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from pathlib import Path

import pandas as pd

#: Final metrics reported in the tables, in column order.
FINAL_METRICS = [
    "router_entropy",
    "marginal_router_entropy",
    "return_mean",
    "success_rate",
    "switch_rate",
    "intent_nmi",
]

FINISHED, DIVERGED, FAILED, MISSING = "finished", "diverged", "failed", "missing"
#: Every status a run can have; each becomes an `n_<status>` column of the tables.
STATUSES = [FINISHED, DIVERGED, FAILED, MISSING]


def _as_float(value) -> float:
    try:
        return math.nan if value is None else float(value)
    except (TypeError, ValueError):
        return math.nan


def read_run(run_dir) -> dict:
    """Status and final metrics of one run directory.

    - `missing`: no `final.json` (never ran, still running, or the trainer crashed);
    - `failed`: `final.json` is unreadable or has an unknown status;
    - `diverged` / `finished`: as the trainer reports.
    Metrics are NaN where absent or null (e.g. `intent_nmi` on a task without intent labels).
    """
    record = {"status": MISSING, "num_experts": math.nan, "frames": math.nan, "episodes": math.nan}
    record.update({metric: math.nan for metric in FINAL_METRICS})
    final_path = Path(run_dir) / "final.json"
    if not final_path.exists():
        return record
    try:
        final = json.loads(final_path.read_text())
    except (OSError, ValueError):
        record["status"] = FAILED
        return record
    if not isinstance(final, dict) or final.get("status") not in (FINISHED, DIVERGED):
        record["status"] = FAILED
        return record
    record["status"] = final["status"]
    for key in ["num_experts", "frames", "episodes", *FINAL_METRICS]:
        record[key] = _as_float(final.get(key))
    return record


def collect_runs(runs: Iterable[Mapping]) -> pd.DataFrame:
    """One row per expected run: the given identifying columns, `status`, and final metrics.

    `runs` are dicts with at least `run_dir` (e.g. from `moe.analysis.grid.train_runs`);
    every other key is kept as an identifying column. Every expected run gets a row,
    whether or not it exists, so nothing is silently dropped.
    """
    rows = [{**run, **read_run(run["run_dir"])} for run in runs]
    return pd.DataFrame(rows)

"""Reading run directories written by the trainer (`moe-train --out DIR`)."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from pathlib import Path

import pandas as pd

from moe.analysis.metrics import FINAL_JSON, VERDICTS, metric, names

FINISHED, DIVERGED, FAILED, MISSING = "finished", "diverged", "failed", "missing"
#: Every status a run can have; each becomes an `n_<status>` column of the tables.
STATUSES = [FINISHED, DIVERGED, FAILED, MISSING]
#: Facts about a run (not statistics) kept from final.json. `settled`: 1 if its last phase ended
#: because the router settled (`until_settled`), 0 if it ran to its cap, NaN without that rule;
#: `settled_update`: the update it ended at when it settled; `settled_at_minimum`: 1 if it settled at the
#: rule's `min_updates`, the earliest it could (NaN without a minimum).
RUN_FIELDS = ["num_experts", "frames", "episodes", "settled", "settled_update", "settled_at_minimum"]
#: The `verdict` column of a run that has none: its final.json predates verdicts or has null
#: (a task without intent labels).
NO_VERDICT = "n/a"
#: Every value the `verdict` column of a finished or diverged run can take, in the tables' order;
#: failed and missing runs have "" (no result).
VERDICT_COUNTS = (*VERDICTS, DIVERGED, NO_VERDICT)


def _as_float(value) -> float:
    try:
        return math.nan if value is None else float(value)
    except (TypeError, ValueError):
        return math.nan


def scored(name: str, status: str, value: float) -> float:
    """What a run counts as in statistics: its value if it finished; if it diverged,
    the metric's `diverged` score (a failure: return 0) or NaN where diverged runs are
    left out (router statistics); NaN for failed and missing runs."""
    if status == FINISHED:
        return value
    if status == DIVERGED and metric(name).diverged is not None:
        return metric(name).diverged
    return math.nan


def _verdict(final: Mapping) -> str:
    """The verdict today's rule gives the run's recorded statistics (`moe.router_statistics.verdict`),
    so that a rule changed since a run was made reaches it; n/a where the run has none."""
    from moe.router_statistics import recorded_verdict

    value = final.get("verdict")
    if value is None:
        return NO_VERDICT
    if value not in VERDICTS:
        raise ValueError(f"final.json has verdict {value!r}, not one of {', '.join(VERDICTS)}")
    return recorded_verdict(final)


def _router(run_dir: Path) -> str:
    """The run's `model.router` from its record (config.yaml), "" where it has none."""
    import yaml

    try:
        record = yaml.load((run_dir / "config.yaml").read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506
        return str(record["config"]["model"]["router"])
    except (OSError, yaml.YAMLError, KeyError, TypeError):
        return ""


def read_run(run_dir) -> dict:
    """Status and scored final metrics (every final.json metric of the registry) of one run directory.

    - `missing`: no `final.json` (never ran, still running, or the trainer crashed);
    - `failed`: `final.json` is unreadable or has an unknown status;
    - `diverged` / `finished`: as the trainer reports; a diverged run scores as `scored` says.
    Metrics are NaN where absent or null (e.g. intent statistics on a task without intent labels,
    statistics a run predates); a bool (`distinct_modal_experts`) reads as 1.0 / 0.0.
    `verdict`: the verdict of a finished run, decided anew from its recorded statistics (`n/a`
    where final.json has none or null),
    `diverged` for a diverged run, "" for a failed or missing one. `router`: the run's
    `model.router` (config.yaml), "" where there is no readable record.
    """
    metric_names = names(source=FINAL_JSON)
    record = {"status": MISSING, "verdict": "", "router": "", **dict.fromkeys(RUN_FIELDS, math.nan),
              **dict.fromkeys(metric_names, math.nan)}
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
    record["router"] = _router(Path(run_dir))
    record["verdict"] = DIVERGED if final["status"] == DIVERGED else _verdict(final)
    for key in RUN_FIELDS:
        record[key] = _as_float(final.get(key))
    for name in metric_names:
        record[name] = scored(name, record["status"], _as_float(final.get(name)))
    return record


def collect_runs(runs: Iterable[Mapping]) -> pd.DataFrame:
    """One row per expected run: the given identifying columns, `status`, and scored final metrics.

    `runs` are dicts with at least `run_dir` (e.g. from `moe.plan.train_runs`);
    every other key is kept as an identifying column. Every expected run gets a row,
    whether or not it exists, so nothing is silently dropped.
    """
    rows = [{**run, **read_run(run["run_dir"])} for run in runs]
    return pd.DataFrame(rows)

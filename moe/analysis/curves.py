"""Learning curves of finished runs, resampled onto a common frame grid per task."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from moe.analysis.runs import FINISHED

CURVE_METRICS = ["return_mean", "router_entropy"]


def resample_curve(frames: np.ndarray, values: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Linear interpolation of one run's curve at `grid`; NaN outside its measured range.

    NaN values (e.g. return before the first finished episode) are skipped, and the
    curve is not extrapolated, so a point exists only where the run measured around it.
    """
    valid = ~np.isnan(values)
    out = np.full(grid.shape, np.nan)
    if valid.sum() == 0:
        return out
    f, v = frames[valid], values[valid]
    inside = (grid >= f[0]) & (grid <= f[-1])
    out[inside] = np.interp(grid[inside], f, v)
    return out


def learning_curves(
    runs: pd.DataFrame,
    group_cols: Sequence[str] = ("task", "variant"),
    metrics: Sequence[str] = CURVE_METRICS,
    points: int = 50,
) -> pd.DataFrame:
    """Long table `[*group_cols, seed, frames, metric, value]` from finished runs' `metrics.csv`.

    Runs of a task share a grid of `points` frame counts up to the task's largest
    frame count, so seeds can be averaged point by point even if their update
    sizes differ. Diverged, failed and missing runs have no curve (the tables count them).
    """
    id_cols = [*group_cols, "seed"]
    finished = runs[runs["status"] == FINISHED]
    loaded = []
    for run in finished.itertuples(index=False):
        metrics_csv = Path(run.run_dir) / "metrics.csv"
        if metrics_csv.exists():
            loaded.append((run, pd.read_csv(metrics_csv).sort_values("frames")))
    columns = [*id_cols, "frames", "metric", "value"]
    if not loaded:
        return pd.DataFrame(columns=columns)
    max_frames: dict[str, float] = {}
    for run, metrics_df in loaded:
        max_frames[run.task] = max(max_frames.get(run.task, 0.0), float(metrics_df["frames"].max()))
    rows = []
    for run, metrics_df in loaded:
        grid = np.linspace(0.0, max_frames[run.task], points + 1)[1:]
        frames = metrics_df["frames"].to_numpy(dtype=float)
        for metric in metrics:
            if metric not in metrics_df:
                continue
            values = resample_curve(frames, metrics_df[metric].to_numpy(dtype=float), grid)
            ids = {col: getattr(run, col) for col in id_cols}
            rows.extend(
                {**ids, "frames": x, "metric": metric, "value": y}
                for x, y in zip(grid, values)
                if not np.isnan(y)
            )
    return pd.DataFrame(rows, columns=columns)


#: Per-run sample-efficiency columns added to runs.csv and summarised in the final table.
EFFICIENCY_METRICS = ["return_auc", "frames_to_threshold"]
#: Default return a run must reach for `frames_to_threshold` (config `analysis.return_threshold`).
RETURN_THRESHOLD = 0.8


def sample_efficiency(metrics_df: pd.DataFrame, threshold: float = RETURN_THRESHOLD) -> dict:
    """Area under the return curve and frames to first reach `threshold`, from one run's `metrics.csv`.

    - `return_auc`: trapezoid integral of `return_mean` over `frames` through the
      updates that measured a return (NaN rows, where no episode ended, are skipped),
      divided by the run's total frames (its last row). Frames before the first
      measured return add nothing, so with returns in [0, 1] the AUC is in [0, 1]:
      1 would be return 1 from the first frame on.
    - `frames_to_threshold`: `frames` of the first update whose `return_mean` is
      >= threshold (no interpolation); NaN if never reached.
    """
    out = {"return_auc": math.nan, "frames_to_threshold": math.nan}
    if metrics_df.empty or "return_mean" not in metrics_df:
        return out
    data = metrics_df.sort_values("frames")
    frames = data["frames"].to_numpy(dtype=float)
    values = data["return_mean"].to_numpy(dtype=float)
    total = frames[-1]
    valid = ~np.isnan(values)
    if total > 0 and valid.any():
        f, v = frames[valid], values[valid]
        out["return_auc"] = float(np.trapezoid(v, f) / total) if f.size > 1 else 0.0
    reached = np.flatnonzero(valid & (values >= threshold))
    if reached.size:
        out["frames_to_threshold"] = float(frames[reached[0]])
    return out


def add_sample_efficiency(runs: pd.DataFrame, threshold: float = RETURN_THRESHOLD) -> pd.DataFrame:
    """`runs` (one row per expected run, from `collect_runs`) with `return_auc` and
    `frames_to_threshold` from each finished run's `metrics.csv` (NaN for the others)."""
    runs = runs.copy()
    records = []
    for run in runs.itertuples(index=False):
        metrics_csv = Path(run.run_dir) / "metrics.csv"
        if run.status == FINISHED and metrics_csv.exists():
            records.append(sample_efficiency(pd.read_csv(metrics_csv), threshold))
        else:
            records.append(dict.fromkeys(EFFICIENCY_METRICS, math.nan))
    for metric in EFFICIENCY_METRICS:
        runs[metric] = [record[metric] for record in records]
    return runs

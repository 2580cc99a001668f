"""Learning curves of finished runs, resampled onto a common frame grid per task."""

from __future__ import annotations

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

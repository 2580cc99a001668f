"""Learning curves of finished runs on a common frame grid per task, and per-run sample efficiency."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from moe.analysis.metrics import LEARNING_CURVES, METRICS_CSV, NEVER, names
from moe.analysis.runs import FINISHED, scored
from moe.warmup import first_reaching

#: Learning-curve metrics: columns of metrics.csv that the registry shows as curves.
CURVE_METRICS = names(shown_in=LEARNING_CURVES)


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


def _finished_metrics(runs: pd.DataFrame) -> list[tuple]:
    """`(run, its metrics.csv in update order)` for each finished run that has one."""
    loaded = []
    for run in runs[runs["status"] == FINISHED].itertuples(index=False):
        metrics_csv = Path(run.run_dir) / "metrics.csv"
        if metrics_csv.exists():
            loaded.append((run, pd.read_csv(metrics_csv).sort_values("frames")))
    return loaded


#: The x column of curves aligned on each run's fine-tuning: frames since it began (< 0: the warm-up).
FINETUNE_FRAMES = "finetune_frames"


def aligned_grid(low: float, high: float, points: int) -> np.ndarray:
    """About `points` equal steps covering [low, high], with 0 a grid point: (high - low) /
    points apart, from the first multiple of the step at or above `low`."""
    step = (high - low) / points
    if step <= 0:
        return np.array([low])
    return step * np.arange(math.ceil(low / step - 1e-9), math.floor(high / step + 1e-9) + 1)


def learning_curves(
    runs: pd.DataFrame,
    group_cols: Sequence[str] = ("task", "variant"),
    metrics: Sequence[str] = CURVE_METRICS,
    points: int = 50,
    align: bool = False,
) -> pd.DataFrame:
    """Long table `[*group_cols, seed, frames, metric, value]` from finished runs' `metrics.csv`.

    Runs of a task share a grid of `points` frame counts up to the task's largest
    frame count, so seeds can be averaged point by point even if their update
    sizes differ. Diverged, failed and missing runs have no curve (the tables count them).

    With `align`, the whole run is aligned on its fine-tuning instead: the x column is
    `finetune_frames`, the frames since the run's warm-up ended (`warmup_end_frames`; < 0
    in the warm-up; a run with a single phase counts from its start), on a per-task grid
    of `points` equal steps through 0 that spans every run. Seeds whose warm-ups ended at
    different frames (a learned gate) are then averaged phase by phase, not frame by frame.
    """
    id_cols = [*group_cols, "seed"]
    loaded = _finished_metrics(runs)
    x_col = FINETUNE_FRAMES if align else "frames"
    columns = [*id_cols, x_col, "metric", "value"]
    if not loaded:
        return pd.DataFrame(columns=columns)
    shifted = []  # (run, its metrics, its frames on the x axis)
    for run, metrics_df in loaded:
        start = warmup_end_frames(metrics_df) if align else 0.0
        frames = metrics_df["frames"].to_numpy(dtype=float) - (0.0 if math.isnan(start) else start)
        shifted.append((run, metrics_df, frames))
    grids: dict[str, np.ndarray] = {}
    for task in dict.fromkeys(run.task for run, _, _ in shifted):
        spans = [frames for run, _, frames in shifted if run.task == task]
        if align:
            grids[task] = aligned_grid(min(f.min() for f in spans), max(f.max() for f in spans), points)
        else:
            grids[task] = np.linspace(0.0, max(0.0, *(f.max() for f in spans)), points + 1)[1:]
    rows = []
    for run, metrics_df, frames in shifted:
        grid = grids[run.task]
        for metric in metrics:
            if metric not in metrics_df:
                continue
            values = resample_curve(frames, metrics_df[metric].to_numpy(dtype=float), grid)
            ids = {col: getattr(run, col) for col in id_cols}
            rows.extend(
                {**ids, x_col: x, "metric": metric, "value": y}
                for x, y in zip(grid, values, strict=True)
                if not np.isnan(y)
            )
    return pd.DataFrame(rows, columns=columns)


def first_phase_rows(metrics_df: pd.DataFrame) -> pd.Series:
    """Which rows of a run's `metrics.csv` (in update order) belong to its first phase,
    the warm-up that every variant of a seed shares."""
    return metrics_df["phase"] == metrics_df["phase"].iloc[0]


def warmup_end_frames(metrics_df: pd.DataFrame) -> float:
    """The frames at the last update of a run's first phase (the warm-up every variant of
    the seed shares; with a learned gate it ends where that seed learned the task): where
    its fine-tuning, x = 0 of the aligned curves, begins. NaN for a run with a single phase."""
    if metrics_df.empty or "phase" not in metrics_df:
        return math.nan
    data = metrics_df.sort_values("frames")
    warmup = first_phase_rows(data)
    return math.nan if warmup.all() else float(data.loc[warmup, "frames"].iloc[-1])


def finetune_curves(
    runs: pd.DataFrame,
    group_cols: Sequence[str] = ("task", "variant"),
    metrics: Sequence[str] = CURVE_METRICS,
) -> pd.DataFrame:
    """Long table `[*group_cols, seed, finetune_frames, metric, value]`: each finished
    run's fine-tuning, aligned at its start.

    `finetune_frames` counts from the end of the run's first phase (the warm-up's last
    update is at 0, where every variant of a seed starts from the same agent), so seeds
    whose warm-ups ended at different frames (a learned gate) line up update by update
    with no resampling. A run with a single phase has no fine-tuning and no rows.
    """
    id_cols = [*group_cols, "seed"]
    rows = []
    for run, data in _finished_metrics(runs):
        start = warmup_end_frames(data)
        if math.isnan(start):
            continue
        shown = data[~first_phase_rows(data) | (data["frames"] == start)]
        ids = {col: getattr(run, col) for col in id_cols}
        for metric in metrics:
            if metric not in shown:
                continue
            rows.extend(
                {**ids, FINETUNE_FRAMES: frames - start, "metric": metric, "value": value}
                for frames, value in zip(shown["frames"].astype(float), shown[metric].astype(float), strict=True)
                if not math.isnan(value)
            )
    return pd.DataFrame(rows, columns=[*id_cols, FINETUNE_FRAMES, "metric", "value"])


#: Default return a run must reach for `frames_to_threshold` (config `analysis.return_threshold`).
RETURN_THRESHOLD = 0.8


def sample_efficiency(metrics_df: pd.DataFrame, threshold: float = RETURN_THRESHOLD) -> dict:
    """Fine-tuning return AUC and frames to the return threshold, from one run's `metrics.csv`.

    - `return_auc`: the return curve over the fine-tuning phase only (rows after the
      first phase: the warm-up is the same for every variant of a seed), as its
      trapezoid integral over `frames` divided by the frames it spans, i.e. the
      time-averaged return during fine-tuning, in [0, 1] for returns in [0, 1].
      Updates where no episode ended (NaN) are skipped; one measured update gives its
      value; a run with a single phase has no fine-tuning (NaN).
    - `return_auc_run`: the same over the whole run, warm-up included: how fast the run
      learned, normalised to [0, 1] (1: return 1 from the first update on). Where the
      warm-up is shared by every variant it dilutes their differences; where the fixes
      act from the first update it is the learning-speed measure.
    - `frames_to_threshold`: frames from the run's start to the first update where the
      trailing mean of `return_mean` over `SMOOTHING_UPDATES` updates (all measured) is
      >= threshold (`moe.warmup.first_reaching`, the rule that ends a warm-up early);
      `NEVER` (inf: censored at the budget) if it never gets there.
    """
    out = {"return_auc": math.nan, "return_auc_run": math.nan, "frames_to_threshold": math.nan}
    if metrics_df.empty or "return_mean" not in metrics_df:
        return out
    data = metrics_df.sort_values("frames")
    reached = first_reaching(data["return_mean"].tolist(), threshold)
    out["frames_to_threshold"] = float(data["frames"].iloc[reached - 1]) if reached else NEVER
    out["return_auc_run"] = _time_averaged_return(data)
    if "phase" in data:
        data = data[~first_phase_rows(data)]
    out["return_auc"] = _time_averaged_return(data)
    return out


def _time_averaged_return(rows: pd.DataFrame) -> float:
    """The trapezoid integral of `return_mean` over `frames`, divided by the frames it spans (NaN rows
    skipped; one measured row gives its value; none, NaN)."""
    measured = rows.dropna(subset=["return_mean"])
    frames = measured["frames"].to_numpy(dtype=float)
    returns = measured["return_mean"].to_numpy(dtype=float)
    if frames.size == 1:
        return float(returns[0])
    if frames.size > 1:
        return float(np.trapezoid(returns, frames) / (frames[-1] - frames[0]))
    return math.nan


def add_sample_efficiency(runs: pd.DataFrame, threshold: float = RETURN_THRESHOLD) -> pd.DataFrame:
    """`runs` (one row per expected run, from `collect_runs`) with `return_auc` and
    `frames_to_threshold`: from each finished run's `metrics.csv`, scored like every
    metric (`runs.scored`: a diverged run is a failure), NaN for failed and missing runs."""
    runs = runs.copy()
    efficiency_metrics = names(source=METRICS_CSV)
    records = []
    for run in runs.itertuples(index=False):
        metrics_csv = Path(run.run_dir) / "metrics.csv"
        values = dict.fromkeys(efficiency_metrics, math.nan)
        if run.status == FINISHED and metrics_csv.exists():
            values.update(sample_efficiency(pd.read_csv(metrics_csv), threshold))
        records.append({name: scored(name, run.status, values[name]) for name in efficiency_metrics})
    for name in efficiency_metrics:
        runs[name] = [record[name] for record in records]
    return runs

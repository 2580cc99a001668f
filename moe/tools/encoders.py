"""Which encoder? Each candidate's speed, learning point and projected grid cost.

    python -m moe.tools.encoders --configfile workflow/config/encoders.yaml

reads the baseline runs of the `encoder` sweep of that config (train them with
`snakemake sweep_encoder --cores 2 --configfile workflow/config/encoders.yaml`) and
prints, per candidate and task: frames per CPU-second (from metrics.csv's
`seconds_cpu`), the frames at which each seed's 5-update mean return first reaches
the threshold, the CPU-seconds that took, the evaluation return, and where a
`probe.json` (`python -m moe.tools.probe RUN_DIR > RUN_DIR/probe.json`) lies in the run
directory, how much of the intent a linear probe reads from the trained agent's
features. Then, per candidate, the paper grid it implies: each task's warm-up ends at
its latest learning point, every variant fine-tunes `--finetune-frames` from it, and
the CPU time is the frames over the candidate's measured rate.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from moe.analysis.curves import sample_efficiency
from moe.analysis.tables import to_markdown

UPDATE_FRAMES = 2048


def measure(run_dir: str, threshold: float = 0.8) -> dict:
    """One baseline run: speed, learning point and evaluation; NaN where it has not finished."""
    path = Path(run_dir)
    record = {"frames_per_cpu_second": math.nan, "frames_to_threshold": math.nan, "eval_return": math.nan,
              "probe_recovered_fraction": math.nan, "probe_accuracy": math.nan, "trained_frames": math.nan}
    if not (path / "metrics.csv").exists():
        return record
    metrics = pd.read_csv(path / "metrics.csv")
    record["trained_frames"] = float(metrics["frames"].iloc[-1])
    record["frames_per_cpu_second"] = float(metrics["frames"].iloc[-1] / metrics["seconds_cpu"].sum())
    record["frames_to_threshold"] = sample_efficiency(metrics, threshold)["frames_to_threshold"]
    if (path / "final.json").exists():
        record["eval_return"] = json.loads((path / "final.json").read_text()).get("return_mean") or math.nan
    if (path / "probe.json").exists() and (path / "probe.json").stat().st_size:
        probe = json.loads((path / "probe.json").read_text())
        record["probe_recovered_fraction"], record["probe_accuracy"] = probe["recovered_fraction"], probe["accuracy"]
    return record


def encoder_table(runs: list[dict], threshold: float = 0.8) -> pd.DataFrame:
    """One row per run: `setting` (the candidate), task, seed and `measure`'s columns."""
    return pd.DataFrame([{**{key: run[key] for key in ("setting", "task", "seed")},
                          **measure(run["run_dir"], threshold)} for run in runs])


def grid_cost(table: pd.DataFrame, seeds: int, variants: int, finetune_frames: int) -> pd.DataFrame:
    """Per candidate: the warm-up each task needs (its latest learning point, in whole updates), and
    the paper grid's CPU hours at the candidate's rate; inf where a seed never learned a task, NaN
    where a seed is not measured."""
    rows = []
    for setting, candidate in table.groupby("setting", sort=False):
        row, hours = {"setting": setting}, 0.0
        for task, runs in candidate.groupby("task", sort=False):
            points = runs["frames_to_threshold"]
            if points.isna().any():  # a seed not measured (yet): no warm-up can be set from it
                warmup = math.nan
            elif np.isinf(points).any():  # a seed that never reached the threshold
                warmup = math.inf
            else:
                warmup = math.ceil(points.max() / UPDATE_FRAMES) * UPDATE_FRAMES
            row[f"warmup {task}"] = warmup
            hours += seeds * (warmup + variants * finetune_frames) / runs["frames_per_cpu_second"].median() / 3600
        row["grid CPU hours"] = hours
        rows.append(row)
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    from moe import plan

    parser = argparse.ArgumentParser(prog="python -m moe.tools.encoders", description=__doc__.splitlines()[0])
    parser.add_argument("--configfile", default="workflow/config/encoders.yaml")
    parser.add_argument("--sweep", default="encoder")
    parser.add_argument("--threshold", type=float, default=0.8)
    parser.add_argument("--seeds", type=int, default=10, help="seeds of the projected paper grid")
    parser.add_argument("--variants", type=int, default=8)
    parser.add_argument("--finetune-frames", type=int, default=40960)
    args = parser.parse_args(argv)
    config = plan.load_config([args.configfile])
    config["sweeps"] = {args.sweep: config["sweeps"][args.sweep]}
    table = encoder_table(plan.sweep_runs(config, args.sweep), args.threshold)
    print(to_markdown(table.round(3)))
    print(to_markdown(grid_cost(table, args.seeds, args.variants, args.finetune_frames).round(2)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

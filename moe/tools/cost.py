"""What a grid cost: per task, frames, CPU seconds, core-seconds and peak memory of its jobs.

    python -m moe.tools.cost [--configfile FILE ...]

Three measures, because each sees a different part:

- `trainer CPU s`: the `seconds_cpu` column of the runs' `metrics.csv` (process CPU
  time of each PPO update, exact), counting a seed's shared warm-up once and each
  run's fine-tuning updates once: training only, without process start-up and the
  final evaluation;
- `job s`: the wall seconds of every warm-up and training job of the grid (not of
  its sweeps), from Snakemake's benchmark records (`s`): everything a job did, one
  core each; inflated if other work shared the cores;
- `peak RSS MB`: the largest `max_rss` of those records.

(Snakemake's own `cpu_time` column samples the process every 30 s and misses what a
job used after its last sample, most of a short fine-tuning job: it is not used.)
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from moe.analysis.curves import first_phase_rows
from moe.analysis.tables import to_markdown


def trainer_cpu(runs: Sequence[Mapping]) -> pd.DataFrame:
    """Per task: frames trained and trainer CPU seconds, each seed's warm-up counted once."""
    rows, warmups_seen = [], set()
    for run in runs:
        path = Path(run["run_dir"]) / "metrics.csv"
        if not path.exists():
            continue
        metrics = pd.read_csv(path)
        warmup = first_phase_rows(metrics)
        key = (run["task"], run["seed"], run.get("warmup_dir"))
        if key not in warmups_seen:  # the shared first phase: one job per seed
            warmups_seen.add(key)
            rows.append({"task": run["task"], "frames": int(warmup.sum()) * int(metrics["frames"].iloc[0]),
                         "seconds_cpu": float(metrics.loc[warmup, "seconds_cpu"].sum())})
        own = ~warmup
        rows.append({"task": run["task"], "frames": int(own.sum()) * int(metrics["frames"].iloc[0]),
                     "seconds_cpu": float(metrics.loc[own, "seconds_cpu"].sum())})
    table = pd.DataFrame(rows, columns=["task", "frames", "seconds_cpu"])
    return table.groupby("task", sort=False).sum().reset_index()


def benchmark_records(runs: Sequence[Mapping], benchmarks_dir: str) -> dict[str, str]:
    """`{path: task}` of the benchmark record of every job the runs need: each run's
    training job and each distinct warm-up job (the `train` and `warmup` rules' paths),
    so that the records of other runs in the same directory (a sweep's) are not counted."""
    records = {}
    for run in runs:
        task, warmup = run["task"], Path(run["warmup_dir"])  # {warmups_dir}/{task}/{signature}/seed{seed}
        records[os.path.join(benchmarks_dir, "warmup", task, warmup.parent.name, f"{warmup.name}.tsv")] = task
        records[os.path.join(benchmarks_dir, "train", task, run["variant"], run["settings"],
                             f"seed{run['seed']}.tsv")] = task
    return records


def job_records(runs: Sequence[Mapping], benchmarks_dir: str) -> pd.DataFrame:
    """Per task: jobs recorded, their wall seconds and peak RSS, from the benchmark
    records of the runs' own warm-up and training jobs (a job not run yet has none)."""
    records = benchmark_records(runs, benchmarks_dir)
    rows = []
    for task in dict.fromkeys(run["task"] for run in runs):
        paths = [path for path, owner in records.items() if owner == task and os.path.exists(path)]
        table = pd.concat([pd.read_csv(path, sep="\t") for path in paths]) if paths else pd.DataFrame()
        rows.append({"task": task, "jobs": len(paths),
                     "job_seconds": float(table["s"].sum()) if paths else 0.0,
                     "peak_rss_mb": float(table["max_rss"].max()) if paths else float("nan")})
    return pd.DataFrame(rows)


def cost_table(runs: Sequence[Mapping], benchmarks_dir: str, baseline_returns: Mapping[str, float]) -> pd.DataFrame:
    table = trainer_cpu(runs).merge(job_records(runs, benchmarks_dir), on="task", how="outer")
    table["baseline_return"] = table["task"].map(baseline_returns)
    total = table.drop(columns=["task", "baseline_return", "peak_rss_mb"]).sum()
    table = pd.concat([table, pd.DataFrame([{"task": "all", **total, "peak_rss_mb": table["peak_rss_mb"].max()}])],
                      ignore_index=True)
    table["trainer_cpu_hours"] = table["seconds_cpu"] / 3600
    table["job_core_hours"] = table["job_seconds"] / 3600
    return table


def main(argv: list[str] | None = None) -> int:
    from moe import plan
    from moe.analysis.runs import collect_runs

    parser = argparse.ArgumentParser(prog="python -m moe.tools.cost", description=__doc__.splitlines()[0])
    parser.add_argument("--configfile", nargs="*", default=[], help="merged over workflow/config/config.yaml")
    args = parser.parse_args(argv)
    config = plan.load_config(args.configfile)
    config["sweeps"] = {}
    runs = [{**run.as_row(), "warmup_dir": run.warmup_dir} for run in plan.build(config)["grid"]]
    finals = collect_runs([run for run in runs if run["variant"] == "baseline"])
    baseline = finals.groupby("task", sort=False)["return_mean"]
    table = cost_table(runs, config["benchmarks_dir"], baseline.mean().to_dict())
    table["baseline_return_min"] = table["task"].map(baseline.min().to_dict())  # every seed learned?
    print(to_markdown(table[["task", "frames", "seconds_cpu", "trainer_cpu_hours", "jobs", "job_seconds",
                             "job_core_hours", "peak_rss_mb", "baseline_return", "baseline_return_min"]].round(3)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Retrain committed runs from scratch with the settings they record, and compare.

    python -m moe.tools.reproduce RUN_DIR [RUN_DIR ...] --out DIR
    python -m moe.tools.reproduce --sample 2 --seed 20261202 --out DIR   # runs drawn from results/reference/runs

A run's `config.yaml` records its task, variant, seed, frames and the full resolved
trainer configuration; `moe-train` with exactly those (its whole first phase trained
here, not started from a shared warm-up) must give the same `eval_episode.csv`, byte
for byte, every key of its `final.json` with the same value, and every column of its
`metrics.csv` with the same digits but for the wall-clock columns, on the machine type
the run was made on (the trainer is deterministic:
tests/test_train.py::test_same_seed_gives_identical_outputs). What today's trainer
reports beyond the record (a statistic or a loss column added since) is not compared:
settings added since keep, by default, what the record's trainer computed.
Each run is retrained into `DIR/<task>/<variant>/<settings>/seed<N>/`; the exit status
is 1 if any file differs.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import yaml

from moe.analysis.reference import matches_record
from moe.train import TIMING_COLUMNS

REFERENCE_RUNS = Path("results/reference/runs")
TRAINER = (sys.executable, "-m", "moe.train")


def _metrics_columns(retrained: Path, reference: Path) -> bool:
    """The reference's columns, but for timing, with the same digits (read as text: what was written)."""
    theirs = pd.read_csv(reference, dtype=str).drop(columns=TIMING_COLUMNS, errors="ignore")
    mine = pd.read_csv(retrained, dtype=str)
    return set(theirs.columns) <= set(mine.columns) and mine[list(theirs.columns)].equals(theirs)


def _final_keys(retrained: Path, reference: Path) -> bool:
    return matches_record(json.loads(retrained.read_text()), json.loads(reference.read_text()))


#: What is compared of each file, under the name a difference is reported by: (file, same(retrained, reference)).
COMPARED = {"final.json (the reference's keys)": ("final.json", _final_keys),
            "eval_episode.csv": ("eval_episode.csv", lambda mine, theirs: mine.read_bytes() == theirs.read_bytes()),
            "metrics.csv (the reference's columns, timing aside)": ("metrics.csv", _metrics_columns)}


class ReproduceError(Exception):
    """A run directory that cannot be retrained: no readable record of its settings."""


def recorded_settings(run_dir: Path) -> tuple[dict, dict]:
    """The run's `run` (env_id, variant, seed, frames) and `config` sections of its config.yaml."""
    path = run_dir / "config.yaml"
    try:
        record = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise ReproduceError(f"{path}: cannot read the run's record ({error})") from error
    if not isinstance(record, dict) or not {"run", "config"} <= record.keys():
        raise ReproduceError(f"{path}: not a run record (needs its 'run' and 'config' sections)")
    run = record["run"]
    missing = [key for key in ("env_id", "variant", "seed", "frames") if key not in run]
    if missing:
        raise ReproduceError(f"{path}: the 'run' section lacks {', '.join(missing)}")
    return run, record["config"]


def retrain_command(run_dir: Path, out_dir: Path, trainer: Sequence[str] = TRAINER) -> list[str]:
    """The `moe-train` command that retrains the run into `out_dir/run` (its config written beside it)."""
    run, config = recorded_settings(run_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    config_path = out_dir / "recorded_config.yaml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    return [*trainer, "--env", str(run["env_id"]), "--variant", str(run["variant"]),
            "--seed", str(run["seed"]), "--frames", str(run["frames"]), "--config", str(config_path),
            "--out", str(out_dir / "run")]


def differences(reference_dir: Path, retrained_dir: Path) -> list[str]:
    """The files of the retrained run that differ from the reference's, or are missing (empty: reproduced)."""
    differing = []
    for label, (name, same) in COMPARED.items():
        mine, theirs = retrained_dir / name, reference_dir / name
        if not mine.exists() or not theirs.exists() or not same(mine, theirs):
            differing.append(label)
    return differing


def reproduce(run_dir: Path, out_dir: Path, trainer: Sequence[str] = TRAINER) -> list[str]:
    """Retrain one run into `out_dir` and return the files that differ from its own."""
    if (out_dir / "run").exists():
        raise ReproduceError(f"{out_dir / 'run'} exists: remove it or choose another --out "
                             "(the trainer would resume it instead of training from scratch)")
    command = retrain_command(run_dir, out_dir, trainer)
    with open(out_dir / "train.log", "w") as log:
        status = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT).returncode
    if status != 0:
        raise ReproduceError(f"{run_dir}: moe-train exited with status {status}; see {out_dir / 'train.log'}")
    return differences(run_dir, out_dir / "run")


def sample_runs(runs_dir: Path, count: int, seed: int) -> list[Path]:
    """`count` finished runs drawn without replacement from `runs_dir`, the same ones for the same seed."""
    finished = sorted(path.parent for path in runs_dir.glob("*/*/*/seed*/final.json"))
    if count > len(finished):
        raise ReproduceError(f"{runs_dir} holds {len(finished)} finished runs, fewer than --sample {count}")
    return random.Random(seed).sample(finished, count)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m moe.tools.reproduce", description=__doc__.splitlines()[0])
    parser.add_argument("run_dirs", nargs="*", type=Path, metavar="RUN_DIR")
    parser.add_argument("--sample", type=int, metavar="N", help="draw N runs from --runs-dir instead")
    parser.add_argument("--seed", type=int, default=0, help="seed of the draw")
    parser.add_argument("--runs-dir", type=Path, default=REFERENCE_RUNS)
    parser.add_argument("--out", type=Path, required=True, help="where the runs are retrained")
    args = parser.parse_args(argv)
    if bool(args.run_dirs) == (args.sample is not None):
        parser.error("give either RUN_DIRs or --sample N")
    try:
        run_dirs = args.run_dirs or sample_runs(args.runs_dir, args.sample, args.seed)
        failed = 0
        for run_dir in run_dirs:
            parts = run_dir.parts[-4:]  # task, variant, settings, seed<N>
            print(f"{run_dir}: retraining ...", flush=True)
            differing = reproduce(run_dir, args.out.joinpath(*parts))
            failed += bool(differing)
            print(f"{run_dir}: " + ("reproduced (final.json, eval_episode.csv and metrics.csv as recorded)"
                                    if not differing else "DIFFERS in " + ", ".join(differing)), flush=True)
    except ReproduceError as error:
        print(f"python -m moe.tools.reproduce: error: {error}", file=sys.stderr)
        return 2
    print(f"{len(run_dirs) - failed} of {len(run_dirs)} runs reproduced")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""Retrain committed runs from scratch with the settings they record, and compare.

    python -m moe.tools.reproduce RUN_DIR [RUN_DIR ...] --out DIR
    python -m moe.tools.reproduce --sample 2 --seed 20261202 --out DIR   # runs drawn from results/reference/runs

A run's `config.yaml` records its task, variant, seed, frames, the full resolved
trainer configuration, and the CPU it was trained on (`cpu_model`, `cpu_capability`:
the instruction set torch's kernels used, `torch_threads`). What a retraining can
promise depends on that CPU, so it is compared first:

- **The same CPU** (model, capability and thread count): `moe-train` with exactly the
  recorded settings (its whole first phase trained here, not started from a shared
  warm-up) must give the same `eval_episode.csv`, byte for byte, every key of its
  `final.json` with the same value, and every column of its `metrics.csv` with the
  same digits but for the wall-clock columns (the trainer is deterministic:
  tests/test_train.py::test_same_seed_gives_identical_outputs). `verdict` is compared
  as today's rule (`moe.router_statistics.verdict`) decides it from each file's own
  statistics, so a record made under an older rule still compares. What today's
  trainer reports beyond the record (a statistic or a loss column added since) is not
  compared: settings added since keep, by default, what the record's trainer computed.
- **Another CPU, or a record that does not name its CPU** (made before runs recorded
  it): float32 results round differently on another instruction path (MKL/oneDNN
  kernels), the first update's loss differs in its last digits and a run diverges from
  its record within a few updates, so its files cannot be promised. What holds across
  machines is its cell's statistics: every seed of the run's cell (the sibling
  `seed<N>` directories of the same task, variant and settings) is retrained, and no
  headline metric's mean may differ from the recorded seeds' (Welch's t-test per
  metric, Holm-adjusted over the cell's metrics at 0.05: a correctly retrained cell
  fails by chance at most 5% of the time, nominally). The run's own files are compared too,
  for information (`--exact` holds them to it as well). `--exact-only` retrains the
  runs alone and compares their files, whatever the CPU.

Each run is retrained into `DIR/<task>/<variant>/<settings>/seed<N>/run`. The exit
status is 0 if what can be promised holds (files identical on the same CPU, cell
means consistent with the record on another), 1 if not, 2 on bad input or a failed
training.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import subprocess
import sys
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from scipy import stats as scipy_stats

from moe.analysis.metrics import metric
from moe.analysis.reference import matches_record
from moe.analysis.runs import collect_runs
from moe.analysis.stats import holm, mean_ci
from moe.provenance import CPU_KEYS, cpu_identity, package_versions
from moe.router_statistics import recorded_verdict as todays_verdict
from moe.train import TIMING_COLUMNS

REFERENCE_RUNS = Path("results/reference/runs")
#: A cell differs from its record where a metric's Holm-adjusted p falls below this.
ALPHA = 0.05
TRAINER = (sys.executable, "-m", "moe.train")
#: What a cell is checked on when the CPU differs: the evaluation's return and success, the
#: router's per-step entropy, and how much of the intent its routing explains (where recorded).
CELL_METRICS = ("return_mean", "success_rate", "router_entropy", "intent_explained")


def _metrics_columns(retrained: Path, reference: Path) -> bool:
    """The reference's columns, but for timing, with the same digits (read as text: what was written)."""
    theirs = pd.read_csv(reference, dtype=str).drop(columns=TIMING_COLUMNS, errors="ignore")
    mine = pd.read_csv(retrained, dtype=str)
    return set(theirs.columns) <= set(mine.columns) and mine[list(theirs.columns)].equals(theirs)


def same_final(mine: Mapping, record: Mapping) -> bool:
    """Every key of the recorded final.json, with the same value, in the retrained one; `verdict`
    as today's rule decides it on each side (the rule may have changed since the record)."""
    mine, record = dict(mine), dict(record)
    for final in (mine, record):
        if "verdict" in final:
            final["verdict"] = todays_verdict(final)
    return matches_record(mine, record)


def _final_keys(retrained: Path, reference: Path) -> bool:
    return same_final(json.loads(retrained.read_text()), json.loads(reference.read_text()))


#: What is compared of each file, under the name a difference is reported by: (file, same(retrained, reference)).
COMPARED = {"final.json (the reference's keys)": ("final.json", _final_keys),
            "eval_episode.csv": ("eval_episode.csv", lambda mine, theirs: mine.read_bytes() == theirs.read_bytes()),
            "metrics.csv (the reference's columns, timing aside)": ("metrics.csv", _metrics_columns)}


class ReproduceError(Exception):
    """A run directory that cannot be retrained: no readable record of its settings."""


def read_record(run_dir: Path) -> dict:
    """The run's whole config.yaml, checked to have its `run` (env_id, variant, seed, frames) and `config`."""
    path = run_dir / "config.yaml"
    try:
        record = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise ReproduceError(f"{path}: cannot read the run's record ({error})") from error
    if not isinstance(record, dict) or not {"run", "config"} <= record.keys():
        raise ReproduceError(f"{path}: not a run record (needs its 'run' and 'config' sections)")
    missing = [key for key in ("env_id", "variant", "seed", "frames") if key not in record["run"]]
    if missing:
        raise ReproduceError(f"{path}: the 'run' section lacks {', '.join(missing)}")
    return record


def recorded_settings(run_dir: Path) -> tuple[dict, dict]:
    """The run's `run` (env_id, variant, seed, frames) and `config` sections of its config.yaml."""
    record = read_record(run_dir)
    return record["run"], record["config"]


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


def _refuse_existing(out_dir: Path) -> None:
    if (out_dir / "run").exists():
        raise ReproduceError(f"{out_dir / 'run'} exists: remove it or choose another --out "
                             "(the trainer would resume it instead of training from scratch)")


def retrain(run_dir: Path, out_dir: Path, trainer: Sequence[str] = TRAINER) -> Path:
    """Retrain one run into `out_dir/run` (its log in `out_dir/train.log`) and return that directory."""
    _refuse_existing(out_dir)
    command = retrain_command(run_dir, out_dir, trainer)
    with open(out_dir / "train.log", "w") as log:
        status = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT).returncode
    if status != 0:
        raise ReproduceError(f"{run_dir}: moe-train exited with status {status}; see {out_dir / 'train.log'}")
    return out_dir / "run"


def reproduce(run_dir: Path, out_dir: Path, trainer: Sequence[str] = TRAINER) -> list[str]:
    """Retrain one run into `out_dir` and return the files that differ from its own."""
    return differences(run_dir, retrain(run_dir, out_dir, trainer))


def _describe_cpu(cpu: Mapping) -> str:
    threads = cpu.get("torch_threads")
    return (f"{cpu.get('cpu_model') or 'an unnamed CPU'} ({cpu.get('cpu_capability') or 'capability unknown'}, "
            f"{threads} thread{'' if threads == 1 else 's'})")


def cpu_here(config: Mapping) -> dict:
    """This machine's CPU as a retraining of a run with `config` would record it: the trainer sets
    torch's threads from the config's `threads` before it records them."""
    here = cpu_identity()
    if isinstance(config.get("threads"), int) and config["threads"] > 0:
        here["torch_threads"] = config["threads"]
    return here


def cpu_difference(record: Mapping, here: Mapping) -> str | None:
    """Why the record's numbers cannot be promised bit for bit here; None on the same CPU (model,
    instruction set torch's kernels use, thread count)."""
    if any(record.get(key) is None for key in CPU_KEYS):
        return "the record does not name its CPU"
    if any(here.get(key) is None for key in CPU_KEYS):
        return f"it was trained on {_describe_cpu(record)}; this machine does not name its CPU"
    if any(record[key] != here[key] for key in CPU_KEYS):
        return f"it was trained on {_describe_cpu(record)}, this machine is {_describe_cpu(here)}"
    return None


def _seed_order(run_dir: Path) -> tuple:
    number = run_dir.name.removeprefix("seed")
    return (0, int(number), "") if number.isdigit() else (1, 0, run_dir.name)


def cell_of(run_dir: Path) -> list[Path]:
    """The finished runs of the run's cell: the `seed<N>` directories beside it holding a final.json,
    by seed, each checked to record the same task and variant."""
    run = read_record(run_dir)["run"]
    cell = sorted((path.parent for path in run_dir.parent.glob("seed*/final.json")), key=_seed_order)
    for sibling in cell:
        other = read_record(sibling)["run"]
        if (other["env_id"], other["variant"]) != (run["env_id"], run["variant"]):
            raise ReproduceError(f"{sibling} records {other['env_id']} {other['variant']}, not its cell's "
                                 f"{run['env_id']} {run['variant']}")
    return cell


def welch_p(recorded, retrained) -> float:
    """Two-sided p of "the two groups of seeds share their mean" (Welch's t-test, unequal variances);
    where both groups agree within themselves, 1 if they agree with each other and 0 if not; NaN with
    fewer than two seeds on a side."""
    recorded, retrained = np.asarray(recorded, dtype=float), np.asarray(retrained, dtype=float)
    recorded, retrained = recorded[~np.isnan(recorded)], retrained[~np.isnan(retrained)]
    if min(recorded.size, retrained.size) < 2:
        return math.nan
    if np.ptp(recorded) == 0 and np.ptp(retrained) == 0:
        return float(recorded[0] == retrained[0])
    with warnings.catch_warnings():  # scipy warns where one side's seeds agree: the test is exact there
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(scipy_stats.ttest_ind(recorded, retrained, equal_var=False).pvalue)


def check_cell(recorded: Sequence[Path], retrained: Sequence[Path],
               metrics: Sequence[str] = CELL_METRICS) -> pd.DataFrame:
    """One row per metric: the recorded and the retrained seeds' means with their 95% intervals
    (`mean_ci`), Welch's p of equal means (`welch_p`), Holm-adjusted over the cell's tested metrics
    (`p_holm`), and `outcome`:

    - `consistent` (p_holm >= 0.05) or `differs`: with Holm, a correctly retrained cell is called
      `differs` on some metric at most 5% of the time, whatever the number of metrics;
    - `missing here`: recorded, but no retrained run has a value (a failure);
    - `not recorded`, `no test` (fewer than two seeds on a side): nothing to check.
    """
    mine, theirs = collect_runs([{"run_dir": str(path)} for path in retrained]), \
        collect_runs([{"run_dir": str(path)} for path in recorded])
    rows = []
    for name in metrics:
        bounds = metric(name).bounds
        row = {"metric": name}
        for side, runs in (("recorded", theirs), ("retrained", mine)):
            values = runs[name].dropna() if name in runs else pd.Series(dtype=float)
            row[f"{side}_n"] = len(values)
            row[f"{side}_mean"], row[f"{side}_ci_low"], row[f"{side}_ci_high"] = mean_ci(values, bounds=bounds)
        row["p"] = welch_p(theirs[name] if name in theirs else [], mine[name] if name in mine else [])
        rows.append(row)
    table = pd.DataFrame(rows)
    tested = table["p"].notna()
    table["p_holm"] = math.nan
    if tested.any():
        table.loc[tested, "p_holm"] = holm(table.loc[tested, "p"].to_numpy())
    outcomes = []
    for row in table.itertuples():
        if row.recorded_n == 0:
            outcomes.append("not recorded")
        elif row.retrained_n == 0:
            outcomes.append("missing here")
        elif math.isnan(row.p):
            outcomes.append("no test")
        else:
            outcomes.append("consistent" if row.p_holm >= ALPHA else "differs")
    return table.assign(outcome=outcomes)


def cell_holds(table: pd.DataFrame) -> bool:
    """What can be promised on another CPU: no metric differs or is missing, and at least one is tested."""
    return (table["outcome"] == "consistent").any() and not table["outcome"].isin(["differs", "missing here"]).any()


def _interval(low: float, high: float) -> str:
    if math.isnan(low):
        return "no interval"
    return "seeds agree" if low == high else f"[{low:.4f}, {high:.4f}]"


def cell_report(table: pd.DataFrame) -> list[str]:
    """A line per metric: both sides' means [intervals], Welch's p (Holm) and the outcome."""
    lines = []
    for row in table.itertuples():
        if row.outcome == "not recorded":
            lines.append(f"  {row.metric}: not recorded")
            continue
        test = "" if math.isnan(row.p) else f", p = {row.p:.3f} (Holm {row.p_holm:.3f})"
        lines.append(f"  {row.metric}: recorded {row.recorded_mean:.4f} "
                     f"{_interval(row.recorded_ci_low, row.recorded_ci_high)} ({row.recorded_n} seeds), "
                     f"retrained {row.retrained_mean:.4f} {_interval(row.retrained_ci_low, row.retrained_ci_high)} "
                     f"({row.retrained_n} seeds){test}: {row.outcome}")
    return lines


def sample_runs(runs_dir: Path, count: int, seed: int) -> list[Path]:
    """`count` finished runs drawn without replacement from `runs_dir`, the same ones for the same seed."""
    finished = sorted(path.parent for path in runs_dir.glob("*/*/*/seed*/final.json"))
    if count > len(finished):
        raise ReproduceError(f"{runs_dir} holds {len(finished)} finished runs, fewer than --sample {count}")
    return random.Random(seed).sample(finished, count)


def _frames(run_dir: Path) -> int:
    """The frames the run trained (final.json's count: a warm-up gated on learning runs longer than
    asked), or the frames it asked for."""
    try:
        return int(json.loads((run_dir / "final.json").read_text())["frames"])
    except (OSError, ValueError, KeyError, TypeError):
        return int(read_record(run_dir)["run"]["frames"])


def _seeds(cell: Sequence[Path]) -> str:
    return ", ".join(path.name.removeprefix("seed") for path in cell)


def main(argv: list[str] | None = None, trainer: Sequence[str] = TRAINER) -> int:
    parser = argparse.ArgumentParser(prog="python -m moe.tools.reproduce", description=__doc__.splitlines()[0])
    parser.add_argument("run_dirs", nargs="*", type=Path, metavar="RUN_DIR")
    parser.add_argument("--sample", type=int, metavar="N", help="draw N runs from --runs-dir instead")
    parser.add_argument("--seed", type=int, default=0, help="seed of the draw")
    parser.add_argument("--runs-dir", type=Path, default=REFERENCE_RUNS)
    parser.add_argument("--out", type=Path, required=True, help="where the runs are retrained")
    parser.add_argument("--exact", action="store_true",
                        help="hold each run to identical files whatever the CPU (on another CPU its cell is "
                             "still checked as well)")
    parser.add_argument("--exact-only", action="store_true",
                        help="retrain only the runs themselves, never their cells, and compare their files "
                             "exactly whatever the CPU")
    args = parser.parse_args(argv)
    if bool(args.run_dirs) == (args.sample is not None):
        parser.error("give either RUN_DIRs or --sample N")

    def out_dir(run_dir: Path) -> Path:
        return args.out.joinpath(*run_dir.parts[-4:])  # task, variant, settings, seed<N>

    try:
        run_dirs = args.run_dirs or sample_runs(args.runs_dir, args.sample, args.seed)
        # Decide, before anything trains, what each run is compared by and say why.
        held_exact, cells, unchecked = [], {}, []  # cells: the cell's directory -> its finished runs
        to_train: dict[Path, None] = {}
        for run_dir in run_dirs:
            record = read_record(run_dir)
            reason = cpu_difference(record, cpu_here(record["config"]))
            recorded_torch, torch_here = (record.get("versions") or {}).get("torch"), package_versions()["torch"]
            if recorded_torch and recorded_torch != torch_here:
                print(f"{run_dir}: note: made with torch {recorded_torch}, this machine has torch {torch_here}, "
                      "whose kernels may round differently")
            if reason is None:
                print(f"{run_dir}: made on this CPU, {_describe_cpu(record)}: its files must be identical")
            elif args.exact_only:
                print(f"{run_dir}: {reason}. Its files are compared exactly all the same (--exact-only): "
                      "on another CPU they are not expected to match, so a difference need not be a fault")
            else:
                cell = cells.get(run_dir.parent) or cell_of(run_dir)
                print(f"{run_dir}: {reason}. A run's files are identical only on the CPU it was made on "
                      "(elsewhere float32 rounds differently and the run drifts from its record within a few "
                      "updates), so they cannot be promised here. Checked instead, as what holds across "
                      f"machines: its cell (seeds {_seeds(cell)}) retrained here, no headline mean differing "
                      "from the recorded one (Welch's test, Holm over the metrics)")
                if len(cell) < 2:
                    print(f"{run_dir}: its cell has {len(cell)} finished seed{'' if len(cell) == 1 else 's'}: "
                          "no interval to check against, so it cannot be checked here (--exact-only compares "
                          "its files anyway)")
                    unchecked.append(run_dir)
                else:
                    cells[run_dir.parent] = cell
                    to_train.update(dict.fromkeys(cell))
            if reason is None or args.exact_only or args.exact:
                held_exact.append(run_dir)
            if reason is None or run_dir.parent in cells or run_dir in held_exact:
                to_train[run_dir] = None
        for run_dir in to_train:
            _refuse_existing(out_dir(run_dir))
        print(f"to train: {len(to_train)} run{'' if len(to_train) == 1 else 's'}, "
              f"{sum(_frames(run_dir) for run_dir in to_train):,} frames in all", flush=True)

        for index, run_dir in enumerate(to_train, 1):
            print(f"{run_dir}: retraining ({index} of {len(to_train)}) ...", flush=True)
            retrain(run_dir, out_dir(run_dir), trainer)

        failed = 0
        for run_dir in run_dirs:
            if run_dir not in to_train:
                continue
            differing = differences(run_dir, out_dir(run_dir) / "run")
            held = run_dir in held_exact
            failed += bool(differing) and held
            print(f"{run_dir}: " + ("reproduced (final.json, eval_episode.csv and metrics.csv as recorded)"
                                    if not differing else "DIFFERS in " + ", ".join(differing)
                                    + ("" if held else " (not promised on another CPU)")), flush=True)
        failed_cells = 0
        for cell_dir, cell in cells.items():
            table = check_cell(cell, [out_dir(run_dir) / "run" for run_dir in cell])
            holds = cell_holds(table)
            failed_cells += not holds
            print(f"{cell_dir} (seeds {_seeds(cell)}): the retrained cell's means "
                  + ("are consistent with the recorded ones" if holds else "DIFFER from the recorded ones"),
                  flush=True)
            print("\n".join(cell_report(table)), flush=True)
    except ReproduceError as error:
        print(f"python -m moe.tools.reproduce: error: {error}", file=sys.stderr)
        return 2
    if held_exact:
        print(f"{len(held_exact) - failed} of {len(held_exact)} runs reproduced")
    if cells:
        print(f"{len(cells) - failed_cells} of {len(cells)} cells hold on this CPU (no headline mean differs from "
              "the recorded one: Welch's t-test, Holm-adjusted over the cell's metrics at 0.05, so a correctly "
              "retrained cell fails by chance at most 5% of the time, nominally)")
    if unchecked:
        print(f"{len(unchecked)} run{'' if len(unchecked) == 1 else 's'} could not be checked on this CPU")
    return 1 if failed or failed_cells or unchecked else 0


if __name__ == "__main__":
    sys.exit(main())

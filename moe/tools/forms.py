"""Cost of each arm of a grid config against the heads form: `python -m moe.tools.forms` (`--help`).

For each arm of the grid (its own settings, and each setting of its sweeps), and for a reference in the
benchmark's heads form (`model.experts: heads`, the CNN encoder, K = 3, the default widths) trained with
the grid's PPO settings (its critic in the loss: it shares the heads' first layer), trains `--updates` + 1
updates with `moe-train` in its own subprocess and reads the CPU seconds of each update after the first
from its metrics.csv (`seconds_cpu`: process CPU time, so a busy machine slows the wall clock more than
this). Rounds alternate the arms and repeat `--repeats` times. Prints, per arm: CPU seconds per update and
frames per CPU second (medians over all timed updates), the ratio to the heads form's frames per CPU
second, the parameter count, and what the grid's runs of that arm cost (updates per run x seeds x CPU
seconds per update).
"""

from __future__ import annotations

import argparse
import math
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd
import yaml

from envs import intents_of
from moe.config import resolve
from moe.environments import make_env
from moe.tools.params import parameter_count

#: The heads form under the grid's PPO settings, but for the critic fitted apart, which needs a network of its own.
HEADS_REFERENCE = {"model.experts": "heads", "model.encoder": "cnn", "model.num_experts": 3, "model.hidden": 64,
                   "model.router": "learned", "model.orthogonal": False, "model.task_heads": False,
                   "critic_full_batch_steps": 0}


def arms(grid: dict) -> dict[str, dict]:
    """Each arm's --set assignments: the grid's trainer.set, then the task's, then the arm's own."""
    base = {**grid.get("trainer", {}).get("set", {}), **grid["tasks"][0].get("set", {})}
    found = {"heads_reference": {**base, **HEADS_REFERENCE}, "base": dict(base)}
    for sweep, entry in grid.get("sweeps", {}).items():
        if "settings" in entry:
            found.update({label: {**base, **overrides} for label, overrides in entry["settings"].items()})
        else:
            found.update({f"{sweep}={value}": {**base, entry["key"]: value} for value in entry["values"]})
    return found


def assignments(settings: dict) -> list[str]:
    return [f"{key}={'null' if value is None else value}" for key, value in settings.items()]


def arm_parameters(settings: dict, env_id: str) -> int:
    config = resolve(None, assignments(settings))
    env = make_env(env_id)
    return parameter_count(config["model"], int(env.action_space.n), env.observation_space["image"].shape[0],
                           len(intents_of(env_id) or ()))


def measure(settings: dict, env_id: str, updates: int, seed: int) -> list[float]:
    """CPU seconds of each timed update of one fresh run."""
    config = resolve(None, assignments(settings))
    frames = (updates + 1) * config["num_envs"] * config["rollout_steps"]
    with tempfile.TemporaryDirectory() as out:
        command = [sys.executable, "-m", "moe.train", "--env", env_id, "--seed", str(seed), "--frames", str(frames),
                   "--out", out, *[part for assignment in assignments({**settings, "eval.episodes": 3})
                                   for part in ("--set", assignment)]]
        subprocess.run(command, check=True, capture_output=True, text=True)
        return pd.read_csv(Path(out) / "metrics.csv")["seconds_cpu"].iloc[1:].tolist()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m moe.tools.forms", description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--grid", default="workflow/config/moore_mt3.yaml", help="a workflow grid config")
    parser.add_argument("--updates", type=int, default=2, help="timed updates per repeat (after one untimed)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    grid_path = Path(args.grid)
    if not grid_path.is_file():
        parser.error(f"--grid {grid_path}: no such file")
    grid = yaml.safe_load(grid_path.read_text())  # its own sweeps only, not those of the config it extends
    env_id = grid["tasks"][0]["name"]
    every_arm = arms(grid)
    seconds: dict[str, list[float]] = {name: [] for name in every_arm}
    for repeat in range(args.repeats):
        for name, settings in every_arm.items():
            seconds[name].extend(measure(settings, env_id, args.updates, args.seed + repeat))
            print(f"round {repeat + 1}/{args.repeats} {name}: {statistics.median(seconds[name]):.2f} CPU s/update",
                  file=sys.stderr)
    reference = resolve(None, assignments(every_arm["base"]))
    frames_per_update = reference["num_envs"] * reference["rollout_steps"]
    updates_per_run = math.ceil(grid["tasks"][0]["frames"] / frames_per_update)
    seeds = len(grid["seeds"])
    heads = frames_per_update / statistics.median(seconds["heads_reference"])
    print(f"{env_id}: {frames_per_update} frames an update, {updates_per_run} updates a run, {seeds} seeds")
    print(f"{'arm':<24}{'CPU s/update':>13}{'frames/CPU s':>14}{'vs heads':>10}{'parameters':>12}{'grid CPU h':>12}")
    total = 0.0
    for name, settings in every_arm.items():
        per_update = statistics.median(seconds[name])
        rate = frames_per_update / per_update
        cost = 0.0 if name == "heads_reference" else per_update * updates_per_run * seeds / 3600
        total += cost
        print(f"{name:<24}{per_update:>13.2f}{rate:>14.0f}{rate / heads:>10.2f}"
              f"{arm_parameters(settings, env_id):>12,}{cost:>12.2f}")
    print(f"grid (every arm but the reference, training only): {total:.2f} CPU h")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

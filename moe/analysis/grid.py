"""The training grid and sweeps described by the workflow config.

The Snakefile and the aggregation scripts both call these, so the set of runs a
table reports on is, by construction, the set of runs the workflow trains.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping

from moe.variants import all_variants

RUNS_DIR = "results/runs"
SWEEPS_DIR = "results/sweeps"


def task_names(config: Mapping) -> list[str]:
    return [task["name"] for task in config["tasks"]]


def task_entry(config: Mapping, task: str) -> Mapping:
    for entry in config["tasks"]:
        if entry["name"] == task:
            return entry
    raise KeyError(f"task {task!r} is not in the config's tasks: {', '.join(task_names(config))}")


def variants(config: Mapping) -> list[str]:
    """The baseline and every combination of the configured corrections (2^n names)."""
    return all_variants(list(config["corrections"]))


def run_dir(task: str, variant: str, seed) -> str:
    return f"{RUNS_DIR}/{task}/{variant}/seed{seed}"


def train_runs(config: Mapping) -> list[dict]:
    """One dict per grid cell: task, variant, seed, run_dir; in config order."""
    return [
        {"task": task, "variant": variant, "seed": int(seed), "run_dir": run_dir(task, variant, seed)}
        for task in task_names(config)
        for variant in variants(config)
        for seed in config["seeds"]
    ]


def format_value(value) -> str:
    """A config value as it appears in a path and on the trainer's command line.

    YAML spellings, so the trainer reads back what the config says (`true`, not `True`).
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return str(value)


def trainer_overrides(config: Mapping, task: str, extra: Mapping | None = None) -> str:
    """`--set key=value ...` for one run: global overrides, then the task's, then `extra`."""
    overrides = dict(config["trainer"].get("set") or {})
    overrides.update(task_entry(config, task).get("set") or {})
    overrides.update(extra or {})
    return " ".join(
        f"--set {shlex.quote(f'{key}={format_value(value)}')}" for key, value in overrides.items()
    )


def trainer_config_arg(config: Mapping) -> str:
    path = config["trainer"].get("config") or ""
    return f"--config {shlex.quote(path)}" if path else ""


def train_runtime_min(config: Mapping, task: str) -> int:
    """Wall-time estimate for a scheduler (minutes): a fixed start-up plus frames at an assumed rate."""
    resources = config["resources"]["train"]
    frames = task_entry(config, task)["frames"]
    return int(resources["runtime_base_min"] + -(-frames // resources["frames_per_min"]))


def sweep_entry(config: Mapping, sweep: str) -> Mapping:
    try:
        return config["sweeps"][sweep]
    except KeyError:
        raise KeyError(f"sweep {sweep!r} is not in the config's sweeps: {', '.join(config['sweeps'])}") from None


def sweep_values(config: Mapping, sweep: str) -> list[str]:
    return [format_value(value) for value in sweep_entry(config, sweep)["values"]]


def sweep_dir(sweep: str, value: str, task: str, seed) -> str:
    return f"{SWEEPS_DIR}/{sweep}/{value}/{task}/seed{seed}"


def sweep_runs(config: Mapping, sweep: str) -> list[dict]:
    """One dict per sweep cell: sweep, value, task, variant, seed, run_dir.

    A sweep's `tasks` and `seeds` default (empty list) to the main grid's.
    """
    entry = sweep_entry(config, sweep)
    tasks = list(entry.get("tasks") or task_names(config))
    seeds = list(entry.get("seeds") or config["seeds"])
    return [
        {
            "sweep": sweep,
            "setting": value,
            "task": task,
            "variant": entry["variant"],
            "seed": int(seed),
            "run_dir": sweep_dir(sweep, value, task, seed),
        }
        for value in sweep_values(config, sweep)
        for task in tasks
        for seed in seeds
    ]

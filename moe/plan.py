"""The workflow's planner: the runs a workflow config describes, the grid, the sweeps and their shared warm-ups.

The Snakefile and the aggregation scripts both call these, so the set of runs a
table reports on is, by construction, the set of runs the workflow trains.

A run is named by what sets it apart: `{runs_dir}/{task}/{variant}/{settings}/seed{seed}`,
where `settings` is `base` for the grid's own settings and otherwise the sweep's
overrides that differ from them (`corrections.temporal.coef=10`). A sweep value
equal to the grid's setting is the grid's run: every run is trained once, whichever
target asks for it. Each run starts from the warm-up of its task and seed under
`{warmups_dir}/{task}/{warmup id}/seed{seed}`, shared by all runs whose first phase
is the same (`moe.warmup`).

Each trainer configuration is resolved here with the trainer's own code at parse
time, so a config the trainer would refuse stops `snakemake -n` with the key named.
"""

from __future__ import annotations

import functools
import json
import os
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from moe.variants import all_variants

BASE_SETTINGS = "base"


def load_config(configfiles=(), repo: str | Path = ".") -> dict:
    """The workflow's config as Snakemake builds it, for tools run outside Snakemake:
    `workflow/config/config.yaml` with each configfile merged over it (mappings key by
    key, lists replaced) and the schema's defaults filled in (runs_dir, warmups_dir, ...)."""
    import yaml
    from snakemake.utils import update_config, validate

    repo = Path(repo)
    config = yaml.safe_load((repo / "workflow/config/config.yaml").read_text())
    for path in configfiles:
        update_config(config, yaml.safe_load(Path(path).read_text()))
    validate(config, str((repo / "workflow/schemas/config.schema.yaml").resolve()))
    return config


class GridError(ValueError):
    """A workflow config the trainer would reject; the message names the workflow key."""


@dataclass(frozen=True)
class Run:
    task: str
    variant: str
    settings: str  # `base` or the overrides that set this run apart, as `key=value,...`
    seed: int
    run_dir: str
    warmup_dir: str
    frames: int
    overrides: dict = field(hash=False)  # every --set of the run, in the order they apply

    def as_row(self) -> dict:
        return {"task": self.task, "variant": self.variant, "settings": self.settings, "seed": self.seed,
                "run_dir": self.run_dir}


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


def format_value(value) -> str:
    """A config value as it appears in a path and on the trainer's command line.

    YAML spellings, so the trainer reads back what the config says (`true`, not `True`).
    A number is written one way however the config spells it: YAML reads `1e-4` as a
    string, the trainer as the number 0.0001, so both name the same run (`0.0001`).
    """
    if isinstance(value, str):
        from moe.config import read_yaml_scalar

        number = read_yaml_scalar(value)
        if isinstance(number, (int, float)) and not isinstance(number, bool):
            value = number
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (list, dict)):
        return json.dumps(value, separators=(",", ":"))  # JSON is YAML's flow style
    return repr(value) if isinstance(value, float) else str(value)


def settings_id(overrides: Mapping) -> str:
    return ",".join(f"{key}={format_value(value)}" for key, value in sorted(overrides.items())) or BASE_SETTINGS


def trainer_command(run: Run, config: Mapping) -> str:
    """The trainer's arguments for one run, less `--out`: `--env ... --set key=value ...`."""
    path = config["trainer"].get("config") or ""
    arguments = [f"--env {shlex.quote(run.task)} --variant {shlex.quote(run.variant)} --seed {run.seed} "
                 f"--frames {run.frames}"]
    arguments += [f"--config {shlex.quote(path)}"] if path else []
    arguments += [f"--set {shlex.quote(f'{key}={format_value(value)}')}" for key, value in run.overrides.items()]
    return " ".join(arguments)


def train_runtime_min(config: Mapping, task: str) -> int:
    """Wall-time estimate for a scheduler (minutes): a fixed start-up plus frames at an assumed rate."""
    resources = config["resources"]["train"]
    frames = task_entry(config, task)["frames"]
    return int(resources["runtime_base_min"] + -(-frames // resources["frames_per_min"]))


# --- resolving the runs ----------------------------------------------------------------


def _resolved(config: Mapping, assignments: tuple[str, ...], where: str) -> dict:
    """The trainer's config for these --set assignments; a refusal names the first assignment it refuses."""
    from moe.errors import ConfigError

    config_file = config["trainer"].get("config") or None
    try:
        return _resolve_cached(config_file, assignments)
    except ConfigError as error:
        culprit = ""
        for count in range(len(assignments) + 1):
            try:
                _resolve_cached(config_file, assignments[:count])
            except ConfigError:
                culprit = f" ({assignments[count - 1]})" if count else f" (trainer.config {config_file})"
                break
        raise GridError(f"Invalid config: key '{where}'{culprit}: the trainer refuses it: {error}") from None


@functools.cache
def _resolve_cached(config_file: str | None, assignments: tuple[str, ...]) -> dict:
    from moe.config import resolve

    return resolve(config_file, list(assignments))


def _assignments(overrides: Mapping) -> tuple[str, ...]:
    return tuple(f"{key}={format_value(value)}" for key, value in overrides.items())


#: The one phase of a grid whose fixes act from the first update (`fixes_act: from_first_update`).
FIRST_UPDATE_PHASE = "train"


def _base_overrides(config: Mapping, task_index: int) -> dict:
    """trainer.set, then the task's set, then the task's warm-up (its length, its return gate) as the first
    phase and the config's `finetune` settings (its `set`, its settle rule) as the last."""
    entry = config["tasks"][task_index]
    overrides = {**(config["trainer"].get("set") or {}), **(entry.get("set") or {})}
    length, until_return = entry.get("warmup_frames"), entry.get("warmup_until_return")
    finetune = {key: value for key, value in (config.get("finetune") or {}).items() if value}
    if config.get("fixes_act") == "from_first_update":
        if length is not None or until_return is not None:
            raise GridError(f"Invalid config: key 'tasks.{task_index}': fixes_act: from_first_update has no warm-up, "
                            "so the task can have no warmup_frames or warmup_until_return")
        if "until_settled" in finetune:
            raise GridError("Invalid config: key 'finetune.until_settled': with fixes_act: from_first_update a run "
                            "is one phase, trained to its frames (a router still learning the task would settle "
                            "at once)")
        corrections = _resolved(config, _assignments(overrides), "trainer.set")["corrections"]
        return {**overrides, "phases": [{"name": FIRST_UPDATE_PHASE, "end": 1.0, **finetune}],
                **{f"corrections.{name}.phases": [FIRST_UPDATE_PHASE] for name in corrections}}
    if length is not None and not 0 < length < entry["frames"]:
        raise GridError(f"Invalid config: key 'tasks.{task_index}.warmup_frames': {length} is not between 0 and "
                        f"the task's frames ({entry['frames']})")
    if length is not None or until_return is not None or finetune:
        where = (f"tasks.{task_index}.warmup_{'frames' if length is not None else 'until_return'}"
                 if length is not None or until_return is not None else "finetune")
        phases = [dict(phase) for phase in _resolved(config, _assignments(overrides), where)["phases"]]
        if length is not None:
            phases[0]["end"] = length / entry["frames"]
        if until_return is not None:
            phases[0]["until_return"] = until_return
        phases[-1].update(finetune)
        overrides["phases"] = phases
    return overrides


def _sweep_settings(entry: Mapping) -> dict[str, dict]:
    """label -> overrides, for a sweep of one key over values or of named sets of overrides."""
    if "settings" in entry:
        return {label: dict(overrides) for label, overrides in entry["settings"].items()}
    return {format_value(value): {entry["key"]: value} for value in entry["values"]}


def _differing(overrides: Mapping, base: dict, resolved: dict) -> dict:
    """The overrides that change the resolved config, compared key by key with the base."""
    def lookup(tree, dotted):
        for part in dotted.split("."):
            if not isinstance(tree, dict) or part not in tree:
                return object()  # a key the base lacks: always a difference
            tree = tree[part]
        return tree

    return {key: value for key, value in overrides.items() if lookup(resolved, key) != lookup(base, key)}


def _check_names(config: Mapping) -> None:
    """Task ids the trainer knows, once each; corrections and sweep variants the trainer can make."""
    from moe.environments import check_env_id
    from moe.errors import ConfigError
    from moe.variants import parse_variant

    names = task_names(config)
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise GridError(f"Invalid config: key 'tasks': duplicate task name(s) {duplicates}")
    for index, name in enumerate(names):
        try:
            check_env_id(name)
        except ConfigError as error:
            raise GridError(f"Invalid config: key 'tasks.{index}.name': {error}") from None
    known = list(_resolved(config, _assignments(config["trainer"].get("set") or {}), "trainer.set")["corrections"])
    unknown = [name for name in config["corrections"] if name not in known]
    if unknown:
        raise GridError(f"Invalid config: key 'corrections': {unknown} unknown to the trainer (it knows "
                        f"{', '.join(known)}); a new correction needs its entry in moe/corrections.py and "
                        "moe/default_config.yaml")
    if list(config["corrections"]) != [name for name in known if name in config["corrections"]]:
        raise GridError(f"Invalid config: key 'corrections': {list(config['corrections'])} must follow the "
                        f"trainer's canonical order {known}")
    from moe.analysis.metrics import METRICS

    # Effects and aggregates are means with intervals: a median metric has no place there.
    averaged = [name for name, entry in METRICS.items() if entry.summary == "mean"]
    for key in ("effect_metrics", "robust_metrics"):
        unknown = [name for name in config.get("analysis", {}).get(key, []) if name not in averaged]
        if unknown:
            raise GridError(f"Invalid config: key 'analysis.{key}': {unknown} are not averaged metrics of the "
                            f"registry (moe.analysis.metrics); known: {', '.join(averaged)}")
    for sweep, entry in config["sweeps"].items():
        try:
            parse_variant(entry["variant"], known)
        except ValueError as error:
            raise GridError(f"Invalid config: key 'sweeps.{sweep}.variant': {error}") from None
        unknown = [task for task in entry.get("tasks") or [] if task not in names]
        if unknown:
            raise GridError(f"Invalid config: key 'sweeps.{sweep}.tasks': {unknown} not in the config's tasks {names}")


def _build(config: Mapping) -> dict:
    from moe.warmup import signature_id, warmup_signature

    _check_names(config)
    runs_dir, warmups_dir = config["runs_dir"], config["warmups_dir"]
    runs: dict[tuple, Run] = {}
    grid: list[Run] = []
    sweeps: dict[str, list[tuple[str, Run]]] = {name: [] for name in config["sweeps"]}
    warmups: dict[str, Run] = {}

    def add(task_index: int, variant: str, seed: int, extra: Mapping, where: str) -> Run:
        entry = config["tasks"][task_index]
        base = _base_overrides(config, task_index)
        base_config = _resolved(config, _assignments(base), f"tasks.{task_index}.set")
        resolved = _resolved(config, _assignments({**base, **extra}), where)
        try:
            signature = warmup_signature(resolved, entry["name"], variant, int(seed), entry["frames"])
        except ValueError as error:  # a variant the trainer's corrections cannot make
            raise GridError(f"Invalid config: key '{where}': {error}") from None
        differing = _differing(extra, base_config, resolved)
        settings = settings_id(differing)
        warmup_dir = f"{warmups_dir}/{entry['name']}/{signature_id(signature)}/seed{seed}"
        run = Run(entry["name"], variant, settings, int(seed),
                  f"{runs_dir}/{entry['name']}/{variant}/{settings}/seed{seed}", warmup_dir, entry["frames"],
                  {**base, **differing})
        run = runs.setdefault((run.task, variant, settings, run.seed), run)
        warmups.setdefault(warmup_dir, run)
        return run

    for task_index in range(len(config["tasks"])):
        for variant in variants(config):
            for seed in config["seeds"]:
                grid.append(add(task_index, variant, seed, {}, "trainer.set"))
    names = task_names(config)
    for name, entry in config["sweeps"].items():
        tasks = entry.get("tasks") or names
        seeds = config["seeds"][:entry.get("num_seeds") or None]
        for label, extra in _sweep_settings(entry).items():
            for task in tasks:
                for seed in seeds:
                    run = add(names.index(task), entry["variant"], seed, extra, f"sweeps.{name}")
                    sweeps[name].append((label, run))
    for run in runs.values():
        _check_recorded(config, run)
    return {"runs": runs, "grid": grid, "sweeps": sweeps, "warmups": warmups}


def _check_recorded(config: Mapping, run: Run) -> None:
    """A run directory that already holds a run must hold this run: a second config writing into the same
    runs_dir under the same name with other settings (its own `base`) would otherwise retrain over it."""
    import yaml

    from moe.analysis.reference import recorded_difference

    path = Path(run.run_dir) / "config.yaml"
    if not path.exists():
        return
    try:
        # The C loader where there is one: every run directory is read at each parse.
        record = yaml.load(path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506
        recorded_run, recorded_config = record["run"], record["config"]
    except (OSError, yaml.YAMLError, KeyError, TypeError):
        return  # not a record the trainer wrote: the trainer itself refuses the directory, naming it
    mine = {"env_id": run.task, "variant": run.variant, "seed": run.seed, "frames": run.frames}
    difference = next((f"run.{key}" for key, value in mine.items() if recorded_run.get(key) != value), None)
    difference = difference or recorded_difference(
        recorded_config, _resolved(config, _assignments(run.overrides), "runs_dir"))
    if difference:
        raise GridError(f"Invalid config: key 'runs_dir': {run.run_dir} holds a run made with other settings "
                        f"({difference} differs); give this config its own runs_dir, or remove that run")


_BUILT: dict[str, dict] = {}


def build(config: Mapping) -> dict:
    """Every run and warm-up of the config, resolved once per config and working directory
    (a relative runs_dir is read there, `_check_recorded`)."""
    key = json.dumps([os.getcwd(), config], sort_keys=True, default=str)
    if key not in _BUILT:
        _BUILT[key] = _build(config)
    return _BUILT[key]


# --- what the rules and the analysis ask -----------------------------------------------


def train_runs(config: Mapping) -> list[dict]:
    """One dict per grid cell: task, variant, settings, seed, run_dir; in config order."""
    return [run.as_row() for run in build(config)["grid"]]


def own_sweeps(config_file: str | Path) -> list[str]:
    """The sweeps a grid config file declares itself: a file merged over config.yaml also carries its sweeps."""
    import yaml

    return list((yaml.safe_load(Path(config_file).read_text()) or {}).get("sweeps") or {})


def grid_report_arguments(argv, prog: str, description: str, default: str) -> tuple[str, dict, list[dict]]:
    """A report's command line, `--config FILE` (a grid config, merged over config.yaml): the file, its
    config, and every run of its grid (setting `base`) and of the sweeps the file declares itself, each
    with its setting's label."""
    import argparse

    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--config", default=default, help="the grid's config file")
    config_file = parser.parse_args(argv).config
    if not Path(config_file).is_file():
        parser.error(f"--config {config_file}: no such file")
    config = load_config([config_file])
    cells = [{**row, "setting": BASE_SETTINGS} for row in train_runs(config)]
    cells += [row for sweep in own_sweeps(config_file) for row in sweep_runs(config, sweep)]
    return config_file, config, cells


def sweep_entry(config: Mapping, sweep: str) -> Mapping:
    try:
        return config["sweeps"][sweep]
    except KeyError:
        raise KeyError(f"sweep {sweep!r} is not in the config's sweeps: {', '.join(config['sweeps'])}") from None


def sweep_axis_label(config: Mapping, sweep: str) -> str:
    """What the sweep varies, for its figure's x axis: the key and the variant it is set for."""
    entry = sweep_entry(config, sweep)
    return f"{entry['key']} ({entry['variant']})" if "key" in entry else "setting"


def sweep_values(config: Mapping, sweep: str) -> list[str]:
    """The sweep's setting labels, in config order (its figure's x axis)."""
    return list(_sweep_settings(sweep_entry(config, sweep)))


def sweep_runs(config: Mapping, sweep: str) -> list[dict]:
    """One dict per sweep cell: sweep, setting (its label), task, variant, settings, seed, run_dir."""
    sweep_entry(config, sweep)
    return [{"sweep": sweep, "setting": label, **run.as_row()} for label, run in build(config)["sweeps"][sweep]]


def run(config: Mapping, task: str, variant: str, settings: str, seed) -> Run:
    """The run a `train` job's wildcards name."""
    try:
        return build(config)["runs"][(task, variant, settings, int(seed))]
    except KeyError:
        raise KeyError(f"no run {task}/{variant}/{settings}/seed{seed} in the config's grid or sweeps") from None


def warmup(config: Mapping, warmup_dir: str) -> Run:
    """A run that the warm-up in `warmup_dir` serves: its settings train the warm-up."""
    return build(config)["warmups"][warmup_dir]


def warmup_dirs(config: Mapping) -> list[str]:
    return list(build(config)["warmups"])

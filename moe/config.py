"""The run configuration: defaults, overrides, and validation with messages naming the key."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from moe.errors import ConfigError

PACKAGE_DIR = Path(__file__).parent
DEFAULT_CONFIG_PATH = PACKAGE_DIR / "default_config.yaml"
SCHEMA_PATH = PACKAGE_DIR / "config.schema.yaml"


class _Loader(yaml.SafeLoader):
    """YAML 1.1 reads `3e-4` as a string; researchers mean a number."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def _read_yaml(text: str):
    return yaml.load(text, Loader=_Loader)  # noqa: S506  (a SafeLoader subclass)


def read_yaml_scalar(text: str):
    """A --set value as the trainer reads it (`1e-4` is a number); the text itself if it is not YAML."""
    try:
        return _read_yaml(text)
    except yaml.YAMLError:
        return text


def load_yaml(path: str | Path) -> Any:
    try:
        text = Path(path).read_text()
    except OSError as error:
        raise ConfigError(f"cannot read config file {path}: {error.strerror}") from None
    try:
        return _read_yaml(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"malformed YAML in {path}{where}: {getattr(error, 'problem', error)}") from None


def default_config() -> dict:
    return load_yaml(DEFAULT_CONFIG_PATH)


def merge(base: dict, overrides: dict) -> dict:
    """`base` with `overrides` applied recursively; mappings merge, everything else replaces."""
    merged = copy.deepcopy(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def parse_set(assignments: list[str]) -> dict:
    """`["a.b=1", "c=x"]` -> `{"a": {"b": 1}, "c": "x"}`; values are read as YAML scalars."""
    overrides: dict = {}
    for assignment in assignments:
        key, sep, raw_value = assignment.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set expects key=value, got {assignment!r}")
        try:
            value = _read_yaml(raw_value)
        except yaml.YAMLError:
            raise ConfigError(f"--set {key}: cannot parse value {raw_value!r}") from None
        node = overrides
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return overrides


def resolve(config_file: str | Path | None = None, assignments: list[str] = ()) -> dict:
    """Defaults, then the config file, then --set assignments; validated."""
    config = default_config()
    if config_file is not None:
        from_file = load_yaml(config_file)
        if from_file is None:
            from_file = {}
        if not isinstance(from_file, dict):
            raise ConfigError(f"config file {config_file} must hold a mapping, not {type(from_file).__name__}")
        config = merge(config, from_file)
    config = merge(config, parse_set(list(assignments)))
    validate(config)
    return config


def validate(config: dict) -> None:
    # Imported here: the corrections' registry needs torch, and the table and figure jobs import
    # this module's neighbours (moe.warmup) without validating a config; torch would cost each a second.
    from moe.corrections import validate_correction_names, validate_corrections

    if isinstance(config.get("corrections"), dict):  # before the schema: a typo'd name is the real problem
        validate_correction_names(config["corrections"])
    schema = load_yaml(SCHEMA_PATH)
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(config), key=lambda e: list(e.path))
    if errors:
        error = errors[0]
        path = [str(part) for part in error.absolute_path]
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            allowed = error.schema.get("properties", {})
            unknown = ", ".join(".".join(path + [key]) for key in error.instance if key not in allowed)
            raise ConfigError(f"unknown config key {unknown}; known keys{' in ' + '.'.join(path) if path else ''}: "
                              f"{', '.join(sorted(allowed))}")
        raise ConfigError(f"config key {'.'.join(path) or '(top level)'}: {error.message}")
    _validate_phases(config["phases"])
    _validate_model(config)
    validate_corrections(config["corrections"], [phase["name"] for phase in config["phases"]])


def _validate_phases(phases: list[dict]) -> None:
    names = [phase["name"] for phase in phases]
    if len(set(names)) != len(names):
        raise ConfigError(f"config key phases: phase names repeat: {names}")
    ends = [phase["end"] for phase in phases]
    if ends[-1] != 1:
        raise ConfigError(f"config key phases: the last phase must end at 1.0, not {ends[-1]}")
    for phase in phases[:-1]:
        if not 0 < phase["end"] < 1:
            raise ConfigError(
                f"config key phases: boundary of phase {phase['name']!r} is {phase['end']}, outside (0, 1)"
            )
    if ends != sorted(ends) or len(set(ends)) != len(ends):
        raise ConfigError(f"config key phases: ends must increase strictly, got {ends}")
    for index, phase in enumerate(phases):
        if "until_return" in phase and (index > 0 or len(phases) == 1):
            raise ConfigError(f"config key phases.{index}.until_return: only the first of several phases can end "
                              "early (its return gate shortens the warm-up that the later phases start from)")
        if "until_settled" in phase and (index < len(phases) - 1 or len(phases) == 1):
            raise ConfigError(f"config key phases.{index}.until_settled: only the last of several phases can end "
                              "once the router has settled (the run ends with it)")


def _validate_model(config: dict) -> None:
    """Settings one expert form reads and the other has no meaning for (docs/DESIGN.md, "Experts as encoders")."""
    model, phases = config["model"], config["phases"]
    routers = [model["router"], *(phase["set"]["model"]["router"] for phase in phases
                                  if "router" in phase.get("set", {}).get("model", {}))]
    if model["experts"] == "heads":
        for key in ("orthogonal", "task_heads"):
            if model[key]:
                raise ConfigError(f"config key model.{key}: only for model.experts: encoders (MOORE's form)")
        for router in routers:
            if router in ("task", "task_softmax"):
                raise ConfigError(f"config key model.router: {router} mixes whole encoders; it needs "
                                  "model.experts: encoders")
        if config["critic_full_batch_steps"]:
            # The heads form's critic shares the first layer's weight with the router and the experts: the
            # policy's steps would move its rows with Adam's momentum, and the encoder would see its gradient
            # once an update.
            raise ConfigError("config key critic_full_batch_steps: a critic fitted apart needs a network of its "
                              "own (model.experts: encoders)")
        return
    if model["routing"] != "mixture":
        raise ConfigError("config key model.routing: hard routing picks an expert's action; experts as encoders "
                          "have no action of their own (model.experts: encoders mixes representations)")
    if model["router_memory"] != "none":
        raise ConfigError("config key model.router_memory: experts as encoders read the view alone")
    if model["orthogonal"] and model["num_experts"] < 2:
        raise ConfigError("config key model.orthogonal: Gram-Schmidt needs at least two experts")
    if len(set(routers)) > 1:
        raise ConfigError("config key phases: experts as encoders build the modules of their own router only; "
                          "a phase cannot hand routing to another (the basin test is built for the heads form)")
    if model["oracle_noise"]:
        raise ConfigError("config key model.oracle_noise: experts as encoders read the task label in their "
                          "heads and normalisation; a noisy oracle would change those too")


def phase_config(config: dict, phase: str) -> dict:
    """The config in force during `phase`: its `set` (e.g. router_entropy_coef: 0) applied over the run's."""
    overrides = next(entry.get("set") for entry in config["phases"] if entry["name"] == phase)
    return merge(config, overrides) if overrides else config


def phase_at(phases: list[dict], fraction_done: float) -> str:
    """The phase in force when `fraction_done` of the frames have been trained."""
    for phase in phases:
        if fraction_done < phase["end"]:
            return phase["name"]
    return phases[-1]["name"]


def resolve_device(requested: str):
    """The torch device for config key `device` (auto: a GPU when one is present)."""
    import torch

    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if requested == "cuda" and not torch.cuda.is_available():
        raise ConfigError("config key device: cuda was asked for but no GPU is available")
    return torch.device(requested)

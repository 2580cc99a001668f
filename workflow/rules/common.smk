# Config validation and the helpers the rules share. No rules here: the grid logic
# lives in moe.analysis.grid (unit-tested) so the workflow and the aggregation
# scripts agree on which runs exist.
import os

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from moe.analysis import grid
from moe.variants import parse_variant


def _config_error(error):
    """Turn a jsonschema error into a one-line message naming the offending key."""
    cause = error.__cause__ or error.__context__  # snakemake's validate raises from the jsonschema error
    if not hasattr(cause, "absolute_path"):
        return error
    path = [str(part) for part in cause.absolute_path]
    if cause.validator == "additionalProperties" and isinstance(cause.instance, dict):
        allowed = list(cause.schema.get("properties", {}))
        unknown = [key for key in cause.instance if key not in allowed]
        keys = ", ".join("'" + ".".join(path + [key]) + "'" for key in unknown)
        return WorkflowError(
            f"Invalid config: unknown key {keys} (allowed here: {', '.join(allowed)})"
        )
    key = ".".join(path) or "(top level)"
    return WorkflowError(f"Invalid config: key '{key}': {cause.message}")


try:
    validate(config, "../schemas/config.schema.yaml")
except WorkflowError as error:
    raise _config_error(error) from None


def _check_config_semantics():
    """What the schema cannot say: unique task names, sweeps naming known tasks and variants."""
    names = grid.task_names(config)
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise WorkflowError(f"Invalid config: key 'tasks': duplicate task name(s) {duplicates}")
    for sweep, entry in config["sweeps"].items():
        try:
            parse_variant(entry["variant"], list(config["corrections"]))
        except ValueError as error:
            raise WorkflowError(f"Invalid config: key 'sweeps.{sweep}.variant': {error}") from None
        unknown = [task for task in entry["tasks"] if task not in names]
        if unknown:
            raise WorkflowError(
                f"Invalid config: key 'sweeps.{sweep}.tasks': {unknown} not in the config's tasks {names}"
            )


_check_config_semantics()


def run_files(runs, filename):
    """`filename` in each run directory. With allow_missing_runs, only runs that
    finished writing (final.json exists): the others are reported, not trained."""
    if config["allow_missing_runs"]:
        runs = [run for run in runs if os.path.exists(os.path.join(run["run_dir"], "final.json"))]
    return [os.path.join(run["run_dir"], filename) for run in runs]


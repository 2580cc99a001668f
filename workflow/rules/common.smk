# Config validation and the helpers the rules share, among them table_rule() and
# figure_rule(), which define the rules of the tables and figures (the stage files
# call them). The grid logic lives in moe.plan (unit-tested) so the workflow and the
# aggregation agree on which runs exist. Every trainer configuration the workflow will
# launch is resolved here with the trainer's own code (plan.build), so a config the
# trainer would refuse stops `snakemake -n` with one line naming the key.
#
# Paths: runs, warm-ups and the training jobs' logs and benchmark records under their
# own config keys; tables and figures under {report_dir}/tables and {report_dir}/figures
# (deliverables only), the logs and benchmark records of the rules making them under
# {report_dir}/logs and {report_dir}/benchmarks, named like the deliverables.
import os

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from moe import plan


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


try:
    plan.build(config)
except plan.GridError as error:
    raise WorkflowError(str(error)) from None

RUNS_DIR = config["runs_dir"]
WARMUPS_DIR = config["warmups_dir"]
LOGS_DIR = config["logs_dir"]
BENCHMARKS_DIR = config["benchmarks_dir"]
REPORT_DIR = config["report_dir"]


def table(name):
    return f"{REPORT_DIR}/tables/{name}"


def figure(name):
    return f"{REPORT_DIR}/figures/{name}"


def report_log(name):
    """The log of the rule making {report_dir}/`name`.*, e.g. report_log("tables/final_metrics")."""
    return f"{REPORT_DIR}/logs/{name}.log"


def report_benchmark(name):
    return f"{REPORT_DIR}/benchmarks/{name}.tsv"


_FINAL_OUTPUT = []


def final_output(path):
    """Mark `path` (an output of the rule being defined) as a deliverable of the main
    study, and return it: `rule all` asks for every one (get_final_output), so a new
    rule adds itself to the study where it is written."""
    if path not in _FINAL_OUTPUT:
        _FINAL_OUTPUT.append(path)
    return path


def get_final_output():
    """The main study's tables and figures, in the order the rules declared them."""
    return list(_FINAL_OUTPUT)


def run_of(wildcards):
    """The run a `train` job's wildcards name (grid or sweep)."""
    return plan.run(config, wildcards.task, wildcards.variant, wildcards.settings, wildcards.seed)


def run_files(runs, filename):
    """`filename` in each run directory. With allow_missing_runs, only runs that
    finished writing (final.json exists): the others are reported, not trained.
    With `train: false` and without allow_missing_runs, a run without final.json is
    an error naming the run directories (there is no rule to make it)."""
    finished = [run for run in runs if os.path.exists(os.path.join(run["run_dir"], "final.json"))]
    if config["allow_missing_runs"]:
        runs = finished
    elif not config["train"] and len(finished) < len(runs):
        missing = sorted(run["run_dir"] for run in runs if run not in finished)
        raise WorkflowError(
            f"train is false and {len(missing)} of {len(runs)} runs have no final.json "
            "(--config allow_missing_runs=True tables them as missing):\n" + "\n".join(missing)
        )
    return [os.path.join(run["run_dir"], filename) for run in runs]


def sweep_run_files(sweep, filename):
    """An input function: `filename` in each run directory of `sweep` (run_files), named
    only when a job that asks for them is planned."""
    return lambda wildcards: run_files(plan.sweep_runs(config, sweep), filename)


# --- tables and figures -----------------------------------------------------------
# One script, scripts/run.py, makes every table and figure: `params.step` names its
# function, the other params are that function's arguments. Each rule is a localrule
# (seconds of work, never a cluster job), and its log and benchmark record are named
# like its outputs.


def study_tables(name, *extensions):
    """The main study's tables {report_dir}/tables/`name`.<extension>, keyed by extension;
    the CSV in the report with the caption report/`name`_table.rst."""
    paths = {extension: final_output(table(f"{name}.{extension}")) for extension in extensions}
    paths["csv"] = report(paths["csv"], caption=f"../report/{name}_table.rst", category="Tables")
    return paths


def table_rule(rule_name, name, input, output, **params):
    """Define the rule named `rule_name`, in which run.py's step `name`, with keyword
    arguments `params`, makes `output` (key -> path) from `input` (key -> path or input
    function). Its log and benchmark record are tables/`name`."""

    rule:
        name:
            rule_name
        localrule: True
        input:
            **input,
        output:
            **output,
        log:
            report_log(f"tables/{name}"),
        benchmark:
            report_benchmark(f"tables/{name}")
        params:
            step=name,
            **params,
        script:
            "../scripts/run.py"


def figure_rule(rule_name, name, data, plot, **params):
    """Define the rule named `rule_name`, which draws the main study's figure
    {report_dir}/figures/`name`.pdf and .png from the table `data` with
    moe.analysis.plots.`plot` and keyword arguments `params`. Both are in the report
    with the caption report/`name`.rst; the log and benchmark record are figures/`name`."""
    caption = f"../report/{name}.rst"

    rule:
        name:
            rule_name
        localrule: True
        input:
            data,
        output:
            pdf=report(final_output(figure(f"{name}.pdf")), caption=caption, category="Figures (PDF)"),
            png=report(final_output(figure(f"{name}.png")), caption=caption, category="Figures"),
        log:
            report_log(f"figures/{name}"),
        benchmark:
            report_benchmark(f"figures/{name}")
        params:
            step="figure",
            plot=plot,
            **params,
        script:
            "../scripts/run.py"

"""The script of every table and figure rule (`table_rule`, `figure_rule` in rules/common.smk).

The rule's `params.step` names the function below that makes its outputs; its other
params are that function's keyword arguments. What the function prints, and any
error, goes to the rule's log. The logic is in moe.analysis (tested): a step reads,
calls and writes.
"""

import sys

import pandas as pd

from moe.analysis import curves, factorial, plots, reference, robust, specialisation, tables
from moe.analysis.runs import collect_runs

#: Columns read as text: labels that can look like numbers (a sweep's setting `0.3`)
#: must match the labels the rule orders them by.
LABEL_DTYPES = {"variant": str, "setting": str, "intent": str}


def read_table(path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=LABEL_DTYPES)


def figure(job, plot, inputs=(), **params):
    """The figure that moe.analysis.plots.<plot> draws from the rule's input table. A rule
    with more input tables names them in `inputs` (the second input, the third, ...), and
    each is passed to the function as that keyword argument (e.g. `inputs=["runs"]`)."""
    more = {name: read_table(path) for name, path in zip(inputs, job.input[1:], strict=True)}
    getattr(plots, plot)(read_table(job.input[0]), paths=list(job.output), **more, **params)


def final_metrics(job, runs, group_cols, return_threshold, caption, label):
    """The runs table (one row per expected run, diverged runs scored as failures, with the
    sample-efficiency columns) and its summary per group with intervals."""
    table = curves.add_sample_efficiency(collect_runs(runs), return_threshold)
    table.to_csv(job.output.runs, index=False)
    summary = tables.summarise(table, group_cols=group_cols)
    tables.write_table(summary, tables.display_table(summary, group_cols), job.output.csv, job.output.md,
                       job.output.tex, caption, label)
    print(f"return threshold {return_threshold}")
    print(table["status"].value_counts().to_string())


def learning_curves(job, runs, group_cols, points):
    """Learning curves of the finished runs, whole, on a common grid of frames since each
    run's fine-tuning began (< 0: its warm-up), and their fine-tuning alone, update by update."""
    table = collect_runs(runs)
    whole = curves.learning_curves(table, group_cols=group_cols, points=points, align=True)
    whole.to_csv(job.output.curves, index=False)
    curves.finetune_curves(table, group_cols=group_cols).to_csv(job.output.finetune_curves, index=False)
    print(f"{len(whole)} curve points from {table['status'].eq('finished').sum()} finished runs")


def factorial_effects(job, corrections, metrics, caption, label):
    """2^k factorial effects (main effects and interactions) per task, paired by seed."""
    effects = factorial.factorial_effects(read_table(job.input.runs), corrections, metrics)
    caption = f"{caption} {len(effects)} intervals; p-values Holm-adjusted over all {len(effects)}."
    tables.write_table(effects, tables.effects_display_table(effects), job.output.csv, job.output.md,
                       job.output.tex, caption, label)
    print(f"{len(effects)} effects; {effects['effect'].isna().sum()} undefined; "
          f"{(effects['p_holm'] < 0.05).sum()} with Holm-adjusted p < 0.05")


def robust_aggregates(job, variants, tasks, metrics, baseline, caption, label):
    """Per variant across tasks, paired by seed: level, difference from the baseline,
    probability of improving on it."""
    table = robust.robust_aggregates(read_table(job.input.runs), variants, tasks, metrics, baseline=baseline)
    tables.write_table(table, tables.robust_display_table(table, baseline), job.output.csv, job.output.md,
                       job.output.tex, caption, label)
    print(table.to_string())


def expert_usage(job):
    """Intent x expert usage (experts aligned across seeds) and the recorded evaluation episodes."""
    runs = read_table(job.input.runs)
    usage = specialisation.usage_table(runs)
    usage.to_csv(job.output.csv, index=False)
    mean = specialisation.mean_usage_table(usage)
    for column in [c for c in mean.columns if c.startswith("expert ")]:
        mean[column] = mean[column].map("{:.2f}".format)
    with open(job.output.md, "w") as handle:
        handle.write(tables.to_markdown(mean) if not mean.empty else "No finished run with intent labels.\n")
    episodes = specialisation.episode_table(runs)
    episodes.to_csv(job.output.episodes, index=False)
    print(f"{len(usage)} usage cells, {len(episodes)} episode steps")


def compare_reference(job, runs, runs_dir, reference_runs_dir):
    """The grid's runs against the reference's, per run and per cell."""
    per_run = reference.compare_runs(runs, runs_dir, reference_runs_dir)
    per_cell = reference.compare_cells(runs, runs_dir, reference_runs_dir)
    per_run.to_csv(job.output.runs, index=False)
    per_cell.to_csv(job.output.cells, index=False)
    summary = reference.verdict(per_run, per_cell)
    outside = per_cell[per_cell["inside"] == False]  # noqa: E712  (None: not compared)
    with open(job.output.verdict, "w") as handle:
        handle.write(summary + "\n" + (tables.to_markdown(outside.round(4)) if len(outside) else ""))
    print(summary)


STEPS = {step.__name__: step for step in (figure, final_metrics, learning_curves, factorial_effects,
                                          robust_aggregates, expert_usage, compare_reference)}

job = snakemake  # noqa: F821 (Snakemake defines it in a `script:` file)
sys.stderr = sys.stdout = open(job.log[0], "w")
params = dict(job.params)
STEPS[params.pop("step")](job, **params)

"""Snakemake script: final metric(s) per variant or sweep value, one panel per task."""

import sys

import pandas as pd

from moe.analysis.plots import entropy_reference_lines, plot_final_metrics
from moe.analysis.runs import FINISHED

sys.stderr = sys.stdout = open(snakemake.log[0], "w")  # noqa: F821 (injected by Snakemake)

params = snakemake.params  # noqa: F821
runs = pd.read_csv(snakemake.input.runs, dtype={params.x: str})  # noqa: F821
reference_lines = {}
if params.entropy_reference_lines:
    # K as the runs report it; the lines only matter where some run finished.
    experts = runs.loc[runs["status"] == FINISHED, "num_experts"].dropna()
    if not experts.empty:
        reference_lines["router_entropy"] = entropy_reference_lines(int(experts.max()))
plot_final_metrics(runs, params.metrics, params.tasks, params.order, list(snakemake.output),  # noqa: F821
                   x=params.x, xlabel=params.xlabel, reference_lines=reference_lines)

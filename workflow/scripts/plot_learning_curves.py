"""Snakemake script: learning curves (whole runs, or fine-tuning aligned at its start) per task."""

import sys

import pandas as pd

from moe.analysis.plots import plot_learning_curves

sys.stderr = sys.stdout = open(snakemake.log[0], "w")  # noqa: F821 (injected by Snakemake)

params = snakemake.params  # noqa: F821
curves = pd.read_csv(snakemake.input.curves, dtype={params.hue: str})  # noqa: F821
output = list(snakemake.output)  # noqa: F821
plot_learning_curves(curves, params.tasks, params.hue_order, output, hue=params.hue, x=params.x)

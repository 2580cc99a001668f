"""Snakemake script: learning curves of return and router entropy per task."""

import sys

import pandas as pd

from moe.analysis.plots import plot_learning_curves

sys.stderr = sys.stdout = open(snakemake.log[0], "w")  # noqa: F821 (injected by Snakemake)

params = snakemake.params  # noqa: F821
curves = pd.read_csv(snakemake.input.curves, dtype={params.hue: str})  # noqa: F821
plot_learning_curves(curves, params.tasks, params.hue_order, list(snakemake.output), hue=params.hue)  # noqa: F821

"""Snakemake script: interval plots of IQM and probability of improvement."""

import sys

import pandas as pd

from moe.analysis.plots import plot_robust_aggregates

sys.stderr = sys.stdout = open(snakemake.log[0], "w")  # noqa: F821 (injected by Snakemake)

params = snakemake.params  # noqa: F821
robust = pd.read_csv(snakemake.input.robust, dtype={"variant": str})  # noqa: F821
plot_robust_aggregates(robust, params.variants, list(snakemake.output), baseline=params.baseline)  # noqa: F821

"""Snakemake script: per-step vs marginal router entropy, one dot per run (hedging vs flipping)."""

import sys

import pandas as pd

from moe.analysis.plots import plot_entropy_scatter

sys.stderr = sys.stdout = open(snakemake.log[0], "w")  # noqa: F821 (injected by Snakemake)

params = snakemake.params  # noqa: F821
runs = pd.read_csv(snakemake.input.runs, dtype={"variant": str})  # noqa: F821
plot_entropy_scatter(runs, params.tasks, params.variants, list(snakemake.output))  # noqa: F821

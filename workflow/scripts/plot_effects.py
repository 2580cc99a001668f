"""Snakemake script: forest plot of the factorial effects."""

import sys

import pandas as pd

from moe.analysis.plots import plot_effects

sys.stderr = sys.stdout = open(snakemake.log[0], "w")  # noqa: F821 (injected by Snakemake)

params = snakemake.params  # noqa: F821
effects = pd.read_csv(snakemake.input.effects, keep_default_na=True)  # noqa: F821
plot_effects(effects, params.tasks, params.metrics, list(snakemake.output))  # noqa: F821

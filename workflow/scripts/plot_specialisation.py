"""Snakemake script: intent x expert usage heatmaps, or recorded episodes (params.kind)."""

import sys

import pandas as pd

from moe.analysis.plots import plot_episodes, plot_usage_heatmaps

sys.stderr = sys.stdout = open(snakemake.log[0], "w")  # noqa: F821 (injected by Snakemake)

params = snakemake.params  # noqa: F821
data = pd.read_csv(snakemake.input.data, dtype={"variant": str, "intent": str})  # noqa: F821
plot = {"usage": plot_usage_heatmaps, "episodes": plot_episodes}[params.kind]
plot(data, params.tasks, params.variants, list(snakemake.output))  # noqa: F821

"""Snakemake script: intent x expert usage (experts aligned across seeds) and the recorded evaluation episodes."""

import sys

import pandas as pd

from moe.analysis.specialisation import episode_table, mean_usage_table, usage_table
from moe.analysis.tables import to_markdown

sys.stderr = sys.stdout = open(snakemake.log[0], "w")  # noqa: F821 (injected by Snakemake)

output = snakemake.output  # noqa: F821
runs = pd.read_csv(snakemake.input.runs, dtype={"variant": str})  # noqa: F821
usage = usage_table(runs)
usage.to_csv(output.usage, index=False)
mean = mean_usage_table(usage)
for column in [c for c in mean.columns if c.startswith("expert ")]:
    mean[column] = mean[column].map("{:.2f}".format)
with open(output.markdown, "w") as handle:
    handle.write(to_markdown(mean) if not mean.empty else "No finished run with intent labels.\n")
episodes = episode_table(runs)
episodes.to_csv(output.episodes, index=False)
print(f"{len(usage)} usage cells, {len(episodes)} episode steps")

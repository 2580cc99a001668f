"""Snakemake script: runs.csv (one row per expected run) and the final-metrics tables."""

import sys

from moe.analysis.runs import collect_runs
from moe.analysis.tables import summarise, write_tables

sys.stderr = sys.stdout = open(snakemake.log[0], "w")  # noqa: F821 (injected by Snakemake)

params = snakemake.params  # noqa: F821
output = snakemake.output  # noqa: F821
runs = collect_runs(params.runs)
runs.to_csv(output.runs, index=False)
summary = summarise(runs, group_cols=params.group_cols)
write_tables(summary, output.summary, output.markdown, output.latex,
             group_cols=params.group_cols, caption=params.caption, label=params.label)
print(runs["status"].value_counts().to_string())

"""Snakemake script: 2^k factorial effects (main effects and interactions) per task."""

import sys

import pandas as pd

from moe.analysis.factorial import factorial_effects
from moe.analysis.tables import interval_table, write_display_tables

sys.stderr = sys.stdout = open(snakemake.log[0], "w")  # noqa: F821 (injected by Snakemake)

params = snakemake.params  # noqa: F821
output = snakemake.output  # noqa: F821
runs = pd.read_csv(snakemake.input.runs, dtype={"variant": str})  # noqa: F821
effects = factorial_effects(runs, params.corrections, params.metrics)
table = interval_table(effects, ["task", "metric", "term"], {"effect": "effect [95% CI]"}, ["note"])
write_display_tables(effects, table, output.csv, output.markdown, output.latex,
                     caption=params.caption, label=params.label)
print(f"{len(effects)} effects; {effects['effect'].isna().sum()} undefined")

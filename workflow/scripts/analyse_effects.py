"""Snakemake script: 2^k factorial effects (main effects and interactions) per task, paired by seed."""

import sys

import pandas as pd

from moe.analysis.factorial import factorial_effects
from moe.analysis.tables import effects_display_table, write_display_tables

sys.stderr = sys.stdout = open(snakemake.log[0], "w")  # noqa: F821 (injected by Snakemake)

params = snakemake.params  # noqa: F821
output = snakemake.output  # noqa: F821
runs = pd.read_csv(snakemake.input.runs, dtype={"variant": str})  # noqa: F821
effects = factorial_effects(runs, params.corrections, params.metrics)
caption = f"{params.caption} {len(effects)} intervals; p-values Holm-adjusted over all {len(effects)}."
write_display_tables(effects, effects_display_table(effects), output.csv, output.markdown, output.latex,
                     caption=caption, label=params.label)
print(f"{len(effects)} effects; {effects['effect'].isna().sum()} undefined; "
      f"{(effects['p_holm'] < 0.05).sum()} with Holm-adjusted p < 0.05")

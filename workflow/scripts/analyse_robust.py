"""Snakemake script: per variant across tasks, paired by seed: level, difference from the
baseline, probability of improving on it."""

import sys

import pandas as pd

from moe.analysis.robust import robust_aggregates
from moe.analysis.tables import interval_table, write_display_tables

sys.stderr = sys.stdout = open(snakemake.log[0], "w")  # noqa: F821 (injected by Snakemake)

params = snakemake.params  # noqa: F821
output = snakemake.output  # noqa: F821
runs = pd.read_csv(snakemake.input.runs, dtype={"variant": str})  # noqa: F821
robust = robust_aggregates(runs, params.variants, params.tasks, params.metrics, baseline=params.baseline)
table = interval_table(robust, ["metric", "variant", "direction"],
                       {"level": "mean over tasks [95% CI]", "difference": f"minus {params.baseline} [95% CI]",
                        "p_improve": f"P(better than {params.baseline}) [95% CI]"})
write_display_tables(robust, table, output.csv, output.markdown, output.latex,
                     caption=params.caption, label=params.label)
print(robust.to_string())

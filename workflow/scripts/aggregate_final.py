"""Snakemake script: runs.csv (one row per expected run, diverged runs scored as failures)
and the final-metrics tables, with the sample-efficiency columns (fine-tuning return AUC,
frames to the return threshold)."""

import sys

from moe.analysis.curves import RETURN_THRESHOLD, add_sample_efficiency
from moe.analysis.runs import collect_runs
from moe.analysis.tables import summarise, write_tables

sys.stderr = sys.stdout = open(snakemake.log[0], "w")  # noqa: F821 (injected by Snakemake)

params = snakemake.params  # noqa: F821
output = snakemake.output  # noqa: F821
# Rules derived with `use rule ... with: params:` (sweeps) may not pass the threshold.
threshold = getattr(params, "return_threshold", None)
if threshold is None:
    threshold = snakemake.config.get("analysis", {}).get("return_threshold", RETURN_THRESHOLD)  # noqa: F821
runs = add_sample_efficiency(collect_runs(params.runs), threshold)
runs.to_csv(output.runs, index=False)
summary = summarise(runs, group_cols=params.group_cols)
write_tables(summary, output.summary, output.markdown, output.latex,
             group_cols=params.group_cols, caption=params.caption, label=params.label)
print(f"return threshold {threshold}")
print(runs["status"].value_counts().to_string())

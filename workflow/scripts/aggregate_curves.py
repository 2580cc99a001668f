"""Snakemake script: learning curves of finished runs on a common frame grid, and their
fine-tuning aligned at its start."""

import sys

from moe.analysis.curves import finetune_curves, learning_curves
from moe.analysis.runs import collect_runs

sys.stderr = sys.stdout = open(snakemake.log[0], "w")  # noqa: F821 (injected by Snakemake)

params = snakemake.params  # noqa: F821
runs = collect_runs(params.runs)
curves = learning_curves(runs, group_cols=params.group_cols, points=params.points)
curves.to_csv(snakemake.output.curves, index=False)  # noqa: F821
finetune_curves(runs, group_cols=params.group_cols).to_csv(snakemake.output.finetune_curves, index=False)  # noqa: F821
print(f"{len(curves)} curve points from {runs['status'].eq('finished').sum()} finished runs")

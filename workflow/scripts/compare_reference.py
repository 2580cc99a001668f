"""Snakemake script: the grid's runs against the reference's, per run and per cell (moe.analysis.reference)."""

import sys

from moe.analysis.reference import compare_cells, compare_runs, verdict
from moe.analysis.tables import to_markdown

sys.stderr = sys.stdout = open(snakemake.log[0], "w")

params, output = snakemake.params, snakemake.output
per_run = compare_runs(params.runs, params.runs_dir, params.reference_runs_dir)
per_cell = compare_cells(params.runs, params.runs_dir, params.reference_runs_dir)
per_run.to_csv(output.runs, index=False)
per_cell.to_csv(output.cells, index=False)
summary = verdict(per_run, per_cell)
outside = per_cell[per_cell["inside"] == False]  # noqa: E712  (None: not compared)
with open(output.verdict, "w") as handle:
    handle.write(summary + "\n" + (to_markdown(outside.round(4)) if len(outside) else ""))
print(summary)

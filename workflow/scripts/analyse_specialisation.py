"""Snakemake script: intent x expert usage table and the recorded evaluation episodes."""

import sys

import pandas as pd

from moe.analysis.specialisation import episode_table, usage_table
from moe.analysis.tables import to_markdown

sys.stderr = sys.stdout = open(snakemake.log[0], "w")  # noqa: F821 (injected by Snakemake)

output = snakemake.output  # noqa: F821
runs = pd.read_csv(snakemake.input.runs, dtype={"variant": str})  # noqa: F821
usage = usage_table(runs)
usage.to_csv(output.usage, index=False)
wide = usage.pivot_table(index=["task", "variant", "intent"], columns="expert", values="usage", sort=False)
wide.columns = [f"expert {k}" for k in wide.columns]
wide = wide.reset_index()
for col in wide.columns[3:]:
    wide[col] = wide[col].map("{:.2f}".format)
with open(output.markdown, "w") as handle:
    handle.write(to_markdown(wide) if not wide.empty else "No finished run with intent labels.\n")
episodes = episode_table(runs)
episodes.to_csv(output.episodes, index=False)
print(f"{len(usage)} usage cells, {len(episodes)} episode steps")

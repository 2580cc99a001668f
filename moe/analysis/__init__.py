"""Aggregation, statistics and plotting for the benchmark's run directories.

Which runs a workflow config describes is `moe.plan`; the side tools are `moe.tools`.

The workflow's one script (`workflow/scripts/run.py`) calls into this package:
- `metrics`: the metric registry (label, unit, direction, range, how diverged runs score, where shown);
- `runs`: reading run directories (finished, diverged, failed or missing), scoring diverged runs;
- `stats`: `mean_ci`, the one interval of every table and figure; t-test p-values; Holm's adjustment;
- `tables`: per-group summaries with intervals, written as CSV, Markdown and LaTeX;
- `curves`: learning curves on a common frame grid; sample efficiency (fine-tuning return AUC, frames to a threshold);
- `factorial`: main effects and interactions of the corrections (2^k contrasts), paired by seed;
- `robust`: aggregates across tasks, paired by seed: level, difference from the baseline, probability of improvement;
- `specialisation`: intent-by-expert usage with experts aligned across seeds, and recorded evaluation episodes;
- `plots`: seaborn figures (PDF and PNG).
"""

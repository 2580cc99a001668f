"""Aggregation, statistics and plotting for the benchmark's run directories.

The Snakemake workflow's `script:` files are thin wrappers around this package:
- `grid`: the training grid (task x variant x seed) and sweeps, from the workflow config;
- `runs`: reading run directories (finished, diverged, failed or missing);
- `stats`: percentile bootstrap confidence intervals;
- `tables`: per-group summaries with CIs, written as CSV, Markdown and LaTeX;
- `curves`: learning curves resampled onto a common frame grid; sample efficiency (return AUC, frames to a threshold);
- `factorial`: main effects and interactions of the corrections (2^k contrasts) with bootstrap intervals;
- `robust`: rliable-style interquartile mean and probability of improvement with stratified bootstrap intervals;
- `specialisation`: intent-by-expert usage and recorded evaluation episodes;
- `plots`: seaborn figures (PDF and PNG).
"""

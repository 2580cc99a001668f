#!/usr/bin/env bash
# Rebuild every table and figure of the committed reference results from its runs,
# without training (train: false): the paper grid with its sweeps, then the extended
# grid, then study v2 (fair grid, memory arm, bridge). `git diff results/reference`
# afterwards shows what, if anything, changed.
set -euo pipefail
cd "$(dirname "$0")/.."
cores="${1:-2}"
snakemake --cores "$cores" --configfile workflow/config/reference.yaml --config train=False --forceall all sweeps
snakemake --cores "$cores" --configfile workflow/config/extended.yaml workflow/config/reference.yaml \
    --config train=False report_dir=results/reference/extended --forceall
# Study v2: the fair grid with its balance and controls sweeps, then the memory arm and the
# bridge to the paper grid (overlays with runs and tables of their own).
v2=workflow/config/study_v2.yaml
snakemake --cores "$cores" --configfile "$v2" --config train=False --forceall all sweep_balance sweep_controls
snakemake --cores "$cores" --configfile "$v2" workflow/config/study_v2_memory.yaml --config train=False \
    --forceall all sweep_balance
snakemake --cores "$cores" --configfile "$v2" workflow/config/study_v2_bridge.yaml --config train=False \
    --forceall all sweep_balance

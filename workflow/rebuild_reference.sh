#!/usr/bin/env bash
# Rebuild every table and figure of the committed reference results from its runs,
# without training (train: false): the paper grid with its sweeps, then the extended
# grid, then study v2 (fair grid, memory arm, bridge), then this round's dose grid and
# Remap calibration, then the MOORE replication. `git diff results/reference` afterwards shows
# what, if anything, changed.
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
# This round: the dose grid with its dose choice, then the Remap calibration (screen and confirmation)
# with its gap tables.
dose=workflow/config/dose_grid.yaml
snakemake --cores "$cores" sweep_dose_entropy_min sweep_dose_temporal sweep_dose_overlap sweep_dose_balance \
    sweep_dose_bias_balance all --configfile "$dose" --config train=False --forceall
python -m moe.analysis.doses --config "$dose" > /dev/null
for calibration in workflow/config/remap_screen.yaml workflow/config/remap_confirm.yaml; do
    sweeps=$(python -c "import sys, yaml; print(' '.join('sweep_' + name for name in yaml.safe_load(open(sys.argv[1]))['sweeps']))" "$calibration")
    # shellcheck disable=SC2086  # the sweep targets are words
    snakemake --cores "$cores" all $sweeps --configfile "$calibration" --config train=False --forceall
    python -m moe.analysis.calibration --config "$calibration" > /dev/null
done
# The MOORE replication on MT3: the published arms and the arms that read the view, then the
# comparison with the published numbers.
moore=workflow/config/moore_mt3.yaml
snakemake --cores "$cores" all sweep_moore_arms sweep_view_arms --configfile "$moore" --config train=False --forceall
python -m moe.analysis.replication --config "$moore" > /dev/null

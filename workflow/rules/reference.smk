# The grid against committed reference results (results/reference/, made by this
# workflow on the machine type docs/PERFORMANCE.md names). Not part of `all`:
#
#     snakemake --cores 8 compare_reference
#
# Per run: is final.json identical to the reference's (it must be, on the same
# machine type)? Per task, variant and headline metric: does the regenerated mean
# fall inside the reference's 95% interval (on another machine type)?

table_rule(
    "compare_reference_table",
    "compare_reference",
    input={"finals": GRID_RUN_FILES["finals"]},
    output={
        "runs": table("compare_reference_runs.csv"),
        "cells": table("compare_reference.csv"),
        "verdict": table("compare_reference.md"),
    },
    runs=plan.train_runs(config),
    runs_dir=RUNS_DIR,
    reference_runs_dir=config["reference_runs_dir"],
)


# The target: the table, and the runs themselves, as `all` asks for them (see the Snakefile).
rule compare_reference:
    localrule: True
    input:
        rules.compare_reference_table.output,
        GRID_RUN_FILES["finals"],

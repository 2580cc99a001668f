# The grid against committed reference results (results/reference/, made by this
# workflow on the machine type docs/PERFORMANCE.md names). Not part of `all`:
#
#     snakemake --cores 8 compare_reference
#
# Per run: is final.json identical to the reference's (it must be, on the same
# machine type)? Per task, variant and headline metric: does the regenerated mean
# fall inside the reference's 95% interval (on another machine type)?


rule compare_reference:
    localrule: True
    input:
        finals=lambda wildcards: run_files(plan.train_runs(config), "final.json"),
    output:
        runs=table("compare_reference_runs.csv"),
        cells=table("compare_reference.csv"),
        verdict=table("compare_reference.md"),
    log:
        report_log("tables/compare_reference"),
    benchmark:
        report_benchmark("tables/compare_reference")
    params:
        runs=plan.train_runs(config),
        runs_dir=RUNS_DIR,
        reference_runs_dir=config["reference_runs_dir"],
    script:
        "../scripts/compare_reference.py"

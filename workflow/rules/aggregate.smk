# Tables from the main grid's run directories. Every expected run is listed with its
# status (finished, diverged, failed, missing), so none is silently dropped.
# Like every aggregation and plotting rule, these are `localrule`s: seconds of work,
# run by Snakemake itself, never sent to a cluster queue.


rule aggregate_final:
    localrule: True
    input:
        finals=lambda wildcards: run_files(plan.train_runs(config), "final.json"),
        metrics=lambda wildcards: run_files(plan.train_runs(config), "metrics.csv"),
    output:
        runs=table("runs.csv"),
        summary=report(
            final_output(table("final_metrics.csv")),
            caption="../report/final_metrics.rst",
            category="Tables",
        ),
        markdown=final_output(table("final_metrics.md")),
        latex=final_output(table("final_metrics.tex")),
    log:
        report_log("tables/final_metrics"),
    benchmark:
        report_benchmark("tables/final_metrics")
    params:
        runs=plan.train_runs(config),
        group_cols=["task", "variant"],
        caption="Final metrics per task and variant: mean [95% t-interval] over seeds (n = seeds unless a cell says n=k; diverged runs score 0 in return and success and are left out of router statistics); frames to threshold: median.",
        label="tab:final_metrics",
        return_threshold=config["analysis"]["return_threshold"],
    script:
        "../scripts/aggregate_final.py"


rule aggregate_curves:
    localrule: True
    input:
        finals=lambda wildcards: run_files(plan.train_runs(config), "final.json"),
        metrics=lambda wildcards: run_files(plan.train_runs(config), "metrics.csv"),
    output:
        curves=final_output(table("learning_curves.csv")),
        finetune_curves=final_output(table("finetune_curves.csv")),
    log:
        report_log("tables/learning_curves"),
    benchmark:
        report_benchmark("tables/learning_curves")
    params:
        runs=plan.train_runs(config),
        group_cols=["task", "variant"],
        points=config["curve_points"],
    script:
        "../scripts/aggregate_curves.py"

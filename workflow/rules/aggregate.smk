# Tables from the main grid's run directories. Every expected run is listed with its
# status (finished, diverged, failed, missing), so none is silently dropped.


rule aggregate_final:
    input:
        finals=lambda wildcards: run_files(grid.train_runs(config), "final.json"),
        metrics=lambda wildcards: run_files(grid.train_runs(config), "metrics.csv"),
    output:
        runs="results/tables/runs.csv",
        summary=report(
            "results/tables/final_metrics.csv",
            caption="../report/final_metrics.rst",
            category="Tables",
        ),
        markdown="results/tables/final_metrics.md",
        latex="results/tables/final_metrics.tex",
    log:
        "results/tables/final_metrics.log",
    benchmark:
        "results/tables/final_metrics.benchmark.tsv"
    params:
        runs=grid.train_runs(config),
        group_cols=["task", "variant"],
        caption="Final metrics per task and variant: mean [95% t-interval] over seeds (n = seeds unless a cell says n=k; diverged runs score 0 in return and success and are left out of router statistics); frames to threshold: median.",
        label="tab:final_metrics",
        return_threshold=config["analysis"]["return_threshold"],
    script:
        "../scripts/aggregate_final.py"


rule aggregate_curves:
    input:
        finals=lambda wildcards: run_files(grid.train_runs(config), "final.json"),
        metrics=lambda wildcards: run_files(grid.train_runs(config), "metrics.csv"),
    output:
        curves="results/tables/learning_curves.csv",
    log:
        "results/tables/learning_curves.log",
    benchmark:
        "results/tables/learning_curves.benchmark.tsv"
    params:
        runs=grid.train_runs(config),
        group_cols=["task", "variant"],
        points=config["curve_points"],
    script:
        "../scripts/aggregate_curves.py"

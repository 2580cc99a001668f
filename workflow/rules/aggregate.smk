# Tables from the main grid's run directories. Every expected run is listed with its
# status (finished, diverged, failed, missing), so none is silently dropped.

# The grid's run files are the inputs, so that a run that changes re-aggregates.
GRID_RUN_FILES = {
    "finals": lambda wildcards: run_files(plan.train_runs(config), "final.json"),
    "metrics": lambda wildcards: run_files(plan.train_runs(config), "metrics.csv"),
}

table_rule(
    "aggregate_final",
    "final_metrics",
    input=GRID_RUN_FILES,
    output={"runs": final_output(table("runs.csv")), **study_tables("final_metrics", "csv", "md", "tex")},
    runs=plan.train_runs(config),
    group_cols=["task", "variant"],
    return_threshold=config["analysis"]["return_threshold"],
    caption="Final metrics per task and variant: mean [95% t-interval] over seeds (n = seeds unless a cell says n=k; diverged runs score 0 in return and success and are left out of router statistics); frames to threshold: median.",
    label="tab:final_metrics",
)

table_rule(
    "aggregate_curves",
    "learning_curves",
    input=GRID_RUN_FILES,
    output={
        "curves": final_output(table("learning_curves.csv")),
        "finetune_curves": final_output(table("finetune_curves.csv")),
    },
    runs=plan.train_runs(config),
    group_cols=["task", "variant"],
    points=config["curve_points"],
)

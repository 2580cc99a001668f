# Ablation sweeps: one trainer setting (e.g. lambda_T = corrections.temporal.coef)
# over a list of values for one variant. Each sweep in config["sweeps"] gets a target
# rule `sweep_<name>` (not part of `all`):
#
#     snakemake --cores 8 sweep_temporal_coef
#
# Training reuses the `train` rule (same shell command, resources, log, benchmark)
# with its own output paths; the swept value comes from the `setting` wildcard and
# reaches the trainer as one more --set override.


use rule train as train_sweep with:
    output:
        final="results/sweeps/{sweep}/{setting}/{task}/seed{seed}/final.json",
        metrics="results/sweeps/{sweep}/{setting}/{task}/seed{seed}/metrics.csv",
        eval_episode="results/sweeps/{sweep}/{setting}/{task}/seed{seed}/eval_episode.csv",
        run_config="results/sweeps/{sweep}/{setting}/{task}/seed{seed}/config.yaml",
    log:
        "results/sweeps/{sweep}/{setting}/{task}/seed{seed}/train.log",
    benchmark:
        "results/sweeps/{sweep}/{setting}/{task}/seed{seed}/train.benchmark.tsv"
    params:
        trainer=config["trainer"]["command"],
        trainer_config=grid.trainer_config_arg(config),
        task=lambda wildcards: wildcards.task,
        variant=lambda wildcards: grid.sweep_entry(config, wildcards.sweep)["variant"],
        seed=lambda wildcards: wildcards.seed,
        frames=lambda wildcards: grid.task_entry(config, wildcards.task)["frames"],
        out_dir=lambda wildcards, output: os.path.dirname(output.final),
        overrides=lambda wildcards: grid.trainer_overrides(
            config,
            wildcards.task,
            {grid.sweep_entry(config, wildcards.sweep)["key"]: wildcards.setting},
        ),


use rule aggregate_final as aggregate_sweep with:
    input:
        finals=lambda wildcards: run_files(grid.sweep_runs(config, wildcards.sweep), "final.json"),
    output:
        runs="results/tables/sweep_{sweep}_runs.csv",
        summary=report(
            "results/tables/sweep_{sweep}.csv",
            caption="../report/sweep_table.rst",
            category="Sweeps",
            subcategory="{sweep}",
        ),
        markdown="results/tables/sweep_{sweep}.md",
        latex="results/tables/sweep_{sweep}.tex",
    log:
        "results/tables/sweep_{sweep}.log",
    benchmark:
        "results/tables/sweep_{sweep}.benchmark.tsv"
    params:
        runs=lambda wildcards: grid.sweep_runs(config, wildcards.sweep),
        group_cols=["task", "setting"],
        caption=lambda wildcards: f"Sweep {wildcards.sweep}: final metrics per task and value: mean [95% t-interval] over seeds (n = seeds unless a cell says n=k).",
        label=lambda wildcards: f"tab:sweep_{wildcards.sweep}",


use rule plot_final_router_entropy as plot_sweep with:
    input:
        runs="results/tables/sweep_{sweep}_runs.csv",
    output:
        pdf=report(
            "results/figures/sweep_{sweep}.pdf",
            caption="../report/sweep_figure.rst",
            category="Sweeps",
            subcategory="{sweep} (PDF)",
        ),
        png=report(
            "results/figures/sweep_{sweep}.png",
            caption="../report/sweep_figure.rst",
            category="Sweeps",
            subcategory="{sweep}",
        ),
    log:
        "results/figures/sweep_{sweep}.log",
    benchmark:
        "results/figures/sweep_{sweep}.benchmark.tsv"
    params:
        metrics=["router_entropy", "return_mean"],
        entropy_reference_lines=True,
        x="setting",
        order=lambda wildcards: grid.sweep_values(config, wildcards.sweep),
        tasks=lambda wildcards: sorted(
            {run["task"] for run in grid.sweep_runs(config, wildcards.sweep)},
            key=grid.task_names(config).index,
        ),


for sweep_name in config["sweeps"]:

    rule:
        name:
            f"sweep_{sweep_name}"
        localrule: True
        input:
            f"results/tables/sweep_{sweep_name}.csv",
            f"results/figures/sweep_{sweep_name}.png",

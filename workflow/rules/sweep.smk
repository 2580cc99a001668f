# Ablation sweeps: one trainer setting (e.g. lambda_T = corrections.temporal.coef)
# over a list of values for one variant, or named sets of settings. Each sweep in
# config["sweeps"] gets a target rule `sweep_<name>` (not part of `all`):
#
#     snakemake --cores 8 sweep_temporal_coef
#
# Its runs are ordinary runs of the `train` rule, named by the settings that set
# them apart ({runs_dir}/{task}/{variant}/{settings}/seed{seed}); a value equal to
# the grid's own setting is the grid's run, trained once (moe.plan).


# A sweep's table and figure are the grid's final-metrics table and final-metrics
# figure (same step and plotting function) over its runs, with its value as `setting`.
# `use rule ... with:` keeps what it does not name (params key by key), but not
# `localrule`: a `with:` block resets it unless it says it again (Snakemake 9).
use rule aggregate_final as aggregate_sweep with:
    localrule: True
    input:
        finals=lambda wildcards: run_files(plan.sweep_runs(config, wildcards.sweep), "final.json"),
    output:
        runs=table("sweep_{sweep}_runs.csv"),
        csv=report(
            table("sweep_{sweep}.csv"),
            caption="../report/sweep_table.rst",
            category="Sweeps",
            subcategory="{sweep}",
        ),
        md=table("sweep_{sweep}.md"),
        tex=table("sweep_{sweep}.tex"),
    log:
        report_log("tables/sweep_{sweep}"),
    benchmark:
        report_benchmark("tables/sweep_{sweep}")
    params:
        runs=lambda wildcards: plan.sweep_runs(config, wildcards.sweep),
        group_cols=["task", "setting"],
        caption=lambda wildcards: f"Sweep {wildcards.sweep}: final metrics per task and value: mean [95% t-interval] over seeds (n = seeds unless a cell says n=k).",
        label=lambda wildcards: f"tab:sweep_{wildcards.sweep}",


use rule plot_final_router_entropy as plot_sweep with:
    localrule: True
    input:
        table("sweep_{sweep}_runs.csv"),
    output:
        pdf=report(
            figure("sweep_{sweep}.pdf"),
            caption="../report/sweep_figure.rst",
            category="Sweeps",
            subcategory="{sweep} (PDF)",
        ),
        png=report(
            figure("sweep_{sweep}.png"),
            caption="../report/sweep_figure.rst",
            category="Sweeps",
            subcategory="{sweep}",
        ),
    log:
        report_log("figures/sweep_{sweep}"),
    benchmark:
        report_benchmark("figures/sweep_{sweep}")
    params:
        # The dose-response curve: does the router commit, specialise, and at what cost?
        metrics=["router_entropy", "router_mutual_information", "intent_mutual_information_normalized", "return_mean"],
        x="setting",
        xlabel=lambda wildcards: plan.sweep_axis_label(config, wildcards.sweep),
        order=lambda wildcards: plan.sweep_values(config, wildcards.sweep),
        tasks=lambda wildcards: sorted(
            {run["task"] for run in plan.sweep_runs(config, wildcards.sweep)},
            key=plan.task_names(config).index,
        ),


for sweep_name in config["sweeps"]:

    rule:
        name:
            f"sweep_{sweep_name}"
        localrule: True
        input:
            table(f"sweep_{sweep_name}.csv"),
            figure(f"sweep_{sweep_name}.png"),
            # its runs too, as `all` asks for the grid's (see the Snakefile)
            sweep_run_files(sweep_name, "final.json"),


rule sweeps:
    localrule: True
    input:
        [table(f"sweep_{name}.csv") for name in config["sweeps"]],
        [figure(f"sweep_{name}.png") for name in config["sweeps"]],
        [sweep_run_files(name, "final.json") for name in config["sweeps"]],

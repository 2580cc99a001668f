# MoE router ablation benchmark: train the grid task x variant x seed, then tables
# and figures with confidence intervals across seeds.
#
#   snakemake --cores 8                                            # paper grid
#   snakemake --cores 2 --configfile workflow/config/quick.yaml    # small smoke grid
#   snakemake --report report.html                                 # one-page report
#
# workflow/README.md explains the layout, failed runs, sweeps and how to extend it.

from snakemake.utils import min_version

min_version("9.0")


configfile: "workflow/config/config.yaml"


report: "workflow/report/workflow.rst"


# Task ids contain dashes and dots, variants contain '+': only '/' separates fields.
wildcard_constraints:
    task=r"[^/]+",
    variant=r"[^/]+",
    settings=r"[^/]+",
    signature=r"[0-9a-f]+",
    seed=r"\d+",
    sweep=r"[^/]+",
    setting=r"[^/]+",


include: "workflow/rules/common.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/aggregate.smk"
include: "workflow/rules/plot.smk"
include: "workflow/rules/analysis.smk"
include: "workflow/rules/sweep.smk"


# Aggregation and plotting are seconds of work: never send them to a cluster queue.
localrules:
    all,
    aggregate_final,
    aggregate_curves,
    plot_learning_curves,
    plot_final_router_entropy,
    plot_final_return,
    analyse_effects,
    plot_effects,
    analyse_robust,
    plot_robust,
    analyse_specialisation,
    plot_expert_usage,
    plot_eval_episodes,
    plot_entropy_scatter,
    aggregate_sweep,
    plot_sweep,


rule all:
    input:
        "results/tables/final_metrics.csv",
        "results/tables/final_metrics.md",
        "results/tables/final_metrics.tex",
        "results/figures/learning_curves.pdf",
        "results/figures/learning_curves.png",
        "results/figures/final_router_entropy.pdf",
        "results/figures/final_router_entropy.png",
        "results/figures/final_return.pdf",
        "results/figures/final_return.png",
        "results/tables/factorial_effects.csv",
        "results/tables/factorial_effects.md",
        "results/tables/factorial_effects.tex",
        "results/figures/factorial_effects.pdf",
        "results/figures/factorial_effects.png",
        "results/tables/robust_aggregates.csv",
        "results/tables/robust_aggregates.md",
        "results/tables/robust_aggregates.tex",
        "results/figures/robust_aggregates.pdf",
        "results/figures/robust_aggregates.png",
        "results/tables/expert_usage.csv",
        "results/tables/expert_usage.md",
        "results/tables/eval_episodes.csv",
        "results/figures/expert_usage.pdf",
        "results/figures/expert_usage.png",
        "results/figures/eval_episodes.pdf",
        "results/figures/eval_episodes.png",
        "results/figures/entropy_scatter.pdf",
        "results/figures/entropy_scatter.png",

# Figures from the aggregated tables only, so that editing a plotting script or its
# caption re-runs plotting and nothing upstream.


rule plot_learning_curves:
    input:
        curves="results/tables/learning_curves.csv",
    output:
        pdf=report(
            "results/figures/learning_curves.pdf",
            caption="../report/learning_curves.rst",
            category="Figures (PDF)",
        ),
        png=report(
            "results/figures/learning_curves.png",
            caption="../report/learning_curves.rst",
            category="Figures",
        ),
    log:
        "results/figures/learning_curves.log",
    benchmark:
        "results/figures/learning_curves.benchmark.tsv"
    params:
        tasks=grid.task_names(config),
        hue="variant",
        hue_order=grid.variants(config),
    script:
        "../scripts/plot_learning_curves.py"


rule plot_final_router_entropy:
    input:
        runs="results/tables/runs.csv",
    output:
        pdf=report(
            "results/figures/final_router_entropy.pdf",
            caption="../report/final_router_entropy.rst",
            category="Figures (PDF)",
        ),
        png=report(
            "results/figures/final_router_entropy.png",
            caption="../report/final_router_entropy.rst",
            category="Figures",
        ),
    log:
        "results/figures/final_router_entropy.log",
    benchmark:
        "results/figures/final_router_entropy.benchmark.tsv"
    params:
        metrics=["router_entropy"],
        entropy_reference_lines=True,
        x="variant",
        order=grid.variants(config),
        tasks=grid.task_names(config),
    script:
        "../scripts/plot_final_metrics.py"


use rule plot_final_router_entropy as plot_final_return with:
    output:
        pdf=report(
            "results/figures/final_return.pdf",
            caption="../report/final_return.rst",
            category="Figures (PDF)",
        ),
        png=report(
            "results/figures/final_return.png",
            caption="../report/final_return.rst",
            category="Figures",
        ),
    log:
        "results/figures/final_return.log",
    benchmark:
        "results/figures/final_return.benchmark.tsv"
    params:
        metrics=["return_mean"],
        entropy_reference_lines=False,
        x="variant",
        order=grid.variants(config),
        tasks=grid.task_names(config),

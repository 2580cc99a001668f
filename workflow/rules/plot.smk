# Figures from the aggregated tables only, so that editing a plotting script or its
# caption re-runs plotting and nothing upstream.


rule plot_learning_curves:
    localrule: True
    input:
        curves=table("learning_curves.csv"),
    output:
        pdf=report(
            final_output(figure("learning_curves.pdf")),
            caption="../report/learning_curves.rst",
            category="Figures (PDF)",
        ),
        png=report(
            final_output(figure("learning_curves.png")),
            caption="../report/learning_curves.rst",
            category="Figures",
        ),
    log:
        report_log("figures/learning_curves"),
    benchmark:
        report_benchmark("figures/learning_curves")
    params:
        tasks=plan.task_names(config),
        hue="variant",
        hue_order=plan.variants(config),
        x="frames",
    script:
        "../scripts/plot_learning_curves.py"


# The corrections act only in fine-tuning, and on a task with a learned warm-up each
# seed's fine-tuning starts at a different frame: aligned at its start, it shows how
# fast each correction moves the router and whether 20 updates saw the end of it.
use rule plot_learning_curves as plot_finetune_curves with:
    localrule: True
    input:
        curves=table("finetune_curves.csv"),
    output:
        pdf=report(
            final_output(figure("finetune_curves.pdf")),
            caption="../report/finetune_curves.rst",
            category="Figures (PDF)",
        ),
        png=report(
            final_output(figure("finetune_curves.png")),
            caption="../report/finetune_curves.rst",
            category="Figures",
        ),
    log:
        report_log("figures/finetune_curves"),
    benchmark:
        report_benchmark("figures/finetune_curves")
    params:  # keyword params not named here are plot_learning_curves' own
        x="finetune_frames",


rule plot_final_router_entropy:
    localrule: True
    input:
        runs=table("runs.csv"),
    output:
        pdf=report(
            final_output(figure("final_router_entropy.pdf")),
            caption="../report/final_router_entropy.rst",
            category="Figures (PDF)",
        ),
        png=report(
            final_output(figure("final_router_entropy.png")),
            caption="../report/final_router_entropy.rst",
            category="Figures",
        ),
    log:
        report_log("figures/final_router_entropy"),
    benchmark:
        report_benchmark("figures/final_router_entropy")
    params:
        metrics=["router_entropy"],
        entropy_reference_lines=True,
        x="variant",
        xlabel="variant",
        order=plan.variants(config),
        tasks=plan.task_names(config),
    script:
        "../scripts/plot_final_metrics.py"


# `use rule ... with:` keeps the script, params and the rest, but not `localrule`: its
# `with:` block resets it to false unless it says it again (Snakemake 9).
use rule plot_final_router_entropy as plot_final_return with:
    localrule: True
    output:
        pdf=report(
            final_output(figure("final_return.pdf")),
            caption="../report/final_return.rst",
            category="Figures (PDF)",
        ),
        png=report(
            final_output(figure("final_return.png")),
            caption="../report/final_return.rst",
            category="Figures",
        ),
    log:
        report_log("figures/final_return"),
    benchmark:
        report_benchmark("figures/final_return")
    params:
        metrics=["return_mean"],
        entropy_reference_lines=False,
        x="variant",
        order=plan.variants(config),
        tasks=plan.task_names(config),

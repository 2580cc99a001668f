# Reviewer questions on the main grid, from runs.csv and the run directories:
# which correction does the work and do they interact (2^k factorial effects, paired
# by seed), is the difference real across tasks (paired differences and probability
# of improvement), and do experts line up with intents (aligned usage heatmaps, a
# recorded episode, the router vs marginal entropy scatter). The logic is in moe.analysis
# (factorial, robust, specialisation, plots); the scripts are thin.


rule analyse_effects:
    localrule: True
    input:
        runs=table("runs.csv"),
    output:
        csv=report(
            final_output(table("factorial_effects.csv")),
            caption="../report/factorial_effects_table.rst",
            category="Tables",
        ),
        markdown=final_output(table("factorial_effects.md")),
        latex=final_output(table("factorial_effects.tex")),
    log:
        report_log("tables/factorial_effects"),
    benchmark:
        report_benchmark("tables/factorial_effects")
    params:
        corrections=config["corrections"],
        metrics=config["analysis"]["effect_metrics"],
        caption="Factorial effects of the corrections per task: main effects and interactions (mean at + minus mean at -), each seed's own contrast averaged over seeds, with a 95% paired t-interval.",
        label="tab:factorial_effects",
    script:
        "../scripts/analyse_effects.py"


rule plot_effects:
    localrule: True
    input:
        effects=table("factorial_effects.csv"),
    output:
        pdf=report(
            final_output(figure("factorial_effects.pdf")),
            caption="../report/factorial_effects.rst",
            category="Figures (PDF)",
        ),
        png=report(
            final_output(figure("factorial_effects.png")),
            caption="../report/factorial_effects.rst",
            category="Figures",
        ),
    log:
        report_log("figures/factorial_effects"),
    benchmark:
        report_benchmark("figures/factorial_effects")
    params:
        tasks=plan.task_names(config),
        metrics=config["analysis"]["effect_metrics"],
    script:
        "../scripts/plot_effects.py"


rule analyse_robust:
    localrule: True
    input:
        runs=table("runs.csv"),
    output:
        csv=report(
            final_output(table("robust_aggregates.csv")),
            caption="../report/robust_aggregates_table.rst",
            category="Tables",
        ),
        markdown=final_output(table("robust_aggregates.md")),
        latex=final_output(table("robust_aggregates.tex")),
    log:
        report_log("tables/robust_aggregates"),
    benchmark:
        report_benchmark("tables/robust_aggregates")
    params:
        variants=plan.variants(config),
        tasks=plan.task_names(config),
        metrics=config["analysis"]["robust_metrics"],
        baseline="baseline",
        caption="Across tasks, paired by seed: per variant the mean over tasks, the difference from the baseline and the probability of beating the baseline run of the same seed, each with a 95% t-interval over seeds (n).",
        label="tab:robust_aggregates",
    script:
        "../scripts/analyse_robust.py"


rule plot_robust:
    localrule: True
    input:
        robust=table("robust_aggregates.csv"),
    output:
        pdf=report(
            final_output(figure("robust_aggregates.pdf")),
            caption="../report/robust_aggregates.rst",
            category="Figures (PDF)",
        ),
        png=report(
            final_output(figure("robust_aggregates.png")),
            caption="../report/robust_aggregates.rst",
            category="Figures",
        ),
    log:
        report_log("figures/robust_aggregates"),
    benchmark:
        report_benchmark("figures/robust_aggregates")
    params:
        variants=plan.variants(config),
        baseline="baseline",
    script:
        "../scripts/plot_robust.py"


rule analyse_specialisation:
    localrule: True
    input:
        runs=table("runs.csv"),
        episodes=lambda wildcards: run_files(plan.train_runs(config), "eval_episode.csv"),
    output:
        usage=report(
            final_output(table("expert_usage.csv")),
            caption="../report/expert_usage_table.rst",
            category="Tables",
        ),
        markdown=final_output(table("expert_usage.md")),
        episodes=final_output(table("eval_episodes.csv")),
    log:
        report_log("tables/expert_usage"),
    benchmark:
        report_benchmark("tables/expert_usage")
    script:
        "../scripts/analyse_specialisation.py"


rule plot_expert_usage:
    localrule: True
    input:
        data=table("expert_usage.csv"),
    output:
        pdf=report(
            final_output(figure("expert_usage.pdf")),
            caption="../report/expert_usage.rst",
            category="Figures (PDF)",
        ),
        png=report(
            final_output(figure("expert_usage.png")),
            caption="../report/expert_usage.rst",
            category="Figures",
        ),
    log:
        report_log("figures/expert_usage"),
    benchmark:
        report_benchmark("figures/expert_usage")
    params:
        kind="usage",
        tasks=plan.task_names(config),
        variants=plan.variants(config),
    script:
        "../scripts/plot_specialisation.py"


use rule plot_expert_usage as plot_eval_episodes with:
    localrule: True
    input:
        data=table("eval_episodes.csv"),
    output:
        pdf=report(
            final_output(figure("eval_episodes.pdf")),
            caption="../report/eval_episodes.rst",
            category="Figures (PDF)",
        ),
        png=report(
            final_output(figure("eval_episodes.png")),
            caption="../report/eval_episodes.rst",
            category="Figures",
        ),
    log:
        report_log("figures/eval_episodes"),
    benchmark:
        report_benchmark("figures/eval_episodes")
    params:
        kind="episodes",
        tasks=plan.task_names(config),
        variants=plan.variants(config),


rule plot_entropy_scatter:
    localrule: True
    input:
        runs=table("runs.csv"),
    output:
        pdf=report(
            final_output(figure("entropy_scatter.pdf")),
            caption="../report/entropy_scatter.rst",
            category="Figures (PDF)",
        ),
        png=report(
            final_output(figure("entropy_scatter.png")),
            caption="../report/entropy_scatter.rst",
            category="Figures",
        ),
    log:
        report_log("figures/entropy_scatter"),
    benchmark:
        report_benchmark("figures/entropy_scatter")
    params:
        tasks=plan.task_names(config),
        variants=plan.variants(config),
    script:
        "../scripts/plot_entropy_scatter.py"

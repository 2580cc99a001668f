# Reviewer questions on the main grid, from runs.csv and the run directories:
# which correction does the work and do they interact (2^k factorial effects, paired
# by seed), is the difference real across tasks (paired differences and probability
# of improvement), and do experts line up with intents (aligned usage heatmaps, a
# recorded episode, the router vs marginal entropy scatter). The logic is in moe.analysis
# (factorial, robust, specialisation, plots); the scripts are thin.


rule analyse_effects:
    input:
        runs="results/tables/runs.csv",
    output:
        csv=report(
            "results/tables/factorial_effects.csv",
            caption="../report/factorial_effects_table.rst",
            category="Tables",
        ),
        markdown="results/tables/factorial_effects.md",
        latex="results/tables/factorial_effects.tex",
    log:
        "results/tables/factorial_effects.log",
    benchmark:
        "results/tables/factorial_effects.benchmark.tsv"
    params:
        corrections=config["corrections"],
        metrics=config["analysis"]["effect_metrics"],
        caption="Factorial effects of the corrections per task: main effects and interactions (mean at + minus mean at -), each seed's own contrast averaged over seeds, with a 95% paired t-interval.",
        label="tab:factorial_effects",
    script:
        "../scripts/analyse_effects.py"


rule plot_effects:
    input:
        effects="results/tables/factorial_effects.csv",
    output:
        pdf=report(
            "results/figures/factorial_effects.pdf",
            caption="../report/factorial_effects.rst",
            category="Figures (PDF)",
        ),
        png=report(
            "results/figures/factorial_effects.png",
            caption="../report/factorial_effects.rst",
            category="Figures",
        ),
    log:
        "results/figures/factorial_effects.log",
    benchmark:
        "results/figures/factorial_effects.benchmark.tsv"
    params:
        tasks=grid.task_names(config),
        metrics=config["analysis"]["effect_metrics"],
    script:
        "../scripts/plot_effects.py"


rule analyse_robust:
    input:
        runs="results/tables/runs.csv",
    output:
        csv=report(
            "results/tables/robust_aggregates.csv",
            caption="../report/robust_aggregates_table.rst",
            category="Tables",
        ),
        markdown="results/tables/robust_aggregates.md",
        latex="results/tables/robust_aggregates.tex",
    log:
        "results/tables/robust_aggregates.log",
    benchmark:
        "results/tables/robust_aggregates.benchmark.tsv"
    params:
        variants=grid.variants(config),
        tasks=grid.task_names(config),
        metrics=config["analysis"]["robust_metrics"],
        baseline="baseline",
        caption="Across tasks, paired by seed: per variant the mean over tasks, the difference from the baseline and the probability of beating the baseline run of the same seed, each with a 95% t-interval over seeds (n).",
        label="tab:robust_aggregates",
    script:
        "../scripts/analyse_robust.py"


rule plot_robust:
    input:
        robust="results/tables/robust_aggregates.csv",
    output:
        pdf=report(
            "results/figures/robust_aggregates.pdf",
            caption="../report/robust_aggregates.rst",
            category="Figures (PDF)",
        ),
        png=report(
            "results/figures/robust_aggregates.png",
            caption="../report/robust_aggregates.rst",
            category="Figures",
        ),
    log:
        "results/figures/robust_aggregates.log",
    benchmark:
        "results/figures/robust_aggregates.benchmark.tsv"
    params:
        variants=grid.variants(config),
        baseline="baseline",
    script:
        "../scripts/plot_robust.py"


rule analyse_specialisation:
    input:
        runs="results/tables/runs.csv",
        episodes=lambda wildcards: run_files(grid.train_runs(config), "eval_episode.csv"),
    output:
        usage=report(
            "results/tables/expert_usage.csv",
            caption="../report/expert_usage_table.rst",
            category="Tables",
        ),
        markdown="results/tables/expert_usage.md",
        episodes="results/tables/eval_episodes.csv",
    log:
        "results/tables/specialisation.log",
    benchmark:
        "results/tables/specialisation.benchmark.tsv"
    script:
        "../scripts/analyse_specialisation.py"


rule plot_expert_usage:
    input:
        data="results/tables/expert_usage.csv",
    output:
        pdf=report(
            "results/figures/expert_usage.pdf",
            caption="../report/expert_usage.rst",
            category="Figures (PDF)",
        ),
        png=report(
            "results/figures/expert_usage.png",
            caption="../report/expert_usage.rst",
            category="Figures",
        ),
    log:
        "results/figures/expert_usage.log",
    benchmark:
        "results/figures/expert_usage.benchmark.tsv"
    params:
        kind="usage",
        tasks=grid.task_names(config),
        variants=grid.variants(config),
    script:
        "../scripts/plot_specialisation.py"


use rule plot_expert_usage as plot_eval_episodes with:
    input:
        data="results/tables/eval_episodes.csv",
    output:
        pdf=report(
            "results/figures/eval_episodes.pdf",
            caption="../report/eval_episodes.rst",
            category="Figures (PDF)",
        ),
        png=report(
            "results/figures/eval_episodes.png",
            caption="../report/eval_episodes.rst",
            category="Figures",
        ),
    log:
        "results/figures/eval_episodes.log",
    benchmark:
        "results/figures/eval_episodes.benchmark.tsv"
    params:
        kind="episodes",
        tasks=grid.task_names(config),
        variants=grid.variants(config),


rule plot_entropy_scatter:
    input:
        runs="results/tables/runs.csv",
    output:
        pdf=report(
            "results/figures/entropy_scatter.pdf",
            caption="../report/entropy_scatter.rst",
            category="Figures (PDF)",
        ),
        png=report(
            "results/figures/entropy_scatter.png",
            caption="../report/entropy_scatter.rst",
            category="Figures",
        ),
    log:
        "results/figures/entropy_scatter.log",
    benchmark:
        "results/figures/entropy_scatter.benchmark.tsv"
    params:
        tasks=grid.task_names(config),
        variants=grid.variants(config),
    script:
        "../scripts/plot_entropy_scatter.py"

# Reviewer questions on the main grid, from runs.csv and the run directories:
# which correction does the work and do they interact (2^k factorial effects, paired
# by seed), is the difference real across tasks (paired differences and probability
# of improvement), and do experts line up with intents (aligned usage heatmaps, a
# recorded episode, the router vs marginal entropy scatter). The logic is in
# moe.analysis (factorial, robust, specialisation, plots).

table_rule(
    "analyse_effects",
    "factorial_effects",
    input={"runs": table("runs.csv")},
    output=study_tables("factorial_effects", "csv", "md", "tex"),
    corrections=config["corrections"],
    metrics=config["analysis"]["effect_metrics"],
    caption="Factorial effects of the corrections per task: main effects and interactions (mean at + minus mean at -), each seed's own contrast averaged over seeds, with a 95% paired t-interval.",
    label="tab:factorial_effects",
)

figure_rule(
    "plot_effects",
    "factorial_effects",
    table("factorial_effects.csv"),
    plot="plot_effects",
    tasks=plan.task_names(config),
    metrics=config["analysis"]["effect_metrics"],
)

table_rule(
    "analyse_robust",
    "robust_aggregates",
    input={"runs": table("runs.csv")},
    output=study_tables("robust_aggregates", "csv", "md", "tex"),
    variants=plan.variants(config),
    tasks=plan.task_names(config),
    metrics=config["analysis"]["robust_metrics"],
    baseline="baseline",
    caption="Across tasks, paired by seed: per variant the mean over tasks, the difference from the baseline and the probability of beating the baseline run of the same seed, each with a 95% t-interval over seeds (n).",
    label="tab:robust_aggregates",
)

figure_rule(
    "plot_robust",
    "robust_aggregates",
    table("robust_aggregates.csv"),
    plot="plot_robust_aggregates",
    variants=plan.variants(config),
    baseline="baseline",
)

table_rule(
    "analyse_specialisation",
    "expert_usage",
    input={
        "runs": table("runs.csv"),
        "episodes": lambda wildcards: run_files(plan.train_runs(config), "eval_episode.csv"),
    },
    output={
        **study_tables("expert_usage", "csv", "md"),
        "episodes": final_output(table("eval_episodes.csv")),
    },
)

figure_rule(
    "plot_expert_usage",
    "expert_usage",
    table("expert_usage.csv"),
    plot="plot_usage_heatmaps",
    tasks=plan.task_names(config),
    variants=plan.variants(config),
)

figure_rule(
    "plot_eval_episodes",
    "eval_episodes",
    table("eval_episodes.csv"),
    plot="plot_episodes",
    tasks=plan.task_names(config),
    variants=plan.variants(config),
)

figure_rule(
    "plot_entropy_scatter",
    "entropy_scatter",
    table("runs.csv"),
    plot="plot_entropy_scatter",
    tasks=plan.task_names(config),
    hue_order=plan.variants(config),
)

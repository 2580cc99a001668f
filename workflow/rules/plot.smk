# Figures from the aggregated tables only, so that editing a caption or a figure's
# params re-runs plotting and nothing upstream.

# Whole runs, each aligned on the end of its own warm-up (x < 0: the warm-up, shared by
# every variant of a seed): on a task with a learned warm-up, a mean by frame would mix
# seeds still learning with seeds fine-tuning. runs.csv gives each task's K (bands end at ln K).
figure_rule(
    "plot_learning_curves",
    "learning_curves",
    [table("learning_curves.csv"), table("runs.csv")],
    plot="plot_learning_curves",
    inputs=["runs"],
    tasks=plan.task_names(config),
    hue_order=plan.variants(config),
    x="finetune_frames",
)

# The corrections act only in fine-tuning, and on a task with a learned warm-up each
# seed's fine-tuning starts at a different frame: aligned at its start, it shows how
# fast each correction moves the router and whether fine-tuning ran long enough to see the end of it.
figure_rule(
    "plot_finetune_curves",
    "finetune_curves",
    [table("finetune_curves.csv"), table("runs.csv")],
    plot="plot_learning_curves",
    inputs=["runs"],
    tasks=plan.task_names(config),
    hue_order=plan.variants(config),
    x="finetune_frames",
)

figure_rule(
    "plot_final_router_entropy",
    "final_router_entropy",
    table("runs.csv"),
    plot="plot_final_metrics",
    metrics=["router_entropy"],
    tasks=plan.task_names(config),
    order=plan.variants(config),
)

figure_rule(
    "plot_final_return",
    "final_return",
    table("runs.csv"),
    plot="plot_final_metrics",
    metrics=["return_mean"],
    tasks=plan.task_names(config),
    order=plan.variants(config),
)

# The intent axis of the verdicts: the entropy scatter's "commits, uses several experts"
# corner holds intent specialists and state splits alike; intent explained against state
# split tells them apart, each run in its verdict's colour.
figure_rule(
    "plot_intent_scatter",
    "intent_scatter",
    table("runs.csv"),
    plot="plot_intent_scatter",
    tasks=plan.task_names(config),
)

# Figures from the aggregated tables only, so that editing a caption or a figure's
# params re-runs plotting and nothing upstream.

figure_rule(
    "plot_learning_curves",
    "learning_curves",
    table("learning_curves.csv"),
    plot="plot_learning_curves",
    tasks=plan.task_names(config),
    hue_order=plan.variants(config),
)

# The corrections act only in fine-tuning, and on a task with a learned warm-up each
# seed's fine-tuning starts at a different frame: aligned at its start, it shows how
# fast each correction moves the router and whether 20 updates saw the end of it.
figure_rule(
    "plot_finetune_curves",
    "finetune_curves",
    table("finetune_curves.csv"),
    plot="plot_learning_curves",
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

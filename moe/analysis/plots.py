"""Seaborn figures of the benchmark, each saved as PDF and PNG."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: figures are files, never windows

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from moe.analysis.runs import FINISHED  # noqa: E402
from moe.analysis.stats import BOOTSTRAP_SEED  # noqa: E402

METRIC_TITLES = {
    "return_mean": "return",
    "router_entropy": "router entropy H(alpha) [nats]",
    "marginal_router_entropy": "marginal router entropy [nats]",
    "success_rate": "success rate",
    "switch_rate": "switch rate",
    "intent_nmi": "intent NMI",
}
#: Bands and error bars: 95% bootstrap CI across seeds, with the tables' fixed seed.
ERRORBAR = ("ci", 95)


def save_figure(fig, paths: Sequence) -> None:
    for path in paths:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, bbox_inches="tight", dpi=150)
    plt.close(fig)


def _placeholder(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes)
    ax.set_axis_off()


def plot_learning_curves(
    curves: pd.DataFrame,
    tasks: Sequence[str],
    hue_order: Sequence[str],
    paths: Sequence,
    hue: str = "variant",
    metrics: Sequence[str] = ("return_mean", "router_entropy"),
):
    """Rows: metrics; columns: tasks; one line per `hue` value with a 95% CI band across seeds."""
    fig, axes = plt.subplots(
        len(metrics), len(tasks), figsize=(4.2 * len(tasks), 3.2 * len(metrics)), squeeze=False
    )
    for row, metric in enumerate(metrics):
        for col, task in enumerate(tasks):
            ax = axes[row][col]
            data = curves[(curves["task"] == task) & (curves["metric"] == metric)]
            if data.empty:
                _placeholder(ax, f"{task}\nno data")
                continue
            sns.lineplot(
                data=data, x="frames", y="value", hue=hue, hue_order=list(hue_order),
                errorbar=ERRORBAR, seed=BOOTSTRAP_SEED, ax=ax, legend=(row == 0 and col == len(tasks) - 1),
            )
            ax.set_title(task if row == 0 else "")
            ax.set_ylabel(METRIC_TITLES.get(metric, metric) if col == 0 else "")
    legend_axes = [ax for ax in axes.flat if ax.get_legend() is not None]
    for ax in legend_axes:
        sns.move_legend(ax, "upper left", bbox_to_anchor=(1.02, 1.0), title=hue, frameon=False)
    fig.tight_layout()
    save_figure(fig, paths)
    return fig


def plot_final_metrics(
    runs: pd.DataFrame,
    metrics: Sequence[str],
    tasks: Sequence[str],
    order: Sequence[str],
    paths: Sequence,
    x: str = "variant",
    reference_lines: Mapping[str, Sequence[tuple[float, str]]] | None = None,
):
    """Rows: metrics; columns: tasks. Each finished seed as a dot, and per `x` value
    the mean with a 95% bootstrap CI bar.

    `reference_lines` maps a metric to `(y, label)` pairs drawn as dashed lines.
    """
    reference_lines = reference_lines or {}
    finished = runs[runs["status"] == FINISHED]
    width = max(4.0, 0.55 * len(order) + 1.5)
    fig, axes = plt.subplots(
        len(metrics), len(tasks), figsize=(width * len(tasks), 5.0 * len(metrics)), squeeze=False
    )
    for row, metric in enumerate(metrics):
        for col, task in enumerate(tasks):
            ax = axes[row][col]
            data = finished[(finished["task"] == task) & finished[metric].notna()]
            if data.empty:
                _placeholder(ax, f"{task}\nno data")
                continue
            sns.stripplot(data=data, x=x, y=metric, order=list(order), color="0.6", size=3, ax=ax, jitter=0.15)
            sns.pointplot(
                data=data, x=x, y=metric, order=list(order), errorbar=ERRORBAR, seed=BOOTSTRAP_SEED,
                linestyle="none", color="C0", capsize=0.2, ax=ax,
            )
            for index, (y, label) in enumerate(reference_lines.get(metric, ())):
                ax.axhline(y, linestyle="--", linewidth=1, color=f"C{3 + index}")
                ax.annotate(label, xy=(1.0, y), xycoords=("axes fraction", "data"), fontsize=8,
                            xytext=(3, 0), textcoords="offset points", va="center")
            if metric.endswith("entropy"):
                ax.set_ylim(bottom=0.0)  # entropies are >= 0; keeps ln 2 and ln K in proportion
            ax.set_title(task if row == 0 else "")
            ax.set_xlabel(x if row == len(metrics) - 1 else "")
            ax.set_ylabel(METRIC_TITLES.get(metric, metric) if col == 0 else "")
            ax.tick_params(axis="x", labelrotation=60)
            for label in ax.get_xticklabels():
                label.set_horizontalalignment("right")
    fig.tight_layout()
    save_figure(fig, paths)
    return fig


def entropy_reference_lines(num_experts: int) -> list[tuple[float, str]]:
    """ln 2 (hedging between two experts) and ln K (uniform over all K experts)."""
    lines = [(math.log(2), "ln 2")]
    if num_experts and num_experts > 2:
        lines.append((math.log(num_experts), f"ln {num_experts}"))
    return lines


# --- factorial effects, robust aggregates, specialisation ------------------------------


def plot_effects(effects: pd.DataFrame, tasks: Sequence[str], metrics: Sequence[str], paths: Sequence):
    """Forest plot: rows metrics, columns tasks; one line per term (main effects on top,
    then interactions), the effect with its 95% bootstrap interval; a line at 0 (no effect)."""
    terms = list(dict.fromkeys(effects.sort_values("order", kind="stable")["term"])) if not effects.empty else []
    height = max(2.5, 0.35 * len(terms) + 1.2)
    fig, axes = plt.subplots(len(metrics), len(tasks), figsize=(4.2 * len(tasks), height * len(metrics)),
                             squeeze=False)
    for row, metric in enumerate(metrics):
        for col, task in enumerate(tasks):
            ax = axes[row][col]
            data = effects[(effects["task"] == task) & (effects["metric"] == metric)]
            data = data.set_index("term").reindex(terms)
            if data.empty or data["effect"].isna().all():
                note = data["note"].dropna().iloc[0] if not data.empty and data["note"].notna().any() else "no data"
                _placeholder(ax, f"{task}\n{METRIC_TITLES.get(metric, metric)}\neffects n/a: {note}")
                continue
            y = list(range(len(terms)))[::-1]
            lower = (data["effect"] - data["ci_low"]).clip(lower=0).fillna(0)
            upper = (data["ci_high"] - data["effect"]).clip(lower=0).fillna(0)
            colors = [f"C{min(int(order) - 1, 9)}" for order in data["order"]]
            ax.errorbar(data["effect"], y, xerr=[lower, upper], fmt="none", ecolor="0.4", capsize=3)
            ax.scatter(data["effect"], y, c=colors, zorder=3)
            ax.axvline(0.0, color="0.3", linewidth=1, linestyle="--")
            ax.set_yticks(y)
            ax.set_yticklabels(terms if col == 0 else [""] * len(terms))
            ax.set_title(task if row == 0 else "")
            ax.set_xlabel(f"effect on {METRIC_TITLES.get(metric, metric)}")
    fig.tight_layout()
    save_figure(fig, paths)
    return fig


def plot_robust_aggregates(robust: pd.DataFrame, variants: Sequence[str], paths: Sequence,
                           baseline: str = "baseline"):
    """rliable-style interval plots: top row IQM per variant, bottom row P(variant improves
    on the baseline), one column per metric; 95% stratified bootstrap intervals."""
    metrics = list(dict.fromkeys(robust["metric"])) if not robust.empty else ["return_mean"]
    height = max(2.5, 0.35 * len(variants) + 1.0)
    fig, axes = plt.subplots(2, len(metrics), figsize=(4.8 * len(metrics), 2 * height), squeeze=False)
    y = list(range(len(variants)))[::-1]
    for col, metric in enumerate(metrics):
        data = robust[robust["metric"] == metric].set_index("variant").reindex(list(variants))
        better = data["better"].dropna().iloc[0] if data["better"].notna().any() else "higher"
        for row, (stat, xlabel) in enumerate([
            ("iqm", f"IQM of {METRIC_TITLES.get(metric, metric)}"),
            ("p_improve", f"P(variant {'>' if better == 'higher' else '<'} {baseline}) on {metric}"),
        ]):
            ax = axes[row][col]
            if data[stat].isna().all():
                _placeholder(ax, f"{metric}\nno data")
                continue
            lower = (data[stat] - data[f"{stat}_ci_low"]).clip(lower=0).fillna(0)
            upper = (data[f"{stat}_ci_high"] - data[stat]).clip(lower=0).fillna(0)
            ax.errorbar(data[stat], y, xerr=[lower, upper], fmt="o", color="C0", ecolor="0.4", capsize=3)
            if stat == "p_improve":
                ax.axvline(0.5, color="0.3", linewidth=1, linestyle="--")
                ax.set_xlim(-0.02, 1.02)
            elif metric.endswith("entropy"):
                ax.axvline(math.log(2), color="C3", linewidth=1, linestyle="--")
                ax.annotate("ln 2", xy=(math.log(2), 1.0), xycoords=("data", "axes fraction"), fontsize=8,
                            xytext=(2, -10), textcoords="offset points")
            ax.set_yticks(y)
            ax.set_yticklabels(list(variants) if col == 0 else [""] * len(variants))
            ax.set_xlabel(xlabel)
    fig.tight_layout()
    save_figure(fig, paths)
    return fig


def plot_usage_heatmaps(usage: pd.DataFrame, tasks: Sequence[str], variants: Sequence[str], paths: Sequence):
    """Intent x expert usage (fraction of the intent's steps with the expert as argmax),
    rows variants, columns tasks; colour scale 0..1 shared by all panels."""
    from moe.analysis.specialisation import usage_matrix

    fig, axes = plt.subplots(len(variants), len(tasks), figsize=(4.2 * len(tasks), 1.9 * len(variants)),
                             squeeze=False)
    image = None
    for row, variant in enumerate(variants):
        for col, task in enumerate(tasks):
            ax = axes[row][col]
            matrix = usage_matrix(usage, task, variant)
            if matrix.empty:
                _placeholder(ax, f"{task}\n{variant}\nno data")
                continue
            image = ax.imshow(matrix.to_numpy(dtype=float), vmin=0.0, vmax=1.0, cmap="viridis", aspect="auto")
            for (i, j), value in np.ndenumerate(matrix.to_numpy(dtype=float)):
                ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=7,
                        color="white" if value < 0.6 else "black")
            ax.set_xticks(range(matrix.shape[1]))
            ax.set_xticklabels([str(k) for k in range(matrix.shape[1])] if row == len(variants) - 1 else [])
            ax.set_yticks(range(matrix.shape[0]))
            ax.set_yticklabels(matrix.index, fontsize=7)
            ax.set_title(f"{task}\n{variant}" if row == 0 else variant, fontsize=8)
            if row == len(variants) - 1:
                ax.set_xlabel("expert (argmax)")
    if image is not None:
        fig.colorbar(image, ax=axes, shrink=0.6, label="fraction of the intent's steps")
    save_figure(fig, paths)
    return fig


def plot_episodes(episodes: pd.DataFrame, tasks: Sequence[str], variants: Sequence[str], paths: Sequence):
    """One recorded evaluation episode per task (columns) and variant (rows): router
    weights alpha_k as stacked areas over the steps, the ground-truth intent as a
    coloured band beneath (y < 0)."""
    from matplotlib.patches import Patch

    from moe.analysis.specialisation import alpha_columns

    fig, axes = plt.subplots(len(variants), len(tasks), figsize=(4.2 * len(tasks), 1.9 * len(variants)),
                             squeeze=False)
    band = (-0.22, 0.17)  # y position and height of the intent band
    intent_colors: dict[str, dict[str, tuple]] = {}
    # One colour per (task, intent) across the figure: the legend is shared, so two
    # tasks' intents must not look alike. Set2 has 8 colours, then Dark2 continues.
    figure_palette = iter(sns.color_palette("Set2") + sns.color_palette("Dark2") + sns.color_palette("tab20"))
    expert_handles = []
    for col, task in enumerate(tasks):
        data = episodes[episodes["task"] == task]
        intents = list(dict.fromkeys(data["intent"].dropna().astype(str))) if not data.empty else []
        intent_colors[task] = {intent: next(figure_palette, "0.5") for intent in intents}
        for row, variant in enumerate(variants):
            ax = axes[row][col]
            run = data[data["variant"] == variant].sort_values("step")
            if run.empty:
                _placeholder(ax, f"{task}\n{variant}\nno episode")
                continue
            alphas = [c for c in alpha_columns(run) if run[c].notna().any()]
            steps = run["step"].to_numpy(dtype=float)
            stacks = ax.stackplot(steps, *[run[c].to_numpy(dtype=float) for c in alphas],
                                  colors=[f"C{k % 10}" for k in range(len(alphas))], step=None)
            if len(expert_handles) < len(alphas):
                expert_handles = [Patch(color=f"C{k % 10}", label=f"alpha_{k}") for k in range(len(alphas))]
            del stacks
            labels = run["intent"].astype(str).to_numpy()
            start = 0
            for i in range(1, len(labels) + 1):
                if i == len(labels) or labels[i] != labels[start]:
                    color = intent_colors[task].get(labels[start], "0.8")
                    left = steps[start] - 0.5
                    width = (steps[i - 1] + 0.5) - left
                    ax.broken_barh([(left, width)], band, facecolors=color)
                    start = i
            ax.set_ylim(band[0] - 0.02, 1.0)
            ax.set_xlim(steps[0] - 0.5, steps[-1] + 0.5)
            ax.set_yticks([0, 0.5, 1])
            seed = run["seed"].iloc[0]
            ax.set_title(f"{task}\n{variant} (seed {seed})" if row == 0 else f"{variant} (seed {seed})", fontsize=8)
            if row == len(variants) - 1:
                ax.set_xlabel("step")
            if col == 0:
                ax.set_ylabel("alpha")
    handles = list(expert_handles)
    for task in tasks:
        handles += [Patch(color=color, label=f"{task}: {intent}") for intent, color in intent_colors[task].items()]
    if handles:
        fig.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize=8)
    fig.tight_layout()
    save_figure(fig, paths)
    return fig


def plot_entropy_scatter(runs: pd.DataFrame, tasks: Sequence[str], hue_order: Sequence[str], paths: Sequence,
                         hue: str = "variant"):
    """Per-step router entropy (x) against marginal router entropy (y), one dot per
    finished run, one panel per task. Dashed lines at ln 2 on both axes; the diagonal
    is the bound marginal >= per-step. Hedging: x near ln 2 and y near x; flipping:
    x low, y high (far above the diagonal)."""
    finished = runs[runs["status"] == FINISHED]
    experts = finished["num_experts"].dropna()
    top = math.log(int(experts.max())) if not experts.empty else math.log(4)
    fig, axes = plt.subplots(1, len(tasks), figsize=(4.2 * len(tasks), 4.0), squeeze=False)
    for col, task in enumerate(tasks):
        ax = axes[0][col]
        data = finished[(finished["task"] == task)].dropna(subset=["router_entropy", "marginal_router_entropy"])
        if data.empty:
            _placeholder(ax, f"{task}\nno data")
            continue
        sns.scatterplot(data=data, x="router_entropy", y="marginal_router_entropy", hue=hue,
                        hue_order=list(hue_order), style=hue, style_order=list(hue_order), ax=ax, s=40,
                        legend=(col == len(tasks) - 1))
        ax.plot([0, top * 1.05], [0, top * 1.05], color="0.6", linewidth=1)
        for line in (ax.axvline, ax.axhline):
            line(math.log(2), color="C3", linestyle="--", linewidth=1)
        ax.annotate("ln 2", xy=(math.log(2), 0.0), xytext=(3, 3), textcoords="offset points", fontsize=8, color="C3")
        ax.set_xlim(0, top * 1.05)
        ax.set_ylim(0, top * 1.05)
        ax.set_aspect("equal")
        ax.set_title(task)
        ax.set_xlabel("per-step H(alpha_t), mean [nats]")
        ax.set_ylabel("marginal H(mean alpha) [nats]" if col == 0 else "")
        if ax.get_legend() is not None:
            sns.move_legend(ax, "upper left", bbox_to_anchor=(1.02, 1.0), title=hue, frameon=False)
    fig.tight_layout()
    save_figure(fig, paths)
    return fig

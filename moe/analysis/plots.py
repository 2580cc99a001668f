"""Seaborn figures of the benchmark, each saved as PDF and PNG."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: figures are files, never windows

import matplotlib.pyplot as plt  # noqa: E402
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

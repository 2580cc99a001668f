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
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.ticker import FuncFormatter, MaxNLocator  # noqa: E402

from moe.analysis.curves import CURVE_METRICS, FINETUNE_FRAMES  # noqa: E402
from moe.analysis.metrics import HIGHER, LOWER, VERDICTS, metric, metric_range  # noqa: E402
from moe.analysis.runs import DIVERGED, FINISHED, NO_VERDICT  # noqa: E402
from moe.analysis.stats import mean_ci  # noqa: E402

#: Marker colours of a run's status where figures show diverged runs (scored as failures).
STATUS_COLORS = {FINISHED: "0.6", DIVERGED: "C3"}

#: One colour and marker per verdict (results/README.md, "Pooled statistics and the verdict"),
#: the same in every figure that shows verdicts (Okabe-Ito colours; the marker tells them
#: apart in grey too). `n/a`: a run with pooled statistics but no verdict.
VERDICT_COLORS = {"hedge": "#999999", "collapse": "#0072B2", "split": "#E69F00", "specialise": "#009E73",
                  NO_VERDICT: "#000000"}
VERDICT_MARKERS = {"hedge": "o", "collapse": "v", "split": "s", "specialise": "*", NO_VERDICT: "x"}

def interval(values, name: str, num_experts: int | None = None) -> tuple[float, float, float]:
    """`(mean, low, high)`: the tables' interval of metric `name`, `mean_ci` clipped to the
    metric's range at K = `num_experts` (`metric_range`), so that no bar or band leaves what a
    run can reach (e.g. ln K)."""
    return mean_ci(values, bounds=metric_range(name, num_experts))


def errorbar(name: str, num_experts: int | None = None):
    """Seaborn `errorbar` for metric `name`: the tables' interval (`mean_ci`), so bands
    and bars show exactly what the tables print, clipped to the metric's range at K =
    `num_experts` (`interval`)."""
    return lambda values: interval(values, name, num_experts)[1:]


def format_frames(value: float, _position=None) -> str:
    """A frame count as a short tick label: 0, 500, 50k, 200k, 1M, 1.5M."""
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:.3g}{suffix}"
    return f"{value:.3g}"


def frames_axis(axis) -> None:
    """Readable ticks on a frames axis (`ax.xaxis` or `ax.yaxis`): at most 6, labelled `format_frames`."""
    axis.set_major_locator(MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10]))
    axis.set_major_formatter(FuncFormatter(format_frames))


def save_figure(fig, paths: Sequence) -> None:
    for path in paths:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        # No creation date in a PDF: a rebuild from the same runs gives the same bytes.
        metadata = {"CreationDate": None} if str(path).endswith(".pdf") else None
        fig.savefig(path, bbox_inches="tight", dpi=150, metadata=metadata)
    plt.close(fig)


def _placeholder(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes)
    ax.set_axis_off()


CURVE_X_LABELS = {"frames": "frames", FINETUNE_FRAMES: "frames since the seed's fine-tuning began"}


def hue_styles(levels: Sequence[str]) -> dict[str, dict]:
    """Colour and line style per level: matplotlib's 10 colours, solid, then the same
    colours dashed, then dash-dotted (the extended grid's 16 variants stay apart; dotted
    is kept for the stretches of a line with fewer seeds)."""
    dashes = ["-", "--", "-."]
    return {level: {"color": f"C{i % 10}", "linestyle": dashes[min(i // 10, len(dashes) - 1)]}
            for i, level in enumerate(levels)}


def task_experts(runs: pd.DataFrame | None, task: str) -> int | None:
    """K of the task's finished runs in `runs` (the most, `most_experts`), None without one."""
    if runs is None or runs.empty or "num_experts" not in runs:
        return None
    return most_experts(runs[runs["task"] == task])


def curve_summary(data: pd.DataFrame, x: str, name: str, num_experts: int | None) -> pd.DataFrame:
    """Per `x` value of one line's points (one per seed): `n` seeds, `mean`, `low`, `high`
    (`interval`: the tables' interval clipped to the metric's range at K = `num_experts`)."""
    rows = []
    for position, group in data.groupby(x, sort=True):
        mean, low, high = interval(group["value"].to_numpy(dtype=float), name, num_experts)
        rows.append({x: float(position), "n": len(group), "mean": mean, "low": low, "high": high})
    return pd.DataFrame(rows, columns=[x, "n", "mean", "low", "high"])


def plot_learning_curves(
    curves: pd.DataFrame,
    tasks: Sequence[str],
    hue_order: Sequence[str],
    paths: Sequence,
    hue: str = "variant",
    metrics: Sequence[str] = CURVE_METRICS,
    x: str = "frames",
    runs: pd.DataFrame | None = None,
):
    """Rows: metrics; columns: tasks; one line per `hue` value, the mean over seeds with its
    95% `mean_ci` band, clipped to the metric's range (ln K for router entropy and MI, K
    the task's finished runs' in `runs`, runs.csv; without it the registry's bounds), against
    `x`: `frames`, or `finetune_frames`, frames since each seed's fine-tuning began
    (`finetune_curves`, or `learning_curves(align=True)`, whose warm-ups lie at x < 0; a
    dashed line at 0 marks where every seed's fine-tuning begins). Frame ticks read 200k, 1M.

    Where fewer of a line's seeds have a point than at its fullest (a seed's run has
    ended, or has not begun at that x, or measured no value yet), the line is thin and
    dotted: its mean is over those seeds only.
    """
    styles = hue_styles(hue_order)
    fig, axes = plt.subplots(
        len(metrics), len(tasks), figsize=(4.2 * len(tasks), 3.2 * len(metrics)), squeeze=False
    )
    marked_fewer = warmup_shown = False
    for row, name in enumerate(metrics):
        for col, task in enumerate(tasks):
            ax = axes[row][col]
            data = curves[(curves["task"] == task) & (curves["metric"] == name)]
            if data.empty:
                _placeholder(ax, f"{task}\nno data")
                continue
            experts = task_experts(runs, task)
            if x == FINETUNE_FRAMES and (data[x] < 0).any():
                warmup_shown = True
                ax.axvline(0.0, color="0.4", linestyle="--", linewidth=0.8, zorder=0.5)
            for level in hue_order:
                line = data[data[hue] == level]
                if line.empty:
                    continue
                summary = curve_summary(line, x, name, experts)
                full = line["seed"].nunique() if "seed" in line else int(summary["n"].max())
                style = styles[level]
                positions = summary[x].to_numpy()
                ax.fill_between(positions, summary["low"].to_numpy(dtype=float), summary["high"].to_numpy(dtype=float),
                                color=style["color"], alpha=0.2, linewidth=0, zorder=1)
                ax.plot(positions, summary["mean"], color=style["color"], linestyle=":", linewidth=0.9, zorder=2)
                marked_fewer |= bool((summary["n"] < full).any())
                ax.plot(positions, summary["mean"].where(summary["n"] >= full), linewidth=1.6, zorder=3, **style)
            ax.set_title(task if row == 0 else "")
            ax.set_ylabel(metric(name).axis_label if col == 0 else "")
            if row == len(metrics) - 1:
                label = CURVE_X_LABELS.get(x, x)
                ax.set_xlabel(f"{label}\n(< 0: its warm-up)" if warmup_shown and x == FINETUNE_FRAMES else label)
            if x in CURVE_X_LABELS:
                frames_axis(ax.xaxis)
    fig.tight_layout()
    handles = [Line2D([], [], linewidth=1.6, label=str(level), **styles[level]) for level in hue_order]
    if marked_fewer:
        handles.append(Line2D([], [], color="0.3", linestyle=":", linewidth=0.9,
                              label="fewer of the line's seeds:\ntheir mean"))
    if warmup_shown:
        handles.append(Line2D([], [], color="0.4", linestyle="--", linewidth=0.8, label="fine-tuning begins"))
    fig.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 0.98), title=hue, frameon=False)
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
    xlabel: str | None = None,
):
    """Rows: metrics; columns: tasks. Each run that counts as a dot (grey: finished;
    red: diverged, at its failure score), and per `x` value the mean with its 95% `mean_ci` bar,
    clipped to the metric's range (ln K for the router's entropies and MIs, K the most
    experts of the task's finished runs). The bottom row's x axis is labelled `xlabel`
    (default: the column `x`).

    `reference_lines` maps a metric to `(y, label)` pairs drawn as dashed lines in every
    panel; by default, per task, ln 2 and ln K on router entropy (`entropy_reference_lines`),
    K the task's (no lines without a finished run).
    """
    width = max(4.0, 0.55 * len(order) + 1.5)
    fig, axes = plt.subplots(
        len(metrics), len(tasks), figsize=(width * len(tasks), 5.0 * len(metrics)), squeeze=False
    )
    for row, name in enumerate(metrics):
        for col, task in enumerate(tasks):
            ax = axes[row][col]
            data = runs[(runs["task"] == task) & runs[name].notna()]
            if data.empty:
                _placeholder(ax, f"{task}\nno data")
                continue
            experts = task_experts(runs, task)
            if reference_lines is None:
                lines = {"router_entropy": entropy_reference_lines(experts)} if experts else {}
            else:
                lines = reference_lines
            np.random.seed(row * len(tasks) + col)  # seaborn jitters with numpy's global generator
            sns.stripplot(data=data, x=x, y=name, order=list(order), hue="status", palette=STATUS_COLORS,
                          hue_order=[s for s in STATUS_COLORS if s in set(data["status"])], size=3, ax=ax,
                          jitter=0.15, legend=False)
            sns.pointplot(
                data=data, x=x, y=name, order=list(order), errorbar=errorbar(name, experts),
                linestyle="none", color="C0", capsize=0.2, ax=ax,
            )
            if metric(name).unit == "frames":
                frames_axis(ax.yaxis)
            for index, (y, label) in enumerate(lines.get(name, ())):
                ax.axhline(y, linestyle="--", linewidth=1, color=f"C{3 + index}")
                ax.annotate(label, xy=(1.0, y), xycoords=("axes fraction", "data"), fontsize=8,
                            xytext=(3, 0), textcoords="offset points", va="center")
            if metric(name).unit == "nats":
                ax.set_ylim(bottom=0.0)  # entropies are >= 0; keeps ln 2 and ln K in proportion
            ax.set_title(task if row == 0 else "")
            ax.set_xlabel((xlabel or x) if row == len(metrics) - 1 else "")
            ax.set_ylabel(metric(name).axis_label if col == 0 else "")
            ax.tick_params(axis="x", labelrotation=60)
            for label in ax.get_xticklabels():
                label.set_horizontalalignment("right")
    fig.tight_layout()
    save_figure(fig, paths)
    return fig


def most_experts(runs: pd.DataFrame) -> int | None:
    """The largest K among the finished runs of `runs`, None without one."""
    experts = runs.loc[runs["status"] == FINISHED, "num_experts"].dropna()
    return None if experts.empty else int(experts.max())


def entropy_reference_lines(num_experts: int) -> list[tuple[float, str]]:
    """ln 2 (hedging between two experts) and ln K (uniform over all K experts)."""
    lines = [(math.log(2), "ln 2")]
    if num_experts and num_experts > 2:
        lines.append((math.log(num_experts), f"ln {num_experts}"))
    return lines


# --- factorial effects, robust aggregates, specialisation ------------------------------


def _interval_errorbar(ax, data: pd.DataFrame, stat: str, y, **style) -> None:
    """Horizontal bars from `<stat>_ci_low` to `<stat>_ci_high` around `stat` at heights `y`."""
    lower = (data[stat] - data[f"{stat}_ci_low"]).clip(lower=0).fillna(0)
    upper = (data[f"{stat}_ci_high"] - data[stat]).clip(lower=0).fillna(0)
    ax.errorbar(data[stat], y, xerr=[lower, upper], fmt="none", ecolor="0.4", capsize=3, **style)


#: Holm-adjusted p-value under which the effects figure fills a term's marker.
SIGNIFICANCE = 0.05


def plot_effects(effects: pd.DataFrame, tasks: Sequence[str], metrics: Sequence[str], paths: Sequence):
    """Forest plot: rows metrics, columns tasks; one line per term (main effects on top,
    then interactions), the paired effect with its 95% interval; a line at 0 (no effect).
    A filled marker: Holm-adjusted p < 0.05 over the whole table; hollow otherwise."""
    terms = list(dict.fromkeys(effects.sort_values("order", kind="stable")["term"])) if not effects.empty else []
    height = max(2.5, 0.35 * len(terms) + 1.2)
    fig, axes = plt.subplots(len(metrics), len(tasks), figsize=(4.2 * len(tasks), height * len(metrics)),
                             squeeze=False)
    for row, name in enumerate(metrics):
        for col, task in enumerate(tasks):
            ax = axes[row][col]
            data = effects[(effects["task"] == task) & (effects["metric"] == name)]
            data = data.set_index("term").reindex(terms)
            if data.empty or data["effect"].isna().all():
                note = data["note"].dropna().iloc[0] if not data.empty and data["note"].notna().any() else "no data"
                _placeholder(ax, f"{task}\n{metric(name).label}\neffects n/a: {note}")
                continue
            y = np.arange(len(terms))[::-1]
            _interval_errorbar(ax, data, "effect", y)
            colors = [f"C{min(int(order) - 1, 9)}" for order in data["order"]]
            shown = (data["p_holm"] < SIGNIFICANCE).to_numpy()
            shown_colors = [c for c, s in zip(colors, shown, strict=True) if s]
            ax.scatter(data["effect"][shown], y[shown], c=shown_colors, zorder=3)
            ax.scatter(data["effect"][~shown], y[~shown], facecolors="white",
                       edgecolors=[c for c, s in zip(colors, shown, strict=True) if not s], zorder=3)
            ax.axvline(0.0, color="0.3", linewidth=1, linestyle="--")
            ax.set_yticks(y)
            ax.set_yticklabels(terms if col == 0 else [""] * len(terms))
            n = int(data["n_seeds"].max())
            ax.set_title(f"{task} (n = {n})" if row == 0 else f"n = {n}", fontsize=9)
            ax.set_xlabel(f"effect on {metric(name).axis_label}")
    fig.tight_layout()
    orders = sorted({int(order) for order in effects["order"].dropna()}) if not effects.empty else []
    order_names = {1: "main effect", 2: "two-way interaction", 3: "three-way interaction"}
    handles = [Line2D([], [], linestyle="none", marker="o", color=f"C{min(order - 1, 9)}",
                      label=order_names.get(order, f"{order}-way interaction")) for order in orders]
    if handles:
        handles += [Line2D([], [], linestyle="none", marker="o", color="0.3", label=f"Holm p < {SIGNIFICANCE:g}"),
                    Line2D([], [], linestyle="none", marker="o", markerfacecolor="white", markeredgecolor="0.3",
                           label=f"Holm p >= {SIGNIFICANCE:g}")]
        fig.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 0.98), frameon=False, fontsize=9)
    save_figure(fig, paths)
    return fig


def plot_robust_aggregates(robust: pd.DataFrame, variants: Sequence[str], paths: Sequence,
                           baseline: str = "baseline"):
    """Across tasks, paired by seed, one column per metric: the variant's level (mean over
    tasks), its difference from the baseline (dashed 0) and P(variant better than its
    paired baseline run) (dashed 0.5; only for metrics with a direction); 95% `mean_ci`."""
    metrics = list(dict.fromkeys(robust["metric"])) if not robust.empty else ["return_mean"]
    height = max(2.5, 0.35 * len(variants) + 1.0)
    fig, axes = plt.subplots(3, len(metrics), figsize=(4.8 * len(metrics), 3 * height), squeeze=False)
    y = np.arange(len(variants))[::-1]
    for col, name in enumerate(metrics):
        data = robust[robust["metric"] == name].set_index("variant").reindex(list(variants))
        label = metric(name).axis_label
        better = {HIGHER: ">", LOWER: "<"}.get(metric(name).direction)
        for row, (stat, xlabel, line) in enumerate([
            ("level", f"{label}, mean over tasks", None),
            ("difference", f"{label}: variant - {baseline}", 0.0),
            ("p_improve", f"P(variant {better} {baseline}), paired by seed", 0.5),
        ]):
            ax = axes[row][col]
            if data[stat].isna().all():
                reason = "no direction: not ranked" if stat == "p_improve" and better is None else "no data"
                _placeholder(ax, f"{metric(name).label}\n{reason}")
                continue
            _interval_errorbar(ax, data, stat, y)
            ax.scatter(data[stat], y, color="C0", zorder=3)
            if line is not None:
                ax.axvline(line, color="0.3", linewidth=1, linestyle="--")
            if stat == "p_improve":
                ax.set_xlim(-0.02, 1.02)
            ax.set_yticks(y)
            ax.set_yticklabels(list(variants) if col == 0 else [""] * len(variants))
            ax.set_xlabel(xlabel)
        n_seeds, n_tasks = data["n_seeds"].fillna(0).max(), data["n_tasks"].fillna(0).max()
        axes[0][col].set_title(f"n = {int(n_seeds)} (seeds), {int(n_tasks)} tasks", fontsize=9)
    fig.tight_layout()
    save_figure(fig, paths)
    return fig


def plot_usage_heatmaps(usage: pd.DataFrame, tasks: Sequence[str], variants: Sequence[str], paths: Sequence):
    """Intent x aligned-expert usage (mean router weight over the intent's steps), rows
    variants; per task a block of columns: the mean over seeds (numbers printed), then
    each seed as a small multiple. Colour scale 0..1 shared by all panels."""
    from matplotlib.gridspec import GridSpec

    from moe.analysis.specialisation import usage_matrix

    seeds = sorted(usage["seed"].unique()) if not usage.empty else []
    # Width ratios: the mean panel, then one narrow panel per seed, then room for the next task's intent labels.
    block = [2.2, *([1.0] * len(seeds)), 1.4]
    fig = plt.figure(figsize=(0.75 * sum(block) * len(tasks) + 1.0, 1.25 * len(variants) + 0.8))
    grid = GridSpec(len(variants), len(block) * len(tasks), figure=fig, width_ratios=block * len(tasks),
                    hspace=0.5, wspace=0.15)
    image = None
    for col, task in enumerate(tasks):
        first = col * len(block)
        for row, variant in enumerate(variants):
            ax = fig.add_subplot(grid[row, first])
            matrix = usage_matrix(usage, task, variant)
            if matrix.empty:
                _placeholder(ax, f"{variant}\nno data")
                continue
            values = matrix.to_numpy(dtype=float)
            image = ax.imshow(values, vmin=0.0, vmax=1.0, cmap="viridis", aspect="auto")
            for (i, j), value in np.ndenumerate(values):
                ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=6,
                        color="white" if value < 0.6 else "black")
            ax.set_xticks(range(values.shape[1]))
            ax.set_xticklabels([str(k) for k in range(values.shape[1])] if row == len(variants) - 1 else [],
                               fontsize=7)
            ax.set_yticks(range(values.shape[0]))
            ax.set_yticklabels(matrix.index, fontsize=7)
            n = usage[(usage["task"] == task) & (usage["variant"] == variant)]["seed"].nunique()
            ax.set_title(f"{task}\n{variant}: mean of {n}" if row == 0 else f"{variant}: mean of {n}", fontsize=7)
            if row == len(variants) - 1:
                ax.set_xlabel("aligned expert", fontsize=7)
            for offset, seed in enumerate(seeds, start=1):
                small = fig.add_subplot(grid[row, first + offset])
                small.set_xticks([])
                small.set_yticks([])
                seed_matrix = usage_matrix(usage, task, variant, seed)
                if not seed_matrix.empty:
                    small.imshow(seed_matrix.to_numpy(dtype=float), vmin=0.0, vmax=1.0, cmap="viridis", aspect="auto")
                else:
                    small.set_facecolor("0.9")
                if row == 0:
                    small.set_title(f"seed {seed}", fontsize=6)
    if image is not None:
        fig.colorbar(image, ax=fig.axes, shrink=0.5, label="mean router weight over the intent's steps")
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


#: Router mutual information (nats) of the diagonal lines of the entropy scatter.
MUTUAL_INFORMATION_LINES = (0.0, 0.25, 0.5, 1.0)
#: The entropy scatter's top-left corner: low per-step, high marginal entropy. Both an intent
#: specialist and a router that splits states land there (`plot_intent_scatter` separates them).
CORNER_COMMITS = "commits, uses several experts\n(by intent or by state)"


def plot_entropy_scatter(runs: pd.DataFrame, tasks: Sequence[str], hue_order: Sequence[str], paths: Sequence,
                         hue: str = "variant"):
    """Router entropy mean_t H(alpha_t) (x) against marginal router entropy H(mean_t alpha_t)
    (y), one dot per finished run, one panel per task. The router mutual information is
    y - x, so the lines y = x + c are equal-MI lines (labelled). Hedging: top right
    (uniform at every step, MI ~ 0); collapse: bottom left (one expert everywhere, MI ~
    0); top left: commits per step and uses several experts (high MI), by intent or by
    state: this figure cannot tell which (`plot_intent_scatter` can).
    Below the diagonal is impossible (the marginal entropy is never below the per-step mean)."""
    finished = runs[runs["status"] == FINISHED]
    grid_experts = most_experts(runs) or 4
    fig, axes = plt.subplots(1, len(tasks), figsize=(4.6 * len(tasks), 4.4), squeeze=False)
    for col, task in enumerate(tasks):
        ax = axes[0][col]
        data = finished[(finished["task"] == task)].dropna(subset=["router_entropy", "marginal_router_entropy"])
        # ln K of the task's runs: the hedging corner (K can differ between tasks)
        top = math.log(max(most_experts(finished[finished["task"] == task]) or grid_experts, 2))
        edge = top * 1.05
        ax.fill_between([0, edge], [0, 0], [0, edge], color="0.93", zorder=0)
        ax.text(0.7 * edge, 0.15 * edge, "impossible\n(marginal < per-step)", fontsize=7, color="0.5", ha="center")
        ax.axhline(top, color="0.6", linewidth=0.8, linestyle=":")
        for c in MUTUAL_INFORMATION_LINES:
            if c < top:
                ax.plot([0, top - c], [c, top], color="0.55", linewidth=0.8, linestyle="-" if c == 0 else "--")
                if c <= 0.6 * top:
                    # the label sits on its line, halfway, along it (45 degrees on equal axes)
                    ax.text((top - c) / 2, c + (top - c) / 2, f"MI {c:g}", fontsize=7, color="0.4", rotation=45,
                            rotation_mode="anchor", ha="center", va="bottom")
                else:
                    # a short line in the top-left corner: labelled at its upper end, above the axes,
                    # clear of the corner's label
                    ax.text(top - c, edge, f"MI {c:g}", fontsize=7, color="0.4", ha="center", va="bottom")
        box = {"boxstyle": "round,pad=0.2", "facecolor": "white", "edgecolor": "0.8", "alpha": 0.8}
        # Under the dots (zorder 3): a label never hides a run. The top-left corner is any
        # router that commits and uses several experts, by intent or by state alike.
        for text, (x, y, ha, va) in {CORNER_COMMITS: (0.03, 0.97, "left", "top"),
                                     "hedging": (0.98, 1.0, "right", "bottom"),
                                     "collapse": (0.02, 0.02, "left", "bottom")}.items():
            ax.text(x * edge, y * top, text, fontsize=7 if text == CORNER_COMMITS else 8, fontstyle="italic",
                    color="0.25", ha=ha, va=va, bbox=box, zorder=2.5)
        ax.text(0.6 * edge, top, f"ln {int(round(math.exp(top)))}", fontsize=7, color="0.4", ha="center", va="bottom")
        if data.empty:
            ax.text(0.5, 0.5, f"{task}\nno data", ha="center", va="center", transform=ax.transAxes)
        else:
            sns.scatterplot(data=data, x="router_entropy", y="marginal_router_entropy", hue=hue,
                            hue_order=list(hue_order), style=hue, style_order=list(hue_order), ax=ax, s=40,
                            legend=(col == len(tasks) - 1), zorder=3)
        ax.set_xlim(0, edge)
        ax.set_ylim(0, edge)
        ax.set_aspect("equal")
        ax.set_title(task, pad=14)  # room for the labels of short MI lines above the axes
        ax.set_xlabel(f"{metric('router_entropy').axis_label}: per-step mean")
        ax.set_ylabel(f"{metric('marginal_router_entropy').axis_label}" if col == 0 else "")
        if ax.get_legend() is not None:
            sns.move_legend(ax, "upper left", bbox_to_anchor=(1.02, 1.0), title=hue, frameon=False)
    fig.tight_layout()
    save_figure(fig, paths)
    return fig


def verdict_counts(verdicts: pd.Series) -> str:
    """`hedge 20, collapse 12, split 6`: the runs per verdict, in the rule's order, zero
    counts left out (other values, e.g. n/a, after them)."""
    counts = verdicts.value_counts()
    order = [*VERDICTS, *sorted(set(counts.index) - set(VERDICTS))]
    return ", ".join(f"{verdict} {int(counts[verdict])}" for verdict in order if verdict in counts)


def plot_intent_scatter(runs: pd.DataFrame, tasks: Sequence[str], paths: Sequence):
    """The intent axis of the verdicts: `intent_explained` (x: 0 routing blind to the
    intent, 1 one expert per intent) against `state_split` (y, nats: routing by state that
    the intent does not explain), one dot per finished run with pooled statistics (runs.csv),
    coloured and shaped by its `verdict` (`VERDICT_COLORS`, `VERDICT_MARKERS`; one legend
    for all panels), one panel per task. The panel's title counts its runs per verdict.

    The dashed line is the specialise threshold (`moe.router_statistics.SPECIALISE_EXPLAINED`,
    1/2; a specialist also needs distinct modal experts); the dotted line is ln K, the
    task's K, which state split cannot exceed; the open star at (1, 0) is the intent
    oracle (one expert per intent, nothing else). Hedge and collapse are decided first, by
    the entropies, so those runs can sit anywhere here. Runs the entropy scatter puts in
    one corner ("commits, uses several experts") part here: split runs left of the
    threshold, high on y; specialists right of it."""
    from moe.router_statistics import SPECIALISE_EXPLAINED  # the verdict's threshold (imports torch: here)

    finished = runs[runs["status"] == FINISHED] if not runs.empty else runs
    fig, axes = plt.subplots(1, len(tasks), figsize=(4.6 * len(tasks), 4.4), squeeze=False)
    shown: set[str] = set()
    for col, task in enumerate(tasks):
        ax = axes[0][col]
        of_task = finished[finished["task"] == task] if not finished.empty else finished
        columns = {"intent_explained", "state_split", "verdict"}
        data = of_task.dropna(subset=["intent_explained", "state_split"]) if columns <= set(of_task) else of_task[:0]
        if data.empty:
            reason = "no finished run" if of_task.empty else "no run with pooled statistics"
            _placeholder(ax, f"{task}\n{reason}\n(intent explained, state split)")
            continue
        top = math.log(max(task_experts(runs, task) or 2, 2))
        ax.axhline(top, color="0.6", linewidth=0.8, linestyle=":")
        ax.text(0.25, top, f"ln {int(round(math.exp(top)))}", fontsize=7, color="0.4", ha="center", va="bottom")
        ax.axvline(SPECIALISE_EXPLAINED, color="0.45", linewidth=0.9, linestyle="--", zorder=1)
        ax.text(SPECIALISE_EXPLAINED + 0.02, 0.86 * top, f"specialise if >= {SPECIALISE_EXPLAINED:g}\n"
                "and distinct modal experts",
                fontsize=7, color="0.35", ha="left", va="top", zorder=1)
        ax.text(0.02, 0.97 * top, "routes by state", fontsize=8, fontstyle="italic", color="0.35", ha="left",
                va="top", zorder=1)
        ax.text(0.98, 0.97 * top, "routes by intent", fontsize=8, fontstyle="italic", color="0.35", ha="right",
                va="top", zorder=1)
        ax.scatter([1.0], [0.0], marker="*", s=160, facecolors="none", edgecolors="0.2", linewidths=0.9,
                   zorder=2, clip_on=False)
        verdicts = data["verdict"].fillna(NO_VERDICT).astype(str)
        for verdict in [*VERDICTS, *sorted(set(verdicts) - set(VERDICTS))]:
            points = data[verdicts == verdict]
            if points.empty:
                continue
            shown.add(verdict)
            ax.scatter(points["intent_explained"], points["state_split"], color=VERDICT_COLORS.get(verdict, "0.2"),
                       marker=VERDICT_MARKERS.get(verdict, "x"), s=70 if verdict == "specialise" else 36,
                       edgecolors="white" if VERDICT_MARKERS.get(verdict, "x") != "x" else None,
                       linewidths=0.5, alpha=0.9, zorder=3, label=verdict)
        counts = verdict_counts(verdicts)
        without = len(of_task) - len(data)
        ax.set_title(f"{task}\n{counts}" + (f"; {without} without pooled statistics" if without else ""),
                     fontsize=9)
        ax.set_xlim(-0.03, 1.05)
        ax.set_ylim(-0.03 * top, 1.1 * top)
        ax.set_xlabel(f"{metric('intent_explained').axis_label} (0: blind to the intent, 1: one expert per intent)",
                      fontsize=8)
        ax.set_ylabel(f"{metric('state_split').axis_label}: routing by state, not intent" if col == 0 else "")
    fig.tight_layout()
    handles = [Line2D([], [], linestyle="none", marker=VERDICT_MARKERS.get(v, "x"), color=VERDICT_COLORS.get(v, "0.2"),
                      markeredgecolor="white" if VERDICT_MARKERS.get(v, "x") != "x" else None,
                      markersize=10 if v == "specialise" else 7, label=v)
               for v in [*VERDICTS, *sorted(shown - set(VERDICTS))]]
    handles.append(Line2D([], [], linestyle="none", marker="*", markersize=11, markerfacecolor="none",
                          markeredgecolor="0.2", label="intent oracle"))
    fig.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 0.95), title="verdict", frameon=False)
    save_figure(fig, paths)
    return fig

"""Summaries across seeds with bootstrap CIs, written as CSV, Markdown and LaTeX."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from moe.analysis.runs import FINAL_METRICS, FINISHED, STATUSES
from moe.analysis.stats import bootstrap_ci

#: Column headers of the human-readable tables.
METRIC_LABELS = {
    "router_entropy": "router H",
    "marginal_router_entropy": "marginal H",
    "return_mean": "return",
    "success_rate": "success",
    "switch_rate": "switch rate",
    "intent_nmi": "intent NMI",
    "return_auc": "return AUC",
    "frames_to_threshold": "frames to threshold",
}
#: Counted per group: finished runs whose return reached the threshold at all.
REACHED_COLUMN = "n_reached_threshold"


def summarise(
    runs: pd.DataFrame,
    group_cols: Sequence[str] = ("task", "variant"),
    metrics: Sequence[str] = FINAL_METRICS,
) -> pd.DataFrame:
    """One row per group (in order of first appearance) with run counts and metric CIs.

    Columns: the group columns, `n_seeds` (runs expected), `n_finished`, `n_diverged`,
    `n_failed`, `n_missing`, then `<metric>_mean`, `<metric>_ci_low`, `<metric>_ci_high`
    for each metric (and `n_reached_threshold` if `frames_to_threshold` is one of them:
    its mean is over the runs that reached it). Statistics use finished runs only; the others are counted, so
    a group whose runs all diverged shows up with NaN statistics, not as a gap.
    """
    group_cols = list(group_cols)
    rows = []
    for keys, group in runs.groupby(group_cols, sort=False):
        row = dict(zip(group_cols, keys if isinstance(keys, tuple) else (keys,)))
        row["n_seeds"] = len(group)
        for status in STATUSES:
            row[f"n_{status}"] = int((group["status"] == status).sum())
        finished = group[group["status"] == FINISHED]
        if "frames_to_threshold" in metrics:
            row[REACHED_COLUMN] = int(finished["frames_to_threshold"].notna().sum())
        for metric in metrics:
            mean, low, high = bootstrap_ci(finished[metric].to_numpy(dtype=float))
            row[f"{metric}_mean"], row[f"{metric}_ci_low"], row[f"{metric}_ci_high"] = mean, low, high
        rows.append(row)
    return pd.DataFrame(rows)


def _cell(mean: float, low: float, high: float, digits: int) -> str:
    if math.isnan(mean):
        return "n/a"
    if math.isnan(low):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def display_table(
    summary: pd.DataFrame,
    group_cols: Sequence[str] = ("task", "variant"),
    metrics: Sequence[str] = FINAL_METRICS,
    digits: int = 3,
) -> pd.DataFrame:
    """Strings for humans: `mean [low, high]` per metric, and `finished/seeds` plus the other counts."""
    table = pd.DataFrame({col: summary[col].astype(str) for col in group_cols})
    table["finished"] = [f"{f}/{n}" for f, n in zip(summary["n_finished"], summary["n_seeds"])]
    for status in STATUSES[1:]:
        table[status] = summary[f"n_{status}"].astype(str)
    for metric in metrics:
        if f"{metric}_mean" not in summary:
            continue
        places = 0 if metric == "frames_to_threshold" else digits
        table[METRIC_LABELS.get(metric, metric)] = [
            _cell(m, lo, hi, places)
            for m, lo, hi in zip(
                summary[f"{metric}_mean"], summary[f"{metric}_ci_low"], summary[f"{metric}_ci_high"]
            )
        ]
    if REACHED_COLUMN in summary:
        table["reached"] = [f"{r}/{f}" for r, f in zip(summary[REACHED_COLUMN], summary["n_finished"])]
    return table


def to_markdown(table: pd.DataFrame) -> str:
    """A GitHub Markdown table (no `tabulate` dependency)."""
    header = "| " + " | ".join(table.columns) + " |"
    rule = "|" + "|".join("---" for _ in table.columns) + "|"
    body = ["| " + " | ".join(str(v).replace("|", "\\|") for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join([header, rule, *body]) + "\n"


_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
                  "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def latex_escape(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(char, char) for char in str(text))


def to_latex(table: pd.DataFrame, caption: str, label: str) -> str:
    """A booktabs `table` environment (needs `\\usepackage{booktabs}`)."""
    lines = [
        r"\begin{table}",
        r"\centering",
        rf"\caption{{{latex_escape(caption)}}}",
        rf"\label{{{label}}}",
        r"\begin{tabular}{" + "l" * table.shape[1] + "}",
        r"\toprule",
        " & ".join(latex_escape(col) for col in table.columns) + r" \\",
        r"\midrule",
        *(" & ".join(latex_escape(v) for v in row) + r" \\" for row in table.itertuples(index=False)),
        r"\bottomrule",
        r"\end{tabular}",
        r"\end{table}",
    ]
    return "\n".join(lines) + "\n"


def write_tables(
    summary: pd.DataFrame,
    csv_path,
    markdown_path,
    latex_path,
    group_cols: Sequence[str] = ("task", "variant"),
    caption: str = "",
    label: str = "tab:results",
    metrics: Sequence[str] = FINAL_METRICS,
) -> None:
    """The summary as machine-readable CSV (full precision) and as Markdown and LaTeX."""
    for path in (csv_path, markdown_path, latex_path):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    summary.to_csv(csv_path, index=False)
    table = display_table(summary, group_cols, metrics)
    Path(markdown_path).write_text(to_markdown(table))
    Path(latex_path).write_text(to_latex(table, caption, label))


def interval_table(
    data: pd.DataFrame,
    id_cols: Sequence[str],
    stats: dict[str, str],
    extra_cols: Sequence[str] = (),
    digits: int = 3,
) -> pd.DataFrame:
    """Strings for humans from a table of estimates with `<stat>_ci_low/high` (or
    `ci_low/high` for the stat `effect`) columns: `stats` maps a stat column to its header."""
    table = pd.DataFrame({col: data[col].astype(str) for col in id_cols})
    for stat, header in stats.items():
        prefix = "" if stat == "effect" else f"{stat}_"
        table[header] = [
            _cell(m, lo, hi, digits)
            for m, lo, hi in zip(data[stat], data[f"{prefix}ci_low"], data[f"{prefix}ci_high"])
        ]
    for col in extra_cols:
        table[col] = data[col].fillna("").astype(str)
    return table


def write_display_tables(data: pd.DataFrame, table: pd.DataFrame, csv_path, markdown_path=None, latex_path=None,
                         caption: str = "", label: str = "tab:results") -> None:
    """`data` as full-precision CSV, its display `table` as Markdown and LaTeX (each path optional)."""
    for path in (csv_path, markdown_path, latex_path):
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    data.to_csv(csv_path, index=False)
    if markdown_path is not None:
        Path(markdown_path).write_text(to_markdown(table))
    if latex_path is not None:
        Path(latex_path).write_text(to_latex(table, caption, label))

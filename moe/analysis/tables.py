"""Summaries across seeds with `mean_ci` intervals, written as CSV, Markdown and LaTeX."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from moe.analysis.metrics import FINAL_METRICS_TABLE, fixed_by_construction, metric, metric_range, names
from moe.analysis.runs import FINISHED, STATUSES, VERDICT_COUNTS
from moe.analysis.stats import mean_ci

#: Statuses whose seeds the tables list by name (the finished ones are just counted).
LISTED_STATUSES = [status for status in STATUSES if status != FINISHED]


def _seed_list(seeds) -> str:
    return " ".join(str(seed) for seed in seeds)


def summarise(
    runs: pd.DataFrame,
    group_cols: Sequence[str] = ("task", "variant"),
    metrics: Sequence[str] | None = None,
) -> pd.DataFrame:
    """One row per group (in order of first appearance): run counts and each metric's summary.

    Columns: the group columns, `n_seeds` (runs expected), `n_<status>` for every
    status and `seeds_<status>` (space-separated) for the unfinished ones,
    `n_verdict_<v>` for every value v of the runs' `verdict` column (`VERDICT_COUNTS`:
    the four verdicts, `diverged`, `n/a`; 0 where `runs` has no such column), `n_settled` and
    `n_at_cap` (finished runs whose last phase ended because the router settled, or at its
    cap; both 0 for runs without the rule) and `n_at_minimum` (settled at the rule's
    `min_updates`, the earliest allowed); per metric
    (default: every registered metric present in `runs`), `<metric>_n` (runs with a
    value: finished ones, plus diverged ones where they score as failures) and either
    `<metric>_mean`, `<metric>_ci_low`, `<metric>_ci_high` (`mean_ci`) or, for a
    median metric, `<metric>_median` and `<metric>_reached` (runs with a finite value).
    A group whose runs all failed shows up with NaN statistics, not as a gap.
    """
    group_cols = list(group_cols)
    metrics = [name for name in names() if name in runs] if metrics is None else list(metrics)
    rows = []
    for keys, group in runs.groupby(group_cols, sort=False):
        row = dict(zip(group_cols, keys if isinstance(keys, tuple) else (keys,), strict=True))
        row["n_seeds"] = len(group)
        for status in STATUSES:
            row[f"n_{status}"] = int((group["status"] == status).sum())
        for status in LISTED_STATUSES:
            row[f"seeds_{status}"] = _seed_list(group.loc[group["status"] == status, "seed"]) if "seed" in group else ""
        for verdict in VERDICT_COUNTS:
            row[f"n_verdict_{verdict}"] = int((group["verdict"] == verdict).sum()) if "verdict" in group else 0
        # A diverged run under the rule records settled false: it did not reach the cap either.
        settled = group.loc[group["status"] == FINISHED, "settled"] if "settled" in group else pd.Series(dtype=float)
        row["n_settled"], row["n_at_cap"] = int((settled == 1).sum()), int((settled == 0).sum())
        at_minimum = group.loc[group["status"] == FINISHED, "settled_at_minimum"] \
            if "settled_at_minimum" in group else pd.Series(dtype=float)
        row["n_at_minimum"] = int((at_minimum == 1).sum())
        # K bounds the router's entropies and mutual informations (ln K): the intervals stay within it.
        known_k = group["num_experts"].dropna() if "num_experts" in group else pd.Series(dtype=float)
        experts = int(known_k.max()) if len(known_k) else None
        for name in metrics:
            values = group[name].dropna().to_numpy(dtype=float)
            row[f"{name}_n"] = values.size
            if metric(name).summary == "median":
                row[f"{name}_median"] = float(np.median(values)) if values.size else math.nan
                row[f"{name}_reached"] = int(np.isfinite(values).sum())
            else:
                estimate, low, high = mean_ci(values, bounds=metric_range(name, experts))
                row[f"{name}_mean"], row[f"{name}_ci_low"], row[f"{name}_ci_high"] = estimate, low, high
                row[f"{name}_by_construction"] = _by_construction(group, name)
        rows.append(row)
    return pd.DataFrame(rows)


def _by_construction(group: pd.DataFrame, name: str) -> bool:
    """Every finished run of the group has exactly the value its routing fixes (`fixed_by_construction`)."""
    if "router" not in group or "num_experts" not in group:
        return False
    finished = group[group["status"] == FINISHED]
    fixed = [fixed_by_construction(name, router, k) for router, k in zip(finished["router"], finished["num_experts"],
                                                                            strict=True)]
    return bool(len(finished)) and all(value is not None and value == run_value
                                       for value, run_value in zip(fixed, finished[name], strict=True))


def interval_cell(estimate: float, low: float, high: float, n: int, digits: int = 3,
                  by_construction: bool = False) -> str:
    """`mean [low, high]`; `mean (seeds agree)` where the interval rounds to the mean at
    `digits` (several runs that agree show no spread, and a printed `[v, v]` would claim a
    certainty they cannot give); `value (by construction)` where the run's setup fixes
    the value (`metrics.fixed_by_construction`); a single run shows its value alone."""
    if math.isnan(estimate):
        return "n/a"
    text = f"{estimate:.{digits}f}"
    if by_construction:
        return f"{text} (by construction)"
    if math.isnan(low):
        return text
    if f"{low:.{digits}f}" == text == f"{high:.{digits}f}":
        return f"{text} (seeds agree)"
    return f"{text} [{low:.{digits}f}, {high:.{digits}f}]"


def median_cell(median: float, reached: int, n: int) -> str:
    """The median frames, `>budget` when more than half the runs never reached the threshold."""
    if n == 0:
        return "n/a"
    text = ">budget" if math.isinf(median) else f"{median:.0f}"
    return f"{text} ({reached}/{n} reached)"


def verdict_cell(counts: dict[str, int], n_seeds: int) -> str:
    """The runs' verdicts, most frequent first (ties in `VERDICT_COUNTS` order), the first
    out of the seeds: `7/10 specialise, 2 split, 1 diverged`; zero counts left out."""
    ranked = sorted((v for v in VERDICT_COUNTS if counts.get(v, 0)),
                    key=lambda v: (-counts[v], VERDICT_COUNTS.index(v)))
    parts = [f"{counts[v]}/{n_seeds} {v}" if i == 0 else f"{counts[v]} {v}" for i, v in enumerate(ranked)]
    return ", ".join(parts) if parts else "none"


def display_table(
    summary: pd.DataFrame,
    group_cols: Sequence[str] = ("task", "variant"),
    metrics: Sequence[str] | None = None,
    digits: int = 3,
) -> pd.DataFrame:
    """`summarise`'s output as strings for humans: `finished/seeds`, the seeds that
    diverged, failed or are missing, the runs' `verdicts` (`verdict_cell`), how many `settled`
    out of those with a settle rule (a column only where some run has one), and one cell
    per metric (default: those the registry shows in the final metrics table). A cell
    ends in `n=<k>` when fewer runs than `seeds` count in it (router statistics leave
    out diverged runs), so every interval states its n."""
    metrics = names(shown_in=FINAL_METRICS_TABLE) if metrics is None else list(metrics)
    table = pd.DataFrame({col: summary[col].astype(str) for col in group_cols})
    table["finished"] = [f"{f}/{n}" for f, n in zip(summary["n_finished"], summary["n_seeds"], strict=True)]
    for status in LISTED_STATUSES:
        table[status] = [f"{count}: seeds {seeds}" if count else "0"
                         for count, seeds in zip(summary[f"n_{status}"], summary[f"seeds_{status}"].fillna(""),
                                                 strict=True)]
    table["verdicts"] = [verdict_cell({v: row[f"n_verdict_{v}"] for v in VERDICT_COUNTS}, row["n_seeds"])
                         for _, row in summary.iterrows()]
    if "n_settled" in summary and (summary["n_settled"] + summary["n_at_cap"]).any():
        at_minimum = summary["n_at_minimum"] if "n_at_minimum" in summary else [0] * len(summary)
        table["settled"] = [(f"{settled}/{settled + at_cap}" + (f" ({minimum} at the minimum)" if minimum else ""))
                            if settled + at_cap else "n/a"
                            for settled, at_cap, minimum in zip(summary["n_settled"], summary["n_at_cap"], at_minimum,
                                                                strict=True)]
    for name in metrics:
        if f"{name}_n" not in summary:
            continue
        if metric(name).summary == "median":
            cells = [median_cell(m, r, n) for m, r, n in
                     zip(summary[f"{name}_median"], summary[f"{name}_reached"], summary[f"{name}_n"], strict=True)]
            table[f"{metric(name).label} (median)"] = cells
            continue
        cells = []
        for row in summary.itertuples(index=False):
            n = getattr(row, f"{name}_n")
            cell = interval_cell(getattr(row, f"{name}_mean"), getattr(row, f"{name}_ci_low"),
                                 getattr(row, f"{name}_ci_high"), n, digits,
                                 bool(getattr(row, f"{name}_by_construction", False)))
            cells.append(cell if n == row.n_seeds or cell == "n/a" else f"{cell} n={n}")
        table[metric(name).label] = cells
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


def interval_table(
    data: pd.DataFrame,
    id_cols: Sequence[str],
    stats: dict[str, str],
    extra_cols: Sequence[str] = (),
    digits: int = 3,
) -> pd.DataFrame:
    """A table of estimates as strings for humans: one row per `id_cols`, each estimate
    `<stat>` with `<stat>_ci_low/high` and `n_seeds`, the n of its intervals (as
    `factorial_effects` and `robust_aggregates` give them; `display_table` is for
    `summarise`'s wide table, a count of runs and an n per cell). `stats` maps a stat
    column to its header; `n_seeds` is shown as `n`; `extra_cols` are copied."""
    table = pd.DataFrame({col: data[col].astype(str) for col in id_cols})
    for stat, header in stats.items():
        table[header] = [
            interval_cell(m, lo, hi, n, digits)
            for m, lo, hi, n in zip(data[stat], data[f"{stat}_ci_low"], data[f"{stat}_ci_high"], data["n_seeds"],
                                    strict=True)
        ]
    table["n"] = data["n_seeds"].astype(str)
    for col in extra_cols:
        table[col] = data[col].fillna("").astype(str)
    return table


def write_table(data: pd.DataFrame, display: pd.DataFrame, csv_path, markdown_path=None, latex_path=None,
                caption: str = "", label: str = "tab:results") -> None:
    """A table in up to three formats: `data` as full-precision CSV (every column), its
    `display` (strings for humans: `display_table`, `effects_display_table`,
    `robust_display_table`) as Markdown and as LaTeX with `caption` and `label`."""
    for path in (csv_path, markdown_path, latex_path):
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    data.to_csv(csv_path, index=False)
    if markdown_path is not None:
        Path(markdown_path).write_text(to_markdown(display))
    if latex_path is not None:
        Path(latex_path).write_text(to_latex(display, caption, label))


def p_value_cell(p: float) -> str:
    if math.isnan(p):
        return "n/a"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def effects_display_table(effects: pd.DataFrame) -> pd.DataFrame:
    """The factorial effects for humans: `effect [95% CI]`, `n` seeds, Holm-adjusted p, note."""
    table = interval_table(effects.assign(metric=[metric(name).label for name in effects["metric"]]),
                           ["task", "metric", "term"], {"effect": "effect [95% CI]"})
    table["p (Holm)"] = [p_value_cell(p) for p in effects["p_holm"]]
    table["note"] = effects["note"].fillna("").astype(str).to_numpy()
    return table


def robust_display_table(robust: pd.DataFrame, baseline: str = "baseline") -> pd.DataFrame:
    """The robust aggregates for humans: per metric and variant, the level, the difference
    from `baseline` and the probability of beating it, each `estimate [95% CI]`, and `n` seeds."""
    return interval_table(robust, ["metric", "variant", "direction"],
                          {"level": "mean over tasks [95% CI]", "difference": f"minus {baseline} [95% CI]",
                           "p_improve": f"P(better than {baseline}) [95% CI]"})


def write_report(tables_dir, markdown_name: str, text: str, tables: Mapping[str, pd.DataFrame]) -> None:
    """A report's tables as CSV files (`name` -> `tables_dir/name`) and its text as `tables_dir/markdown_name`."""
    tables_dir = Path(tables_dir)
    tables_dir.mkdir(parents=True, exist_ok=True)
    for name, table in tables.items():
        table.to_csv(tables_dir / name, index=False)
    (tables_dir / markdown_name).write_text(text)

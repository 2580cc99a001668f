"""MOORE's MT3 comparison replicated, beside the published numbers (docs/MOORE.md; RESULTS.md):

    python -m moe.analysis.replication --config workflow/config/moore_mt3.yaml

reads every finished run of the replication grid (its own run, MOORE, and the sweeps `moore_arms` and
`view_arms`), and writes `{report_dir}/tables/replication.{csv,md}` and
`{report_dir}/figures/replication_curves.png`:
- per arm, the IQM of the final normalised return over runs x tasks with its 95% stratified-bootstrap
  interval (`moe.analysis.stats.iqm_interval`), each task's mean normalised return, and the published
  IQM and interval (Todorov et al. 2025, Table 1, the dense rows) where there is one;
- the match stated before anything trained: each published arm's interval overlaps ours, and the
  interval of our MOORE - MTPPO difference holds the published gap (0.78 - 0.70 = 0.08);
- the gate of study v3 on MT3: mixing by task against MTPPO, the oracle at K = 3 against the router
  that reads the view, and MTPPO (told the task) against that router, each an IQM difference with its
  95% and 99% intervals (`iqm_difference_interval`; the 99% one because a percentile bootstrap over the
  view-reading arms' 5 seeds covers less than 95%);
- the training return per update, mean and range over seeds, per arm. It pools the episodes that ended
  in the update, so a task whose episodes time out counts for less than in the final return, where
  every task has 16 episodes: an arm that fails one task looks better here than there.
A diverged run scores 0 on every task.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from envs import intents_of
from moe.analysis.stats import iqm_difference_interval, iqm_interval
from moe.analysis.tables import to_markdown, write_report
from moe.plan import grid_report_arguments

#: Todorov et al. 2025 ("Sparsity-Driven Plasticity in Multi-Task RL", Table 1, MT3, dense): IQM, 95% CI.
PUBLISHED = {"MTPPO": (0.70, 0.60, 0.76), "MoE": (0.74, 0.71, 0.76), "MOORE": (0.78, 0.71, 0.80)}
#: The grid's setting labels, by the method they are.
ARMS = {"base": "MOORE", "moe": "MoE", "mtppo": "MTPPO", "view_router_k3": "view router, K = 3",
        "oracle_k3": "intent oracle, K = 3"}
PUBLISHED_GAP = PUBLISHED["MOORE"][0] - PUBLISHED["MTPPO"][0]
#: A percentile bootstrap over 5 seeds covers less than its nominal 95% (moe.analysis.stats), and the view-reading
#: arms have 5: each difference also gets a 99% interval, which a gap read as shown must clear too.
STRICT_CONFIDENCE = 0.99


def score_matrix(finals: list[dict]) -> tuple[np.ndarray, list[str]]:
    """runs x tasks of normalised final returns, and the tasks, from final.json contents."""
    tasks = list(finals[0]["normalized_return_by_task"])
    return np.array([[final["normalized_return_by_task"][task] for task in tasks] for final in finals]), tasks


def overlaps(first: tuple[float, float], second: tuple[float, float]) -> bool:
    return first[0] <= second[1] and second[0] <= first[1]


def arm_table(scores: dict[str, np.ndarray], tasks: list[str]) -> pd.DataFrame:
    rows = []
    for arm, matrix in scores.items():
        estimate, low, high = iqm_interval(matrix)
        published = PUBLISHED.get(arm)
        rows.append({"arm": arm, "runs": len(matrix), "iqm": estimate, "low": low, "high": high,
                     **{f"mean {task}": float(matrix[:, index].mean()) for index, task in enumerate(tasks)},
                     "published": published[0] if published else np.nan,
                     "published_low": published[1] if published else np.nan,
                     "published_high": published[2] if published else np.nan,
                     "intervals_overlap": overlaps((low, high), published[1:]) if published else None})
    return pd.DataFrame(rows)


def differences(scores: dict[str, np.ndarray]) -> pd.DataFrame:
    """The pre-stated match (MOORE - MTPPO) and the gate's comparisons, where both arms ran."""
    pairs = [("MOORE", "MTPPO"), ("MoE", "MTPPO"), ("MOORE", "MoE"),
             ("intent oracle, K = 3", "view router, K = 3"), ("intent oracle, K = 3", "MTPPO"),
             ("MTPPO", "view router, K = 3")]
    rows = []
    for first, second in pairs:
        if first in scores and second in scores:
            estimate, low, high = iqm_difference_interval(scores[first], scores[second])
            _, low_99, high_99 = iqm_difference_interval(scores[first], scores[second], confidence=STRICT_CONFIDENCE)
            rows.append({"difference": f"{first} - {second}", "iqm_difference": estimate, "low": low, "high": high,
                         "low_99": low_99, "high_99": high_99, "excludes_0": not low <= 0 <= high,
                         "excludes_0_at_99": not low_99 <= 0 <= high_99,
                         "holds_published_gap": low <= PUBLISHED_GAP <= high if (first, second) == (
                             "MOORE", "MTPPO") else None})
    return pd.DataFrame(rows)


def plot_curves(curves: dict[str, list[pd.DataFrame]], path: Path) -> None:
    from moe.analysis.plots import plt, save_figure  # its headless backend, and one way of writing a figure

    figure, axis = plt.subplots(figsize=(6.5, 4))
    for arm, runs in curves.items():
        frames = runs[0]["frames"].to_numpy()
        returns = np.array([run["return_mean"].to_numpy()[:len(frames)] for run in runs])
        axis.plot(frames, np.nanmean(returns, 0), label=f"{arm} ({len(runs)} seeds)")
        axis.fill_between(frames, np.nanmin(returns, 0), np.nanmax(returns, 0), alpha=0.15)
    axis.set_xlabel("frames (all three tasks)")
    axis.set_ylabel("training return (pooled over ended episodes)")
    axis.set_title("MT3: training return per update, mean and range over seeds", fontsize=10)
    axis.legend(fontsize=8)
    save_figure(figure, [path])


def main(argv: list[str] | None = None) -> int:
    config_file, config, cells = grid_report_arguments(argv, "python -m moe.analysis.replication",
                                                       __doc__.splitlines()[0], "workflow/config/moore_mt3.yaml")
    finals: dict[str, list[dict]] = {}
    curves: dict[str, list[pd.DataFrame]] = {}
    for cell in cells:
        run_dir = Path(cell["run_dir"])
        if not (run_dir / "final.json").is_file():
            continue
        final = json.loads((run_dir / "final.json").read_text())
        if final.get("status") == "diverged":  # a failed run scores 0 on every task: dropped, it would flatter
            final = {"normalized_return_by_task": dict.fromkeys(intents_of(cell["task"]), 0.0)}
        elif final.get("status") != "finished":
            continue
        arm = ARMS.get(cell["setting"], cell["setting"])
        finals.setdefault(arm, []).append(final)
        curves.setdefault(arm, []).append(pd.read_csv(run_dir / "metrics.csv"))  # a diverged run's, to its end
    if not finals:
        print(f"no finished runs of {config_file} yet", file=sys.stderr)
        return 1
    scores, tasks = {}, None
    for arm, arm_finals in finals.items():
        scores[arm], tasks = score_matrix(arm_finals)
    table, gaps = arm_table(scores, tasks), differences(scores)
    out = Path(config["report_dir"])
    text = ("# MT3: MOORE's comparison replicated\n\nIQM of the final normalised return over runs x tasks, 95% "
            "stratified-bootstrap intervals (10,000 resamples, runs drawn within each task); published: Todorov "
            "et al. 2025, Table 1 (dense). The differences also carry 99% intervals: a percentile bootstrap "
            "over 5 seeds covers less than its nominal level.\n\n"
            + to_markdown(table.round(3)) + "\n\n" + to_markdown(gaps.round(3)) + "\n")
    write_report(out / "tables", "replication.md", text,
                 {"replication.csv": table, "replication_differences.csv": gaps})
    plot_curves(curves, out / "figures" / "replication_curves.png")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

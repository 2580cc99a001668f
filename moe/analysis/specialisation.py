"""Do experts line up with intents? Usage matrices and recorded evaluation episodes.

- `usage_table`: per task, variant, intent and expert, the fraction of that intent's
  evaluation steps on which the expert was the router's argmax
  (`final.json: expert_usage_by_intent`), averaged over finished seeds. A
  specialised router has one dominant expert per row (intent), different ones for
  different intents; a hedging router spreads each row over two experts.
- `episode_table`: the one evaluation episode each run records (`eval_episode.csv`:
  step, intent, alpha_0..alpha_{K-1}), for one seed per task and variant: the first
  finished seed in config order.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from moe.analysis.runs import FINISHED

USAGE_COLUMNS = ["task", "variant", "intent", "expert", "usage", "n_seeds"]
EPISODE_ID_COLUMNS = ["task", "variant", "seed"]


def usage_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Long table `task, variant, intent, expert, usage, n_seeds` from finished runs.

    Runs without intent labels (`expert_usage_by_intent: null`) are skipped. Row order:
    runs' order, then the task's intent order, then expert index.
    """
    records = []
    finished = runs[runs["status"] == FINISHED]
    for run in finished.itertuples(index=False):
        path = Path(run.run_dir) / "final.json"
        try:
            final = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        usage = final.get("expert_usage_by_intent") or {}
        intents = final.get("intents") or list(usage)
        for order, intent in enumerate(intents):
            for expert, value in enumerate(usage.get(intent) or []):
                records.append({"task": run.task, "variant": run.variant, "intent": intent,
                                "intent_order": order, "expert": expert, "usage": float(value)})
    if not records:
        return pd.DataFrame(columns=USAGE_COLUMNS)
    data = pd.DataFrame(records)
    table = (
        data.groupby(["task", "variant", "intent", "expert"], sort=False)
        .agg(usage=("usage", "mean"), n_seeds=("usage", "size"), intent_order=("intent_order", "first"))
        .reset_index()
    )
    return table[USAGE_COLUMNS]


def usage_matrix(usage: pd.DataFrame, task: str, variant: str) -> pd.DataFrame:
    """Intent x expert matrix (rows in the task's intent order) of one task and variant."""
    data = usage[(usage["task"] == task) & (usage["variant"] == variant)]
    if data.empty:
        return pd.DataFrame()
    intents = list(dict.fromkeys(data["intent"]))
    matrix = data.pivot(index="intent", columns="expert", values="usage").reindex(intents)
    matrix.columns = [f"expert {k}" for k in matrix.columns]
    return matrix


def episode_table(runs: pd.DataFrame) -> pd.DataFrame:
    """The recorded evaluation episode of the first finished seed per task and variant,
    long format: `task, variant, seed, step, intent, alpha_0, ...`."""
    frames = []
    finished = runs[runs["status"] == FINISHED]
    for (task, variant), group in finished.groupby(["task", "variant"], sort=False):
        for run in group.itertuples(index=False):
            path = Path(run.run_dir) / "eval_episode.csv"
            if not path.exists():
                continue
            episode = pd.read_csv(path, keep_default_na=False, na_values=[""])
            if episode.empty:
                continue
            episode.insert(0, "seed", run.seed)
            episode.insert(0, "variant", variant)
            episode.insert(0, "task", task)
            frames.append(episode)
            break
    if not frames:
        return pd.DataFrame(columns=[*EPISODE_ID_COLUMNS, "step", "intent"])
    return pd.concat(frames, ignore_index=True)


def alpha_columns(episodes: pd.DataFrame) -> list[str]:
    columns = [c for c in episodes.columns if c.startswith("alpha_")]
    return sorted(columns, key=lambda c: int(c.split("_")[1]))

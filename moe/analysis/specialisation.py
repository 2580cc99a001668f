"""Do experts line up with intents? Usage matrices and recorded evaluation episodes.

- `usage_table`: per task, variant, seed, intent and expert, the mean router weight
  alpha_k over that intent's evaluation steps (`final.json: expert_usage_by_intent`;
  each intent's row sums to 1), for finished runs, with experts aligned across seeds.
  A specialised router has one dominant expert per row (intent), different ones for
  different intents; a hedging router spreads each row over two experts.
- `episode_table`: the one evaluation episode each run records (`eval_episode.csv`:
  step, intent, alpha_0..alpha_{K-1}), for one seed per task and variant: the first
  finished seed in config order.

Why align: expert indices are arbitrary per run (seed 1's expert 0 may do what seed
2's expert 3 does), so averaging usage by index blurs a specialised pattern into a
flat one. Each run's experts are permuted to best match a reference (Hungarian
matching, `scipy.optimize.linear_sum_assignment`, maximising the summed product of
the two intent-by-expert matrices); the reference starts as the first run and
becomes the mean of the aligned runs until no permutation changes. Finally the
experts are numbered so that expert i is intent i's (matching intents one-to-one to
the experts they use most, on the reference), the others after them by usage: a
specialised router then shows a bright diagonal. The run's own index stays in the
table (`run_expert`).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

from moe.analysis.runs import FINISHED

USAGE_COLUMNS = ["task", "variant", "seed", "intent", "expert", "run_expert", "usage"]
EPISODE_ID_COLUMNS = ["task", "variant", "seed"]
#: Re-referencing rounds of `align_experts`; it stops earlier once nothing changes.
ALIGNMENT_ROUNDS = 10


def best_permutation(reference: np.ndarray, usage: np.ndarray) -> np.ndarray:
    """`p` such that `usage[:, p]` matches `reference` best (both intents x experts)."""
    _, columns = linear_sum_assignment(reference.T @ usage, maximize=True)
    return columns


def align_experts(matrices: list[np.ndarray]) -> list[np.ndarray]:
    """One permutation per run (intents x experts matrices of the same shape):
    `matrix[:, permutation]` puts the run's experts in the common order (module docstring)."""
    permutations = [np.arange(matrices[0].shape[1])] * len(matrices)
    reference = matrices[0]
    for _ in range(ALIGNMENT_ROUNDS):
        new = [best_permutation(reference, m) for m in matrices]
        reference = np.mean([m[:, p] for m, p in zip(matrices, new, strict=True)], axis=0)
        if all(np.array_equal(a, b) for a, b in zip(new, permutations, strict=True)):
            break
        permutations = new
    # Number the experts so that expert i is intent i's own (a one-to-one matching of
    # intents to experts on the reference), then the rest by total usage.
    _, favourites = linear_sum_assignment(reference, maximize=True)
    rest = [e for e in np.argsort(-reference.sum(axis=0), kind="stable") if e not in favourites]
    order = np.array([*favourites, *rest])
    return [p[order] for p in permutations]


def _usage_matrix(final: dict) -> tuple[list[str], np.ndarray] | None:
    usage = final.get("expert_usage_by_intent")
    if not usage:
        return None
    intents = final.get("intents") or list(usage)
    return intents, np.array([usage[intent] for intent in intents], dtype=float)


def usage_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Long table `task, variant, seed, intent, expert, run_expert, usage` of finished runs,
    experts aligned within each task and variant (`expert`: aligned index; `run_expert`:
    the run's own). Runs without intent labels (`expert_usage_by_intent: null`) are skipped."""
    records = []
    finished = runs[runs["status"] == FINISHED]
    for (task, variant), group in finished.groupby(["task", "variant"], sort=False):
        loaded = []
        for run in group.itertuples(index=False):
            try:
                matrix = _usage_matrix(json.loads((Path(run.run_dir) / "final.json").read_text()))
            except (OSError, ValueError):
                continue
            if matrix is not None:
                loaded.append((run.seed, *matrix))
        if not loaded:
            continue
        for (seed, intents, matrix), permutation in zip(loaded, align_experts([m for _, _, m in loaded]), strict=True):
            for i, intent in enumerate(intents):
                for expert, run_expert in enumerate(permutation):
                    records.append({"task": task, "variant": variant, "seed": seed, "intent": intent,
                                    "expert": expert, "run_expert": int(run_expert),
                                    "usage": float(matrix[i, run_expert])})
    return pd.DataFrame(records, columns=USAGE_COLUMNS)


def usage_matrix(usage: pd.DataFrame, task: str, variant: str, seed=None) -> pd.DataFrame:
    """Intent x aligned-expert matrix (rows in the task's intent order) of one task and
    variant: one seed's, or with `seed=None` the mean over seeds."""
    data = usage[(usage["task"] == task) & (usage["variant"] == variant)]
    if seed is not None:
        data = data[data["seed"] == seed]
    if data.empty:
        return pd.DataFrame()
    intents = list(dict.fromkeys(data["intent"]))
    matrix = data.pivot_table(index="intent", columns="expert", values="usage", aggfunc="mean").reindex(intents)
    matrix.columns = [f"expert {k}" for k in matrix.columns]
    return matrix


def mean_usage_table(usage: pd.DataFrame) -> pd.DataFrame:
    """Wide table `task, variant, intent, n_seeds, expert 0, ...`: the aligned usage averaged over seeds."""
    rows = []
    for (task, variant), group in usage.groupby(["task", "variant"], sort=False):
        matrix = usage_matrix(group, task, variant)
        matrix.insert(0, "n_seeds", group["seed"].nunique())
        rows.append(matrix.reset_index().assign(task=task, variant=variant))
    if not rows:
        return pd.DataFrame(columns=["task", "variant", "intent", "n_seeds"])
    table = pd.concat(rows, ignore_index=True)
    return table[["task", "variant", *[c for c in table.columns if c not in ("task", "variant")]]]


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

"""Fake run directories per the trainer contract, for testing aggregation and the workflow.

Importable (`write_fake_run`) and runnable as a stand-in trainer with the CLI of
`moe-train`, so the whole workflow can run in seconds:

    python tests/fakeruns.py --env ENV --variant VARIANT --seed N --frames N --out DIR [--set k=v ...]
        [--warmup-only | --from-warmup DIR]

Values are a deterministic function of (env, variant, seed), so tests can recompute them.
The workflow checks every --set against the real trainer, so the fake takes its own
orders from the environment: tasks listed in `MOE_FAKE_CRASH` exit 1 (no output),
tasks in `MOE_FAKE_DIVERGE` report a diverged run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import sys
from pathlib import Path

from moe.analysis.metrics import metric, router_statistics

K = 4
INTENTS = ["explore", "fetch", "fight"]
EPISODE_STEPS = 12
METRIC_COLUMNS = [
    "update", "frames", "phase", "fps", "return_mean", "success_rate", "episode_length",
    "policy_entropy", "router_entropy", "marginal_router_entropy", "router_mutual_information",
    "expert_similarity", "switch_rate", "loss_policy", "loss_value", "loss_router_entropy",
    "loss_entropy_min", "loss_temporal", "loss_overlap", "seconds_cpu",
]
#: final.json's verdicts (docs/DESIGN.md, "What a run reports").
HEDGE, COLLAPSE, SPLIT, SPECIALISE = "hedge", "collapse", "split", "specialise"


def _unit(*key) -> float:
    """A reproducible number in [0, 1) from a key."""
    digest = hashlib.sha256(repr(key).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _any_value(name: str, k: int, *key) -> float:
    """A statistic these fakes know nothing of (one a researcher has just registered): a draw
    within its registered bounds, ln K standing for the open end of an entropy's."""
    low, high = metric(name).bounds or (0.0, 1.0)
    high = max(low, math.log(k)) if math.isinf(high) else high
    return round(low + (high - low) * _unit(*key, name), 6)


def fake_router_statistics(env: str, variant: str, seed: int, k: int, episodes: str = "all") -> dict:
    """The per-episode router statistics (the registry's `episode` scope, in its order), holding
    together like real ones: marginal >= per-step entropy, MI = their difference, effective
    experts = exp(marginal), intent MI <= ln(#intents)."""
    key = (env, variant, seed, episodes)
    entropy = round(math.log(k) * _unit(*key, "H"), 6)
    marginal = round(entropy + (math.log(k) - entropy) * _unit(*key, "mH"), 6)
    intent_mi_normalized = round(_unit(*key, "intent MI"), 6)
    values = {
        "router_entropy": entropy,
        "marginal_router_entropy": marginal,
        "router_mutual_information": round(marginal - entropy, 6),
        "intent_mutual_information": round(intent_mi_normalized * min(math.log(len(INTENTS)), math.log(k)), 6),
        "intent_mutual_information_normalized": intent_mi_normalized,
        "expert_similarity": round(2 * _unit(*key, "similarity") - 1, 6),
        "effective_experts": round(math.exp(marginal), 6),
        "switch_rate": round(0.3 * _unit(*key, "switch"), 6),
        "intent_nmi": round(_unit(*key, "nmi"), 6),
    }
    assert set(values) <= set(router_statistics("episode")), set(values) - set(router_statistics("episode"))
    return {name: values[name] if name in values else _any_value(name, k, *key)
            for name in router_statistics("episode")}


def fake_verdict(k: int, router_entropy: float, marginal_entropy: float, intent_explained: float | None,
                 distinct_modal_experts: bool) -> str:
    """The rule of `moe.router_statistics.verdict` (K >= 2: first that applies; K = 1 is a collapse by
    construction), written out so the fake trainer starts without torch; tests/test_analysis.py
    checks that the two agree."""
    if k == 1:
        return COLLAPSE
    if router_entropy >= math.log(k) / 2:
        return HEDGE
    if intent_explained is not None and intent_explained >= 0.5 and distinct_modal_experts:
        return SPECIALISE
    if math.exp(marginal_entropy) < 1.5:
        return COLLAPSE
    return SPLIT


def fake_pooled_statistics(env: str, variant: str, seed: int, k: int) -> dict:
    """The pooled router statistics (the registry's `pooled` scope, in its order), the modal
    experts and the verdict the rule gives them, holding together like real ones:
    intent_mi <= min(pooled router MI, intent_entropy), state_split = pooled router MI -
    intent_mi >= 0, intent_explained = intent_mi / min(intent_entropy, ln K) (null for K = 1).
    The draws spread the runs over every verdict."""
    key = (env, variant, seed, "pooled")
    log_k = math.log(k)
    intent_entropy = round(math.log(len(INTENTS)) * (0.8 + 0.2 * _unit(*key, "intent H")), 6)
    router = round(log_k * _unit(*key, "H") ** 2, 6)
    marginal = round(router + (log_k - router) * _unit(*key, "mH"), 6)
    pooled_mi = marginal - router
    intent_mi = round(min(pooled_mi, intent_entropy) * math.sqrt(_unit(*key, "intent MI")), 6)
    bound = min(intent_entropy, log_k)
    explained = round(intent_mi / bound, 6) if bound > 0 else None
    distinct = k >= len(INTENTS) and _unit(*key, "distinct") < 0.7
    share = round(0.4 + 0.6 * _unit(*key, "modal share"), 6) if k > 1 else 1.0
    values = {
        "intent_mi": intent_mi,
        "intent_entropy": intent_entropy,
        "intent_explained": explained,
        "state_split": round(max(0.0, pooled_mi - intent_mi), 6),
        "pooled_router_entropy": router,
        "pooled_marginal_entropy": marginal,
        "modal_expert_share": share,
        "distinct_modal_experts": distinct,
    }
    assert set(values) <= set(router_statistics("pooled")), set(values) - set(router_statistics("pooled"))
    modal = {intent: {"expert": (i + seed) % k if distinct else seed % k, "share": share}
             for i, intent in enumerate(INTENTS)}
    return {
        **{name: values[name] if name in values else _any_value(name, k, *key) for name in router_statistics("pooled")},
        "modal_expert_by_intent": modal,
        "verdict": fake_verdict(k, router, marginal, explained, distinct),
        "settled": None,
        "settled_update": None,
        "settled_at_minimum": None,
    }


def fake_final(env: str, variant: str, seed: int, frames: int, status: str = "finished", k: int = K) -> dict:
    """final.json per the trainer contract, in its key order; a diverged run has null for
    every metric, the usage, the modal experts and the verdict."""
    metrics = {
        "return_mean": round(0.2 + 0.7 * _unit(env, variant, seed, "return"), 6),
        "success_rate": round(_unit(env, variant, seed, "success"), 6),
        "episode_length": round(10 + 50 * _unit(env, variant, seed, "length"), 6),
        **fake_router_statistics(env, variant, seed, k),
        **{f"{name}_success": value
           for name, value in fake_router_statistics(env, variant, seed, k, "success").items()},
    }
    usage = {intent: fake_usage(env, variant, seed, i, k) for i, intent in enumerate(INTENTS)}
    pooled = fake_pooled_statistics(env, variant, seed, k)
    if status == "diverged":
        metrics, usage = dict.fromkeys(metrics), None
        pooled = dict.fromkeys(pooled)
    return {
        "status": status, "frames": frames, "episodes": 10, "greedy": False, "num_experts": k,
        **metrics, "intents": INTENTS, "expert_usage_by_intent": usage, **pooled,
    }


def fake_usage(env: str, variant: str, seed: int, intent_index: int, k: int = K) -> list[float]:
    """Mean router weights over an intent's steps: one favourite expert, the rest even (sums to 1).
    The favourite's index moves with the seed, as arbitrary expert indices do across real runs."""
    favourite = (intent_index + seed) % k
    share = round(0.4 + 0.6 * _unit(env, variant, seed, "usage", intent_index), 6)
    rest = round((1.0 - share) / (k - 1), 6) if k > 1 else 0.0
    return [share if expert == favourite else rest for expert in range(k)] if k > 1 else [1.0]


def fake_alpha(step: int, intent_index: int, k: int = K) -> list[float]:
    """Router weights of a recorded step: mostly on the intent's expert (sums to 1)."""
    if k == 1:
        return [1.0]
    main = 0.55 + 0.05 * (step % 3)
    return [round(main if expert == intent_index % k else (1.0 - main) / (k - 1), 6) for expert in range(k)]


def write_fake_run(run_dir, env="FakeTask-v0", variant="baseline", seed=1, frames=4096,
                   status="finished", k=K, updates=8, final=True) -> dict | None:
    """Write metrics.csv, eval_episode.csv, config.yaml and (if `final`) final.json; return final.json's dict."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    header = METRIC_COLUMNS + [f"usage_expert_{i}" for i in range(k)]
    lines = [",".join(header)]
    for update in range(1, updates + 1):
        progress = update / updates
        ret = "" if update == 1 else f"{progress * (0.2 + 0.7 * _unit(env, variant, seed, 'return')):.6f}"
        entropy = math.log(k) * (1 - 0.5 * progress)
        row = [update, int(frames * progress), "warmup" if progress <= 0.5 else "finetune", 1000.0, ret, 0.5, 20,
               1.5, entropy, math.log(k), math.log(k) - entropy, 0.2, 0.1, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
               0.01 * update]
        row += [1.0 / k] * k
        lines.append(",".join(str(v) for v in row))
    (run_dir / "metrics.csv").write_text("\n".join(lines) + "\n")
    episode = ["step,intent,action,reward," + ",".join(f"alpha_{i}" for i in range(k))]
    for t in range(EPISODE_STEPS):  # intents in blocks of 4 steps, as a task's phases would be
        intent = (t // 4) % len(INTENTS)
        reward = 0.5 if t == EPISODE_STEPS - 1 else 0.0
        episode.append(f"{t},{INTENTS[intent]},{t % 3},{reward}," + ",".join(str(a) for a in fake_alpha(t, intent, k)))
    (run_dir / "eval_episode.csv").write_text("\n".join(episode) + "\n")
    (run_dir / "config.yaml").write_text(f"env: {env}\nvariant: {variant}\nseed: {seed}\nframes: {frames}\n")
    if not final:
        return None
    content = fake_final(env, variant, seed, frames, status, k)
    (run_dir / "final.json").write_text(json.dumps(content, indent=2))
    return content


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Stand-in for moe-train that writes fake outputs.")
    parser.add_argument("--env", required=True)
    parser.add_argument("--variant", required=True)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--frames", type=int, required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--config")
    parser.add_argument("--set", action="append", default=[], dest="overrides")
    parser.add_argument("--warmup-only", action="store_true")
    parser.add_argument("--from-warmup")
    args = parser.parse_args(argv)
    overrides = dict(item.split("=", 1) for item in args.overrides)
    print(f"fake trainer: {args.env} {args.variant} seed {args.seed}, overrides {overrides}, "
          f"warm-up {'only' if args.warmup_only else args.from_warmup}")
    if args.env in os.environ.get("MOE_FAKE_CRASH", "").split(","):
        return 1
    if args.warmup_only:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "metrics.csv").write_text("update,frames,phase\n1,64,warmup\n")
        (out / "config.yaml").write_text(f"env: {args.env}\nseed: {args.seed}\n")
        (out / "warmup.json").write_text(json.dumps({"status": "finished", "signature": {}}))
        return 0
    if not (Path(args.from_warmup) / "warmup.json").exists():
        return 2
    diverge = args.env in os.environ.get("MOE_FAKE_DIVERGE", "").split(",")
    write_fake_run(args.out, args.env, args.variant, args.seed, args.frames,
                   status="diverged" if diverge else "finished")
    return 0


if __name__ == "__main__":
    sys.exit(main())

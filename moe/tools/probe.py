"""Can the router tell the intents apart? A linear probe on a trained agent's features.

    python -m moe.tools.probe RUN_DIR [--episodes 200]

The router is an MLP on the encoder's features h_t; if the intent cannot be read
from h_t, no correction can make the router specialise by intent, and the
benchmark would measure the encoder rather than the router. This plays the
trained policy on evaluation levels, records (h_t, intent) at every step, fits a
multinomial logistic regression on the features of half of the episodes and
scores it on the other half: accuracy against always guessing the commonest
intent, and the information it recovers, I >= H(intent) - cross-entropy (nats),
also as a fraction of H(intent). A memoryless probe cannot recover what the
current view does not show (Hunt's monster out of view): that gap is the
temporal correction's business, not the encoder's.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import yaml

from envs import intents_of
from moe import checkpoint as ckpt
from moe.environments import make_env, observation_tensors
from moe.errors import CheckpointError, ConfigError
from moe.model import build_agent


def load_agent(run_dir: Path):
    """The trained agent of a finished run directory, and the run's env id and config."""
    try:
        record = yaml.safe_load((run_dir / "config.yaml").read_text())
    except OSError:
        raise ConfigError(f"{run_dir} has no config.yaml: not a run directory") from None
    state = ckpt.load_latest(run_dir)
    if state is None:
        raise CheckpointError(f"{run_dir} has no checkpoint (checkpoint.keep_after_finish: false?)")
    env_id, config = record["run"]["env_id"], record["config"]
    if config["model"].get("intent_input"):
        raise ConfigError(f"{run_dir} was trained with model.intent_input: its features hold the label, so a "
                          "probe of the intent on them says nothing about what the view tells")
    env = make_env(env_id)
    agent = build_agent(config["model"], int(env.action_space.n), env.observation_space["image"].shape[0])
    agent.load_state_dict(state["model"])
    env.close()
    return agent.eval(), env_id, config


@torch.no_grad()
def collect(agent, env_id: str, episodes: int, seed_base: int) -> list[tuple[np.ndarray, list[str]]]:
    """Per episode: the features of its steps (T, D) and their intent labels."""
    env, generator, recorded = make_env(env_id), torch.Generator().manual_seed(seed_base), []
    labels = intents_of(env_id)
    for episode in range(episodes):
        observation, info = env.reset(seed=seed_base + episode)
        features, intents, done = [], [], False
        previous_alpha = torch.full((1, agent.num_experts), 1.0 / agent.num_experts)  # an episode's first step
        while not done:
            batch = {key: np.asarray(observation[key])[None] for key in ("image", "direction")}
            batch["intent"] = np.array([labels.index(info["intent"])])
            image, direction, intent = observation_tensors(batch, torch.device("cpu"))
            features.append(agent.features(image, direction)[0].numpy())
            intents.append(info["intent"])
            output = agent(image, direction, intent=intent, previous_alpha=previous_alpha)
            previous_alpha = output.alpha
            action = torch.multinomial(output.action_log_probs.exp(), 1, generator=generator)
            observation, _, terminated, truncated, info = env.step(int(action))
            done = terminated or truncated
        recorded.append((np.stack(features), intents))
    env.close()
    return recorded


def fit_probe(train_x: torch.Tensor, train_y: torch.Tensor, classes: int, weight_decay: float = 1e-3,
              steps: int = 300) -> torch.nn.Linear:
    """Multinomial logistic regression by L-BFGS (deterministic for fixed data)."""
    torch.manual_seed(0)
    probe = torch.nn.Linear(train_x.shape[1], classes, dtype=train_x.dtype)
    optimizer = torch.optim.LBFGS(probe.parameters(), max_iter=steps, line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss = F.cross_entropy(probe(train_x), train_y) + weight_decay * probe.weight.pow(2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    return probe


def probe_run(run_dir: Path, episodes: int = 200, seed_base: int = 2_000_000) -> dict:
    agent, env_id, _ = load_agent(run_dir)
    intents = intents_of(env_id)
    if not intents:
        raise ConfigError(f"{env_id} has no intent labels to probe")
    recorded = collect(agent, env_id, episodes, seed_base)
    halves = recorded[0::2], recorded[1::2]  # by episode: no episode's steps on both sides
    xs, ys = [], []
    for half in halves:
        xs.append(torch.from_numpy(np.concatenate([features for features, _ in half])).double())
        ys.append(torch.tensor([intents.index(label) for _, labels in half for label in labels]))
    mean, std = xs[0].mean(0), xs[0].std(0).clamp_min(1e-6)
    train_x, test_x = (xs[0] - mean) / std, (xs[1] - mean) / std
    probe = fit_probe(train_x, ys[0], len(intents))
    with torch.no_grad():
        logits = probe(test_x)
        cross_entropy = float(F.cross_entropy(logits, ys[1]))
        accuracy = float((logits.argmax(1) == ys[1]).double().mean())
    frequencies = torch.bincount(ys[1], minlength=len(intents)).double() / len(ys[1])
    intent_entropy = float(-(frequencies[frequencies > 0] * frequencies[frequencies > 0].log()).sum())
    recovered = max(intent_entropy - cross_entropy, 0.0)
    return {"run_dir": str(run_dir), "env": env_id, "steps": int(len(ys[1])), "intents": list(intents),
            "accuracy": accuracy, "majority_accuracy": float(frequencies.max()),
            "intent_entropy": intent_entropy, "probe_cross_entropy": cross_entropy,
            "recovered_information": recovered,
            "recovered_fraction": recovered / intent_entropy if intent_entropy > 0 else math.nan}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m moe.tools.probe", description=__doc__.splitlines()[0])
    parser.add_argument("run_dirs", nargs="+", type=Path, help="finished run directories (with their checkpoint)")
    parser.add_argument("--episodes", type=int, default=200, help="evaluation episodes, half to fit, half to score")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    try:
        for run_dir in args.run_dirs:
            print(json.dumps(probe_run(run_dir, args.episodes)))
    except (ConfigError, CheckpointError) as error:
        print(f"moe.tools.probe: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

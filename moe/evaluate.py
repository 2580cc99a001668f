"""Evaluate a trained policy on levels disjoint from training (DESIGN.md, "What a run reports")."""

from __future__ import annotations

import math

import numpy as np
import torch

from envs import intents_of
from moe.environments import make_env, observation_tensors
from moe.metrics import entropy, normalized_mutual_information

MAX_PARALLEL = 16


@torch.no_grad()
def evaluate(agent, env_id: str, episodes: int, seed_base: int, greedy: bool, device: torch.device):
    """Run `episodes` episodes, episode j on the level of seed `seed_base + j`.

    Returns the summary dict and the step rows of episode 0 (alpha over time with
    the intent label), used for the specialisation figure.
    """
    intents = intents_of(env_id)
    num_parallel = min(MAX_PARALLEL, episodes)
    environments = [make_env(env_id) for _ in range(num_parallel)]
    # Episode j runs on environment j % num_parallel, so the set of levels does not depend on timing.
    queues = [list(range(index, episodes, num_parallel)) for index in range(num_parallel)]
    sampler = torch.Generator().manual_seed(seed_base)
    current_episode, observations, intent_now = {}, {}, {}
    for index, environment in enumerate(environments):
        episode = queues[index].pop(0)
        observations[index], info = environment.reset(seed=seed_base + episode)
        current_episode[index], intent_now[index] = episode, info.get("intent")

    returns, successes = np.zeros(episodes), np.zeros(episodes)
    step_alpha, step_expert, step_intent, step_episode = [], [], [], []
    recorded_rows = []
    episode_step = {index: 0 for index in range(num_parallel)}
    while current_episode:
        active = sorted(current_episode)
        batch = {key: np.stack([observations[i][key] for i in active]) for key in ("image", "direction")}
        output = agent(*observation_tensors(batch, device))
        if greedy:
            actions = output.action_logits.argmax(-1)
        else:
            actions = torch.multinomial(output.action_logits.exp().cpu(), 1, generator=sampler).squeeze(1)
        alphas = output.alpha.cpu()
        for row, index in enumerate(active):
            episode = current_episode[index]
            step_alpha.append(alphas[row])
            step_expert.append(int(alphas[row].argmax()))
            step_intent.append(intent_now[index])
            step_episode.append(episode)
            observation, reward, terminated, truncated, info = environments[index].step(int(actions[row]))
            returns[episode] += reward
            if episode == 0:
                recorded_rows.append({"step": episode_step[index], "intent": intent_now[index],
                                      "action": int(actions[row]), "reward": float(reward),
                                      **{f"alpha_{k}": float(a) for k, a in enumerate(alphas[row])}})
            episode_step[index] += 1
            observations[index], intent_now[index] = observation, info.get("intent")
            if terminated or truncated:
                successes[episode] = float(reward > 0)
                episode_step[index] = 0
                if queues[index]:
                    next_episode = queues[index].pop(0)
                    observations[index], info = environments[index].reset(seed=seed_base + next_episode)
                    current_episode[index], intent_now[index] = next_episode, info.get("intent")
                else:
                    del current_episode[index]
    for environment in environments:
        environment.close()

    alpha = torch.stack(step_alpha)
    experts = np.asarray(step_expert)
    episode_ids = np.asarray(step_episode)
    # Steps are appended in interleaved order, but each episode's steps keep their order.
    order = np.argsort(episode_ids, kind="stable")
    experts_in_order, episodes_in_order = experts[order], episode_ids[order]
    same_episode = episodes_in_order[1:] == episodes_in_order[:-1]
    switches = (experts_in_order[1:] != experts_in_order[:-1]) & same_episode
    summary = {
        "return_mean": float(returns.mean()),
        "success_rate": float(successes.mean()),
        "router_entropy": float(entropy(alpha).mean()),
        "marginal_router_entropy": float(entropy(alpha.mean(0))),
        "switch_rate": float(switches.sum() / same_episode.sum()) if same_episode.any() else None,
        "intent_nmi": None,
        "intents": list(intents) if intents else None,
        "expert_usage_by_intent": None,
    }
    if intents:
        labels = np.asarray(step_intent)
        summary["intent_nmi"] = normalized_mutual_information(experts, labels)
        num_experts = alpha.shape[1]
        summary["expert_usage_by_intent"] = {
            intent: (np.bincount(experts[labels == intent], minlength=num_experts) / max(1, (labels == intent).sum())).tolist()
            for intent in intents
        }
    for key, value in summary.items():
        if isinstance(value, float) and not math.isfinite(value):
            summary[key] = None
    return summary, recorded_rows

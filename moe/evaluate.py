"""Evaluate a trained policy on level seeds disjoint from training's (docs/DESIGN.md, "What a run reports").

Every router statistic is computed per episode and then averaged over episodes,
once over all episodes and once over the successful ones (keys `*_success`): a
640-step failure weighs as much as a 30-step success, so the statistics do not
move mechanically with the success rate.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from envs import intents_of, members_of
from envs.multitask import ACHIEVABLE_RETURN
from moe.analysis.metrics import router_statistics
from moe.environments import make_env, observation_tensors
from moe.model import noisy_intent
from moe.router_statistics import episode_router_statistics, expert_similarity, pooled_router_statistics

MAX_PARALLEL = 16
#: Statistics computed per episode, then averaged over episodes (and over successful ones, `_success`).
PER_EPISODE = tuple(router_statistics("episode"))
#: Statistics over all evaluation steps at once, then the verdict they decide (moe.router_statistics).
POOLED = (*router_statistics("pooled"), "modal_expert_by_intent", "verdict")
#: Every key final.json reports for an evaluation, in order (null where undefined, e.g. after divergence).
#: Of a multi-task suite: per task, the return and the return over the best achievable (null otherwise).
BY_TASK = ("return_by_task", "normalized_return_by_task", "normalized_return_mean")
SUMMARY_KEYS = ("return_mean", "success_rate", "episode_length", *BY_TASK, *PER_EPISODE,
                *(f"{key}_success" for key in PER_EPISODE), "intents", "expert_usage_by_intent", *POOLED)


@torch.no_grad()
def evaluate(agent, env_id: str, episodes: int, seed_base: int, greedy: bool, device: torch.device):
    """Run `episodes` episodes, episode j on the level of seed `seed_base + j`.

    Returns the summary dict and the step rows of episode 0 (alpha over time with
    the intent label), used for the specialisation figure.
    """
    intents = intents_of(env_id)
    steps = _play(agent, env_id, episodes, seed_base, greedy, device)
    per_episode = []
    for episode in steps:
        labels = np.asarray(episode["intent"]) if intents else None
        statistics = episode_router_statistics(torch.stack(episode["alpha"]), torch.stack(episode["similarity"]),
                                               labels)
        statistics["usage_by_intent"] = _usage_by_intent(episode, intents) if intents else None
        per_episode.append(statistics)
    successful = [statistics for statistics, episode in zip(per_episode, steps, strict=True) if episode["success"]]
    summary = {
        "return_mean": float(np.mean([episode["return"] for episode in steps])),
        "success_rate": float(np.mean([episode["success"] for episode in steps])),
        "episode_length": float(np.mean([len(episode["alpha"]) for episode in steps])),
        **_by_task(env_id, steps),
        **_mean_over_episodes(per_episode, ""),
        **_mean_over_episodes(successful, "_success"),
        "intents": list(intents) if intents else None,
        "expert_usage_by_intent": _mean_usage(per_episode, intents) if intents else None,
        **(pooled_router_statistics(torch.cat([torch.stack(episode["alpha"]) for episode in steps]),
                                    np.concatenate([episode["intent"] for episode in steps]), intents)
           if intents else dict.fromkeys(POOLED)),
    }
    recorded_rows = [
        {"step": step, "intent": intent, "action": action, "reward": reward,
         **{f"alpha_{k}": float(a) for k, a in enumerate(alpha)}}
        for step, (intent, action, reward, alpha) in enumerate(
            zip(steps[0]["intent"], steps[0]["action"], steps[0]["reward"], steps[0]["alpha"], strict=True))
    ]
    return summary, recorded_rows


def _play(agent, env_id: str, episodes: int, seed_base: int, greedy: bool, device: torch.device) -> list[dict]:
    """Each episode's steps: alpha, expert similarity, intent, action, reward; and its return and success.
    Of a multi-task suite, episode j plays task j mod n."""
    tasks = len(members_of(env_id) or (None,))
    # A multiple of the suite's tasks, so that environment i, which plays episodes i, i + num_parallel, ...,
    # plays task i mod n throughout.
    num_parallel = max(tasks, min(MAX_PARALLEL, episodes) // tasks * tasks)
    environments = [make_env(env_id) if tasks == 1 else make_env(env_id, task=index % tasks)
                    for index in range(num_parallel)]
    # Episode j runs on environment j % num_parallel, so the set of levels does not depend on timing.
    queues = [list(range(index, episodes, num_parallel)) for index in range(num_parallel)]
    sampler = torch.Generator().manual_seed(seed_base)
    record = [{"alpha": [], "similarity": [], "intent": [], "action": [], "reward": [], "return": 0.0,
               "success": False} for _ in range(episodes)]
    current_episode, observations, intent_now, previous_alpha = {}, {}, {}, {}
    labels = intents_of(env_id) or ()

    def start(index: int) -> None:
        episode = queues[index].pop(0)
        observations[index], info = environments[index].reset(seed=seed_base + episode)
        current_episode[index], intent_now[index], previous_alpha[index] = episode, info.get("intent"), None

    for index in range(num_parallel):
        start(index)
    while current_episode:
        active = sorted(current_episode)
        batch = {key: np.stack([observations[i][key] for i in active]) for key in ("image", "direction")}
        batch["intent"] = np.array([labels.index(intent_now[i]) if labels else -1 for i in active])
        image, direction, intent = observation_tensors(batch, device)
        if getattr(agent, "router", None) == "oracle":  # a stand-in agent of the tests may have no router
            intent = noisy_intent(intent, agent.oracle_noise, agent.num_experts, sampler)
        experts = agent.num_experts
        # alpha_{t-1} of each episode's step, uniform at its first step, as in training.
        previous = torch.stack([torch.full((experts,), 1.0 / experts) if previous_alpha[i] is None
                                else previous_alpha[i] for i in active]).to(device)
        output = agent(image, direction, intent=intent, previous_alpha=previous)
        # Hard routing: the most likely expert's most likely action, or a draw of both.
        if getattr(agent, "routing", "mixture") == "hard":
            rows = torch.arange(len(active))
            actions = output.expert_log_probs[rows, output.alpha.argmax(-1)].argmax(-1).cpu() if greedy else \
                output.cpu().sample_hard(generator=sampler)[1]
        elif greedy:
            actions = output.action_log_probs.argmax(-1).cpu()
        else:
            actions = torch.multinomial(output.action_log_probs.exp().cpu(), 1, generator=sampler).squeeze(1)
        alphas, similarities = output.alpha.cpu(), expert_similarity(output.expert_logits).cpu()
        for row, index in enumerate(active):
            episode = record[current_episode[index]]
            action = int(actions[row])
            observation, reward, terminated, truncated, info = environments[index].step(action)
            for key, value in (("alpha", alphas[row]), ("similarity", similarities[row]),
                               ("intent", intent_now[index]), ("action", action), ("reward", float(reward))):
                episode[key].append(value)
            episode["return"] += reward
            observations[index], intent_now[index], previous_alpha[index] = observation, info.get("intent"), \
                output.alpha[row].detach()
            if terminated or truncated:
                episode["success"] = bool(reward > 0)
                del current_episode[index]
                if queues[index]:
                    start(index)
    for environment in environments:
        environment.close()
    return record


def _by_task(env_id: str, steps: list[dict]) -> dict:
    """Of a multi-task suite, each task's mean return (`return_by_task`), that return over the task's best
    achievable one (`normalized_return_by_task`, envs.multitask.ACHIEVABLE_RETURN) and the mean of those
    over the tasks (`normalized_return_mean`); None for a single task."""
    members = members_of(env_id)
    if members is None:
        return dict.fromkeys(BY_TASK)
    returns = {intents_of(env_id)[task]: float(np.mean([episode["return"] for episode in steps[task::len(members)]]))
               for task in range(len(members)) if steps[task::len(members)]}
    normalized = {label: value / ACHIEVABLE_RETURN[members[index]]
                  for index, (label, value) in enumerate(returns.items())}
    return {"return_by_task": returns, "normalized_return_by_task": normalized,
            "normalized_return_mean": float(np.mean(list(normalized.values())))}


def _usage_by_intent(episode: dict, intents: tuple[str, ...]) -> dict[str, list[float] | None]:
    """Mean alpha over the episode's steps of each intent (None for an intent it never met)."""
    alpha = torch.stack(episode["alpha"]).double()
    labels = np.asarray(episode["intent"])
    return {intent: alpha[torch.from_numpy(labels == intent)].mean(0).tolist() if (labels == intent).any() else None
            for intent in intents}


def _mean_usage(per_episode: list[dict], intents: tuple[str, ...]) -> dict[str, list[float] | None]:
    """Per intent, the mean over the episodes that met it of their mean alpha: rows sum to 1."""
    usage = {}
    for intent in intents:
        rows = [statistics["usage_by_intent"][intent] for statistics in per_episode
                if statistics["usage_by_intent"][intent] is not None]
        usage[intent] = np.mean(rows, axis=0).tolist() if rows else None
    return usage


def _mean_over_episodes(per_episode: list[dict], suffix: str) -> dict[str, float | None]:
    """Each router statistic averaged over the episodes where it is defined; None where it never is."""
    summary = {}
    for key in PER_EPISODE:
        if key == "effective_experts":
            continue
        values = [statistics[key] for statistics in per_episode if not math.isnan(statistics[key])]
        summary[f"{key}{suffix}"] = float(np.mean(values)) if values else None
    marginal = summary[f"marginal_router_entropy{suffix}"]
    # exp of the reported marginal entropy, so the identity holds in final.json itself.
    summary[f"effective_experts{suffix}"] = math.exp(marginal) if marginal is not None else None
    return {f"{key}{suffix}": summary[f"{key}{suffix}"] for key in PER_EPISODE}

"""PPO for the MoE agent, read top to bottom: rollout -> advantages -> update (docs/DESIGN.md).

One update collects `rollout_steps` steps from `num_envs` environments with the
current policy, computes generalised advantages, then runs `epochs` passes of
minibatch gradient steps on the clipped PPO loss plus the phase's router terms.
The run's lifecycle (checkpoints, resume, evaluation, command line) is in
`moe/train.py`; the router terms are in `moe/corrections.py`.

Shapes: T = rollout_steps, N = num_envs, K = experts, A = actions, H x W the view.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from moe.corrections import (
    CORRECTIONS,
    CorrectionBatch,
    correction_loss,
    has_loss_term,
    router_entropy,
    uses_previous_output,
)
from moe.environments import EnvBatch, observation_tensors
from moe.model import noisy_intent
from moe.router_statistics import entropy, expert_similarity, switch_rate


class NonFiniteLoss(RuntimeError):
    pass


@dataclass
class StepInputs:
    """What the agent reads at a step, beyond its weights; each tensor (..., ) with the same leading shape.

    `intent` is the true intent's index (-1 for a task without labels), read only by the
    oracle router (which routes by it after `noisy_intent`: this field holds what it routed
    by) and by the supervised router's loss; `previous_alpha` is the router's output at the same environment's
    previous step, uniform where the step starts an episode: a router with memory reads
    it, and it is the temporal term's stored target.
    """

    image: torch.Tensor  # (..., H, W, 3) uint8
    direction: torch.Tensor  # (...) int64
    intent: torch.Tensor  # (...) int64
    previous_alpha: torch.Tensor  # (..., K)

    @classmethod
    def stack(cls, steps: list[StepInputs]) -> StepInputs:
        return cls(*(torch.stack([getattr(step, name) for step in steps]) for name in cls.__dataclass_fields__))

    def map(self, function) -> StepInputs:
        """`function` applied to every tensor, e.g. indexing a minibatch or flattening (T, N)."""
        return StepInputs(*(function(getattr(self, name)) for name in self.__dataclass_fields__))


def run_agent(agent, inputs: StepInputs, with_value: bool = True):
    return agent(inputs.image, inputs.direction, intent=inputs.intent, previous_alpha=inputs.previous_alpha,
                 with_value=with_value)


@dataclass
class RolloutCarry:
    """What one rollout hands to the next: where each environment stands."""

    image: torch.Tensor  # (N, H, W, 3) uint8, the next observation
    direction: torch.Tensor  # (N,) int64
    intent: torch.Tensor  # (N,) int64, the next state's intent index (-1: none)
    episode_start: torch.Tensor  # (N,) bool: the next step starts an episode
    alpha: torch.Tensor  # (N, K) the router's output at the last step, alpha_{t-1} of the next one
    episode_return: np.ndarray  # (N,) return so far of each running episode
    episode_length: np.ndarray  # (N,)
    last_inputs: StepInputs | None = None  # the last step's inputs, each (N, ...): the next step's previous step

    def next_previous_alpha(self) -> torch.Tensor:
        """alpha_{t-1} of the next step: the last step's router output, uniform where an episode starts."""
        uniform = torch.full_like(self.alpha, 1.0 / self.alpha.shape[-1])
        return torch.where(self.episode_start.unsqueeze(-1), uniform, self.alpha)


@dataclass
class Rollout:
    """The steps of one rollout, each tensor (T, N, ...), time first."""

    inputs: StepInputs  # what the agent read at each step
    last_inputs: StepInputs  # (N, ...) what it read at the step before the rollout (carried across rollouts)
    actions: torch.Tensor  # (T, N)
    experts: torch.Tensor | None  # (T, N) the expert that chose each action under hard routing; None for a mixture
    log_probs: torch.Tensor  # (T, N) log-probability of what was chosen at collection time: the action (a
    # mixture), or the expert and the action (hard routing, `AgentOutput.joint_log_prob`)
    values: torch.Tensor  # (T, N)
    alphas: torch.Tensor  # (T, N, K)
    expert_logits: torch.Tensor  # (T, N, K, A)
    rewards: torch.Tensor  # (T, N)
    dones: torch.Tensor  # (T, N) bool: the step ended its episode (terminated or truncated)
    episode_starts: torch.Tensor  # (T, N) bool: the step is its episode's first (m_t = 0)
    finished_returns: list[float]  # episodes that ended during the rollout
    finished_lengths: list[int]
    env_seconds: float

    @property
    def prev_alphas(self) -> torch.Tensor:
        """(T, N, K) alpha_{t-1} as collected (uniform at episode starts): the temporal term's stored target."""
        return self.inputs.previous_alpha

    def previous_inputs(self) -> StepInputs:
        """(T, N, ...) what the agent read at each step's previous step in the same environment. Built only
        when a correction reads the network's output there: it copies the rollout's observations."""
        return StepInputs(*(torch.cat([getattr(self.last_inputs, name).unsqueeze(0), getattr(self.inputs, name)[:-1]])
                            for name in StepInputs.__dataclass_fields__))


def collect_rollout(agent, envs: EnvBatch, carry: RolloutCarry, steps: int, device) -> tuple[Rollout, RolloutCarry]:
    """Step all environments `steps` times with the current policy.

    Each step's results are kept in lists and stacked once at the end: on a CPU every
    tensor operation costs microseconds, and writing each step into buffers was 8 us
    of a frame.
    """
    step_inputs, actions, action_log_probs, values, alphas, expert_logits = [], [], [], [], [], []
    hard = agent.routing == "hard"
    experts, chosen_log_probs = [], []
    rewards, dones = [], []
    finished_returns, finished_lengths = [], []
    episode_return, episode_length = carry.episode_return.copy(), carry.episode_length.copy()
    image, direction, intent = carry.image, carry.direction, carry.intent
    previous_alpha = carry.next_previous_alpha()
    uniform = torch.full_like(previous_alpha, 1.0 / previous_alpha.shape[-1])
    env_seconds = 0.0
    for _ in range(steps):
        if agent.router == "oracle":
            intent = noisy_intent(intent, agent.oracle_noise, agent.num_experts)
        inputs = StepInputs(image, direction, intent, previous_alpha)
        step_inputs.append(inputs)
        with torch.inference_mode():  # no_grad's per-operation bookkeeping cost 1 us a frame
            output = run_agent(agent, inputs)
            if hard:
                expert, action = output.sample_hard()
                experts.append(expert)
                chosen_log_probs.append(output.joint_log_prob(expert, action))
            else:
                # action_log_probs are normalised log-probabilities: no Categorical needed.
                action = torch.multinomial(output.action_log_probs.exp(), 1).squeeze(1)
            alpha = output.log_alpha.exp()
        actions.append(action)
        action_log_probs.append(output.action_log_probs)
        values.append(output.value)
        alphas.append(alpha)
        expert_logits.append(output.expert_logits)

        started = time.perf_counter()
        observation, reward, terminated, truncated = envs.step(action.tolist())
        env_seconds += time.perf_counter() - started
        # MiniGrid's time limit is part of the task (the reward decays with time): a
        # truncation ends the episode like a termination, with no bootstrap.
        done = terminated | truncated
        rewards.append(reward)
        dones.append(done)
        image, direction, intent = observation_tensors(observation, device)
        previous_alpha = torch.where(torch.from_numpy(done).to(device).unsqueeze(-1), uniform, alpha)

        episode_return += reward
        episode_length += 1
        if done.any():
            finished_returns.extend(episode_return[done])
            finished_lengths.extend(episode_length[done])
            episode_return[done] = 0.0
            episode_length[done] = 0

    actions = torch.stack(actions)
    alphas = torch.stack(alphas)
    dones = torch.from_numpy(np.stack(dones)).to(device)
    # The run's very first step has no previous step: it starts an episode, so it is masked
    # wherever the previous step is read; its own inputs stand in.
    rollout = Rollout(
        inputs=StepInputs.stack(step_inputs),
        last_inputs=step_inputs[0] if carry.last_inputs is None else carry.last_inputs, actions=actions,
        experts=torch.stack(experts) if hard else None,
        log_probs=torch.stack(chosen_log_probs) if hard else
        torch.stack(action_log_probs).gather(2, actions.unsqueeze(2)).squeeze(2),
        values=torch.stack(values), alphas=alphas, expert_logits=torch.stack(expert_logits),
        rewards=torch.from_numpy(np.stack(rewards).astype(np.float32)).to(device), dones=dones,
        # A step starts an episode when the step before it ended one; the rollout's first
        # step carries over from the previous rollout.
        episode_starts=torch.cat([carry.episode_start.unsqueeze(0), dones[:-1]]),
        finished_returns=finished_returns, finished_lengths=finished_lengths, env_seconds=env_seconds,
    )
    # Copies, not views: a checkpoint would otherwise save the whole rollout's storage.
    next_carry = RolloutCarry(image, direction, intent, dones[-1].clone(), alphas[-1].clone(), episode_return,
                              episode_length, step_inputs[-1].map(torch.clone))
    return rollout, next_carry


def compute_advantages(agent, rollout: Rollout, carry: RolloutCarry, gamma: float, gae_lambda: float):
    """Generalised advantage estimation, restarted at every episode end: (advantages, returns), each (T, N)."""
    with torch.no_grad():
        next_inputs = StepInputs(carry.image, carry.direction, carry.intent, carry.next_previous_alpha())
        next_value = run_agent(agent, next_inputs).value
    not_done = (~rollout.dones).float()
    following_values = torch.cat([rollout.values[1:], next_value.unsqueeze(0)])
    deltas = rollout.rewards + gamma * following_values * not_done - rollout.values
    discounts = gamma * gae_lambda * not_done
    advantages = torch.zeros_like(rollout.rewards)
    running = torch.zeros_like(next_value)
    for step in reversed(range(len(rollout.rewards))):
        running = deltas[step] + discounts[step] * running
        advantages[step] = running
    return advantages, advantages + rollout.values


def loss_weights(config: dict, active_corrections: list[str], phase: str, progress: float = 1.0) -> dict[str, float]:
    """Coefficient of each router term in this phase (0 when off), `progress` (the share of the run's
    planned updates done before this one) into it. A correction with `ramp: F > 0` rises linearly
    from 0 at the run's start to its `coef` at F of the run; `router_label` is the supervised
    router's cross-entropy (1 for that router, 0 otherwise)."""
    weights = {"router_entropy": -config["router_entropy_coef"],
               "router_label": config["router_label_coef"] if config["model"]["router"] == "supervised" else 0.0}
    for name, settings in config["corrections"].items():
        active = name in active_corrections and phase in settings["phases"]
        ramp = settings.get("ramp", 0.0)
        weights[name] = settings["coef"] * (min(1.0, progress / ramp) if ramp else 1.0) if active else 0.0
        if active and CORRECTIONS[name].replaces_router_entropy_bonus:
            weights["router_entropy"] = 0.0
    return weights


def correction_batch(agent, inputs: StepInputs, previous_inputs: StepInputs | None, episode_start: torch.Tensor,
                     output=None) -> CorrectionBatch:
    """What the corrections see of a minibatch: the agent's output on it (computed here unless given), and,
    given each sample's previous step (only when a correction reads it), its output there without gradient."""
    output = run_agent(agent, inputs) if output is None else output
    previous_output = None
    if previous_inputs is not None:
        with torch.no_grad():
            previous_output = run_agent(agent, previous_inputs)
    return CorrectionBatch(output, inputs.previous_alpha, episode_start, previous_output)


def ppo_update(agent, optimizer, rollout: Rollout, advantages: torch.Tensor, returns: torch.Tensor,
               weights: dict[str, float], config: dict, minibatch_generator: torch.Generator) -> dict[str, float]:
    """`epochs` passes over the rollout in shuffled minibatches; the mean of each loss term, and each
    term's gradient at the router on the update's first minibatch (`router_gradient_norms`)."""
    frames = rollout.actions.numel()
    flat = lambda tensor: tensor.reshape(frames, *tensor.shape[2:])  # noqa: E731  (T, N, ...) -> (T*N, ...)
    inputs = rollout.inputs.map(flat)
    actions, old_log_probs, old_values = flat(rollout.actions), flat(rollout.log_probs), flat(rollout.values)
    experts = None if rollout.experts is None else flat(rollout.experts)
    advantages, returns = flat(advantages), flat(returns)
    episode_starts = flat(rollout.episode_starts)
    active = [name for name, settings in config["corrections"].items() if weights[name]]
    previous_inputs = rollout.previous_inputs().map(flat) \
        if any(uses_previous_output(name, config["corrections"][name]) for name in active) else None
    device = rollout.actions.device
    if config["advantage_normalisation"] == "per_intent":
        advantages = normalise_per_intent(advantages, inputs.intent)
    critic_losses = [fit_critic(agent, optimizer, inputs, returns, config["max_grad_norm"])
                     for _ in range(config["critic_full_batch_steps"])]
    sums: dict[str, torch.Tensor] = {}
    count = 0
    for _ in range(config["epochs"]):
        order = torch.randperm(frames, generator=minibatch_generator).to(device)
        for start in range(0, frames, config["minibatch_size"]):
            index = order[start:start + config["minibatch_size"]]
            minibatch = inputs.map(lambda tensor: tensor[index])  # noqa: B023  (used at once)
            output = run_agent(agent, minibatch, with_value=not critic_losses)
            if experts is None:
                log_probs = output.action_log_probs.gather(1, actions[index, None]).squeeze(1)
            else:  # hard routing: the ratio of the joint choice of expert and action
                log_probs = output.joint_log_prob(experts[index], actions[index])
            ratio = torch.exp(log_probs - old_log_probs[index])
            clipped_ratio = torch.clamp(ratio, 1 - config["clip"], 1 + config["clip"])
            advantage = advantages[index]
            loss_policy = -torch.min(ratio * advantage, clipped_ratio * advantage).mean()
            if not critic_losses:
                clipped_value = old_values[index] + torch.clamp(
                    output.value - old_values[index], -config["clip"], config["clip"])
                loss_value = torch.max((output.value - returns[index]) ** 2,
                                       (clipped_value - returns[index]) ** 2).mean()
            policy_entropy = entropy(output.action_log_probs.exp()).mean()
            terms = {
                "policy": loss_policy,
                # A critic fitted on the whole rollout above is left alone by the policy's steps.
                "value": config["value_coef"] * loss_value if not critic_losses else torch.zeros(()),
                "policy_entropy": -config["policy_entropy_coef"] * policy_entropy,
                # A term that is off is a constant 0, so that its gradient at the router reads as none (NaN).
                "router_entropy": weights["router_entropy"] * router_entropy(output.alpha, output.log_alpha)
                if weights["router_entropy"] else torch.zeros(()),
                "router_label": weights["router_label"] * F.cross_entropy(output.router_logits, minibatch.intent)
                if weights["router_label"] else torch.zeros(()),
            }
            previous = None if previous_inputs is None else previous_inputs.map(lambda tensor: tensor[index])  # noqa: B023
            batch = correction_batch(agent, minibatch, previous, episode_starts[index], output)
            for name in filter(has_loss_term, config["corrections"]):  # bias_balance acts after the update
                terms[name] = weights[name] * correction_loss(name, config["corrections"][name], batch) \
                    if weights[name] else torch.zeros(())
            loss = sum(terms.values())
            if not torch.isfinite(loss):
                raise NonFiniteLoss(f"non-finite loss {loss.item()}")
            if count == 0:
                gradients = router_gradient_norms(terms, output.router_logits)
            optimizer.zero_grad()
            loss.backward()
            if config["max_grad_norm"] is not None:
                nn.utils.clip_grad_norm_(agent.parameters(), config["max_grad_norm"])
            optimizer.step()
            # Summed as tensors: one device-to-host transfer per update, not per minibatch.
            for name, value in terms.items():
                sums[f"loss_{name}"] = sums.get(f"loss_{name}", 0.0) + value.detach()
            sums["policy_entropy"] = sums.get("policy_entropy", 0.0) + policy_entropy.detach()
            count += 1
    means = {key: float(total) / count for key, total in sums.items()}
    if critic_losses:
        means["loss_value"] = float(np.mean(critic_losses))
    return {**means, **gradients}


def normalise_per_intent(advantages: torch.Tensor, intent: torch.Tensor) -> torch.Tensor:
    """(T*N,) advantages, each intent label's (and the unlabelled steps') to mean 0 and standard deviation 1
    over the rollout (population sd, + 1e-8): MOORE's per-task normalisation, once per update."""
    normalised = advantages.clone()
    for label in intent.unique():
        rows = intent == label
        selected = advantages[rows]
        normalised[rows] = (selected - selected.mean()) / (selected.std(unbiased=False) + 1e-8)
    return normalised


def fit_critic(agent, optimizer, inputs: StepInputs, returns: torch.Tensor, max_grad_norm: float | None) -> float:
    """One Adam step on the whole rollout's squared value error, unclipped (MOORE's critic update, made
    before the policy's epochs); the loss before the step. The same optimizer: Adam keeps each
    parameter's moments apart, and the policy's steps leave a critic network of its own (the encoder
    form's; moe.config refuses the heads form) without gradient, which Adam skips."""
    loss = ((agent.value(inputs.image, inputs.direction, inputs.intent, inputs.previous_alpha) - returns) ** 2).mean()
    if not torch.isfinite(loss):
        raise NonFiniteLoss(f"non-finite value loss {loss.item()}")
    optimizer.zero_grad()
    loss.backward()
    if max_grad_norm is not None:
        nn.utils.clip_grad_norm_(agent.parameters(), max_grad_norm)
    optimizer.step()
    return loss.item()


def router_gradient_norms(terms: dict[str, torch.Tensor], router_logits: torch.Tensor) -> dict[str, float]:
    """`grad_router_<term>`: the norm of each weighted loss term's gradient at the router's logits
    (B x K, one minibatch), NaN for a term that is off or does not reach them (the oracle's logits
    are constants). Under Adam a term's value says little of its pull; its gradient at the router,
    beside the policy loss's, says how hard it pulls the router and which way it competes."""
    norms = {}
    for name, term in terms.items():
        gradient = None
        if term.requires_grad and router_logits.requires_grad:
            gradient, = torch.autograd.grad(term, router_logits, retain_graph=True, allow_unused=True)
        norms[f"grad_router_{name}"] = float("nan") if gradient is None else float(gradient.norm())
    return norms


def rollout_statistics(rollout: Rollout) -> dict[str, float]:
    """Router statistics of the rollout's steps, pooled (one PPO update's row of metrics.csv)."""
    alphas = rollout.alphas.reshape(-1, rollout.alphas.shape[-1])
    usage = alphas.mean(0)
    router_entropy_mean, marginal = float(entropy(alphas).mean()), float(entropy(usage))
    statistics = {
        "router_entropy": router_entropy_mean,
        "marginal_router_entropy": marginal,
        "router_mutual_information": marginal - router_entropy_mean,
        "expert_similarity": float(expert_similarity(rollout.expert_logits).mean()),
        "switch_rate": switch_rate(rollout.alphas.argmax(-1), rollout.episode_starts),
    }
    statistics.update({f"usage_expert_{k}": float(u) for k, u in enumerate(usage)})
    return statistics


def episode_statistics(rollout: Rollout) -> dict[str, float]:
    """Return, success and length of the episodes that ended during the rollout (NaN if none did)."""
    returns = np.asarray(rollout.finished_returns)
    if not len(returns):
        return {"return_mean": float("nan"), "success_rate": float("nan"), "episode_length": float("nan")}
    return {"return_mean": float(returns.mean()), "success_rate": float((returns > 0).mean()),
            "episode_length": float(np.mean(rollout.finished_lengths))}

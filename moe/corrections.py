"""The router corrections, each a named loss term in a registry (docs/DESIGN.md, "The loss, per phase").

A correction is a function of the agent's whole output on a minibatch
(`CorrectionBatch`: router logits, alpha, expert logits, value, the previous step's
alpha) that returns a scalar, added to the PPO loss times its configured coefficient in the
phases its config lists. Adding a correction is one decorated function here plus
one entry under `corrections:` in `moe/default_config.yaml`; the workflow's grid
of variants grows from the workflow config's list (`balance` is the worked example).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from moe.errors import ConfigError
from moe.model import AgentOutput
from moe.router_statistics import entropy, expert_cosines


@dataclass(frozen=True)
class CorrectionBatch:
    """What a correction's term sees of one minibatch of B samples (docs/DESIGN.md, "Corrections").

    `output` is the current network's whole output on the minibatch, with gradients:
    `router_logits` (B, K), `log_alpha` and `alpha` (B, K), `expert_logits` (B, K, A),
    `action_log_probs` (B, A), `value` (B,); each is also an attribute of the batch.
    `previous_alpha` (B, K) is alpha_{t-1} as stored when the rollout was collected
    (uniform where the step starts an episode), a constant. `episode_start` (B,) is true
    on an episode's first step. `previous_output` is the current network's output on
    the same environment's previous step, without gradients, or None: it costs a
    second forward pass, so it is computed only for a correction whose
    `uses_previous_output` says so.
    """

    output: AgentOutput
    previous_alpha: torch.Tensor
    episode_start: torch.Tensor
    previous_output: AgentOutput | None = None
    # exp(log_alpha) once, shared by every term: one node in the graph, one order of summing gradients.
    alpha: torch.Tensor = field(init=False)

    def __post_init__(self):
        object.__setattr__(self, "alpha", self.output.alpha)

    router_logits = property(lambda self: self.output.router_logits)
    log_alpha = property(lambda self: self.output.log_alpha)
    expert_logits = property(lambda self: self.output.expert_logits)
    action_log_probs = property(lambda self: self.output.action_log_probs)
    value = property(lambda self: self.output.value)


@dataclass(frozen=True)
class Correction:
    name: str
    # The loss term; None for a correction that acts by a rule after each update instead (`after_update`).
    term: Callable[..., torch.Tensor] | None
    # option name -> its allowed values, the first being the default
    options: dict[str, tuple] = field(default_factory=dict)
    # entropy_min flips the sign of the router-entropy term, so the bonus must go.
    replaces_router_entropy_bonus: bool = False
    # options -> whether the term reads `previous_output` (a second forward pass per minibatch)
    uses_previous_output: Callable[[dict], bool] = lambda options: False
    # (agent, the update's rollout router weights (T, N, K), coef) -> None: a change made after each
    # PPO update of a phase the correction acts in, with no gradient (`bias_balance`)
    after_update: Callable[..., None] | None = None


CORRECTIONS: dict[str, Correction] = {}


def correction(name: str, options: dict[str, tuple] | None = None, replaces_router_entropy_bonus: bool = False,
               uses_previous_output: Callable[[dict], bool] = lambda options: False):
    def register(term):
        CORRECTIONS[name] = Correction(name, term, options or {}, replaces_router_entropy_bonus,
                                       uses_previous_output)
        return term

    return register


def update_rule(name: str):
    """Register a correction that has no loss term: `rule(agent, alphas, coef)` runs after each update."""
    def register(rule):
        CORRECTIONS[name] = Correction(name, None, after_update=rule)
        return rule

    return register


def router_entropy(alpha: torch.Tensor, log_alpha: torch.Tensor) -> torch.Tensor:
    """mean_t H(alpha_t): the mean over samples of each step's router entropy."""
    return entropy(alpha, log_alpha).mean()


@correction("entropy_min", replaces_router_entropy_bonus=True)
def entropy_min(batch: CorrectionBatch) -> torch.Tensor:
    """+H(alpha): minimising it pushes the router to commit."""
    return router_entropy(batch.alpha, batch.log_alpha)


def _jensen_shannon(alpha: torch.Tensor, log_alpha: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """JS(alpha, target) = H((alpha + target) / 2) - (H(alpha) + H(target)) / 2, at most ln 2."""
    return entropy((alpha + target) / 2) - (entropy(alpha, log_alpha) + entropy(target)) / 2


_DIVERGENCES = {
    # KL(alpha_t || target): unbounded; the target is clamped at the smallest normal float.
    "kl": lambda alpha, log_alpha, target: (
        alpha * (log_alpha - torch.log(target.clamp_min(torch.finfo(target.dtype).tiny)))).sum(-1),
    "mse": lambda alpha, log_alpha, target: ((alpha - target) ** 2).sum(-1),
    "js": _jensen_shannon,
}


@correction("temporal", options={"divergence": tuple(_DIVERGENCES), "target": ("rollout", "current")},
            uses_previous_output=lambda options: options["target"] == "current")
def temporal(batch: CorrectionBatch, divergence: str, target: str) -> torch.Tensor:
    """mean_t m_t D(alpha_t, sg(alpha_{t-1})), m_t = 0 on an episode's first step.

    D is KL(alpha_t || alpha_{t-1}) (`kl`), the squared distance ||alpha_t - alpha_{t-1}||^2
    (`mse`) or the Jensen-Shannon divergence (`js`, at most ln 2). alpha_{t-1} is the
    router's output at the same environment's previous step: as stored when the rollout
    was collected (`rollout`), or the current network's on that step's inputs, without
    gradient (`current`). Masked steps count as 0 in the mean.
    """
    previous = batch.previous_alpha if target == "rollout" else batch.previous_output.alpha.detach()
    per_step = _DIVERGENCES[divergence](batch.alpha, batch.log_alpha, previous)
    return torch.where(batch.episode_start, torch.zeros_like(per_step), per_step).mean()


# Why `positive` is the default: a signed cosine rewards mixing two experts whose
# logits point apart, and drove the router to exactly ln 2 with a 50/50 mix of two
# anti-aligned experts (Hunt-8x8, seed 1). Only similarity should cost anything.
_SIMILARITY = {
    "positive": lambda cosine: cosine.clamp_min(0.0),
    "signed": lambda cosine: cosine,
    "squared": lambda cosine: cosine**2,
}


@correction("overlap", options={"similarity": tuple(_SIMILARITY), "gradient": ("all", "router")})
def overlap(batch: CorrectionBatch, similarity: str, gradient: str) -> torch.Tensor:
    """mean_t sum_{i != j} alpha_ti alpha_tj s(cos(c_i, c_j)), c_k expert k's mean-centred logits.

    s is max(0, cos) (`positive`), cos (`signed`) or cos^2 (`squared`). A router may
    activate one expert, or several that do different things; it pays for
    activating experts that do the same thing. With `gradient: all` the experts pay too
    (they move apart, and the term falls to about 0 within an update while the router
    keeps hedging); with `gradient: router` the similarity is a constant: only the router
    can lower the cost, by not mixing experts that do the same thing.
    """
    expert_logits = batch.expert_logits.detach() if gradient == "router" else batch.expert_logits
    cost = _SIMILARITY[similarity](expert_cosines(expert_logits))  # (B, K, K)
    cost = cost * (1.0 - torch.eye(cost.shape[-1], dtype=cost.dtype, device=cost.device))
    return torch.einsum("bi,bij,bj->b", batch.alpha, cost, batch.alpha).mean()


@correction("balance")
def balance(batch: CorrectionBatch) -> torch.Tensor:
    """-H(mean_batch alpha): load balancing, as in Switch-Transformer MoEs.

    Minimising it spreads the minibatch's total routing over the experts. Together
    with `entropy_min` the sum is -(H(mean alpha) - mean H(alpha)), minus the mutual
    information between state and expert: commit per state, not to one expert everywhere.
    """
    return -entropy(batch.alpha.mean(0))


#: bias_balance's step per update is its `coef` (Wang et al. 2024 use u = 1e-3).
@update_rule("bias_balance")
def bias_balance(agent, alphas: torch.Tensor, coef: float) -> None:
    """b_k += u sign(mean_k load - load_k) after each update, load_k = the mean of alpha_k over the
    update's rollout: auxiliary-loss-free load balancing (Wang et al. 2024, "Auxiliary-Loss-Free Load
    Balancing Strategy for Mixture-of-Experts"; DeepSeek-V3).

    There the bias enters only the top-k choice of experts, never the gate values. A dense
    mixture has no choice to bias, so here b is added to the router's logits (`MoEAgent.router_bias`):
    it shifts alpha itself, towards under-used experts, with no gradient and no loss term.
    """
    load = alphas.reshape(-1, alphas.shape[-1]).mean(0)
    agent.router_bias += coef * torch.sign(load.mean() - load)


@correction("zloss")
def zloss(batch: CorrectionBatch) -> torch.Tensor:
    """mean_t (log sum_k exp z_tk)^2 over the router logits z: the ST-MoE router z-loss.

    It keeps the router's logits small, which keeps its softmax responsive; it says
    nothing about which expert to use. Outside the default grid: the worked example of
    a correction that reads what the router computes before its softmax.
    """
    return (torch.logsumexp(batch.router_logits, dim=-1) ** 2).mean()


def validate_correction_names(configured: dict) -> None:
    """Every configured correction must be registered here."""
    for name in configured:
        if name not in CORRECTIONS:
            raise ConfigError(
                f"config key corrections.{name}: unknown correction; known: {', '.join(CORRECTIONS)}"
            )


def validate_corrections(configured: dict, phase_names: list[str]) -> None:
    """Every configured correction must be registered, with known options, values and phases."""
    validate_correction_names(configured)
    for name, settings in configured.items():
        options = CORRECTIONS[name].options
        allowed = {"coef", "phases", "ramp", *options}
        for key, value in settings.items():
            if key not in allowed:
                raise ConfigError(
                    f"unknown config key corrections.{name}.{key}; known keys: {', '.join(sorted(allowed))}"
                )
            if key in options and value not in options[key]:
                raise ConfigError(
                    f"config key corrections.{name}.{key}: {value!r} is not one of {', '.join(options[key])}"
                )
        for phase in settings["phases"]:
            if phase not in phase_names:
                raise ConfigError(
                    f"config key corrections.{name}.phases: unknown phase {phase!r}; phases are {phase_names}"
                )


def _options(name: str, settings: dict) -> dict:
    return {option: settings.get(option, values[0]) for option, values in CORRECTIONS[name].options.items()}


def has_loss_term(name: str) -> bool:
    return CORRECTIONS[name].term is not None


def correction_loss(name: str, settings: dict, batch: CorrectionBatch) -> torch.Tensor:
    """The unweighted value of a configured correction's term on a minibatch."""
    return CORRECTIONS[name].term(batch, **_options(name, settings))


def uses_previous_output(name: str, settings: dict) -> bool:
    """Whether the configured correction reads the network's output on the previous step."""
    return CORRECTIONS[name].uses_previous_output(_options(name, settings))

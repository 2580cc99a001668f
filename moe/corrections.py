"""The router corrections, each a named loss term in a registry (docs/DESIGN.md, "The loss, per phase").

A correction is a function of the minibatch's router and expert outputs that
returns a scalar, added to the PPO loss times its configured coefficient in the
phases its config lists. Adding a correction is one decorated function here plus
one entry under `corrections:` in `moe/default_config.yaml`; the workflow's grid
of variants grows from the workflow config's list (`balance` is the worked example).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from moe.errors import ConfigError
from moe.metrics import entropy, expert_cosines


@dataclass(frozen=True)
class RouterBatch:
    """What a loss term sees of one minibatch."""

    alpha: torch.Tensor  # (B, K) router mixing weights
    log_alpha: torch.Tensor  # (B, K)
    expert_logits: torch.Tensor  # (B, K, A) action logits of each expert
    prev_alpha: torch.Tensor  # (B, K) router output at the previous step, stored in the rollout (constant)
    episode_start: torch.Tensor  # (B,) bool: first step of an episode, no previous intent


@dataclass(frozen=True)
class Correction:
    name: str
    term: Callable[..., torch.Tensor]
    # option name -> its allowed values, the first being the default
    options: dict[str, tuple] = field(default_factory=dict)
    # entropy_min flips the sign of the router-entropy term, so the bonus must go.
    replaces_router_entropy_bonus: bool = False


CORRECTIONS: dict[str, Correction] = {}


def correction(name: str, options: dict[str, tuple] | None = None, replaces_router_entropy_bonus: bool = False):
    def register(term):
        CORRECTIONS[name] = Correction(name, term, options or {}, replaces_router_entropy_bonus)
        return term

    return register


def router_entropy(alpha: torch.Tensor, log_alpha: torch.Tensor) -> torch.Tensor:
    """mean_t H(alpha_t): the mean over samples of each step's router entropy."""
    return entropy(alpha, log_alpha).mean()


@correction("entropy_min", replaces_router_entropy_bonus=True)
def entropy_min(batch: RouterBatch) -> torch.Tensor:
    """+H(alpha): minimising it pushes the router to commit."""
    return router_entropy(batch.alpha, batch.log_alpha)


@correction("temporal", options={"divergence": ("kl", "mse")})
def temporal(batch: RouterBatch, divergence: str) -> torch.Tensor:
    """mean_t m_t D(alpha_t, alpha_{t-1}), m_t = 0 on an episode's first step.

    D is KL(alpha_t || alpha_{t-1}) (`kl`) or the squared distance ||alpha_t - alpha_{t-1}||^2
    (`mse`), the two forms the problem statement gives. Masked steps count as 0 in the mean.
    """
    if divergence == "kl":
        log_prev = torch.log(batch.prev_alpha.clamp_min(torch.finfo(batch.prev_alpha.dtype).tiny))
        per_step = (batch.alpha * (batch.log_alpha - log_prev)).sum(-1)
    else:
        per_step = ((batch.alpha - batch.prev_alpha) ** 2).sum(-1)
    return torch.where(batch.episode_start, torch.zeros_like(per_step), per_step).mean()


# Why `positive` is the default: a signed cosine rewards mixing two experts whose
# logits point apart, and drove the router to exactly ln 2 with a 50/50 mix of two
# anti-aligned experts (Hunt-8x8, seed 1). Only similarity should cost anything.
_SIMILARITY = {
    "positive": lambda cosine: cosine.clamp_min(0.0),
    "signed": lambda cosine: cosine,
    "squared": lambda cosine: cosine**2,
}


@correction("overlap", options={"similarity": tuple(_SIMILARITY)})
def overlap(batch: RouterBatch, similarity: str) -> torch.Tensor:
    """mean_t sum_{i != j} alpha_ti alpha_tj s(cos(c_i, c_j)), c_k expert k's mean-centred logits.

    s is max(0, cos) (`positive`), cos (`signed`) or cos^2 (`squared`). A router may
    activate one expert, or several that do different things; it pays for
    activating experts that do the same thing.
    """
    cost = _SIMILARITY[similarity](expert_cosines(batch.expert_logits))  # (B, K, K)
    cost = cost * (1.0 - torch.eye(cost.shape[-1], dtype=cost.dtype, device=cost.device))
    return torch.einsum("bi,bij,bj->b", batch.alpha, cost, batch.alpha).mean()


@correction("balance")
def balance(batch: RouterBatch) -> torch.Tensor:
    """-H(mean_batch alpha): load balancing, as in Switch-Transformer MoEs.

    Minimising it spreads the minibatch's total routing over the experts. Together
    with `entropy_min` the sum is -(H(mean alpha) - mean H(alpha)), minus the mutual
    information between state and expert: commit per state, not to one expert everywhere.
    """
    return -entropy(batch.alpha.mean(0))


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
        allowed = {"coef", "phases", *options}
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


def correction_loss(name: str, settings: dict, batch: RouterBatch) -> torch.Tensor:
    """The unweighted value of a configured correction's term on a minibatch."""
    entry = CORRECTIONS[name]
    options = {option: settings.get(option, values[0]) for option, values in entry.options.items()}
    return entry.term(batch, **options)

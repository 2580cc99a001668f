"""The router corrections, each a named loss term in a registry.

A correction is a function of the minibatch's router and expert outputs that
returns a scalar to be added to the PPO loss with its configured coefficient,
in the phases its config lists. Adding a fourth correction is one decorated
function here plus one entry under `corrections:` in the config; the grid of
variants grows by itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch
import torch.nn.functional as F


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
    options: dict = field(default_factory=dict)  # option name -> default
    # entropy_min flips the sign of the router-entropy term, so the bonus must go.
    replaces_router_entropy_bonus: bool = False


CORRECTIONS: dict[str, Correction] = {}


def correction(name: str, options: dict | None = None, replaces_router_entropy_bonus: bool = False):
    def register(term):
        CORRECTIONS[name] = Correction(name, term, options or {}, replaces_router_entropy_bonus)
        return term

    return register


def router_entropy(alpha: torch.Tensor, log_alpha: torch.Tensor) -> torch.Tensor:
    """H(alpha): the mean over samples of each step's router entropy."""
    return -(alpha * log_alpha).sum(-1).mean()


@correction("entropy_min", replaces_router_entropy_bonus=True)
def entropy_min(batch: RouterBatch) -> torch.Tensor:
    """+H(alpha): minimising it pushes the router to commit."""
    return router_entropy(batch.alpha, batch.log_alpha)


@correction("temporal")
def temporal(batch: RouterBatch) -> torch.Tensor:
    """mean_t m_t KL(alpha_t || alpha_{t-1}), m_t = 0 on an episode's first step."""
    log_prev = torch.log(batch.prev_alpha.clamp_min(torch.finfo(batch.prev_alpha.dtype).tiny))
    kl = (batch.alpha * (batch.log_alpha - log_prev)).sum(-1)
    return torch.where(batch.episode_start, torch.zeros_like(kl), kl).mean()


@correction("overlap", options={"centered": True})
def overlap(batch: RouterBatch, centered: bool) -> torch.Tensor:
    """mean_t sum_{i != j} alpha_ti alpha_tj cos(l_i, l_j)."""
    logits = batch.expert_logits
    if centered:
        logits = logits - logits.mean(-1, keepdim=True)
    unit = F.normalize(logits, dim=-1)
    cosine = unit @ unit.transpose(-1, -2)  # (B, K, K)
    weighted = batch.alpha.unsqueeze(-1) * batch.alpha.unsqueeze(-2) * cosine
    off_diagonal = weighted.sum((-1, -2)) - torch.diagonal(weighted, dim1=-2, dim2=-1).sum(-1)
    return off_diagonal.mean()


def validate_corrections(configured: dict, phase_names: list[str]) -> None:
    """Every configured correction must be registered, with known options and phases."""
    from moe.config import ConfigError

    for name, settings in configured.items():
        if name not in CORRECTIONS:
            raise ConfigError(
                f"config key corrections.{name}: unknown correction; known: {', '.join(CORRECTIONS)}"
            )
        allowed = {"coef", "phases", *CORRECTIONS[name].options}
        for key in settings:
            if key not in allowed:
                raise ConfigError(
                    f"unknown config key corrections.{name}.{key}; known keys: {', '.join(sorted(allowed))}"
                )
        for phase in settings["phases"]:
            if phase not in phase_names:
                raise ConfigError(
                    f"config key corrections.{name}.phases: unknown phase {phase!r}; phases are {phase_names}"
                )


def correction_loss(name: str, settings: dict, batch: RouterBatch) -> torch.Tensor:
    """The unweighted value of a configured correction's term on a minibatch."""
    entry = CORRECTIONS[name]
    options = {option: settings.get(option, default) for option, default in entry.options.items()}
    return entry.term(batch, **options)

"""Experts as whole encoders: MOORE's network forms as settings of the one agent (docs/DESIGN.md,
"Experts as encoders"; docs/MOORE.md for what is pinned from MOORE's code).

`model.experts: encoders` builds, in place of the heads form (`moe.model.MoEAgent`), the network of
Hendawy, Peters and D'Eramo (ICLR 2024): K expert CNNs read the view; their K representations
(optionally made orthonormal per sample, `model.orthogonal`) are mixed by weights w, then squashed
by tanh, then read by a head, one per task with `model.task_heads`:

    h(s, c) = tanh( sum_k w_k(s, c) f_k(s) ),   pi(. | s, c) = softmax(head_c(h)),   V(s, c) = head'_c(h')

The actor and the critic are two networks of this form with their own experts and mixing weights, as in
MOORE. The weights w come from `model.router`:
- `task`: MOORE's, w = W onehot(c), a bias-free linear map of the task one-hot, no softmax (w may be
  negative and need not sum to 1);
- `task_softmax`: w = softmax(W onehot(c)), a different method, named so;
- `learned`: w = softmax of an MLP on the view's own CNN (the router that reads the view);
- `supervised`: the same, trained on the intent label alone; `oracle`: the one-hot of the intent.
With one expert, w = 1 and no router is built (MTPPO: one CNN, per-task heads).

The router statistics read alpha: softmax weights as they are; MOORE's linear weights as each expert's
share of |w| (a weight of -1 uses an expert as much as +1). No expert has a policy of its own here, so
`expert_logits` are NaN (expert similarity is undefined), and `overlap` and hard routing are refused.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from moe.model import ORACLE_LOG_ZERO, AgentOutput, convolve_2x2

#: `model.router` values this form accepts (`task` and `task_softmax` only this form).
ENCODER_ROUTERS = ("learned", "oracle", "supervised", "task", "task_softmax")
#: Smallest norm Gram-Schmidt divides by: MOORE divides with no floor; this one only keeps an exactly
#: zero vector from turning into NaN.
NORM_FLOOR = 1e-12


class ExpertCNNs(nn.Module):
    """K experts, each MOORE's CNN: three 2x2 convolutions (16, 32, 64 channels), ReLU between them, none after
    the last, no pooling, the map flattened (64 (v-3)^2 features: 1024 on a 7x7 view). Raw cell codes in.

    Each convolution runs channels-last as one product over 2x2 patches (`moe.model.convolve_2x2`), expert
    after expert. Measured against nn.Conv2d and against all K experts as one batched product: the batched
    form was the slowest to train (its layout copies), nn.Conv2d the slowest at a rollout's batch of three.
    """

    def __init__(self, num_experts: int, view_size: int):
        super().__init__()
        self.experts = nn.ModuleList(nn.ModuleList([nn.Conv2d(3, 16, 2), nn.Conv2d(16, 32, 2), nn.Conv2d(32, 64, 2)])
                                     for _ in range(num_experts))
        self.out_dim = 64 * (view_size - 3) ** 2

    def expert_convolution(self, expert: int, layer: int) -> nn.Conv2d:
        return self.experts[expert][layer]

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """(B, v, v, 3) -> (B, K, F)."""
        cells, features = image.float(), []
        for first, second, third in self.experts:
            hidden = F.relu(convolve_2x2(cells, first))
            hidden = F.relu(convolve_2x2(hidden, second))
            features.append(convolve_2x2(hidden, third).flatten(1))
        return torch.stack(features, dim=1)


def orthonormalise(representations: torch.Tensor) -> torch.Tensor:
    """(B, K, F) -> (B, K, F): per sample, classical Gram-Schmidt over the K vectors in expert order,
    each made unit length (the first too), as MOORE's OrthogonalLayer1D; gradients flow through."""
    basis: list[torch.Tensor] = []
    for vector in representations.unbind(1):
        if basis:
            previous = torch.stack(basis, dim=1)  # (B, k, F)
            projections = torch.einsum("bkf,bf->bk", previous, vector)
            vector = vector - torch.einsum("bk,bkf->bf", projections, previous)
        basis.append(vector / vector.norm(dim=-1, keepdim=True).clamp_min(NORM_FLOOR))
    return torch.stack(basis, dim=1)


class Heads(nn.Module):
    """Linear(in, hidden) - tanh - Linear(hidden, out): one head, or one per task, each sample read by its
    task's head (MOORE's "multihead")."""

    def __init__(self, tasks: int, in_dim: int, hidden: int, out_dim: int):
        super().__init__()
        self.out_dim = out_dim
        self.heads = nn.ModuleList(nn.Sequential(nn.Linear(in_dim, hidden), nn.Tanh(), nn.Linear(hidden, out_dim))
                                   for _ in range(tasks))

    def forward(self, features: torch.Tensor, task: torch.Tensor) -> torch.Tensor:
        if len(self.heads) == 1:
            return self.heads[0](features)
        out = features.new_zeros(len(features), self.out_dim)
        for index, head in enumerate(self.heads):
            rows = (task == index).nonzero().squeeze(1)
            if len(rows):
                out = out.index_put((rows,), head(features[rows]))
        return out


class EncoderMixture(nn.Module):
    """One network of the form: K expert CNNs, their mixing weights, tanh, heads with `out_dim` outputs."""

    def __init__(self, view_size: int, num_experts: int, hidden: int, out_dim: int, router: str,
                 num_tasks: int, orthogonal: bool, task_heads: bool, intent_input: bool):
        super().__init__()
        self.router, self.num_experts, self.orthogonal = router, num_experts, orthogonal
        self.num_tasks, self.intent_input = num_tasks, intent_input
        self.experts = ExpertCNNs(num_experts, view_size)
        feature_dim = self.experts.out_dim
        self.view_router = self.task_weights = None
        # The oracle's network builds the view's router too, unused: the oracle and the learned router then draw
        # the same initial experts and heads for a seed, so that their comparison is paired.
        if num_experts > 1 and router in ("learned", "supervised", "oracle"):
            self.view_router = nn.Sequential(ExpertCNNs(1, view_size), nn.Flatten(), nn.Linear(feature_dim, hidden),
                                             nn.ReLU(), nn.Linear(hidden, num_experts))
        elif num_experts > 1 and router in ("task", "task_softmax"):
            self.task_weights = nn.Linear(num_tasks, num_experts, bias=False)
        # MOORE's single-head form reads the task one-hot beside the mixed features.
        self.heads = Heads(num_tasks if task_heads else 1, feature_dim + (num_tasks if intent_input else 0),
                           hidden, out_dim)

    def mixing(self, image: torch.Tensor, intent: torch.Tensor, bias: torch.Tensor):
        """(weights, router_logits, log_alpha), each (B, K): w as the mixture uses it; the logits the router
        terms read; log alpha, the distribution the router statistics read."""
        batch = len(image)
        if self.num_experts == 1:
            zeros = image.new_zeros(batch, 1, dtype=torch.float32)
            return zeros + 1, zeros, zeros
        if self.router == "oracle":
            logits = torch.where(F.one_hot(intent, self.num_experts).bool(), 0.0, ORACLE_LOG_ZERO)
        elif self.view_router is not None:
            logits = self.view_router(image) + bias
        else:
            logits = self.task_weights(F.one_hot(intent, self.num_tasks).float())
        if self.router == "task":  # MOORE's linear weights; alpha: each expert's share of |w|
            share = logits.abs()
            return logits, logits, (share / share.sum(-1, keepdim=True).clamp_min(NORM_FLOOR)).clamp_min(
                NORM_FLOOR).log()
        log_alpha = F.log_softmax(logits.detach() if self.router == "supervised" else logits, dim=-1)
        return log_alpha.exp(), logits, log_alpha

    def forward(self, image: torch.Tensor, intent: torch.Tensor, bias: torch.Tensor):
        """(head outputs (B, out_dim), router_logits, log_alpha)."""
        representations = self.experts(image)  # (B, K, F)
        if self.orthogonal:
            representations = orthonormalise(representations)
        weights, logits, log_alpha = self.mixing(image, intent, bias)
        mixed = torch.tanh(torch.einsum("bk,bkf->bf", weights, representations))
        if self.intent_input:
            mixed = torch.cat([mixed, F.one_hot(intent, self.num_tasks).float()], dim=-1)
        return self.heads(mixed, intent), logits, log_alpha


class EncoderExpertsAgent(nn.Module):
    """MOORE's agent: an actor and a critic, each an `EncoderMixture`; the interface of `MoEAgent`."""

    routing = "mixture"
    oracle_noise = 0.0

    def __init__(self, num_actions: int, view_size: int, num_intents: int, num_experts: int = 2,
                 hidden: int = 128, router: str = "task", orthogonal: bool = False, task_heads: bool = False,
                 intent_input: bool = False, oracle_noise: float = 0.0):
        super().__init__()
        if router not in ENCODER_ROUTERS:
            raise ValueError(f"unknown router {router!r} for experts as encoders; known: {', '.join(ENCODER_ROUTERS)}")
        needs_tasks = task_heads or intent_input or router in ("task", "task_softmax", "oracle", "supervised")
        if needs_tasks and num_intents < 1:
            raise ValueError("experts as encoders with task heads, the task one-hot or a task, oracle or supervised "
                             "router read the task's index, and this task has no intent labels")
        self.num_experts, self.num_actions, self.oracle_noise = num_experts, num_actions, oracle_noise
        form = dict(view_size=view_size, num_experts=num_experts, hidden=hidden, router=router,
                    num_tasks=max(num_intents, 1), orthogonal=orthogonal, task_heads=task_heads,
                    intent_input=intent_input)
        self.actor = EncoderMixture(out_dim=num_actions, **form)
        self.critic = EncoderMixture(out_dim=1, **form)
        self.router = router
        # bias_balance's bias on the actor's router logits (a learned router's only), as in MoEAgent.
        self.register_buffer("router_bias", torch.zeros(num_experts))

    @property
    def router(self) -> str:
        return self._router

    @router.setter
    def router(self, router: str) -> None:
        """Set at every update from the phase's config, as `MoEAgent.router` is (moe.config refuses a phase that
        would hand this form's routing to another router)."""
        self._router = self.actor.router = router
        # Only the actor's router is the label-trained control: the critic's own weights learn from the value.
        self.critic.router = "learned" if router == "supervised" else router

    def forward(self, image: torch.Tensor, direction: torch.Tensor, intent: torch.Tensor | None = None,
                previous_alpha: torch.Tensor | None = None, with_value: bool = True) -> AgentOutput:
        """The direction and alpha_{t-1} are not read: MOORE's networks see the view alone. Without
        `with_value` (a critic fitted apart, `critic_full_batch_steps`) the critic is not run: value is NaN."""
        action_logits, router_logits, log_alpha = self.actor(image, intent, self.router_bias)
        batch = len(image)
        value = self.value(image, direction, intent) if with_value else action_logits.new_full((batch,), float("nan"))
        no_expert_policies = action_logits.new_full((batch, self.num_experts, self.num_actions), float("nan"))
        return AgentOutput(F.log_softmax(action_logits, dim=-1), router_logits, log_alpha, no_expert_policies,
                           value, None)

    def value(self, image: torch.Tensor, direction: torch.Tensor, intent: torch.Tensor | None = None,
              previous_alpha: torch.Tensor | None = None) -> torch.Tensor:
        """(B,) the critic alone."""
        return self.critic(image, intent, torch.zeros_like(self.router_bias))[0].squeeze(-1)

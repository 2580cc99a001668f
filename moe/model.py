"""The MoE actor-critic: encoder -> router, K experts, critic (see DESIGN.md, "The agent")."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F
from minigrid.core.constants import COLOR_TO_IDX, OBJECT_TO_IDX, STATE_TO_IDX

NUM_DIRECTIONS = 4
CELL_FEATURES = (len(OBJECT_TO_IDX), len(COLOR_TO_IDX), len(STATE_TO_IDX))


def neighbourhood_mask(height: int, width: int, radius: int) -> torch.Tensor:
    """Additive attention mask: 0 between cells within Chebyshev `radius`, -inf elsewhere."""
    rows, cols = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    rows, cols = rows.flatten(), cols.flatten()
    distance = torch.maximum((rows[:, None] - rows[None, :]).abs(), (cols[:, None] - cols[None, :]).abs())
    mask = torch.zeros(distance.shape)
    mask[distance > radius] = float("-inf")
    return mask


class GraphAttentionEncoder(nn.Module):
    """Attention over the view's cells, restricted to grid neighbours, then a position-aware readout.

    Each cell is a node: the sum of embeddings of its object, colour and state,
    plus a learned position embedding. Attention runs as one dense
    `scaled_dot_product_attention` with an additive neighbourhood mask, which on
    CPU is several times faster than gathering neighbours. The readout is a
    linear map of all node features (a learned, position-aware pooling): mean
    pooling would forget where the key is relative to the agent.
    """

    def __init__(self, view_size: int, dim: int, layers: int, heads: int, radius: int, out_dim: int):
        super().__init__()
        if dim % heads:
            raise ValueError(f"gat_dim {dim} must be divisible by gat_heads {heads}")
        self.heads = heads
        self.num_cells = view_size * view_size
        # One table for object, colour and state: a single lookup, offsets select the part.
        self.cell_embedding = nn.Embedding(sum(CELL_FEATURES), dim)
        self.register_buffer("feature_offsets", torch.tensor([0, CELL_FEATURES[0], CELL_FEATURES[0] + CELL_FEATURES[1]]),
                             persistent=False)
        self.position_embedding = nn.Parameter(torch.randn(self.num_cells, dim) * 0.1)
        self.register_buffer("attention_mask", neighbourhood_mask(view_size, view_size, radius), persistent=False)
        self.qkv = nn.ModuleList(nn.Linear(dim, 3 * dim) for _ in range(layers))
        self.attention_out = nn.ModuleList(nn.Linear(dim, dim) for _ in range(layers))
        self.norms = nn.ModuleList(nn.LayerNorm(dim) for _ in range(layers))
        self.readout = nn.Linear(self.num_cells * dim, out_dim)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        batch = image.shape[0]
        cells = image.reshape(batch * self.num_cells, 3).long() + self.feature_offsets
        # The sum of a cell's three embeddings as one product with its three-hot code: the
        # same numbers as an embedding lookup, without the lookup's slow scatter backward.
        three_hot = torch.zeros(cells.shape[0], self.cell_embedding.num_embeddings, device=image.device)
        three_hot.scatter_(1, cells, 1.0)
        nodes = (three_hot @ self.cell_embedding.weight).view(batch, self.num_cells, -1) + self.position_embedding
        for qkv, attention_out, norm in zip(self.qkv, self.attention_out, self.norms):
            # Strided views into the projection: attention reads them in place, no copies.
            q, k, v = (part.transpose(1, 2) for part in
                       qkv(nodes).view(batch, self.num_cells, 3, self.heads, -1).unbind(2))
            attended = F.scaled_dot_product_attention(q, k, v, attn_mask=self.attention_mask)
            attended = attended.transpose(1, 2).reshape(batch, self.num_cells, -1)
            nodes = norm(nodes + F.relu(attention_out(attended)))
        return F.relu(self.readout(nodes.flatten(1)))


class ConvEncoder(nn.Module):
    """The rl-starter-files CNN (three 2x2 convolutions, one max-pool) on the raw cell codes."""

    def __init__(self, view_size: int, out_dim: int):
        super().__init__()
        # Pooling before the first ReLU, where rl-starter-files pools after it: max and ReLU
        # commute, values and gradients alike, and the ReLU then runs on a quarter of the cells.
        self.conv = nn.Sequential(
            nn.Conv2d(3, 16, 2), nn.MaxPool2d(2), nn.ReLU(),
            nn.Conv2d(16, 32, 2), nn.ReLU(),
            nn.Conv2d(32, 64, 2), nn.ReLU(),
        )  # fmt: skip
        side = (view_size - 1) // 2 - 2
        self.out = nn.Linear(64 * side * side, out_dim)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        *layers, last_conv, last_relu = self.conv
        hidden = image.permute(0, 3, 1, 2).float()
        for layer in layers:
            hidden = layer(hidden)
        if hidden.shape[-2:] == last_conv.kernel_size:
            # One output position (the 7x7 view): the convolution is a linear map of the
            # flattened input, and one matrix product costs less than oneDNN's per-call
            # overhead, which was a quarter of the encoder's time at rollout batch 16.
            hidden = F.linear(hidden.flatten(1), last_conv.weight.flatten(1), last_conv.bias)
        else:
            hidden = last_conv(hidden)
        return F.relu(self.out(last_relu(hidden).flatten(1)))


@dataclass
class AgentOutput:
    action_logits: torch.Tensor  # (B, A) log pi(a|s), the mixture, normalised
    router_logits: torch.Tensor  # (B, K)
    log_alpha: torch.Tensor  # (B, K)
    expert_logits: torch.Tensor  # (B, K, A)
    value: torch.Tensor  # (B,)

    @property
    def alpha(self) -> torch.Tensor:
        return self.log_alpha.exp()


class MoEAgent(nn.Module):
    """pi(a|s) = sum_k alpha_k(s) softmax(l_k(s))[a], with a critic on the same features.

    The router, the critic and the K experts are all two-layer MLPs on the
    encoder's features. Their first layers run as one matrix product and the
    experts' second layers as one batched product (`bmm`), instead of K + 2 small
    modules: fewer, larger operations are what a CPU rewards.
    """

    def __init__(self, num_actions: int, view_size: int = 7, encoder: str = "gat", num_experts: int = 4,
                 hidden: int = 64, gat_dim: int = 32, gat_layers: int = 2, gat_heads: int = 2, gat_radius: int = 1):
        super().__init__()
        if num_experts < 1:
            raise ValueError(f"num_experts must be at least 1, got {num_experts}")
        self.num_experts = num_experts
        self.num_actions = num_actions
        self.hidden = hidden
        feature_dim = hidden
        if encoder == "gat":
            self.encoder = GraphAttentionEncoder(view_size, gat_dim, gat_layers, gat_heads, gat_radius, feature_dim)
        elif encoder == "cnn":
            self.encoder = ConvEncoder(view_size, feature_dim)
        else:
            raise ValueError(f"unknown encoder {encoder!r}; known: gat, cnn")
        self.direction_embedding = nn.Embedding(NUM_DIRECTIONS, feature_dim)
        # Heads' first layers: [router, critic, expert_0 .. expert_{K-1}].
        self.heads_first = nn.Linear(feature_dim, (num_experts + 2) * hidden)
        self.router_out = nn.Linear(hidden, num_experts)
        self.critic_out = nn.Linear(hidden, 1)
        self.experts_weight = nn.Parameter(torch.empty(num_experts, hidden, num_actions))
        self.experts_bias = nn.Parameter(torch.zeros(num_experts, num_actions))
        bound = hidden**-0.5  # as nn.Linear initialises each expert's own layer
        nn.init.uniform_(self.experts_weight, -bound, bound)

    def forward(self, image: torch.Tensor, direction: torch.Tensor) -> AgentOutput:
        features = self.encoder(image) + self.direction_embedding(direction.long())
        hidden = F.relu(self.heads_first(features)).view(-1, self.num_experts + 2, self.hidden)
        # split, not indexing: its backward is one concatenation, not a zero-filled copy per part.
        router_hidden, critic_hidden, expert_hidden = hidden.split([1, 1, self.num_experts], dim=1)
        router_logits = self.router_out(router_hidden.squeeze(1))
        value = self.critic_out(critic_hidden.squeeze(1)).squeeze(-1)
        # (K, B, hidden) @ (K, hidden, A): what einsum("bkh,kha->bka") does, without its overhead.
        expert_logits = torch.bmm(expert_hidden.transpose(0, 1), self.experts_weight).transpose(0, 1)
        expert_logits = expert_logits + self.experts_bias
        log_alpha = F.log_softmax(router_logits, dim=-1)
        # Over the actions as dim 0 of a transposed view: the same values (gradients equal to
        # rounding), 3x faster on a CPU, whose kernel vectorises poorly along a dimension as
        # short as the action set when it is the last.
        expert_log_probs = F.log_softmax(expert_logits.transpose(0, 2), dim=0).transpose(0, 2)
        # log sum_k alpha_k p_k(a), computed in log space for stability.
        action_logits = torch.logsumexp(log_alpha.unsqueeze(-1) + expert_log_probs, dim=1)
        return AgentOutput(action_logits, router_logits, log_alpha, expert_logits, value)


def build_agent(model_config: dict, num_actions: int, view_size: int) -> MoEAgent:
    return MoEAgent(num_actions=num_actions, view_size=view_size, **model_config)

"""The MoE actor-critic: encoder -> router, K experts, critic (docs/DESIGN.md, "The agent")."""

from __future__ import annotations

from dataclasses import dataclass, fields

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
        offsets = torch.tensor([0, CELL_FEATURES[0], CELL_FEATURES[0] + CELL_FEATURES[1]])
        self.register_buffer("feature_offsets", offsets, persistent=False)
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
        for qkv, attention_out, norm in zip(self.qkv, self.attention_out, self.norms, strict=True):
            # Strided views into the projection: attention reads them in place, no copies.
            q, k, v = (part.transpose(1, 2) for part in
                       qkv(nodes).view(batch, self.num_cells, 3, self.heads, -1).unbind(2))
            attended = F.scaled_dot_product_attention(q, k, v, attn_mask=self.attention_mask)
            attended = attended.transpose(1, 2).reshape(batch, self.num_cells, -1)
            nodes = norm(nodes + F.relu(attention_out(attended)))
        return F.relu(self.readout(nodes.flatten(1)))


def patches(cells: torch.Tensor) -> torch.Tensor:
    """(B, H, W, C) -> (B, H-1, W-1, 4C): each 2x2 window's cells, rows then columns then channels."""
    height, width = cells.shape[1] - 1, cells.shape[2] - 1
    return torch.cat([cells[:, row:row + height, col:col + width] for row in (0, 1) for col in (0, 1)], dim=-1)


def convolve_2x2(cells: torch.Tensor, conv: nn.Conv2d) -> torch.Tensor:
    """`conv` (2x2 kernel, stride 1) on channels-last cells, as one matrix product over patches.

    On maps this small oneDNN's per-call overhead is most of a convolution's time:
    four slices and one product made the encoder's forward at rollout batch 16 a
    fifth faster, and cost no more in training.
    """
    kernel = conv.weight.permute(0, 2, 3, 1).flatten(1)  # (out, row * col * channel), as `patches` orders them
    return F.linear(patches(cells), kernel, conv.bias)


class ConvEncoder(nn.Module):
    """The rl-starter-files CNN (three 2x2 convolutions, one max-pool) on the raw cell codes.

    The layers are kept as rl-starter-files declares them (so are their weights and
    checkpoints); the forward runs them channels-last, each convolution as a matrix
    product (`convolve_2x2`).
    """

    def __init__(self, view_size: int, out_dim: int):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(3, 16, 2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 2), nn.ReLU(),
            nn.Conv2d(32, 64, 2), nn.ReLU(),
        )  # fmt: skip
        side = (view_size - 1) // 2 - 2
        self.out = nn.Linear(64 * side * side, out_dim)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        first, _, pool, second, _, third, _ = self.conv
        hidden = convolve_2x2(image.float(), first)  # MiniGrid's image is channels-last already
        # Max-pool before the ReLU, where rl-starter-files pools after it: they commute,
        # values and gradients alike, and the ReLU then runs on a quarter of the cells.
        hidden = F.relu(pool(hidden.permute(0, 3, 1, 2))).permute(0, 2, 3, 1)
        hidden = F.relu(convolve_2x2(hidden, second))
        hidden = F.relu(convolve_2x2(hidden, third))
        return F.relu(self.out(hidden.permute(0, 3, 1, 2).flatten(1)))  # flattened as nn.Conv2d's output


#: `model.router`: a learned MLP on the features; the one-hot of the true intent (a control); or the
#: same MLP trained only on the intent label (`supervised`, a control: the PPO loss does not reach it).
ROUTERS = ("learned", "oracle", "supervised")
#: `model.routing`: act with the mixture of the experts' policies, or with one expert per step, sampled
#: from alpha (`hard`: PPO then trains the joint choice of expert and action).
ROUTINGS = ("mixture", "hard")
#: `model.router_memory`: what the router reads besides the current features.
ROUTER_MEMORIES = ("none", "previous_alpha")
ORACLE_LOG_ZERO = -1.0e4  # exp() of it is exactly 0 in float32
#: The most intent labels a task may have for `intent_input` (envs.remap.MAX_INTENTS is 18).
MAX_INTENT_LABELS = 32


@dataclass
class AgentOutput:
    action_log_probs: torch.Tensor  # (B, A) log pi(a|s) of the mixture, normalised
    router_logits: torch.Tensor  # (B, K)
    log_alpha: torch.Tensor  # (B, K)
    expert_logits: torch.Tensor  # (B, K, A)
    value: torch.Tensor  # (B,)
    expert_log_probs: torch.Tensor | None = None  # (B, K, A) log softmax of each expert's logits

    @property
    def alpha(self) -> torch.Tensor:
        return self.log_alpha.exp()

    def cpu(self) -> AgentOutput:
        return AgentOutput(**{field.name: None if getattr(self, field.name) is None else getattr(self, field.name).cpu()
                              for field in fields(self)})

    def joint_log_prob(self, expert: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """(B,) log alpha_k + log pi_k(a): hard routing's log-probability of choosing expert k, then action a."""
        rows = torch.arange(len(expert), device=expert.device)
        return self.log_alpha[rows, expert] + self.expert_log_probs[rows, expert, action]

    def sample_hard(self, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(expert, action), each (B,): an expert drawn from alpha, then an action from its policy.
        The action's marginal distribution is the mixture's, `action_log_probs`."""
        expert = torch.multinomial(self.alpha, 1, generator=generator).squeeze(1)
        rows = torch.arange(len(expert), device=expert.device)
        action = torch.multinomial(self.expert_log_probs[rows, expert].exp(), 1, generator=generator).squeeze(1)
        return expert, action


class MoEAgent(nn.Module):
    """pi(a|s) = sum_k alpha_k(s) softmax(l_k(s))[a], with a critic on the same features.

    The router, the critic and the K experts are all two-layer MLPs on the
    encoder's features. Their first layers run as one matrix product and the
    experts' second layers as one batched product (`baddbmm`), instead of K + 2 small
    modules: fewer, larger operations are what a CPU rewards.
    """

    def __init__(self, num_actions: int, view_size: int = 7, encoder: str = "gat", num_experts: int = 4,
                 hidden: int = 64, gat_dim: int = 32, gat_layers: int = 1, gat_heads: int = 2, gat_radius: int = 1,
                 router: str = "learned", router_memory: str = "none", routing: str = "mixture",
                 oracle_noise: float = 0.0, intent_input: bool = False):
        super().__init__()
        if num_experts < 1:
            raise ValueError(f"num_experts must be at least 1, got {num_experts}")
        if router not in ROUTERS:
            raise ValueError(f"unknown router {router!r}; known: {', '.join(ROUTERS)}")
        if routing not in ROUTINGS:
            raise ValueError(f"unknown routing {routing!r}; known: {', '.join(ROUTINGS)}")
        self.routing = routing
        # The share of steps the oracle routes to a wrong expert: drawn where the steps are taken
        # (`noisy_intent`), so that training and evaluation route alike and PPO sees the routing it acted with.
        self.oracle_noise = oracle_noise
        if router_memory not in ROUTER_MEMORIES:
            raise ValueError(f"unknown router_memory {router_memory!r}; known: {', '.join(ROUTER_MEMORIES)}")
        self.num_experts = num_experts
        self.router = router
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
        # Memory for the router alone: its first layer also reads sg(alpha_{t-1}), so that an
        # intent that has left the view can persist. Created last, so a model without memory
        # draws the same initial weights as before it existed.
        self.router_memory = nn.Linear(num_experts, hidden, bias=False) if router_memory == "previous_alpha" else None
        # bias_balance's per-expert bias on the router's logits: moved by its rule after each update, never
        # by gradient; saved with the model. Zero (adding it changes no number) unless bias_balance acts.
        self.register_buffer("router_bias", torch.zeros(num_experts))
        self._register_load_state_dict_pre_hook(_zero_bias_where_missing)
        # The intent label as an input of every head (a control: one network told the intent, or MTPPO's
        # task one-hot): a learned embedding of the label's index added to the features, index 0 for a
        # step without a label. Created last, so that without it the initial weights are as before.
        self.intent_embedding = nn.Embedding(MAX_INTENT_LABELS + 1, feature_dim, padding_idx=0) \
            if intent_input else None

    def features(self, image: torch.Tensor, direction: torch.Tensor,
                 intent: torch.Tensor | None = None) -> torch.Tensor:
        """h_t: what the router, the critic and the experts all see (with `intent_input`, the label too)."""
        features = self.encoder(image) + self.direction_embedding(direction.long())
        if self.intent_embedding is not None:
            features = features + self.intent_embedding(intent + 1)
        return features

    def forward(self, image: torch.Tensor, direction: torch.Tensor, intent: torch.Tensor | None = None,
                previous_alpha: torch.Tensor | None = None, with_value: bool = True) -> AgentOutput:
        """`intent` (B,): the true intent's index, read only by the oracle router; `previous_alpha`
        (B, K): the router's output at the same environment's previous step, uniform at an
        episode's start, read only by a router with memory (never differentiated through). The
        critic shares the first layer's product, so it is computed whatever `with_value` says."""
        features = self.features(image, direction, intent)
        pre_activation = self.heads_first(features).view(-1, self.num_experts + 2, self.hidden)
        if self.router_memory is not None:
            memory = self.router_memory(previous_alpha.detach()).unsqueeze(1)
            pre_activation = torch.cat([pre_activation[:, :1] + memory, pre_activation[:, 1:]], dim=1)
        hidden = F.relu(pre_activation)
        # split, not indexing: its backward is one concatenation, not a zero-filled copy per part.
        router_hidden, critic_hidden, expert_hidden = hidden.split([1, 1, self.num_experts], dim=1)
        router_logits = self.router_out(router_hidden.squeeze(1)) + self.router_bias
        value = self.critic_out(critic_hidden.squeeze(1)).squeeze(-1)
        # The experts' logits as (K, A, B): each expert's (A, hidden) @ (hidden, B). With the
        # batch last, no kernel runs along the 7 actions as its innermost axis, which CPUs
        # vectorise poorly: the product alone is 4x faster than (K, B, hidden) @ (K, hidden, A).
        expert_logits = torch.baddbmm(self.experts_bias.unsqueeze(-1), self.experts_weight.transpose(1, 2),
                                      expert_hidden.permute(1, 2, 0))
        if self.router == "oracle":
            # The one-hot of the true intent: expert k serves intent k. log 0 is a large negative
            # number rather than -inf, so that 0 * log 0 stays 0 in entropies and losses.
            router_logits = torch.where(F.one_hot(intent, self.num_experts).bool(), 0.0, ORACLE_LOG_ZERO)
        # The supervised router is trained on the intent label alone (`router_label` in moe/ppo.py): the
        # policy's loss reaches its logits through no path.
        log_alpha = F.log_softmax(router_logits.detach() if self.router == "supervised" else router_logits, dim=-1)
        expert_log_probs = F.log_softmax(expert_logits, dim=1)
        # log sum_k alpha_k p_k(a), computed in log space for stability.
        action_log_probs = torch.logsumexp(log_alpha.t().unsqueeze(1) + expert_log_probs, dim=0).t()
        return AgentOutput(action_log_probs, router_logits, log_alpha, expert_logits.permute(2, 0, 1), value,
                           expert_log_probs.permute(2, 0, 1))


def _zero_bias_where_missing(state_dict, prefix, *_) -> None:
    """A model saved before bias_balance existed had no router bias, i.e. a zero one."""
    weight = state_dict.get(prefix + "router_out.weight")
    if weight is not None:
        state_dict.setdefault(prefix + "router_bias", torch.zeros(weight.shape[0], dtype=weight.dtype))


def noisy_intent(intent: torch.Tensor, noise: float, num_experts: int,
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """The intent index the oracle routes by: the true one, or with probability `noise` (per step,
    from `generator`, torch's global one by default) one of the K - 1 other experts, uniformly.
    Unchanged, and no random number drawn, at noise 0 or with one expert; a step without a label
    (-1) keeps it."""
    if noise == 0 or num_experts < 2:
        return intent
    wrong = torch.rand(intent.shape, generator=generator).to(intent.device) < noise
    shift = torch.randint(1, num_experts, intent.shape, generator=generator).to(intent.device)
    return torch.where(wrong & (intent >= 0), (intent + shift) % num_experts, intent)


#: The model settings the encoder form (`model.experts: encoders`, MOORE's, `moe.encoder_experts`) reads, and
#: those only it reads; moe.config refuses the settings a form has no meaning for.
ENCODER_SETTINGS = ("num_experts", "hidden", "router", "orthogonal", "task_heads", "intent_input", "oracle_noise")
ENCODER_ONLY_SETTINGS = ("experts", "orthogonal", "task_heads")


def build_agent(model_config: dict, num_actions: int, view_size: int, num_intents: int = 0) -> nn.Module:
    """The agent `model_config` describes; `num_intents`, the task's intent labels (0: none), sizes the
    encoder form's task router and per-task heads."""
    if model_config.get("experts", "heads") == "encoders":
        from moe.encoder_experts import EncoderExpertsAgent

        return EncoderExpertsAgent(num_actions, view_size, num_intents,
                                   **{key: model_config[key] for key in ENCODER_SETTINGS})
    return MoEAgent(num_actions=num_actions, view_size=view_size,
                    **{key: value for key, value in model_config.items() if key not in ENCODER_ONLY_SETTINGS})

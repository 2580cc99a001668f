"""Each loss term against a hand-computed value, and the sign of its gradient on the router logits."""

import math

import pytest
import torch

from moe.config import default_config
from moe.corrections import CORRECTIONS, CorrectionBatch, correction_loss, router_entropy, validate_corrections
from moe.errors import ConfigError
from moe.model import AgentOutput


def make_batch(log_alpha, expert_logits, prev_alpha, episode_start, router_logits=None):
    """A CorrectionBatch of B samples from the router's log-weights (policy and value are not read here)."""
    size = log_alpha.shape[0]
    output = AgentOutput(action_log_probs=torch.zeros(size, 3, dtype=log_alpha.dtype),
                         router_logits=log_alpha if router_logits is None else router_logits, log_alpha=log_alpha,
                         expert_logits=expert_logits, value=torch.zeros(size, dtype=log_alpha.dtype))
    return CorrectionBatch(output, prev_alpha, episode_start)


def batch_from(router_logits, expert_logits=None, prev_alpha=None, episode_start=None):
    router_logits = torch.as_tensor(router_logits, dtype=torch.float64)
    log_alpha = torch.log_softmax(router_logits, -1)
    size, experts = router_logits.shape
    if expert_logits is None:
        expert_logits = torch.zeros(size, experts, 3, dtype=torch.float64)
    if prev_alpha is None:
        prev_alpha = torch.full((size, experts), 1.0 / experts, dtype=torch.float64)
    if episode_start is None:
        episode_start = torch.zeros(size, dtype=torch.bool)
    return make_batch(log_alpha, torch.as_tensor(expert_logits, dtype=torch.float64),
                      torch.as_tensor(prev_alpha, dtype=torch.float64), torch.as_tensor(episode_start),
                      router_logits=router_logits)


def test_every_registered_correction_has_a_default_config_entry_in_canonical_order():
    # The default config's order of corrections is the canonical order of variant names.
    assert list(default_config()["corrections"]) == list(CORRECTIONS)


def test_router_entropy_of_known_distributions():
    uniform = batch_from([[0.0, 0.0]])
    assert router_entropy(uniform.alpha, uniform.log_alpha).item() == pytest.approx(math.log(2))
    four = batch_from([[0.0] * 4])
    assert router_entropy(four.alpha, four.log_alpha).item() == pytest.approx(math.log(4))
    # Mean over samples: one uniform (ln 2) and one nearly one-hot (~0) sample.
    mixed = batch_from([[0.0, 0.0], [50.0, 0.0]])
    assert router_entropy(mixed.alpha, mixed.log_alpha).item() == pytest.approx(math.log(2) / 2, abs=1e-12)


def test_entropy_min_value_and_gradient_pushes_router_to_commit():
    logits = torch.tensor([[1.0, 0.0]], dtype=torch.float64, requires_grad=True)
    log_alpha = torch.log_softmax(logits, -1)
    batch = make_batch(log_alpha, torch.zeros(1, 2, 3, dtype=torch.float64),
                        torch.full((1, 2), 0.5, dtype=torch.float64), torch.zeros(1, dtype=torch.bool))
    value = correction_loss("entropy_min", {}, batch)
    p = math.e / (1 + math.e)
    assert value.item() == pytest.approx(-(p * math.log(p) + (1 - p) * math.log(1 - p)))
    value.backward()
    # dH/dz0 = -p0 p1 (ln p0 - ln p1) = -p (1-p) * 1: descent raises the leading logit.
    assert logits.grad[0, 0].item() == pytest.approx(-p * (1 - p))
    assert logits.grad[0, 0] < 0 < logits.grad[0, 1]


def test_temporal_kl_with_a_masked_episode_start():
    logits = torch.tensor([[0.0, 0.0], [0.0, 0.0]], dtype=torch.float64, requires_grad=True)
    log_alpha = torch.log_softmax(logits, -1)
    prev = torch.tensor([[0.9, 0.1], [0.1, 0.9]], dtype=torch.float64)
    batch = make_batch(log_alpha, torch.zeros(2, 2, 3, dtype=torch.float64), prev,
                        torch.tensor([False, True]))
    value = correction_loss("temporal", {"divergence": "kl"}, batch)
    kl = 0.5 * math.log(0.5 / 0.9) + 0.5 * math.log(0.5 / 0.1)
    # mean_t m_t KL: the second step starts an episode, contributes 0, but still counts in the mean.
    assert value.item() == pytest.approx(kl / 2)
    value.backward()
    # Descent moves alpha_t toward the stored previous alpha ([0.9, 0.1]); the masked step gets no gradient.
    assert logits.grad[0, 0] < 0 < logits.grad[0, 1]
    assert torch.all(logits.grad[1] == 0)


def test_temporal_is_zero_when_router_output_repeats():
    batch = batch_from([[2.0, -1.0, 0.5]])
    repeated = make_batch(batch.log_alpha, batch.expert_logits, batch.alpha.clone(), batch.episode_start)
    assert correction_loss("temporal", {}, repeated).item() == pytest.approx(0.0, abs=1e-12)


def test_temporal_squared_difference_option():
    logits = torch.tensor([[0.0, 0.0], [0.0, 0.0]], dtype=torch.float64, requires_grad=True)
    log_alpha = torch.log_softmax(logits, -1)
    prev = torch.tensor([[0.9, 0.1], [0.1, 0.9]], dtype=torch.float64)
    batch = make_batch(log_alpha, torch.zeros(2, 2, 3, dtype=torch.float64), prev,
                        torch.tensor([False, True]))
    value = correction_loss("temporal", {"divergence": "mse"}, batch)
    # ||(0.5, 0.5) - (0.9, 0.1)||^2 = 0.16 + 0.16 on the first step; the second is masked.
    assert value.item() == pytest.approx(0.32 / 2)
    value.backward()
    assert logits.grad[0, 0] < 0 < logits.grad[0, 1]
    assert torch.all(logits.grad[1] == 0)
    assert correction_loss("temporal", {}, batch).item() == pytest.approx(
        correction_loss("temporal", {"divergence": "kl"}, batch).item())  # KL is the default


ANTI_ALIGNED = [[[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]]]  # centred: [-1, 0, 1] and [1, 0, -1], cos = -1
IDENTICAL = [[[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]]]
ORTHOGONAL = [[[1.0, -1.0, 0.0], [1.0, 1.0, -2.0]]]  # centred already, dot product 0


@pytest.mark.parametrize("similarity, anti_aligned", [("positive", 0.0), ("signed", -0.5), ("squared", 0.5)])
def test_overlap_hand_computed_under_each_similarity(similarity, anti_aligned):
    def overlap(router_logits, experts):
        return correction_loss("overlap", {"similarity": similarity}, batch_from(router_logits, experts)).item()

    # sum over i != j of alpha_i alpha_j s(cos) = 2 * 0.5 * 0.5 * s(cos) for a 50/50 router.
    assert overlap([[0.0, 0.0]], ANTI_ALIGNED) == pytest.approx(anti_aligned)
    assert overlap([[0.0, 0.0]], IDENTICAL) == pytest.approx(0.5)
    assert overlap([[0.0, 0.0]], ORTHOGONAL) == pytest.approx(0.0, abs=1e-12)
    # A one-hot router pays nothing, whatever its experts do.
    assert overlap([[60.0, 0.0]], IDENTICAL) == pytest.approx(0.0, abs=1e-12)
    assert overlap([[60.0, 0.0]], ANTI_ALIGNED) == pytest.approx(0.0, abs=1e-12)


def test_positive_overlap_is_the_default_and_does_not_reward_mixing_opposite_experts():
    batch = batch_from([[0.0, 0.0]], ANTI_ALIGNED)
    assert correction_loss("overlap", {}, batch).item() == 0.0
    # Shift-invariant: adding a constant to an expert's logits changes nothing.
    shifted = batch_from([[0.0, 0.0]], [[[11.0, 12.0, 13.0], [1.0, 2.0, 3.0]]])
    assert correction_loss("overlap", {}, shifted).item() == pytest.approx(0.5)


def test_overlap_gradient_pushes_router_off_the_shared_skill():
    logits = torch.tensor([[1.0, 0.0]], dtype=torch.float64, requires_grad=True)
    log_alpha = torch.log_softmax(logits, -1)
    experts = torch.tensor(IDENTICAL, dtype=torch.float64)
    batch = make_batch(log_alpha, experts, torch.full((1, 2), 0.5, dtype=torch.float64),
                        torch.zeros(1, dtype=torch.bool))
    correction_loss("overlap", {}, batch).backward()
    # 2 a0 a1 falls as the router commits to the expert it already prefers.
    assert logits.grad[0, 0] < 0 < logits.grad[0, 1]


def test_balance_is_minus_the_marginal_entropy_of_the_minibatch():
    # Two committed samples on different experts: marginal (0.5, 0.5), -ln 2.
    spread = batch_from([[60.0, 0.0], [0.0, 60.0]])
    assert correction_loss("balance", {}, spread).item() == pytest.approx(-math.log(2))
    # Both on expert 0: marginal (1, 0), entropy 0, nothing gained.
    collapsed = batch_from([[60.0, 0.0], [60.0, 0.0]])
    assert correction_loss("balance", {}, collapsed).item() == pytest.approx(0.0, abs=1e-12)
    # A hedging router has the same marginal as the spread one: balance alone cannot tell them apart;
    # with entropy_min the sum is minus the mutual information, which can.
    hedging = batch_from([[0.0, 0.0], [0.0, 0.0]])
    both = [correction_loss(name, {}, batch).item() for batch in (spread, hedging)
            for name in ("entropy_min", "balance")]
    assert both[0] + both[1] == pytest.approx(-math.log(2))  # spread: I = ln 2
    assert both[2] + both[3] == pytest.approx(0.0, abs=1e-12)  # hedging: I = 0


def test_balance_gradient_moves_the_collapsed_router_toward_the_unused_expert():
    logits = torch.tensor([[2.0, 0.0], [2.0, 0.0]], dtype=torch.float64, requires_grad=True)
    log_alpha = torch.log_softmax(logits, -1)
    batch = make_batch(log_alpha, torch.zeros(2, 2, 3, dtype=torch.float64),
                        torch.full((2, 2), 0.5, dtype=torch.float64), torch.zeros(2, dtype=torch.bool))
    correction_loss("balance", {}, batch).backward()
    assert (logits.grad[:, 1] < 0).all() and (logits.grad[:, 0] > 0).all()


@pytest.mark.parametrize("settings, message", [
    ({"overlap": {"coef": 0.1, "phases": ["finetune"], "similarity": "cosine"}}, "similarity.*positive"),
    ({"temporal": {"coef": 0.1, "phases": ["finetune"], "divergence": "hellinger"}}, "divergence.*kl, mse, js"),
    ({"temporal": {"coef": 0.1, "phases": ["finetune"], "target": "stale"}}, "target.*rollout, current"),
    ({"overlap": {"coef": 0.1, "phases": ["finetune"], "centered": True}}, "unknown config key"),
])
def test_unknown_options_and_option_values_are_refused(settings, message):
    with pytest.raises(ConfigError, match=message):
        validate_corrections(settings, ["warmup", "finetune"])


def temporal_of(alpha, previous, divergence):
    alpha = torch.as_tensor(alpha, dtype=torch.float64)
    batch = make_batch(torch.log(alpha), torch.zeros(*alpha.shape, 3, dtype=torch.float64),
                       torch.as_tensor(previous, dtype=torch.float64), torch.zeros(alpha.shape[0], dtype=torch.bool))
    return correction_loss("temporal", {"divergence": divergence}, batch).item()


@pytest.mark.parametrize("alpha, previous", [([0.5, 0.5], [0.9, 0.1]), ([0.2, 0.3, 0.5], [0.5, 0.25, 0.25])])
def test_mse_and_jensen_shannon_on_known_pairs(alpha, previous):
    p, q = alpha, previous
    m = [(a + b) / 2 for a, b in zip(p, q, strict=True)]
    kl = lambda x, y: sum(a * math.log(a / b) for a, b in zip(x, y, strict=True))  # noqa: E731
    assert temporal_of([p], [q], "mse") == pytest.approx(sum((a - b) ** 2 for a, b in zip(p, q, strict=True)))
    assert temporal_of([p], [q], "js") == pytest.approx(0.5 * kl(p, m) + 0.5 * kl(q, m))
    assert temporal_of([p], [q], "kl") == pytest.approx(kl(p, q))


def test_the_cost_of_one_committed_switch_as_docs_design_gives_it():
    # From expert 1 to expert 0, both routings one-hot.
    committed, before = [[1.0, 1e-300]], [[0.0, 1.0]]
    tiny = torch.finfo(torch.float64).tiny
    assert temporal_of(committed, before, "kl") == pytest.approx(-math.log(tiny), rel=1e-3)  # 708 nats in float64
    assert -math.log(torch.finfo(torch.float32).tiny) == pytest.approx(87.34, abs=0.01)  # float32, as trained
    assert temporal_of(committed, before, "mse") == pytest.approx(2.0)
    assert temporal_of(committed, before, "js") == pytest.approx(math.log(2))
    # No switch, no cost.
    for divergence in ("kl", "mse", "js"):
        assert temporal_of([[0.3, 0.7]], [[0.3, 0.7]], divergence) == pytest.approx(0.0, abs=1e-12)


def test_zloss_is_the_mean_squared_logsumexp_of_the_router_logits():
    logits = torch.tensor([[1.0, 2.0], [0.0, 0.0]], dtype=torch.float64, requires_grad=True)
    batch = make_batch(torch.log_softmax(logits, -1), torch.zeros(2, 2, 3, dtype=torch.float64),
                       torch.full((2, 2), 0.5, dtype=torch.float64), torch.zeros(2, dtype=torch.bool),
                       router_logits=logits)
    value = correction_loss("zloss", {}, batch)
    first, second = math.log(math.e + math.e**2), math.log(2)
    assert value.item() == pytest.approx((first**2 + second**2) / 2)
    value.backward()
    assert (logits.grad > 0).all()  # descent shrinks every logit: the term keeps them small


def test_the_current_target_is_the_networks_output_on_the_previous_step_and_gets_no_gradient():
    from moe.model import MoEAgent
    from moe.ppo import StepInputs, correction_batch

    torch.manual_seed(0)
    agent = MoEAgent(num_actions=7, num_experts=3, hidden=16, gat_dim=8)
    generator = torch.Generator().manual_seed(1)

    def inputs():
        image = torch.stack([torch.randint(0, 11, (6, 7, 7), generator=generator),
                             torch.randint(0, 6, (6, 7, 7), generator=generator),
                             torch.randint(0, 3, (6, 7, 7), generator=generator)], -1).to(torch.uint8)
        return StepInputs(image, torch.randint(0, 4, (6,), generator=generator), torch.zeros(6, dtype=torch.long),
                          torch.full((6, 3), 1 / 3))

    now, before = inputs(), inputs()
    settings = {"divergence": "js", "target": "current"}
    batch = correction_batch(agent, now, before, torch.zeros(6, dtype=torch.bool))
    correction_loss("temporal", settings, batch).backward()
    gradient = [parameter.grad.clone() for parameter in agent.parameters() if parameter.grad is not None]
    agent.zero_grad()
    # By hand: the divergence from a constant target, the network's alpha on the previous step.
    with torch.no_grad():
        target = agent(before.image, before.direction).alpha
    output = agent(now.image, now.direction)
    expected = (torch.special.entr((output.alpha + target) / 2).sum(-1)
                - (torch.special.entr(output.alpha).sum(-1) + torch.special.entr(target).sum(-1)) / 2).mean()
    assert correction_loss("temporal", settings, batch).item() == pytest.approx(expected.item(), rel=1e-5)
    expected.backward()
    by_hand = [parameter.grad for parameter in agent.parameters() if parameter.grad is not None]
    assert len(gradient) == len(by_hand) and any(g.abs().sum() > 0 for g in gradient)
    for mine, theirs in zip(gradient, by_hand, strict=True):
        assert torch.allclose(mine, theirs, atol=1e-7)

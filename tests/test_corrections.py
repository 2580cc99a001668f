"""Each loss term against a hand-computed value, and the sign of its gradient on the router logits."""

import math

import pytest
import torch

from moe.corrections import CORRECTIONS, RouterBatch, correction_loss, router_entropy, validate_corrections
from moe.errors import ConfigError


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
    return RouterBatch(log_alpha.exp(), log_alpha, torch.as_tensor(expert_logits, dtype=torch.float64),
                       torch.as_tensor(prev_alpha, dtype=torch.float64), torch.as_tensor(episode_start))


def test_registry_holds_the_corrections_in_canonical_order():
    assert list(CORRECTIONS) == ["entropy_min", "temporal", "overlap", "balance"]


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
    batch = RouterBatch(log_alpha.exp(), log_alpha, torch.zeros(1, 2, 3, dtype=torch.float64),
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
    batch = RouterBatch(log_alpha.exp(), log_alpha, torch.zeros(2, 2, 3, dtype=torch.float64), prev,
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
    repeated = RouterBatch(batch.alpha, batch.log_alpha, batch.expert_logits, batch.alpha.clone(),
                           batch.episode_start)
    assert correction_loss("temporal", {}, repeated).item() == pytest.approx(0.0, abs=1e-12)


def test_temporal_squared_difference_option():
    logits = torch.tensor([[0.0, 0.0], [0.0, 0.0]], dtype=torch.float64, requires_grad=True)
    log_alpha = torch.log_softmax(logits, -1)
    prev = torch.tensor([[0.9, 0.1], [0.1, 0.9]], dtype=torch.float64)
    batch = RouterBatch(log_alpha.exp(), log_alpha, torch.zeros(2, 2, 3, dtype=torch.float64), prev,
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
    batch = RouterBatch(log_alpha.exp(), log_alpha, experts, torch.full((1, 2), 0.5, dtype=torch.float64),
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
    batch = RouterBatch(log_alpha.exp(), log_alpha, torch.zeros(2, 2, 3, dtype=torch.float64),
                        torch.full((2, 2), 0.5, dtype=torch.float64), torch.zeros(2, dtype=torch.bool))
    correction_loss("balance", {}, batch).backward()
    assert (logits.grad[:, 1] < 0).all() and (logits.grad[:, 0] > 0).all()


@pytest.mark.parametrize("settings, message", [
    ({"overlap": {"coef": 0.1, "phases": ["finetune"], "similarity": "cosine"}}, "similarity.*positive"),
    ({"temporal": {"coef": 0.1, "phases": ["finetune"], "divergence": "js"}}, "divergence.*kl, mse"),
    ({"overlap": {"coef": 0.1, "phases": ["finetune"], "centered": True}}, "unknown config key"),
])
def test_unknown_options_and_option_values_are_refused(settings, message):
    with pytest.raises(ConfigError, match=message):
        validate_corrections(settings, ["warmup", "finetune"])

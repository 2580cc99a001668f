"""Each loss term against a hand-computed value, and the sign of its gradient on the router logits."""

import math

import pytest
import torch

from moe.corrections import CORRECTIONS, RouterBatch, correction_loss, router_entropy


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


def test_registry_holds_the_three_corrections_in_canonical_order():
    assert list(CORRECTIONS)[:3] == ["entropy_min", "temporal", "overlap"]


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
    value = correction_loss("temporal", {}, batch)
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


def test_overlap_of_identical_and_orthogonal_experts():
    identical = batch_from([[0.0, 0.0]], expert_logits=[[[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]]])
    # sum over i != j of alpha_i alpha_j cos = 2 * 0.5 * 0.5 * 1
    assert correction_loss("overlap", {"centered": True}, identical).item() == pytest.approx(0.5)
    # Both already mean-centred, dot product 1 - 1 + 0 = 0.
    orthogonal = batch_from([[0.0, 0.0]], expert_logits=[[[1.0, -1.0, 0.0], [1.0, 1.0, -2.0]]])
    assert correction_loss("overlap", {"centered": True}, orthogonal).item() == pytest.approx(0.0, abs=1e-12)


def test_overlap_centering_option():
    reversed_experts = batch_from([[0.0, 0.0]], expert_logits=[[[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]]])
    # Centred: [-1, 0, 1] and [1, 0, -1] point opposite ways; raw: cos = 10 / 14.
    assert correction_loss("overlap", {"centered": True}, reversed_experts).item() == pytest.approx(-0.5)
    assert correction_loss("overlap", {"centered": False}, reversed_experts).item() == pytest.approx(0.5 * 10 / 14)
    assert correction_loss("overlap", {}, reversed_experts).item() == pytest.approx(-0.5)  # centred by default


def test_overlap_gradient_pushes_router_off_the_shared_skill():
    logits = torch.tensor([[1.0, 0.0]], dtype=torch.float64, requires_grad=True)
    log_alpha = torch.log_softmax(logits, -1)
    experts = torch.tensor([[[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]]], dtype=torch.float64)
    batch = RouterBatch(log_alpha.exp(), log_alpha, experts, torch.full((1, 2), 0.5, dtype=torch.float64),
                        torch.zeros(1, dtype=torch.bool))
    correction_loss("overlap", {"centered": True}, batch).backward()
    # 2 a0 a1 falls as the router commits to the expert it already prefers.
    assert logits.grad[0, 0] < 0 < logits.grad[0, 1]

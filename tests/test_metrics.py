import math

import numpy as np
import pytest
import torch

from moe.router_statistics import entropy, normalized_mutual_information, switch_rate


def test_entropy_handles_zeros():
    assert entropy(torch.tensor([1.0, 0.0])).item() == 0.0
    assert entropy(torch.tensor([0.25] * 4)).item() == pytest.approx(math.log(4))


def test_switch_rate_ignores_steps_that_start_an_episode():
    # One environment: experts 0 0 1 | 0 0 with an episode starting at step 3.
    experts = torch.tensor([[0], [0], [1], [0], [0]])
    starts = torch.tensor([[True], [False], [False], [True], [False]])
    # Counted transitions: 0->0, 0->1, 0->0 (the 1->0 across the reset is not): 1 switch of 3.
    assert switch_rate(experts, starts) == pytest.approx(1 / 3)


def test_nmi_of_perfect_permuted_and_independent_labelings():
    intents = np.array(["a", "a", "b", "b"])
    assert normalized_mutual_information(np.array([2, 2, 0, 0]), intents) == pytest.approx(1.0)
    assert normalized_mutual_information(np.array([0, 1, 0, 1]), intents) == pytest.approx(0.0, abs=1e-12)
    assert normalized_mutual_information(np.array([0, 0, 0, 0]), intents) == pytest.approx(0.0)
    assert normalized_mutual_information(np.array([1, 1]), np.array(["x", "x"])) == 1.0


def test_nmi_hand_computed_partial_case():
    experts = np.array([0, 0, 1, 1])
    intents = np.array(["a", "a", "a", "b"])
    # H(E) = ln 2; H(I) = -(3/4 ln 3/4 + 1/4 ln 1/4); I = H(I) - H(I|E) = H(I) - 1/2 ln 2.
    h_e = math.log(2)
    h_i = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    mutual = h_i - 0.5 * math.log(2)
    assert normalized_mutual_information(experts, intents) == pytest.approx(2 * mutual / (h_e + h_i))

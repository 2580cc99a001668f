"""Router statistics shared by training logs and evaluation."""

from __future__ import annotations

import numpy as np
import torch


def entropy(probabilities: torch.Tensor) -> torch.Tensor:
    """Entropy (nats) along the last axis; 0 log 0 = 0."""
    return -(probabilities * torch.log(probabilities.clamp_min(1e-30))).sum(-1)


def switch_rate(argmax_expert: torch.Tensor, episode_start: torch.Tensor) -> float:
    """Fraction of steps whose argmax expert differs from the previous step's in the same episode.

    `argmax_expert` and `episode_start` are (T, N): time first, one column per environment.
    A step that starts an episode has no previous step and is not counted.
    """
    changed = argmax_expert[1:] != argmax_expert[:-1]
    counted = ~episode_start[1:]
    total = int(counted.sum())
    return float((changed & counted).sum()) / total if total else float("nan")


def normalized_mutual_information(labels_a: np.ndarray, labels_b: np.ndarray) -> float:
    """NMI with the arithmetic-mean normalisation, 2 I(A;B) / (H(A) + H(B)).

    Two constant labelings agree perfectly (1.0); a constant against a varying one
    shares no information (0.0).
    """
    labels_a, labels_b = np.asarray(labels_a), np.asarray(labels_b)
    if labels_a.shape != labels_b.shape or labels_a.size == 0:
        raise ValueError("NMI needs two non-empty labelings of the same length")
    _, codes_a = np.unique(labels_a, return_inverse=True)
    _, codes_b = np.unique(labels_b, return_inverse=True)
    joint = np.zeros((codes_a.max() + 1, codes_b.max() + 1))
    np.add.at(joint, (codes_a, codes_b), 1)
    joint /= joint.sum()
    p_a, p_b = joint.sum(1), joint.sum(0)
    h_a = -np.sum(p_a * np.log(p_a))
    h_b = -np.sum(p_b * np.log(p_b))
    if h_a == 0 and h_b == 0:
        return 1.0
    nonzero = joint > 0
    mutual_information = np.sum(joint[nonzero] * np.log(joint[nonzero] / np.outer(p_a, p_b)[nonzero]))
    return float(2 * mutual_information / (h_a + h_b))

"""Router statistics, defined once and shared by the loss terms, the training log and the evaluation.

All entropies and mutual informations are in nats. `docs/DESIGN.md` ("What a run
reports") gives the definitions; each function here is one of them.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from moe.analysis.metrics import VERDICTS  # noqa: F401  (the verdicts `verdict` decides, named once there)


def entropy(probabilities: torch.Tensor, log_probabilities: torch.Tensor | None = None) -> torch.Tensor:
    """Entropy along the last axis; 0 log 0 = 0.

    Pass `log_probabilities` where the model computed them (log-softmax): the loss
    then differentiates the same numbers the model produced.
    """
    if log_probabilities is None:
        log_probabilities = torch.log(probabilities.clamp_min(1e-30))
    return -(probabilities * log_probabilities).sum(-1)


def expert_cosines(expert_logits: torch.Tensor) -> torch.Tensor:
    """(..., K, A) -> (..., K, K): cosines between the experts' mean-centred logits.

    Softmax ignores a constant shift of the logits, so only the centred logits say
    what an expert does. An expert whose logits are all equal (uniform policy) has a
    zero centred vector and cosine 0 with every expert.
    """
    centred = expert_logits - expert_logits.mean(-1, keepdim=True)
    unit = F.normalize(centred, dim=-1)
    return unit @ unit.transpose(-1, -2)


def expert_similarity(expert_logits: torch.Tensor) -> torch.Tensor:
    """(..., K, A) -> (...): mean over expert pairs i < j of cos(c_i, c_j); NaN for K = 1."""
    experts = expert_logits.shape[-2]
    if experts < 2:
        return torch.full(expert_logits.shape[:-2], float("nan"))
    cosines = expert_cosines(expert_logits)
    pairs = torch.triu_indices(experts, experts, offset=1)
    return cosines[..., pairs[0], pairs[1]].mean(-1)


def switch_rate(argmax_expert: torch.Tensor, episode_start: torch.Tensor) -> float:
    """Fraction of steps whose argmax expert differs from the previous step's in the same episode.

    `argmax_expert` and `episode_start` are (T, N): time first, one column per environment.
    A step that starts an episode has no previous step and is not counted.
    """
    changed = argmax_expert[1:] != argmax_expert[:-1]
    counted = ~episode_start[1:]
    total = int(counted.sum())
    return float((changed & counted).sum()) / total if total else float("nan")


def intent_mutual_information(alpha: torch.Tensor, intents: np.ndarray) -> tuple[float, float]:
    """Soft I(intent; expert) of one episode, and its normalised form.

    p(intent) is the fraction of steps with that intent and p(expert | intent) the
    mean router weights over those steps (no argmax), so
    I = H(sum_i p(i) p(.|i)) - sum_i p(i) H(p(.|i)). The normalised form divides by
    min(H(intent), ln K), the largest value I can take: 1 is one expert per intent.
    Both are NaN where the episode shows one intent only: I is 0 there by
    definition, which says nothing about the router, so such an episode leaves both
    averages alike.
    """
    _, codes = np.unique(intents, return_inverse=True)
    codes = torch.from_numpy(codes)
    weights = torch.bincount(codes).to(alpha.dtype) / len(codes)
    conditional = torch.stack([alpha[codes == index].mean(0) for index in range(len(weights))])
    mutual_information = float(entropy(weights @ conditional) - weights @ entropy(conditional))
    mutual_information = max(mutual_information, 0.0)  # rounding can leave -1e-17
    bound = min(float(entropy(weights)), math.log(alpha.shape[1]))
    if bound <= 0:
        return math.nan, math.nan
    return mutual_information, mutual_information / bound


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
    h_a, h_b = -np.sum(p_a * np.log(p_a)), -np.sum(p_b * np.log(p_b))
    if h_a == 0 and h_b == 0:
        return 1.0
    nonzero = joint > 0
    mutual_information = np.sum(joint[nonzero] * np.log(joint[nonzero] / np.outer(p_a, p_b)[nonzero]))
    return float(2 * mutual_information / (h_a + h_b))


def episode_router_statistics(alpha: torch.Tensor, similarity: torch.Tensor, intents: np.ndarray | None) -> dict:
    """The router statistics of one episode: alpha (T, K), per-step expert similarity (T,), intents (T,).

    Every statistic is a property of this episode alone, so that an evaluation can
    weigh each episode the same whatever its length.
    """
    alpha = alpha.double()
    router_entropy = float(entropy(alpha).mean())
    marginal = float(entropy(alpha.mean(0)))
    argmax = alpha.argmax(1)
    statistics = {
        "router_entropy": router_entropy,
        "marginal_router_entropy": marginal,
        # Clipped at 0: the two entropies can differ in the last bit the wrong way.
        "router_mutual_information": max(marginal - router_entropy, 0.0),
        "expert_similarity": float(similarity.double().mean()),
        "switch_rate": switch_rate(argmax[:, None], torch.zeros(len(argmax), 1, dtype=torch.bool)),
        "intent_mutual_information": math.nan,
        "intent_mutual_information_normalized": math.nan,
        "intent_nmi": math.nan,
    }
    if intents is not None:
        mutual, normalised = intent_mutual_information(alpha, intents)
        statistics["intent_mutual_information"] = mutual
        statistics["intent_mutual_information_normalized"] = normalised
        if len(np.unique(intents)) > 1:  # two constant labelings "agree" perfectly: not a finding
            statistics["intent_nmi"] = normalized_mutual_information(argmax.numpy(), intents)
    return statistics


#: Each verdict threshold is the midpoint between two reference routers (docs/DESIGN.md, "Verdicts").
HEDGE_ENTROPY_FRACTION = 0.5  # of ln K: the uniform router (ln K) and a committed one (0)
#: exp(pooled marginal entropy), the effective number of experts the evaluation uses: a constant one-hot
#: router (1) and one that uses two experts equally (2). Under 1.5, one expert carries over 86% of the weight.
COLLAPSE_EFFECTIVE_EXPERTS = 1.5
SPECIALISE_EXPLAINED = 0.5  # intent_explained: the intent oracle (1) and a router blind to the intent (0)


def pooled_router_statistics(alpha: torch.Tensor, intents: np.ndarray, labels: tuple[str, ...]) -> dict:
    """Router statistics over every evaluation step at once (all episodes pooled): alpha (T, K), intents (T,).

    Pooling is what makes them measure one expert *per intent*: a router that serves
    `hunt` with expert 1 in one episode and expert 3 in the next is consistent within
    each episode (the per-episode intent MI is high) but not across them (`intent_mi`
    is not). `labels` is the task's intent order, used for `modal_expert_by_intent`.
    """
    alpha = alpha.double()
    experts = alpha.shape[1]
    router_entropy = float(entropy(alpha).mean())
    marginal = float(entropy(alpha.mean(0)))
    codes = torch.from_numpy(np.array([labels.index(label) for label in intents], dtype=np.int64))
    met = [index for index in range(len(labels)) if bool((codes == index).any())]
    weights = torch.stack([(codes == index).double().mean() for index in met])
    conditional = torch.stack([alpha[codes == index].mean(0) for index in met])
    intent_mi = max(float(entropy(weights @ conditional) - weights @ entropy(conditional)), 0.0)
    intent_entropy = float(entropy(weights))
    bound = min(intent_entropy, math.log(experts))
    argmax = alpha.argmax(1)
    modal = {}
    for index, label in enumerate(labels):
        chosen = argmax[codes == index]
        if len(chosen) == 0:
            modal[label] = None
            continue
        counts = torch.bincount(chosen, minlength=experts)
        expert = int(counts.argmax())  # ties: the lowest index
        modal[label] = {"expert": expert, "share": float(counts[expert]) / len(chosen)}
    modal_met = [entry for entry in modal.values() if entry is not None]
    statistics = {
        "intent_mi": intent_mi,
        "intent_entropy": intent_entropy,
        "intent_explained": intent_mi / bound if bound > 0 else math.nan,
        # I(step; expert) - I(intent; expert) >= 0: the intent is a function of the step.
        "state_split": max((marginal - router_entropy) - intent_mi, 0.0),
        "pooled_router_entropy": router_entropy,
        "pooled_marginal_entropy": marginal,
        "modal_expert_share": float(np.mean([entry["share"] for entry in modal_met])),
        "distinct_modal_experts": len({entry["expert"] for entry in modal_met}) == len(modal_met),
        "modal_expert_by_intent": modal,
    }
    statistics["verdict"] = verdict(statistics, experts)
    return statistics


def recorded_verdict(final) -> str | None:
    """final.json's verdict as today's rule (`verdict`) decides it from the file's own statistics, so
    that a rule changed since the run reaches it; the stored one where they do not decide it (null for
    a diverged run or a task without labels; statistics the file predates)."""
    stored = final.get("verdict")
    if stored is None:
        return None
    try:
        return verdict(final, int(final["num_experts"]))
    except (KeyError, TypeError, ValueError):
        return stored


def verdict(statistics: dict, experts: int) -> str:
    """`hedge`, `collapse`, `split` or `specialise`: the first rule that holds (docs/DESIGN.md, "Verdicts").

    - hedge: a step's routing is spread (mean H(alpha_t) at least half of ln K);
    - specialise: it commits by intent (intent_explained at least 1/2) and distinct
      intents have distinct modal experts;
    - collapse: it commits, not by intent, and one expert carries nearly all the
      evaluation's weight (exp(marginal entropy), the effective number of experts, under 1.5);
    - split: it commits and uses several experts, but not by intent.
    With one expert there is nothing to route: `collapse` by construction.
    """
    if experts == 1:
        return "collapse"
    if statistics["pooled_router_entropy"] >= HEDGE_ENTROPY_FRACTION * math.log(experts):
        return "hedge"
    explained = statistics["intent_explained"]
    explained = math.nan if explained is None else explained  # null in final.json
    if not math.isnan(explained) and explained >= SPECIALISE_EXPLAINED and statistics["distinct_modal_experts"]:
        return "specialise"
    # After specialise: where one intent is most of the steps (Dodge's navigate), the intent oracle
    # itself puts nearly all the weight on that intent's expert.
    if math.exp(statistics["pooled_marginal_entropy"]) < COLLAPSE_EFFECTIVE_EXPERTS:
        return "collapse"
    return "split"

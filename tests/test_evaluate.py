"""The evaluation measures what it claims, on scripted routers whose statistics are known by hand."""

import math

import gymnasium as gym
import numpy as np
import pytest
import torch
import torch.nn as nn
from minigrid.envs import EmptyEnv

from moe.environments import check_env_id
from moe.errors import ConfigError
from moe.evaluate import evaluate
from moe.model import AgentOutput, MoEAgent
from moe.router_statistics import episode_router_statistics, intent_mutual_information, pooled_router_statistics

DIRECTION_TASK = "MoETest-DirectionIntent-v0"  # registered by conftest.py: intent = the half of the compass faced


class ScriptedRouter(nn.Module):
    """Router weights from a rule on the facing direction; actions uniform (or a fixed one)."""

    num_experts = 2

    def __init__(self, rule="follow_intent", action=None):
        super().__init__()
        self.rule, self.action = rule, action

    def forward(self, image, direction, intent=None, previous_alpha=None):
        batch = direction.shape[0]
        east_or_south = (direction <= 1).double()
        if self.rule == "follow_intent":
            alpha = torch.stack([east_or_south, 1 - east_or_south], dim=1)
        elif self.rule == "one_expert":
            alpha = torch.tensor([[1.0, 0.0]]).repeat(batch, 1)
        elif self.rule == "uniform":
            alpha = torch.full((batch, 2), 0.5)
        elif self.rule == "commit_when_facing_east":  # one-hot facing east, 50/50 otherwise
            east = (direction == 0).double()
            alpha = torch.stack([0.5 + 0.5 * east, 0.5 - 0.5 * east], dim=1)
        if self.action is None:
            action_log_probs = torch.full((batch, 7), -math.log(7))
        else:
            action_log_probs = torch.full((batch, 7), -1e9)
            action_log_probs[:, self.action] = 0.0
        experts = torch.zeros(batch, 2, 7)
        experts[:, 0, 0] = 1.0  # two different experts: centred logits of cosine -1/6
        experts[:, 1, 1] = 1.0
        return AgentOutput(action_log_probs=action_log_probs, router_logits=torch.log(alpha.clamp_min(1e-12)),
                           log_alpha=torch.log(alpha.clamp_min(1e-30)).float(), expert_logits=experts,
                           value=torch.zeros(batch))


def evaluate_router(router, episodes=8, seed_base=10, task=DIRECTION_TASK, greedy=False):
    return evaluate(router, task, episodes=episodes, seed_base=seed_base, greedy=greedy, device=torch.device("cpu"))


def intent_entropy_per_episode(recorded_intents):
    _, counts = np.unique(recorded_intents, return_counts=True)
    p = counts / counts.sum()
    return float(-(p * np.log(p)).sum())


def test_a_router_that_follows_the_intent_scores_mutual_information_equal_to_the_intent_entropy():
    # Greedy, the agent turns left every step (action 0), so each episode depends on its level alone
    # and can be replayed on its own.
    summary, recorded = evaluate_router(ScriptedRouter("follow_intent"), episodes=8, greedy=True)
    # Per episode, p(expert | intent) is one-hot, so I(intent; expert) = H(intent) of that episode,
    # and the router's own MI (marginal - per-step entropy) is the same number.
    per_episode = [evaluate_router(ScriptedRouter("follow_intent"), episodes=1, seed_base=10 + j, greedy=True)[1]
                   for j in range(8)]
    expected = np.mean([intent_entropy_per_episode([row["intent"] for row in rows]) for rows in per_episode])
    assert expected > 0.1, "the scripted episodes should meet both intents"
    assert summary["intent_mutual_information"] == pytest.approx(expected)
    assert summary["router_mutual_information"] == pytest.approx(expected)
    assert summary["intent_mutual_information_normalized"] == pytest.approx(1.0)
    assert summary["router_entropy"] == pytest.approx(0.0, abs=1e-6)
    assert summary["intent_nmi"] == pytest.approx(1.0)
    usage = summary["expert_usage_by_intent"]
    assert usage["east_or_south"] == pytest.approx([1.0, 0.0]) and usage["west_or_north"] == pytest.approx([0.0, 1.0])
    assert summary["expert_similarity"] == pytest.approx(-1 / 6)
    assert 0.0 < summary["switch_rate"] < 1.0
    # The recorded episode is episode 0, step by step, with alpha matching its intent.
    assert [row["step"] for row in recorded] == list(range(len(recorded)))
    assert all((row["alpha_0"] == 1.0) == (row["intent"] == "east_or_south") for row in recorded)


@pytest.mark.parametrize("rule, router_entropy", [("one_expert", 0.0), ("uniform", math.log(2))])
def test_collapse_and_hedging_both_score_zero_mutual_information(rule, router_entropy):
    summary, _ = evaluate_router(ScriptedRouter(rule))
    assert summary["router_entropy"] == pytest.approx(router_entropy, abs=1e-6)
    assert summary["marginal_router_entropy"] == pytest.approx(router_entropy, abs=1e-6)
    for key in ("router_mutual_information", "intent_mutual_information", "intent_mutual_information_normalized"):
        assert summary[key] == pytest.approx(0.0, abs=1e-9), key
    assert summary["effective_experts"] == pytest.approx(math.exp(router_entropy))


class LongOrShortEnv(EmptyEnv):
    """Even seeds: face east, succeed at step 30. Odd seeds: face west, time out at step 640."""

    intents = ("east_or_south", "west_or_north")

    def __init__(self, **kwargs):
        super().__init__(size=5, max_steps=640, **kwargs)

    def reset(self, *, seed=None, options=None):
        observation, info = super().reset(seed=seed, options=options)
        self.short = seed % 2 == 0
        self.agent_dir = 0 if self.short else 2
        return self.gen_obs(), {**info, "intent": self.intents[0 if self.short else 1]}

    def step(self, action):
        observation, reward, terminated, truncated, info = super().step(action)
        if self.short and self.step_count == 30:
            terminated, reward = True, 0.5
        return observation, reward, terminated, truncated, {**info, "intent": self.intents[0 if self.short else 1]}


LONG_OR_SHORT = "MoETest-LongOrShort-v0"
if LONG_OR_SHORT not in gym.registry:
    gym.register(LONG_OR_SHORT, entry_point=LongOrShortEnv)


def test_a_640_step_failure_weighs_as_much_as_a_30_step_success():
    # Action 6 (done) never turns the agent: committed all through the success, 50/50 through the failure.
    summary, _ = evaluate_router(ScriptedRouter("commit_when_facing_east", action=6), episodes=2, seed_base=0,
                                 task=LONG_OR_SHORT, greedy=True)
    assert summary["success_rate"] == 0.5 and summary["episode_length"] == (30 + 640) / 2
    # Per episode 0 and ln 2, averaged: ln 2 / 2. Pooled over steps it would be 640 / 670 ln 2.
    assert summary["router_entropy"] == pytest.approx(math.log(2) / 2)
    assert summary["router_entropy_success"] == pytest.approx(0.0, abs=1e-9)
    assert summary["switch_rate"] == 0.0


def test_intent_mutual_information_hand_computed_partial_case():
    # Four steps: intent a, a, a, b. Expert weights (1, 0), (1, 0), (0.5, 0.5) and (0, 1).
    alpha = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.5, 0.5], [0.0, 1.0]], dtype=torch.float64)
    intents = np.array(["a", "a", "a", "b"])
    # p(e|a) = (5/6, 1/6), p(e|b) = (0, 1); p(a) = 3/4; mixture (5/8, 3/8).
    h = lambda *p: -sum(x * math.log(x) for x in p if x > 0)  # noqa: E731
    expected = h(5 / 8, 3 / 8) - 0.75 * h(5 / 6, 1 / 6)
    mutual, normalised = intent_mutual_information(alpha, intents)
    assert mutual == pytest.approx(expected)
    assert normalised == pytest.approx(expected / h(0.75, 0.25))  # H(intent) < ln 2 here
    statistics = episode_router_statistics(alpha, torch.zeros(4), intents)
    assert statistics["router_mutual_information"] == pytest.approx(h(0.625, 0.375) - 0.25 * math.log(2))
    # One intent in the episode: nothing to tell apart, both scores are undefined.
    assert all(math.isnan(score) for score in intent_mutual_information(alpha, np.array(["a"] * 4)))


def test_evaluation_is_reproducible_and_differs_with_the_seed():
    first = evaluate_router(ScriptedRouter(), episodes=6, seed_base=3)
    second = evaluate_router(ScriptedRouter(), episodes=6, seed_base=3)
    other = evaluate_router(ScriptedRouter(), episodes=6, seed_base=4)
    assert first == second
    assert first[1] != other[1]


def test_non_minigrid_ids_are_refused():
    with pytest.raises(ConfigError, match="not a MiniGrid environment"):
        check_env_id("CartPole-v1")


def test_an_oracle_routed_evaluation_explains_the_intent_fully_and_specialises():
    torch.manual_seed(0)
    summary, _ = evaluate(MoEAgent(num_actions=7, num_experts=2, router="oracle", hidden=16, gat_dim=8),
                          DIRECTION_TASK, episodes=8, seed_base=10, greedy=False, device=torch.device("cpu"))
    assert summary["intent_entropy"] > 0.3, "the episodes should meet both intents"
    assert summary["intent_mi"] == pytest.approx(summary["intent_entropy"])
    assert summary["intent_explained"] == pytest.approx(1.0)
    assert summary["state_split"] == pytest.approx(0.0, abs=1e-9)
    assert summary["modal_expert_share"] == 1.0 and summary["distinct_modal_experts"]
    assert summary["modal_expert_by_intent"] == {"east_or_south": {"expert": 0, "share": 1.0},
                                                 "west_or_north": {"expert": 1, "share": 1.0}}
    assert summary["verdict"] == "specialise"


def test_one_expert_has_no_routing_to_measure():
    torch.manual_seed(0)
    summary, _ = evaluate(MoEAgent(num_actions=7, num_experts=1, hidden=16, gat_dim=8), DIRECTION_TASK,
                          episodes=4, seed_base=10, greedy=False, device=torch.device("cpu"))
    assert summary["router_mutual_information"] == 0.0 and summary["router_entropy"] == 0.0
    assert summary["intent_mi"] == 0.0 and math.isnan(summary["intent_explained"])  # ln K = 0: no bound
    assert summary["verdict"] == "collapse"


# Four episodes of four steps, intents a, a, b, b in each; two experts.
EPISODE_INTENTS = np.array(["a", "a", "b", "b"] * 4)
ONE_HOT = torch.eye(2, dtype=torch.float64)


def routed(expert_of_step) -> torch.Tensor:
    return ONE_HOT[torch.tensor(expert_of_step)]


def per_episode_intent_mi(alpha):
    return [intent_mutual_information(alpha[4 * j:4 * j + 4], EPISODE_INTENTS[4 * j:4 * j + 4])[0] for j in range(4)]


def test_pooled_intent_mi_rewards_the_same_expert_for_an_intent_in_every_episode():
    consistent = routed([0, 0, 1, 1] * 4)  # a -> expert 0, b -> expert 1, in every episode
    permuted = routed([0, 0, 1, 1, 1, 1, 0, 0] * 2)  # the experts swap roles every other episode
    assert per_episode_intent_mi(consistent) == pytest.approx(per_episode_intent_mi(permuted))
    assert per_episode_intent_mi(consistent) == pytest.approx([math.log(2)] * 4)
    consistent_pooled = pooled_router_statistics(consistent, EPISODE_INTENTS, ("a", "b"))
    permuted_pooled = pooled_router_statistics(permuted, EPISODE_INTENTS, ("a", "b"))
    assert consistent_pooled["intent_entropy"] == pytest.approx(math.log(2))
    assert consistent_pooled["intent_mi"] == pytest.approx(math.log(2))  # = H(intent)
    assert permuted_pooled["intent_mi"] == pytest.approx(0.0, abs=1e-12)
    # The permuted router still commits by state: its routing is all state split.
    assert permuted_pooled["state_split"] == pytest.approx(math.log(2))
    assert (consistent_pooled["verdict"], permuted_pooled["verdict"]) == ("specialise", "split")


@pytest.mark.parametrize("alpha, verdict", [
    (torch.full((16, 2), 0.5, dtype=torch.float64), "hedge"),  # uniform: H(alpha_t) = ln K
    (routed([0] * 16), "collapse"),  # one expert everywhere
    (routed([0, 1] * 8), "split"),  # commits by step parity: uses both experts, ignores the intent
    (routed([0, 0, 1, 1] * 4), "specialise"),
])
def test_verdicts_of_reference_routers(alpha, verdict):
    statistics = pooled_router_statistics(alpha, EPISODE_INTENTS, ("a", "b"))
    assert statistics["verdict"] == verdict
    if verdict == "split":  # half the steps of each intent on each expert: no intent information
        assert statistics["intent_mi"] == pytest.approx(0.0, abs=1e-12)
        assert statistics["state_split"] == pytest.approx(math.log(2))
        assert not statistics["distinct_modal_experts"] and statistics["modal_expert_share"] == 0.5


def test_two_experts_used_by_state_are_a_split_and_one_carrying_nearly_all_the_weight_a_collapse():
    """Three intents met equally, K = 3; the router commits to expert 0 or 1 by state, the same
    share of each intent's steps on expert 1. Hand-computed: the marginal is (1 - s, s, 0), so
    pooled marginal entropy h(s) (binary entropy), intent MI 0, state split h(s)."""
    intents = np.repeat(np.array(["a", "b", "c"]), 10)
    three = torch.eye(3, dtype=torch.float64)

    def split_by_state(steps_on_expert_1):  # of each intent's 10 steps
        return three[torch.tensor([1 if step < steps_on_expert_1 else 0 for _ in "abc" for step in range(10)])]

    two_experts = pooled_router_statistics(split_by_state(2), intents, ("a", "b", "c"))  # 80 / 20
    h = -(0.8 * math.log(0.8) + 0.2 * math.log(0.2))
    assert two_experts["pooled_marginal_entropy"] == pytest.approx(h)  # 0.500: exp = 1.65 effective experts
    assert two_experts["intent_mi"] == pytest.approx(0.0, abs=1e-12)
    assert two_experts["state_split"] == pytest.approx(h)
    # Under half of the oracle's marginal entropy (ln 3 / 2 = 0.549), which the former rule called a collapse.
    assert h < math.log(3) / 2
    assert two_experts["verdict"] == "split"
    nearly_one = pooled_router_statistics(split_by_state(1), intents, ("a", "b", "c"))  # 90 / 10
    assert math.exp(nearly_one["pooled_marginal_entropy"]) == pytest.approx(math.exp(-(0.9 * math.log(0.9)
                                                                                        + 0.1 * math.log(0.1))))
    assert nearly_one["verdict"] == "collapse"  # 1.38 effective experts


def test_an_oracle_on_a_rare_intent_specialises_though_one_expert_carries_most_weight():
    """Intent b on 1 step in 10 (Dodge's evade is rare): the oracle routes b to expert 1 and puts 90%
    of the weight on expert 0, 1.38 effective experts, under the collapse threshold; it routes by intent."""
    intents = np.array((["a"] * 9 + ["b"]) * 4)
    oracle = pooled_router_statistics(routed([0] * 9 + [1]) .repeat(4, 1), intents, ("a", "b"))
    assert math.exp(oracle["pooled_marginal_entropy"]) == pytest.approx(math.exp(-(0.9 * math.log(0.9)
                                                                                    + 0.1 * math.log(0.1))))
    assert oracle["intent_explained"] == pytest.approx(1.0)
    assert oracle["verdict"] == "specialise"
    blind = pooled_router_statistics(routed([0] * 8 + [1, 0]).repeat(4, 1), intents, ("a", "b"))  # 90/10, not by intent
    assert blind["verdict"] == "collapse"

"""The evaluation measures what it claims: NMI, usage by intent, entropies, on a scripted router."""

import math

import gymnasium as gym
import pytest
import torch
import torch.nn as nn
from minigrid.envs import EmptyEnv

from moe.config import ConfigError
from moe.environments import check_env_id
from moe.evaluate import evaluate
from moe.model import AgentOutput

TASK = "MoETest-DirectionIntent-v0"


class DirectionIntentEnv(EmptyEnv):
    """An empty room whose 'intent' is the half of the compass the agent faces (visible to it)."""

    intents = ("east_or_south", "west_or_north")

    def __init__(self, **kwargs):
        super().__init__(size=5, max_steps=30, **kwargs)

    def _label(self, info):
        return {**info, "intent": self.intents[0] if self.agent_dir in (0, 1) else self.intents[1]}

    def reset(self, **kwargs):
        observation, info = super().reset(**kwargs)
        return observation, self._label(info)

    def step(self, action):
        *transition, info = super().step(action)
        return (*transition, self._label(info))


if TASK not in gym.registry:
    gym.register(TASK, entry_point=DirectionIntentEnv)


class ScriptedRouter(nn.Module):
    """Routes to expert 0 when facing east or south, expert 1 otherwise; actions uniform."""

    def forward(self, image, direction):
        batch = direction.shape[0]
        alpha = torch.stack([(direction <= 1).float(), (direction > 1).float()], dim=1)
        return AgentOutput(action_logits=torch.full((batch, 7), -math.log(7)),
                           router_logits=torch.log(alpha.clamp_min(1e-12)),
                           log_alpha=torch.log(alpha.clamp_min(1e-30)),
                           expert_logits=torch.zeros(batch, 2, 7), value=torch.zeros(batch))


def test_a_router_that_follows_the_intent_has_nmi_one_and_zero_per_step_entropy():
    summary, recorded = evaluate(ScriptedRouter(), TASK, episodes=8, seed_base=10, greedy=False,
                                 device=torch.device("cpu"))
    assert summary["intent_nmi"] == pytest.approx(1.0)
    assert summary["expert_usage_by_intent"] == {"east_or_south": [1.0, 0.0], "west_or_north": [0.0, 1.0]}
    assert summary["router_entropy"] == pytest.approx(0.0, abs=1e-6)
    # Both experts are used, so the marginal entropy is positive: the flipping signature.
    assert 0.1 < summary["marginal_router_entropy"] <= math.log(2) + 1e-6
    assert 0.0 < summary["switch_rate"] < 1.0
    # The recorded episode is episode 0, step by step, with alpha matching its intent.
    assert [row["step"] for row in recorded] == list(range(len(recorded)))
    assert all((row["alpha_0"] == 1.0) == (row["intent"] == "east_or_south") for row in recorded)


def test_evaluation_is_reproducible_and_differs_with_the_seed():
    first = evaluate(ScriptedRouter(), TASK, episodes=6, seed_base=3, greedy=False, device=torch.device("cpu"))
    second = evaluate(ScriptedRouter(), TASK, episodes=6, seed_base=3, greedy=False, device=torch.device("cpu"))
    other = evaluate(ScriptedRouter(), TASK, episodes=6, seed_base=4, greedy=False, device=torch.device("cpu"))
    assert first == second
    assert first[1] != other[1]


def test_non_minigrid_ids_are_refused():
    with pytest.raises(ConfigError, match="not a MiniGrid environment"):
        check_env_id("CartPole-v1")

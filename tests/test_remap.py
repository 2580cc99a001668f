"""The conflict family (envs/remap.py): controls by hand, the cue in every view, and a scripted
oracle that solves it, acting differently per intent exactly when the controls conflict."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import envs
from envs.remap import RemapEnv, controls, cue_of
from tests.test_envs_oracle import MIN_INTENT_TV, _goal, intent_action_counts, plan, run_episode, total_variation

N_SEEDS = 200


def test_controls_by_hand():
    # Four intents, every move remapped: intent k's forward, left, right on slots 3 + k, 4 + k, 5 + k (mod 4).
    assert controls(0, 4, 3) == {3: "forward", 4: "left", 5: "right"}
    assert controls(2, 4, 3) == {5: "forward", 6: "left", 3: "right"}
    # No conflict: MiniGrid's own controls for every intent.
    assert controls(1, 4, 0) == {0: "left", 1: "right", 2: "forward"}
    # Only forward remapped: turning is shared, forward is intent k's slot.
    assert controls(1, 2, 1) == {0: "left", 1: "right", 4: "forward"}


@pytest.mark.parametrize("n_intents", [2, 3, 4, 8, 18])
@pytest.mark.parametrize("conflict", [1, 2, 3])
def test_two_intents_never_share_the_control_of_a_remapped_move(n_intents, conflict):
    mappings = [controls(k, n_intents, conflict) for k in range(n_intents)]
    for mapping in mappings:
        assert sorted(mapping.values()) == ["forward", "left", "right"]  # each move has one control
        assert max(mapping) < 3 + max(n_intents, 4)
    for a in range(n_intents):
        for b in range(a + 1, n_intents):
            for move in ("forward", "left", "right")[:conflict]:
                control_a = next(action for action, m in mappings[a].items() if m == move)
                assert mappings[b].get(control_a) != move


def test_registered_settings_labels_and_action_space():
    assert len(envs.REMAP_TASKS) == 13 and "MultiIntent-Remap-n8-c3-8x8-v0" in envs.REMAP_TASKS
    assert envs.intents_of("MultiIntent-Remap-n8-c0-8x8-v0") == tuple(f"intent_{k}" for k in range(8))
    env = gym.make("MultiIntent-Remap-n8-c3-8x8-v0")
    assert env.action_space == gym.spaces.Discrete(11)
    assert gym.make("MultiIntent-Remap-n2-c3-6x6-v0").action_space == gym.spaces.Discrete(7)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env.unwrapped, skip_render_check=True)
    with pytest.raises(ValueError, match="n_intents"):
        RemapEnv(n_intents=1)
    with pytest.raises(ValueError, match="conflict"):
        RemapEnv(conflict=4)


@pytest.mark.parametrize("env_id", ["MultiIntent-Remap-n8-c3-8x8-v0", "MultiIntent-Remap-n2-c3-6x6-v0"])
def test_the_cue_is_in_every_view_and_is_the_label(env_id):
    env = gym.make(env_id)
    agent_cell = (3, 6)  # MiniGrid's egocentric view: the agent at the bottom centre
    rng = np.random.default_rng(0)
    observation, info = env.reset(seed=0)
    seen = set()
    for _ in range(1000):
        intent = int(info["intent"].removeprefix("intent_"))
        assert tuple(observation["image"][agent_cell]) == cue_of(intent).encode()
        seen.add(intent)
        observation, _, terminated, truncated, info = env.step(int(rng.integers(env.action_space.n)))
        if terminated or truncated:
            observation, info = env.reset()
    assert len(seen) == envs.intents_of(env_id).__len__()  # the cue changes within episodes


def test_the_cue_changes_as_often_as_asked():
    always = RemapEnv(size=6, n_intents=3, switch_prob=1.0)
    always.reset(seed=0)
    before = always.cue
    for _ in range(20):
        always.step(0)
        assert always.cue != before
        before = always.cue
    never = RemapEnv(size=6, n_intents=3, switch_prob=0.0)
    never.reset(seed=0)
    start = never.cue
    assert all(never.step(0)[4]["intent"] == f"intent_{start}" for _ in range(20))


def remap_oracle(env) -> int:
    """The planner's move towards the goal (tests/test_envs_oracle.py), on the current intent's control."""
    move = plan(env, *_goal(env)).name
    return next(action for action, name in env.controls[env.cue].items() if name == move)


@pytest.mark.parametrize("env_id", ["MultiIntent-Remap-n2-c3-6x6-v0", "MultiIntent-Remap-n8-c3-8x8-v0",
                                    "MultiIntent-Remap-n4-c1-8x8-v0"])
def test_the_oracle_solves_it_and_a_random_policy_rarely_does(env_id):
    env = gym.make(env_id).unwrapped
    rewards = [run_episode(env, seed, remap_oracle)[0] for seed in range(N_SEEDS)]
    assert np.mean([reward > 0 for reward in rewards]) >= 0.95
    rng = np.random.default_rng(0)
    random = [run_episode(env, seed, lambda e: int(rng.integers(e.action_space.n)))[0] for seed in range(N_SEEDS)]
    assert np.mean([reward > 0 for reward in random]) <= 0.2


@pytest.mark.parametrize("conflict", [0, 1, 3])
def test_the_oracle_acts_differently_per_intent_exactly_when_the_controls_conflict(conflict):
    env = RemapEnv(size=8, n_intents=4, conflict=conflict)
    counts = intent_action_counts(env, range(50), remap_oracle)
    distributions = [c / c.sum() for c in counts.values()]
    closest = min(total_variation(p, q) for i, p in enumerate(distributions) for q in distributions[i + 1:])
    if conflict == 0:
        assert closest < 0.1  # the same controls: only where the episodes go differs
    else:
        assert closest >= MIN_INTENT_TV

"""envs.view computes MiniGrid's observation exactly, only faster."""

import gymnasium as gym
import minigrid  # noqa: F401  registers MiniGrid ids
import numpy as np
import pytest
from minigrid.envs import DoorKeyEnv
from minigrid.minigrid_env import MiniGridEnv

import envs
from envs.view import egocentric_observation, use_egocentric_observation
from moe.environments import make_env

STOCK_ENVS = [
    "MiniGrid-DoorKey-5x5-v0",  # locked door, key to carry
    "MiniGrid-MultiRoom-N4-S5-v0",  # closed doors that open
    "MiniGrid-LavaCrossingS9N2-v0",
    "MiniGrid-KeyCorridorS3R3-v0",  # a ball behind a locked door
]


def _random_walk(env: MiniGridEnv, steps: int, seed: int):
    """Yield after every step of uniformly random actions, resetting at episode ends."""
    env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        yield
        _, _, terminated, truncated, _ = env.step(int(rng.integers(env.action_space.n)))
        if terminated or truncated:
            env.reset()


def _assert_same_as_minigrid(env: MiniGridEnv, steps: int = 1500, seed: int = 0) -> dict:
    seen = {"carrying": 0, "occluded": 0, "directions": set()}
    for _ in _random_walk(env, steps, seed):
        expected = MiniGridEnv.gen_obs(env)
        actual = egocentric_observation(env)
        assert actual["image"].dtype == expected["image"].dtype
        np.testing.assert_array_equal(actual["image"], expected["image"])
        assert actual["direction"] == expected["direction"]
        assert actual["mission"] == expected["mission"]
        seen["carrying"] += env.carrying is not None
        seen["occluded"] += bool((expected["image"][..., 0] == 0).any())
        seen["directions"].add(env.agent_dir)
    return seen


@pytest.mark.parametrize("env_id", list(envs.TASKS) + STOCK_ENVS + ["MultiIntent-Remap-n8-c3-8x8-v0"])
def test_view_equals_minigrid_on_random_walks(env_id):
    seen = _assert_same_as_minigrid(gym.make(env_id).unwrapped)
    assert seen["directions"] == {0, 1, 2, 3}
    assert seen["occluded"] > 0  # the occlusion sweep was exercised, not only open views


def test_view_equals_minigrid_while_carrying():
    seen = _assert_same_as_minigrid(gym.make("MiniGrid-DoorKey-5x5-v0").unwrapped, steps=3000)
    assert seen["carrying"] > 0


@pytest.mark.parametrize("options", [{"agent_view_size": 5}, {"see_through_walls": True}])
def test_view_equals_minigrid_with_other_view_settings(options):
    _assert_same_as_minigrid(DoorKeyEnv(size=8, **options))


def test_training_envs_use_the_fast_view_unless_a_class_has_its_own():
    env = make_env("MultiIntent-KeyDoor-6x6-v0").unwrapped
    assert env.gen_obs.func is egocentric_observation

    class OwnView(DoorKeyEnv):
        def gen_obs(self):
            return {"image": np.zeros((7, 7, 3), np.uint8), "direction": 0, "mission": ""}

    own = use_egocentric_observation(OwnView(size=5))
    assert "gen_obs" not in vars(own)

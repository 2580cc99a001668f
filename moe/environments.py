"""Building MiniGrid environments for training and evaluation."""

from __future__ import annotations

import difflib
from functools import partial

import gymnasium as gym
import numpy as np
import torch
from gymnasium.envs.registration import load_env_creator
from gymnasium.vector import AutoresetMode, SyncVectorEnv
from minigrid.minigrid_env import MiniGridEnv

from envs.view import use_egocentric_observation
from moe.config import ConfigError


def _registered_ids() -> list[str]:
    import envs  # noqa: F401  registers the multi-intent tasks
    import minigrid  # noqa: F401  gymnasium 1.x knows MiniGrid ids only after this import

    return list(gym.registry)


def check_env_id(env_id: str) -> None:
    known = _registered_ids()
    if env_id not in known:
        close = difflib.get_close_matches(env_id, known, n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ConfigError(f"unknown env id {env_id!r}{hint} (multi-intent tasks are MultiIntent-*-v0)")
    entry_point = gym.spec(env_id).entry_point
    creator = load_env_creator(entry_point) if isinstance(entry_point, str) else entry_point
    if not (isinstance(creator, type) and issubclass(creator, MiniGridEnv)):
        raise ConfigError(f"env id {env_id!r} is not a MiniGrid environment")


class ImageAndDirection(gym.ObservationWrapper):
    """Keeps the image and the direction; the mission string is constant per task.

    A class rather than gymnasium's FilterObservation, whose lambda cannot be
    pickled into a checkpoint.
    """

    def __init__(self, env: gym.Env):
        super().__init__(env)
        spaces = env.observation_space.spaces
        self.observation_space = gym.spaces.Dict({"direction": spaces["direction"], "image": spaces["image"]})

    def observation(self, observation: dict) -> dict:
        return {"direction": observation["direction"], "image": observation["image"]}


class IntegerActions(gym.ActionWrapper):
    """Hands MiniGrid plain Python ints.

    MiniGrid's `step` compares the action with a dozen `IntEnum` members; each
    comparison with a numpy integer, which is what a vector env passes, costs
    about a microsecond more: 12 us of a 26 us step.
    """

    def action(self, action) -> int:
        return int(action)


def make_env(env_id: str) -> gym.Env:
    """One environment whose observations are the image and the direction.

    Observations come from `envs.view`, which computes MiniGrid's view bit for
    bit at several times the speed of MiniGrid's own code.
    """
    check_env_id(env_id)
    env = gym.make(env_id)
    use_egocentric_observation(env.unwrapped)
    return IntegerActions(ImageAndDirection(env))


def make_vector_env(env_id: str, num_envs: int) -> SyncVectorEnv:
    """`num_envs` copies stepped in this process.

    Same-step autoreset: a step that ends an episode returns that episode's
    reward and done flags together with the next episode's first observation,
    so no transition mixes two episodes and no step is wasted on a reset.
    """
    return SyncVectorEnv(
        # partial, not a lambda: the vector env is pickled into checkpoints.
        [partial(make_env, env_id) for _ in range(num_envs)], autoreset_mode=AutoresetMode.SAME_STEP
    )


def observation_tensors(observation: dict, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """(image uint8 (N, H, W, 3), direction int64 (N,)) from a batched observation."""
    image = torch.from_numpy(np.ascontiguousarray(observation["image"])).to(device)
    direction = torch.from_numpy(np.asarray(observation["direction"], dtype=np.int64)).to(device)
    return image, direction

"""Building MiniGrid environments for training and evaluation."""

from __future__ import annotations

import difflib

import gymnasium as gym
import numpy as np
import torch
from gymnasium.envs.registration import load_env_creator
from minigrid.minigrid_env import MiniGridEnv

from envs import intents_of, members_of
from envs.view import use_egocentric_observation
from moe.config import ConfigError


def _registered_ids() -> list[str]:
    import minigrid  # noqa: F401  gymnasium 1.x knows MiniGrid ids only after this import

    import envs  # noqa: F401  registers the multi-intent tasks

    return list(gym.registry)


def check_env_id(env_id: str) -> None:
    known = _registered_ids()
    if env_id not in known:
        close = difflib.get_close_matches(env_id, known, n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ConfigError(f"unknown env id {env_id!r}{hint} (multi-intent tasks are MultiIntent-*-v0)")
    entry_point = gym.spec(env_id).entry_point
    creator = load_env_creator(entry_point) if isinstance(entry_point, str) else entry_point
    if not (isinstance(creator, type) and issubclass(creator, MiniGridEnv)) and members_of(env_id) is None:
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


def make_env(env_id: str, task: int | None = None) -> gym.Env:
    """One environment whose observations are the image and the direction; of a multi-task
    suite, its member `task` (0 by default).

    Observations come from `envs.view`, which computes MiniGrid's view bit for
    bit at several times the speed of MiniGrid's own code.
    """
    check_env_id(env_id)
    env = gym.make(env_id) if task is None else gym.make(env_id, task=task)
    use_egocentric_observation(env.unwrapped)
    return ImageAndDirection(env)


class EnvBatch:
    """`num_envs` copies of one environment, stepped one after another in this process (of a
    multi-task suite, an equal share of the environments per member task).

    Same-step autoreset: a step that ends an episode returns that episode's
    reward and done flags together with the next episode's first observation,
    so no transition mixes two episodes and no step is wasted on a reset.
    Written out rather than gymnasium's `SyncVectorEnv`, whose per-step
    bookkeeping (iterating the action space, merging infos, concatenating and
    copying observations) cost 2.5 us a frame, a tenth of a MiniGrid step.
    """

    def __init__(self, env_id: str, num_envs: int):
        members = members_of(env_id)
        if members is None:
            self.envs = [make_env(env_id) for _ in range(num_envs)]
        elif num_envs % len(members):
            raise ConfigError(f"config key num_envs: {env_id} has {len(members)} tasks, each given an equal share "
                              f"of the environments, so num_envs must divide by {len(members)}, not {num_envs}")
        else:  # environment i runs task i mod n: every task takes as many steps
            self.envs = [make_env(env_id, task=index % len(members)) for index in range(num_envs)]
        self.intents = intents_of(env_id) or ()  # the task's labels; the oracle router reads their index
        # Each environment's spaces (the batch adds a leading dimension of num_envs).
        self.observation_space = self.envs[0].observation_space
        self.action_space = self.envs[0].action_space

    def reset(self, seeds: list[int]) -> dict:
        return self._stack([env.reset(seed=seed) for env, seed in zip(self.envs, seeds, strict=True)])

    def step(self, actions: list[int]) -> tuple[dict, np.ndarray, np.ndarray, np.ndarray]:
        """Observations, rewards, terminated and truncated flags, one entry per environment.

        `actions` are Python ints: MiniGrid compares an action with a dozen `IntEnum`
        members, each comparison about a microsecond slower for a numpy integer.
        """
        observations = []
        rewards = np.zeros(len(self.envs))
        terminated = np.zeros(len(self.envs), dtype=bool)
        truncated = np.zeros(len(self.envs), dtype=bool)
        for index, (env, action) in enumerate(zip(self.envs, actions, strict=True)):
            observation, reward, ended, cut_short, info = env.step(action)
            if ended or cut_short:
                observation, info = env.reset()
            observations.append((observation, info))
            rewards[index], terminated[index], truncated[index] = reward, ended, cut_short
        return self._stack(observations), rewards, terminated, truncated

    def _stack(self, observations: list[tuple[dict, dict]]) -> dict:
        """The batch's observations, with `intent`: each state's intent index (-1 for a task without labels)."""
        return {"image": np.stack([observation["image"] for observation, _ in observations]),
                "direction": np.array([observation["direction"] for observation, _ in observations], dtype=np.int64),
                "intent": np.array([self.intents.index(info["intent"]) if self.intents else -1
                                    for _, info in observations], dtype=np.int64)}

    def close(self) -> None:
        for env in self.envs:
            env.close()


def observation_tensors(observation: dict, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(image uint8 (N, H, W, 3), direction int64 (N,), intent int64 (N,)) from a batched observation."""
    image = torch.from_numpy(np.ascontiguousarray(observation["image"])).to(device)
    direction = torch.from_numpy(np.asarray(observation["direction"], dtype=np.int64)).to(device)
    intent = torch.from_numpy(np.asarray(observation["intent"], dtype=np.int64)).to(device)
    return image, direction, intent

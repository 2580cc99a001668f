"""Shared base for the multi-intent MiniGrid tasks.

Each task is a :class:`MultiIntentEnv`: a plain MiniGrid environment that also
labels every state with the intent the task requires at that moment. The label
is computed from the true state (``_intent``), never from the agent's view, so
it can serve as ground truth when measuring how a policy's experts line up with
the task's structure.
"""

from __future__ import annotations

from typing import Any

from minigrid.core.mission import MissionSpace
from minigrid.core.world_object import Ball, WorldObj
from minigrid.minigrid_env import MiniGridEnv

# One step in each of the four grid directions.
_STEPS = ((1, 0), (0, 1), (-1, 0), (0, -1))


class Wanderer(Ball):
    """A ball that moves on its own (see ``MultiIntentEnv._wander``).

    It keeps the ``ball`` type so that it has a valid MiniGrid encoding, but
    cannot be picked up: a carried object has no cell to wander from.
    """

    def can_pickup(self) -> bool:
        return False


class MultiIntentEnv(MiniGridEnv):
    """MiniGrid env whose ``reset``/``step`` info carries ``info["intent"]``.

    Subclasses set the class attribute ``intents`` (all labels the task can
    emit, in the order a successful episode usually meets them), a static
    ``_gen_mission`` and implement ``_intent``.
    """

    intents: tuple[str, ...]

    def __init__(self, size: int, max_steps: int, **kwargs: Any):
        super().__init__(
            mission_space=MissionSpace(mission_func=self._gen_mission),
            grid_size=size,
            max_steps=max_steps,
            **kwargs,
        )

    @staticmethod
    def _gen_mission() -> str:
        raise NotImplementedError

    def _intent(self) -> str:
        """The intent the true state requires now (one of ``intents``)."""
        raise NotImplementedError

    @property
    def intent(self) -> str:
        return self._intent()

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        obs, info = super().reset(seed=seed, options=options)
        info["intent"] = self._intent()
        return obs, info

    def step(self, action):
        obs, reward, terminated, truncated, info = super().step(action)
        info["intent"] = self._intent()
        return obs, reward, terminated, truncated, info

    def _wander(self, obj: WorldObj) -> None:
        """Move ``obj`` one cell in a random direction if that cell is free.

        One draw from ``self.np_random`` per call, whatever the outcome, so a
        seed fixes the whole trajectory. Objects never enter the agent's cell
        or any occupied cell (walls, lava, goal, other objects).
        """
        dx, dy = _STEPS[int(self.np_random.integers(4))]
        x, y = obj.cur_pos
        nx, ny = x + dx, y + dy
        if self.grid.get(nx, ny) is None and (nx, ny) != tuple(self.agent_pos):
            self.grid.set(x, y, None)
            self.grid.set(nx, ny, obj)
            obj.cur_pos = (nx, ny)

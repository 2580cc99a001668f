"""Dodge: a reactive multi-intent task."""

from __future__ import annotations

from typing import Any

from minigrid.core.grid import Grid
from minigrid.core.world_object import Goal

from envs.base import MultiIntentEnv, Wanderer


class DodgeEnv(MultiIntentEnv):
    """Reach the goal while blue balls wander across the room.

    ## Level
    An open room, the green goal in the bottom-right corner, the agent in the
    top-left quarter and ``n_obstacles`` blue balls (default ``size // 2``, as
    in Dynamic-Obstacles), each moving to a random neighbouring free cell
    every step.

    ## Intents (reactive)
    - ``evade``: an obstacle is in one of the 8 cells around the agent
      (Chebyshev distance <= ``evade_radius``, default 1), so one step of
      either could bring them face to face;
    - ``navigate``: otherwise.

    ## Dynamics
    Each step the obstacles move first, then the agent acts; walking forward
    at an obstacle that was in front of the agent when it looked kills it
    (MiniGrid's Dynamic-Obstacles rule). Obstacles never step onto the agent.

    ## Rewards
    ``1 - 0.9 * step_count / max_steps`` on reaching the goal. A collision
    ends the episode with 0 (no penalty, unlike Dynamic-Obstacles' -1).
    Truncated at ``max_steps`` (default ``4 * size**2``).
    """

    intents = ("navigate", "evade")

    def __init__(
        self,
        size: int = 8,
        n_obstacles: int | None = None,
        evade_radius: int = 1,
        max_steps: int | None = None,
        **kwargs: Any,
    ):
        self.n_obstacles = size // 2 if n_obstacles is None else n_obstacles
        self.evade_radius = evade_radius
        if max_steps is None:
            max_steps = 4 * size**2
        super().__init__(size=size, max_steps=max_steps, **kwargs)

    @staticmethod
    def _gen_mission() -> str:
        return "avoid the blue ball and get to the goal"

    def _gen_grid(self, width: int, height: int) -> None:
        self.grid = Grid(width, height)
        self.grid.wall_rect(0, 0, width, height)
        self.put_obj(Goal(), width - 2, height - 2)
        # Start in the top-left quarter, away from the bottom-right goal.
        self.place_agent(top=(1, 1), size=(width // 2 - 1, height // 2 - 1))
        self.obstacles = [Wanderer("blue") for _ in range(self.n_obstacles)]
        for obstacle in self.obstacles:
            self.place_obj(obstacle)
        self.mission = self._gen_mission()

    def _intent(self) -> str:
        ax, ay = self.agent_pos
        r = self.evade_radius
        for obstacle in self.obstacles:
            ox, oy = obstacle.cur_pos
            if abs(ox - ax) <= r and abs(oy - ay) <= r:
                return "evade"
        return "navigate"

    def step(self, action):
        front = self.grid.get(*self.front_pos)
        # Balls are the only obstacles; compare by type, not by (costlier) list search.
        hit = action == self.actions.forward and front is not None and front.type == "ball"
        for obstacle in self.obstacles:
            self._wander(obstacle)

        obs, reward, terminated, truncated, info = super().step(action)
        if hit:
            terminated = True
            reward = 0
        return obs, reward, terminated, truncated, info

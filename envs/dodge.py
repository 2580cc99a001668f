"""Dodge: a reactive multi-intent task."""

from __future__ import annotations

from typing import Any

from minigrid.core.grid import Grid
from minigrid.core.world_object import Goal

from envs.base import MultiIntentEnv, Wanderer


class DodgeEnv(MultiIntentEnv):
    """Reach the goal while blue balls wander across the room.

    ## Description
    An open room, the green goal in the bottom-right corner, the agent in the
    top-left quarter and ``n_obstacles`` blue balls (default ``size // 2``, as
    in Dynamic-Obstacles), each moving to a random neighbouring free cell
    every step. Each step the balls move first, then the agent acts; walking
    forward at a ball that was in the cell ahead when the agent looked kills
    it (MiniGrid's Dynamic-Obstacles rule). Balls never step onto the agent,
    and one that moves into the cell ahead after the agent looked blocks the
    step instead of killing. So the only deadly move is walking into a ball
    the agent sees right in front of it.

    ## Mission Space
    "avoid the blue ball and get to the goal" (Minigrid's mission vocabulary
    has no plurals; "the blue ball" names the kind, as "the lava" does in
    LavaCrossing).

    ## Action Space
    | Num | Name    | Action       |
    |-----|---------|--------------|
    | 0   | left    | Turn left    |
    | 1   | right   | Turn right   |
    | 2   | forward | Move forward |
    | 3   | pickup  | Unused (balls cannot be picked up) |
    | 4   | drop    | Unused       |
    | 5   | toggle  | Unused       |
    | 6   | done    | Unused       |

    ## Observation Space
    MiniGrid's: the egocentric 7x7x3 ``image`` (object, colour, state per
    cell), ``direction`` and ``mission``. ``info["intent"]`` on every
    ``reset`` and ``step`` is the intent of the state the next action is
    taken in:
    - ``evade``: a ball is in the cell ahead, so walking forward now would
      kill the agent; it must turn away (or wait) instead;
    - ``navigate``: otherwise; no move can kill the agent this step.

    The cell ahead is always in the agent's view, so the label is decidable
    from the observation and marks exactly the states where evasion is
    required. A ball beside or behind the agent cannot harm it this step,
    so it is no reason to act differently. (An earlier label, "a ball in
    the 8 cells around the agent", marked 51% of random-policy steps on
    8x8, only 18% of them with a ball ahead and 30% with no nearby ball in
    view; the oracle's actions hardly differed between the two intents.)
    Making a ball that moves into the agent deadly would have put the danger
    behind the agent, outside its view, where no label could mark evasion
    that is both required and visible.

    ## Rewards
    ``1 - 0.9 * step_count / max_steps`` on reaching the goal, 0 otherwise
    (a collision gives 0, no penalty, unlike Dynamic-Obstacles' -1).

    ## Termination
    The episode ends when the agent reaches the goal or walks into a ball,
    and is truncated at ``max_steps`` (default ``4 * size**2``).

    ## Registered Configurations
    - ``MultiIntent-Dodge-6x6-v0``
    - ``MultiIntent-Dodge-8x8-v0``
    """

    intents = ("navigate", "evade")

    def __init__(
        self,
        size: int = 8,
        n_obstacles: int | None = None,
        max_steps: int | None = None,
        **kwargs: Any,
    ):
        self.n_obstacles = size // 2 if n_obstacles is None else n_obstacles
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

    def _ball_ahead(self) -> bool:
        # Balls are the only Wanderers here; a type test avoids searching the list.
        return isinstance(self.grid.get(*self.front_pos), Wanderer)

    def _intent(self) -> str:
        return "evade" if self._ball_ahead() else "navigate"

    def step(self, action):
        hit = action == self.actions.forward and self._ball_ahead()
        for obstacle in self.obstacles:
            self._wander(obstacle)

        obs, reward, terminated, truncated, info = super().step(action)
        if hit:
            terminated = True
            reward = 0
        return obs, reward, terminated, truncated, info

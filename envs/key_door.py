"""KeyDoor: a sequential multi-intent task."""

from __future__ import annotations

from typing import Any

from minigrid.core.grid import Grid
from minigrid.core.world_object import Door, Goal, Key

from envs.base import MultiIntentEnv


class KeyDoorEnv(MultiIntentEnv):
    """Fetch the key, unlock the door, reach the goal.

    ## Description
    A room split in two by a wall with a locked yellow door. The agent and a
    yellow key start on the left, the green goal sits in the bottom-right
    corner of the right part (MiniGrid's DoorKey layout). Toggling the locked
    door while carrying the key unlocks and opens it.

    ## Mission Space
    "fetch the key, open the door and get to the goal" (in Minigrid's
    mission vocabulary).

    ## Action Space
    | Num | Name    | Action                          |
    |-----|---------|---------------------------------|
    | 0   | left    | Turn left                       |
    | 1   | right   | Turn right                      |
    | 2   | forward | Move forward                    |
    | 3   | pickup  | Pick up the key                 |
    | 4   | drop    | Drop the key                    |
    | 5   | toggle  | Unlock, open or close the door  |
    | 6   | done    | Unused                          |

    ## Observation Space
    MiniGrid's: the egocentric 7x7x3 ``image`` (object, colour, state per
    cell; a carried key shows in the agent's own cell), ``direction`` and
    ``mission``. ``info["intent"]`` on every ``reset`` and ``step`` is the
    intent of the state the next action is taken in (sequential):
    - ``fetch_key``: the door is locked and the agent does not hold the key
      (also after dropping it again);
    - ``open_door``: the door is closed and either unlocked or the agent
      holds the key;
    - ``reach_goal``: the door is open.

    ## Rewards
    ``1 - 0.9 * step_count / max_steps`` on reaching the goal, 0 otherwise.

    ## Termination
    The episode ends when the agent reaches the goal, and is truncated at
    ``max_steps`` (default ``10 * size**2``).

    ## Registered Configurations
    - ``MultiIntent-KeyDoor-6x6-v0``
    - ``MultiIntent-KeyDoor-8x8-v0``
    """

    intents = ("fetch_key", "open_door", "reach_goal")

    def __init__(self, size: int = 8, max_steps: int | None = None, **kwargs: Any):
        if max_steps is None:
            max_steps = 10 * size**2
        super().__init__(size=size, max_steps=max_steps, **kwargs)

    @staticmethod
    def _gen_mission() -> str:
        return "fetch the key, open the door and get to the goal"

    def _gen_grid(self, width: int, height: int) -> None:
        self.grid = Grid(width, height)
        self.grid.wall_rect(0, 0, width, height)
        self.put_obj(Goal(), width - 2, height - 2)

        split = self._rand_int(2, width - 2)
        self.grid.vert_wall(split, 0)
        self.door = Door("yellow", is_locked=True)
        self.put_obj(self.door, split, self._rand_int(1, height - 1))

        self.place_agent(size=(split, height))
        self.key = Key("yellow")
        self.place_obj(self.key, size=(split, height))
        self.mission = self._gen_mission()

    def _intent(self) -> str:
        if self.door.is_open:
            return "reach_goal"
        if self.door.is_locked and self.carrying is not self.key:
            return "fetch_key"
        return "open_door"

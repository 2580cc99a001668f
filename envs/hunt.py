"""Hunt: a persistent multi-intent task."""

from __future__ import annotations

from typing import Any

from minigrid.core.grid import Grid
from minigrid.core.world_object import Goal, Lava

from envs.base import MultiIntentEnv, Wanderer


class Monster(Wanderer):
    """The red wandering ball to strike."""

    def __init__(self):
        super().__init__("red")


class ClosedExit(Goal):
    """The exit while the monster lives: a purple goal square that cannot be entered.

    A goal rather than a locked door, so that the level has its goal from
    the first step (Minigrid's ``DirectionObsWrapper`` points at the goal
    and refuses a level without one); its colour tells it from the open exit.
    """

    def __init__(self):
        super().__init__("purple")

    def can_overlap(self) -> bool:
        return False


class HuntEnv(MultiIntentEnv):
    """Strike the wandering monster, then leave through the exit.

    ## Description
    An open room with a monster, a red ball that moves to a random
    neighbouring free cell every step, a few lava tiles (``n_lava``, default
    ``size // 4``; never touching each other or the exit, so the room stays
    connected) and the exit in the bottom-right corner: a purple goal square
    that cannot be entered (a goal rather than a locked door, so that
    wrappers that look for the level's goal, such as ``DirectionObsWrapper``,
    find it from the first step). The agent and the monster start in the
    top-left quarter of the room. Striking the monster (toggle while facing
    it) removes it and turns the exit into a green goal.

    The monster starts near the agent so that the two intents call for
    different behaviour: the hunt is a short chase ending in a strike, the
    walk to the exit comes after it (docs/DESIGN.md, "Tasks", gives the
    measurements behind the start region).

    Each step the monster moves first, then the agent acts. What the agent
    does to the cell in front of it is judged on the state it observed: a
    toggle at a monster in front strikes it before it can move away, and
    walking forward at a monster in front kills the agent (MiniGrid's
    Dynamic-Obstacles rule). The monster never steps onto the agent, so
    deaths are always the agent's own move.

    ## Mission Space
    "use the red ball, then get to the green goal square" (in Minigrid's
    mission vocabulary, which has no "strike" or "monster": "use" is its
    verb for acting on an object, here the toggle that strikes).

    ## Action Space
    | Num | Name    | Action                                  |
    |-----|---------|-----------------------------------------|
    | 0   | left    | Turn left                               |
    | 1   | right   | Turn right                              |
    | 2   | forward | Move forward                            |
    | 3   | pickup  | Unused (the monster cannot be carried)  |
    | 4   | drop    | Unused                                  |
    | 5   | toggle  | Strike the monster in front             |
    | 6   | done    | Unused                                  |

    ## Observation Space
    MiniGrid's: the egocentric 7x7x3 ``image`` (object, colour, state per
    cell), ``direction`` and ``mission``. ``info["intent"]`` on every
    ``reset`` and ``step`` is the intent of the state the next action is
    taken in:
    - ``hunt``: the monster is alive, wherever it is, in view or not;
    - ``reach_exit``: the monster has been struck.

    The label persists while the monster is out of view: then the view
    alone does not say which intent holds (unless it shows the exit's
    colour), only the episode's history does, since the agent has not
    struck the monster yet. That is deliberate: a router that keeps its
    choice across such frames is what the ``temporal`` correction rewards.

    ## Rewards
    ``1 - 0.9 * step_count / max_steps`` for stepping on the opened exit,
    0 otherwise.

    ## Termination
    The episode ends when the agent steps on the opened exit, walks into
    the monster or into lava (both with reward 0), and is truncated at
    ``max_steps`` (default ``10 * size**2``).

    ## Registered Configurations
    - ``MultiIntent-Hunt-6x6-v0``
    - ``MultiIntent-Hunt-8x8-v0``
    """

    intents = ("hunt", "reach_exit")

    def __init__(
        self,
        size: int = 8,
        n_lava: int | None = None,
        max_steps: int | None = None,
        **kwargs: Any,
    ):
        self.n_lava = size // 4 if n_lava is None else n_lava
        if max_steps is None:
            max_steps = 10 * size**2
        super().__init__(size=size, max_steps=max_steps, **kwargs)

    @staticmethod
    def _gen_mission() -> str:
        return "use the red ball, then get to the green goal square"

    def _gen_grid(self, width: int, height: int) -> None:
        self.grid = Grid(width, height)
        self.grid.wall_rect(0, 0, width, height)
        self.exit_pos = (width - 2, height - 2)
        self.put_obj(ClosedExit(), *self.exit_pos)

        for _ in range(self.n_lava):
            self.place_obj(Lava(), reject_fn=_touches_blocker)

        # Start in the top-left quarter, away from the bottom-right goal, and
        # the monster there too, so that the hunt is a short chase and the
        # walk to the exit comes after it (see the class docstring).
        quarter = dict(top=(1, 1), size=(width // 2 - 1, height // 2 - 1))
        self.place_agent(**quarter)
        self.monster = Monster()
        self.place_obj(self.monster, **quarter)
        self.monster_alive = True
        self.mission = self._gen_mission()

    def _intent(self) -> str:
        return "hunt" if self.monster_alive else "reach_exit"

    def step(self, action):
        facing_monster = self.monster_alive and tuple(self.front_pos) == tuple(
            self.monster.cur_pos
        )
        if facing_monster and action == self.actions.toggle:
            self._strike()
        elif self.monster_alive:
            self._wander(self.monster)

        facing_closed_exit = isinstance(self.grid.get(*self.front_pos), ClosedExit)

        obs, reward, terminated, truncated, info = super().step(action)
        if facing_monster and action == self.actions.forward:
            terminated = True
            reward = 0
        if facing_closed_exit and action == self.actions.forward:
            # MiniGrid ends the episode at any goal-type cell walked at, open or not.
            terminated = False
            reward = 0
        return obs, reward, terminated, truncated, info

    def _strike(self) -> None:
        self.grid.set(*self.monster.cur_pos, None)
        self.monster.cur_pos = None
        self.monster_alive = False
        self.put_obj(Goal(), *self.exit_pos)


def _touches_blocker(env: HuntEnv, pos: tuple[int, int]) -> bool:
    # Lava tiles that touch each other (diagonals included) or the closed
    # exit could wall off part of the room; isolated ones cannot.
    x, y = pos
    for dx in (-1, 0, 1):
        for dy in (-1, 0, 1):
            cell = env.grid.get(x + dx, y + dy)
            if isinstance(cell, (Lava, ClosedExit)):
                return True
    return False

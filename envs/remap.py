"""Remap: intents that conflict in their actions, with two knobs."""

from __future__ import annotations

from typing import Any

from gymnasium import spaces
from minigrid.core.constants import COLOR_NAMES
from minigrid.core.grid import Grid
from minigrid.core.world_object import Ball, Box, Goal, Key

from envs.base import MultiIntentEnv

#: The moves whose controls an intent may remap, in the order `conflict` takes them.
MOVES = ("forward", "left", "right")
#: Where MiniGrid keeps each move's control; a move no intent remaps stays there.
DEFAULT_CONTROL = {"left": 0, "right": 1, "forward": 2}
#: Most intents a task of this class can have: one cue (object type and colour) each.
MAX_INTENTS = 3 * len(COLOR_NAMES)
_CUE_TYPES = (Ball, Key, Box)


def cue_of(intent: int):
    """The object the agent holds under intent k: a ball, then a key, then a box, in MiniGrid's colours."""
    return _CUE_TYPES[intent // len(COLOR_NAMES)](COLOR_NAMES[intent % len(COLOR_NAMES)])


def controls(intent: int, n_intents: int, conflict: int) -> dict[int, str]:
    """Action index -> move under intent k: the first `conflict` moves of MOVES are remapped.

    The remapped moves sit on the slots after MiniGrid's three, `max(n_intents, 4)` of them:
    intent k puts its j-th remapped move on slot (k + j) mod slots. So for two different intents
    every remapped move has a different control, and the control of one intent's move does
    something else (another move, or nothing) under the other. The moves not remapped keep
    MiniGrid's controls, the same for every intent; every other action does nothing.
    """
    slots = max(n_intents, 4)
    mapping = {DEFAULT_CONTROL[move]: move for move in MOVES[conflict:]}
    for j, move in enumerate(MOVES[:conflict]):
        mapping[3 + (intent + j) % slots] = move
    return mapping


class RemapEnv(MultiIntentEnv):
    """Reach the goal; what each action does depends on the object the agent holds.

    ## Description
    An open room with the green goal in the bottom-right corner and the agent in
    the top-left quarter. The agent holds a cue, an object it cannot drop: a ball,
    key or box of one of MiniGrid's colours, one per intent. The cue says which
    controls move the agent (`controls`): under intent k the first `conflict` of
    forward, left and right are on actions of k's own, the rest on MiniGrid's.
    Every step the cue changes with probability `switch_prob`, to another intent
    drawn uniformly, so the agent must read it all along. One shared network can
    learn the task (the cue is in view); the knobs set how much each intent's
    policy disagrees with the others': `n_intents` how many of them, `conflict`
    how many of the three moves change hands.

    ## Mission Space
    "get to the green goal square"

    ## Action Space
    `Discrete(3 + max(n_intents, 4))`: MiniGrid's left, right, forward slots
    (0-2), then one slot per intent (at least four). An action that is no move
    under the current intent does nothing (it still takes a step).

    ## Observation Space
    MiniGrid's: the egocentric 7x7x3 ``image``, ``direction`` and ``mission``.
    The held cue shows in the image at the agent's own cell (MiniGrid draws what
    the agent carries there), so the intent is readable from every view.
    ``info["intent"]`` is ``intent_k``, the intent of the cue the agent holds when
    it takes its next action.

    ## Rewards
    ``1 - 0.9 * step_count / max_steps`` on reaching the goal, 0 otherwise.

    ## Termination
    The episode ends at the goal, and is truncated at ``max_steps`` (default
    ``2 * size**2``).

    ## Registered Configurations
    ``MultiIntent-Remap-n{n}-c{c}-{size}x{size}-v0`` for n in 2, 4, 8, c in 0-3
    (size 8), and ``MultiIntent-Remap-n2-c3-6x6-v0`` for quick runs.
    """

    def __init__(self, size: int = 8, n_intents: int = 2, conflict: int = 3, switch_prob: float = 0.05,
                 max_steps: int | None = None, **kwargs: Any):
        if not 2 <= n_intents <= MAX_INTENTS:
            raise ValueError(f"n_intents must be between 2 and {MAX_INTENTS}, got {n_intents}")
        if not 0 <= conflict <= len(MOVES):
            raise ValueError(f"conflict must be between 0 and {len(MOVES)}, got {conflict}")
        self.n_intents, self.conflict, self.switch_prob = n_intents, conflict, switch_prob
        self.intents = self.intents_for(n_intents)
        self.controls = [controls(k, n_intents, conflict) for k in range(n_intents)]
        # 2 size^2 steps: an open room is easy to cross by chance; at 4 size^2 (Dodge's) a random
        # policy reached the goal in 27% of 8x8 episodes, at 2 size^2 in 8.5% (n = 4, c = 3, 200 seeds).
        super().__init__(size=size, max_steps=2 * size**2 if max_steps is None else max_steps, **kwargs)
        self.action_space = spaces.Discrete(3 + max(n_intents, 4))

    @staticmethod
    def intents_for(n_intents: int = 2, **_: Any) -> tuple[str, ...]:
        return tuple(f"intent_{k}" for k in range(n_intents))

    @staticmethod
    def _gen_mission() -> str:
        return "get to the green goal square"

    def _gen_grid(self, width: int, height: int) -> None:
        self.grid = Grid(width, height)
        self.grid.wall_rect(0, 0, width, height)
        self.put_obj(Goal(), width - 2, height - 2)
        self.place_agent(top=(1, 1), size=(width // 2 - 1, height // 2 - 1))
        self.cue = int(self.np_random.integers(self.n_intents))
        self.mission = self._gen_mission()

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        obs, info = super().reset(seed=seed, options=options)
        self._hold(self.cue)  # MiniGrid empties the agent's hands after `_gen_grid`
        return self.gen_obs(), info

    def _hold(self, intent: int) -> None:
        self.cue = intent
        self.carrying = cue_of(intent)

    def _intent(self) -> str:
        return self.intents[self.cue]

    def move_of(self, action: int) -> str | None:
        """The move `action` makes under the current intent, None for none."""
        return self.controls[self.cue].get(int(action))

    def step(self, action):
        move = self.move_of(action)
        # No-op: MiniGrid's `done` action only counts the step.
        obs, reward, terminated, truncated, info = super().step(
            self.actions[move] if move is not None else self.actions.done)
        if not (terminated or truncated) and self.np_random.random() < self.switch_prob:
            other = int(self.np_random.integers(self.n_intents - 1))
            self._hold(other + (other >= self.cue))
            obs = self.gen_obs()
            info["intent"] = self._intent()
        return obs, reward, terminated, truncated, info

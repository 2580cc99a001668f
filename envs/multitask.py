"""MOORE's MiniGrid multi-task suites: Minigrid's own environments, one task per environment,
labelled with the task as the intent (Hendawy, Peters, D'Eramo, ICLR 2024; docs/MOORE.md).

`MultiTask-MT3-v0`, `-MT5-v0`, `-MT7-v0`: `gym.make(id, task=k)` is member task k of the suite,
unchanged, whose every `reset` and `step` info carries `info["intent"]`, the member's name.
Nothing is re-implemented: the member is `gym.make` of Minigrid's registered id. A batch of
environments gives each task an equal share (`moe.environments.EnvBatch`: environment i runs
task i mod n), as MOORE steps every task once per step.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym

#: The suites, in MOORE's task order (MOORE@a7550c5:run_minigrid_ppo_mt.py:24-29; MT5 is not MT3 + 2).
SUITES: dict[str, tuple[str, ...]] = {
    "MT3": ("MiniGrid-LavaGapS7-v0", "MiniGrid-RedBlueDoors-6x6-v0", "MiniGrid-MemoryS11-v0"),
    "MT5": ("MiniGrid-DoorKey-6x6-v0", "MiniGrid-LavaGapS7-v0", "MiniGrid-RedBlueDoors-6x6-v0",
            "MiniGrid-DistShift1-v0", "MiniGrid-MemoryS11-v0"),
    "MT7": ("MiniGrid-DoorKey-6x6-v0", "MiniGrid-DistShift1-v0", "MiniGrid-RedBlueDoors-6x6-v0",
            "MiniGrid-LavaGapS7-v0", "MiniGrid-MemoryS11-v0", "MiniGrid-SimpleCrossingS9N2-v0",
            "MiniGrid-MultiRoom-N2-S4-v0"),
}
#: Each task's best achievable return, 1 - 0.9 optimal steps / max_steps (Todorov et al. 2025,
#: "Sparsity-Driven Plasticity in Multi-Task RL", Table 4): what a normalised return divides by.
ACHIEVABLE_RETURN = {
    "MiniGrid-DoorKey-6x6-v0": 0.9725,
    "MiniGrid-DistShift1-v0": 0.9607,
    "MiniGrid-RedBlueDoors-6x6-v0": 0.9900,
    "MiniGrid-LavaGapS7-v0": 0.9633,
    "MiniGrid-MemoryS11-v0": 0.9777,
    "MiniGrid-SimpleCrossingS9N2-v0": 0.9583,
    "MiniGrid-MultiRoom-N2-S4-v0": 0.8875,
}


def task_name(member_id: str) -> str:
    """`MiniGrid-LavaGapS7-v0` -> `LavaGapS7`: a member's label."""
    return member_id.removeprefix("MiniGrid-").removesuffix("-v0")


class SuiteTask(gym.Wrapper):
    """Member task `task` of `suite`, as Minigrid registers it, labelled with its name as the intent."""

    def __init__(self, suite: str = "MT3", task: int = 0, **kwargs: Any):
        if suite not in SUITES:
            raise ValueError(f"unknown suite {suite!r}; known: {', '.join(SUITES)}")
        members = SUITES[suite]
        if not 0 <= task < len(members):
            raise ValueError(f"suite {suite} has tasks 0-{len(members) - 1}, not {task}")
        self.suite, self.task, self.member_id = suite, task, members[task]
        self.label = task_name(self.member_id)
        # The member itself, without gym.make's checker and order wrappers: make_env adds what it needs.
        super().__init__(gym.make(self.member_id, **kwargs).unwrapped)

    @staticmethod
    def intents_for(suite: str = "MT3", **_: Any) -> tuple[str, ...]:
        return tuple(task_name(member) for member in SUITES[suite])

    @staticmethod
    def members_for(suite: str = "MT3", **_: Any) -> tuple[str, ...]:
        return SUITES[suite]

    def reset(self, **kwargs):
        observation, info = self.env.reset(**kwargs)
        return observation, {**info, "intent": self.label}

    def step(self, action):
        observation, reward, terminated, truncated, info = self.env.step(action)
        return observation, reward, terminated, truncated, {**info, "intent": self.label}

"""Multi-intent MiniGrid tasks, registered with gymnasium on import.

Ids are ``MultiIntent-<Name>-<N>x<N>-v0``; each task comes in a small size
(quick runs, tests) and a standard size (the benchmark default). Every
``reset``/``step`` info carries ``info["intent"]``, one of the class's
``intents``.
"""

from __future__ import annotations

import gymnasium as gym
from gymnasium.envs.registration import load_env_creator, register

from envs.base import MultiIntentEnv
from envs.dodge import DodgeEnv
from envs.hunt import HuntEnv
from envs.key_door import KeyDoorEnv
from envs.multitask import SUITES, SuiteTask
from envs.remap import RemapEnv

# name -> (class, small size, standard size)
_TASKS = {
    "KeyDoor": (KeyDoorEnv, 6, 8),
    "Hunt": (HuntEnv, 6, 8),
    "Dodge": (DodgeEnv, 6, 8),
}

TASKS: dict[str, type[MultiIntentEnv]] = {}
SMALL_TASKS: list[str] = []
STANDARD_TASKS: list[str] = []

for _name, (_cls, _small, _standard) in _TASKS.items():
    for _size, _ids in ((_small, SMALL_TASKS), (_standard, STANDARD_TASKS)):
        _id = f"MultiIntent-{_name}-{_size}x{_size}-v0"
        register(
            id=_id,
            entry_point=f"{_cls.__module__}:{_cls.__name__}",
            kwargs={"size": _size},
        )
        TASKS[_id] = _cls
        _ids.append(_id)


# The conflict family (envs/remap.py): n intents, `conflict` of the three moves remapped per intent;
# apart from TASKS, the suite of small and standard tasks.
REMAP_TASKS: list[str] = []
for _n, _conflict, _size in [*((n, c, 8) for n in (2, 4, 8) for c in range(4)), (2, 3, 6)]:
    _id = f"MultiIntent-Remap-n{_n}-c{_conflict}-{_size}x{_size}-v0"
    register(id=_id, entry_point=f"{RemapEnv.__module__}:{RemapEnv.__name__}",
             kwargs={"size": _size, "n_intents": _n, "conflict": _conflict})
    REMAP_TASKS.append(_id)


# MOORE's multi-task suites (envs/multitask.py): Minigrid's own tasks, the task as the intent.
MULTITASK_SUITES: list[str] = []
for _suite in SUITES:
    _id = f"MultiTask-{_suite}-v0"
    register(id=_id, entry_point=f"{SuiteTask.__module__}:{SuiteTask.__name__}", kwargs={"suite": _suite})
    MULTITASK_SUITES.append(_id)


def members_of(env_id: str) -> tuple[str, ...] | None:
    """The member tasks of a multi-task suite's id (Minigrid ids, in task order), None for one task."""
    spec = gym.spec(env_id)
    creator = load_env_creator(spec.entry_point) if isinstance(spec.entry_point, str) else spec.entry_point
    return creator.members_for(**spec.kwargs) if hasattr(creator, "members_for") else None


def intents_of(env_id: str) -> tuple[str, ...] | None:
    """The intent labels of a registered env id, None if it has none.

    Reads the class behind the spec's entry point; builds no environment.
    Raises gymnasium's error for an unregistered id.
    """
    spec = gym.spec(env_id)
    creator = load_env_creator(spec.entry_point) if isinstance(spec.entry_point, str) else spec.entry_point
    if hasattr(creator, "intents_for"):  # a task whose labels depend on its settings
        return creator.intents_for(**spec.kwargs)
    return getattr(creator, "intents", None)


__all__ = [
    "DodgeEnv",
    "HuntEnv",
    "KeyDoorEnv",
    "MULTITASK_SUITES",
    "MultiIntentEnv",
    "REMAP_TASKS",
    "RemapEnv",
    "SMALL_TASKS",
    "STANDARD_TASKS",
    "TASKS",
    "intents_of",
    "members_of",
]

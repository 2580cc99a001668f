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


def intents_of(env_id: str) -> tuple[str, ...] | None:
    """The intent labels of a registered env id, None if it has none.

    Reads the class behind the spec's entry point; builds no environment.
    Raises gymnasium's error for an unregistered id.
    """
    entry_point = gym.spec(env_id).entry_point
    creator = load_env_creator(entry_point) if isinstance(entry_point, str) else entry_point
    return getattr(creator, "intents", None)


__all__ = [
    "DodgeEnv",
    "HuntEnv",
    "KeyDoorEnv",
    "MultiIntentEnv",
    "SMALL_TASKS",
    "STANDARD_TASKS",
    "TASKS",
    "intents_of",
]

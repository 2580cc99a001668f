"""Every multi-intent task works inside every Minigrid wrapper, and its spec
survives serialisation.

The wrappers are found by introspecting ``minigrid.wrappers``, so a wrapper a
new Minigrid release adds is tested without editing this file; one that needs
more than the env to be built must be listed in ``WRAPPER_ARGS``.
"""

from __future__ import annotations

import inspect

import gymnasium as gym
import minigrid.wrappers
import numpy as np
import pytest
from gymnasium.envs.registration import EnvSpec
from minigrid.core.actions import Actions

import envs

ALL = list(envs.TASKS)

# Arguments for the wrappers that cannot be built from an env alone, with the
# values their own docstrings use.
WRAPPER_ARGS: dict[str, dict] = {
    # Which deaths to survive: lava (Hunt) and balls (Hunt's monster, Dodge's
    # obstacles); the docstring's examples use ("lava",) and ("ball",).
    "NoDeath": {"no_death_types": ("lava", "ball")},
}


def _minigrid_wrappers() -> list[type[gym.Wrapper]]:
    members = inspect.getmembers(minigrid.wrappers, inspect.isclass)
    # Defined there, not re-exported from gymnasium (Wrapper, ObservationWrapper, ...).
    return [cls for _, cls in members
            if issubclass(cls, gym.Wrapper) and cls.__module__ == minigrid.wrappers.__name__]


WRAPPERS = _minigrid_wrappers()


def _required_arguments(cls: type) -> set[str]:
    """Names ``cls(env, ...)`` cannot do without, besides the env."""
    _self, _env, *rest = inspect.signature(cls.__init__).parameters.values()
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return {p.name for p in rest if p.default is p.empty and p.kind in kinds}


def _wrap(cls: type[gym.Wrapper], env_id: str, **make_kwargs) -> gym.Wrapper:
    return cls(gym.make(env_id, **make_kwargs), **WRAPPER_ARGS.get(cls.__name__, {}))


def test_every_wrapper_is_found_and_buildable():
    names = {cls.__name__ for cls in WRAPPERS}
    # Introspection must find Minigrid's wrappers, not silently nothing.
    assert {"DictObservationSpaceWrapper", "DirectionObsWrapper", "FlatObsWrapper",
            "ImgObsWrapper", "NoDeath", "RGBImgPartialObsWrapper"} <= names
    for cls in WRAPPERS:
        missing = _required_arguments(cls) - set(WRAPPER_ARGS.get(cls.__name__, {}))
        assert not missing, f"{cls.__name__} needs {missing}: add it to WRAPPER_ARGS"
    assert set(WRAPPER_ARGS) <= names, "WRAPPER_ARGS names a wrapper Minigrid no longer has"


# ReseedWrapper picks its own seeds and says so (after a colour code) when given one.
@pytest.mark.filterwarnings("ignore:.*A seed has been passed to `ReseedWrapper.reset`")
@pytest.mark.parametrize("wrapper", WRAPPERS, ids=lambda cls: cls.__name__)
@pytest.mark.parametrize("env_id", ALL + ["MultiIntent-Remap-n8-c3-8x8-v0"])
def test_observations_lie_in_the_wrappers_space(env_id, wrapper):
    env = _wrap(wrapper, env_id)
    intents = envs.intents_of(env_id)
    rng = np.random.default_rng(0)
    obs, info = env.reset(seed=0)
    observations = [obs]
    assert info["intent"] in intents
    for _ in range(30):
        obs, _, terminated, truncated, info = env.step(int(rng.integers(env.action_space.n)))
        observations.append(obs)
        assert info["intent"] in intents
        if terminated or truncated:
            observations.append(env.reset(seed=1)[0])
    for obs in observations:
        assert env.observation_space.contains(obs), obs


@pytest.mark.parametrize("env_id", ALL)
def test_spec_survives_json(env_id):
    env = gym.make(env_id, max_steps=9)
    spec = EnvSpec.from_json(env.spec.to_json())
    assert spec == env.spec
    assert spec.kwargs == {"size": env.unwrapped.width, "max_steps": 9}
    printed = spec.pprint(disable_print=True, print_all=True).splitlines()
    assert printed[:2] == [f"id={env_id}", f"entry_point={envs.TASKS[env_id].__module__}:"
                                           f"{envs.TASKS[env_id].__name__}"]

    # The episode a remade spec describes truncates at the same step.
    remade = gym.make(spec)
    remade.reset(seed=0)
    flags = [remade.step(Actions.left)[2:4] for _ in range(9)]  # turning never ends an episode
    assert flags == [(False, False)] * 8 + [(False, True)]


@pytest.mark.parametrize("env_id", ALL)
@pytest.mark.parametrize("max_steps", [1, 3, 17])
def test_max_steps_truncates_inside_wrappers(env_id, max_steps):
    # The outermost of a stack of wrappers still sees the truncation at N.
    env = minigrid.wrappers.ImgObsWrapper(_wrap(minigrid.wrappers.FullyObsWrapper, env_id,
                                                 max_steps=max_steps))
    env.reset(seed=0)
    flags = [env.step(Actions.right)[2:4] for _ in range(max_steps)]
    assert flags == [(False, False)] * (max_steps - 1) + [(False, True)]

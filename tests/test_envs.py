"""Contract of the multi-intent tasks: registration, gymnasium API, determinism,
pickling, truncation, intent labels and the ``python -m envs`` demo."""

from __future__ import annotations

import copy
import pickle
import subprocess
import sys
import warnings
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from gymnasium.utils.passive_env_checker import env_render_passive_checker
from minigrid.core.actions import Actions
from minigrid.core.constants import COLOR_TO_IDX, OBJECT_TO_IDX
from minigrid.core.world_object import Goal, Lava

import envs

ALL = list(envs.TASKS)
#: The conflict family's contract is checked on its smallest and its largest member (tests/test_remap.py has the rest).
REMAP_SAMPLE = ["MultiIntent-Remap-n2-c3-6x6-v0", "MultiIntent-Remap-n8-c3-8x8-v0"]
ROOT = Path(__file__).resolve().parents[1]


def test_registry():
    assert set(ALL) == set(envs.SMALL_TASKS) | set(envs.STANDARD_TASKS)
    assert not set(envs.SMALL_TASKS) & set(envs.STANDARD_TASKS)
    names = {env_id.split("-")[1] for env_id in ALL}
    assert names >= {"KeyDoor", "Hunt", "Dodge"}  # the benchmark's three, and any task added since
    assert len(ALL) == 2 * len(names)  # a small and a standard size of each
    for env_id, cls in envs.TASKS.items():
        assert env_id.startswith("MultiIntent-") and env_id.endswith("-v0")
        assert envs.intents_of(env_id) == cls.intents
        assert isinstance(cls.intents, tuple) and len(cls.intents) >= 2
        assert all(isinstance(i, str) for i in cls.intents)
    assert envs.intents_of("MiniGrid-DoorKey-5x5-v0") is None
    # Each small task is smaller than its standard counterpart.
    for small, standard in zip(envs.SMALL_TASKS, envs.STANDARD_TASKS, strict=True):
        assert gym.make(small).unwrapped.width < gym.make(standard).unwrapped.width


@pytest.mark.parametrize("env_id", ALL)
def test_spaces_and_check_env(env_id):
    env = gym.make(env_id)
    assert env.action_space == gym.spaces.Discrete(7)
    assert env.observation_space["image"].shape == (7, 7, 3)
    assert env.observation_space["direction"] == gym.spaces.Discrete(4)
    missions = {env.reset(seed=s)[0]["mission"] for s in range(5)}
    assert len(missions) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # check_env's own render check opens a "human" window; that is done
        # below, where pygame's missing-system-font warning can be told apart.
        check_env(env.unwrapped, skip_render_check=True)
        rgb = gym.make(env_id, render_mode="rgb_array")
        rgb.reset(seed=0)
        env_render_passive_checker(rgb.unwrapped)
        frame = rgb.render()
        assert frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3


def test_human_render(monkeypatch):
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # Headless machines lack pygame's default font; that is not the env's doing.
        warnings.filterwarnings("ignore", message="The system font", category=UserWarning)
        env = gym.make(envs.SMALL_TASKS[0], render_mode="human")
        env.reset(seed=0)
        env.step(Actions.forward)
        env.close()


def _rollout(env, seed, actions):
    """(obs, reward, terminated, truncated, info) of every step; resets on episode end."""
    obs, info = env.reset(seed=seed)
    out = [(obs, info)]
    for k, action in enumerate(actions):
        step = env.step(action)
        out.append(step)
        if step[2] or step[3]:
            out.append(env.reset(seed=seed + 1 + k))
    return out


def _assert_same(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert len(x) == len(y)
        for u, v in zip(x, y, strict=True):
            if isinstance(u, dict) and "image" in u:
                np.testing.assert_array_equal(u["image"], v["image"])
                assert (u["direction"], u["mission"]) == (v["direction"], v["mission"])
            else:
                assert u == v


@pytest.mark.parametrize("env_id", ALL + REMAP_SAMPLE)
def test_same_seed_same_rollout(env_id):
    actions = np.random.default_rng(1).integers(7, size=100).tolist()
    env = gym.make(env_id)
    first = _rollout(env, 3, actions)
    _assert_same(first, _rollout(gym.make(env_id), 3, actions))
    # Every reset and step is labelled with one of the task's intents.
    intents = envs.intents_of(env_id)
    assert all(info["intent"] in intents for *_, info in first)


@pytest.mark.parametrize("env_id", ALL + REMAP_SAMPLE)
@pytest.mark.parametrize("clone", ["pickle", "deepcopy"])
def test_pickle_round_trip(env_id, clone):
    rng = np.random.default_rng(2)
    env = gym.make(env_id).unwrapped
    env.reset(seed=5)
    for action in rng.integers(7, size=5):
        env.step(int(action))
    twin = pickle.loads(pickle.dumps(env)) if clone == "pickle" else copy.deepcopy(env)
    actions = rng.integers(7, size=60).tolist()
    _assert_same([env.step(a) for a in actions], [twin.step(a) for a in actions])


@pytest.mark.parametrize("env_id", ALL + REMAP_SAMPLE)
def test_max_steps_truncates(env_id):
    env = gym.make(env_id, max_steps=5)
    env.reset(seed=0)
    flags = [env.step(Actions.left)[2:4] for _ in range(5)]  # turning never ends an episode
    assert flags == [(False, False)] * 4 + [(False, True)]


# --- intent labels on hand-built states -------------------------------------


def _make(name, seed=0):
    env = gym.make(f"MultiIntent-{name}-8x8-v0").unwrapped
    _, info = env.reset(seed=seed)
    return env, info


def _stand_facing(env, target):
    """Put the agent on a free cell next to ``target``, facing it."""
    tx, ty = target
    for direction, (dx, dy) in enumerate(((1, 0), (0, 1), (-1, 0), (0, -1))):
        cell = (tx - dx, ty - dy)
        if env.grid.get(*cell) is None:
            env.agent_pos, env.agent_dir = cell, direction
            return
    raise AssertionError(f"no free cell next to {target}")


def _move(env, obj, pos):
    env.grid.set(*obj.cur_pos, None)
    env.grid.set(*pos, obj)
    obj.cur_pos = pos


def test_key_door_intents_follow_the_sequence():
    env, info = _make("KeyDoor")
    assert info["intent"] == "fetch_key"
    _stand_facing(env, env.key.cur_pos)
    assert env.step(Actions.toggle)[4]["intent"] == "fetch_key"  # a toggle does not take the key
    assert env.step(Actions.pickup)[4]["intent"] == "open_door"
    assert env.step(Actions.drop)[4]["intent"] == "fetch_key"  # dropped it again
    assert env.step(Actions.pickup)[4]["intent"] == "open_door"

    _stand_facing(env, env.door.cur_pos)
    assert env.step(Actions.forward)[4]["intent"] == "open_door"  # locked: bumps
    assert env.step(Actions.toggle)[4]["intent"] == "reach_goal"
    assert env.door.is_open
    assert env.step(Actions.toggle)[4]["intent"] == "open_door"  # closed again, unlocked
    assert env.step(Actions.toggle)[4]["intent"] == "reach_goal"

    _stand_facing(env, (env.width - 2, env.height - 2))
    _, reward, terminated, _, info = env.step(Actions.forward)
    assert terminated and reward == pytest.approx(1 - 0.9 * env.step_count / env.max_steps)
    assert info["intent"] == "reach_goal"


def _hunt_facing_monster(seed=0):
    env, _ = _make("Hunt", seed)
    # A free cell with a free cell in front of it, away from the exit.
    for x in range(1, env.width - 3):
        for y in range(1, env.height - 1):
            if env.grid.get(x, y) is None and env.grid.get(x + 1, y) is None:
                env.agent_pos, env.agent_dir = (x, y), 0
                _move(env, env.monster, (x + 1, y))
                return env
    raise AssertionError("no room for the monster")


def test_hunt_intent_persists_until_the_monster_is_struck():
    # The label comes from the true state: "hunt" even when the monster is out of sight.
    red_ball = (OBJECT_TO_IDX["ball"], COLOR_TO_IDX["red"])
    unseen = 0
    for seed in range(20):
        env = gym.make("MultiIntent-Hunt-8x8-v0")
        obs, info = env.reset(seed=seed)
        visible = (obs["image"][..., :2] == red_ball).all(-1).any()
        unseen += not visible
        assert info["intent"] == "hunt"
    assert unseen > 0

    env = _hunt_facing_monster()
    closed_exit = env.grid.get(*env.exit_pos)
    assert closed_exit.type == "goal"  # the level has its goal from the start (DirectionObsWrapper)
    assert closed_exit.encode() != Goal().encode()  # ... and the agent sees that it is closed
    _stand_facing(env, env.exit_pos)
    for action in (Actions.forward, Actions.toggle):  # the closed exit neither lets through nor opens
        _, reward, terminated, _, info = env.step(action)
        assert not terminated and reward == 0 and info["intent"] == "hunt"
        assert tuple(env.front_pos) == env.exit_pos

    env = _hunt_facing_monster()
    _, reward, terminated, _, info = env.step(Actions.toggle)
    assert info["intent"] == "reach_exit" and not env.monster_alive
    assert reward == 0 and not terminated
    assert env.grid.get(*env.exit_pos).type == "goal"
    assert not any(cell is env.monster for cell in env.grid.grid)
    for _ in range(5):  # nothing brings the hunt back
        assert env.step(Actions.left)[4]["intent"] == "reach_exit"
    _stand_facing(env, env.exit_pos)
    _, reward, terminated, _, info = env.step(Actions.forward)
    assert terminated and reward == pytest.approx(1 - 0.9 * env.step_count / env.max_steps)


def _free_cell(env, avoid):
    return next(
        (x, y)
        for x in range(1, env.width - 1)
        for y in range(1, env.height - 1)
        if env.grid.get(x, y) is None and (x, y) not in avoid
    )


def test_hunt_deaths():
    env = _hunt_facing_monster()
    _, reward, terminated, _, info = env.step(Actions.forward)
    assert terminated and reward == 0 and info["intent"] == "hunt"

    env = _hunt_facing_monster()
    front = tuple(env.front_pos)
    _move(env, env.monster, _free_cell(env, avoid={front, tuple(env.agent_pos)}))
    env.grid.set(*front, Lava())
    _, reward, terminated, _, info = env.step(Actions.forward)
    assert terminated and reward == 0 and info["intent"] == "hunt"


def _place_obstacles(env, cells):
    for obstacle in env.obstacles:
        env.grid.set(*obstacle.cur_pos, None)
    for obstacle, cell in zip(env.obstacles, cells, strict=True):
        env.grid.set(*cell, obstacle)
        obstacle.cur_pos = cell


def test_dodge_evade_means_a_ball_ahead():
    env, _ = _make("Dodge")  # 8x8: four obstacles
    env.agent_pos, env.agent_dir = (3, 3), 0  # facing east
    far = [(6, 1), (6, 2), (6, 6)]
    for pos, expected in [((4, 3), "evade"),
                          # two ahead: a ball that steps back first blocks the step, it does not kill
                          ((5, 3), "navigate"),
                          ((2, 3), "navigate"), ((3, 2), "navigate"), ((3, 4), "navigate"),
                          ((4, 4), "navigate"), ((4, 2), "navigate")]:
        _place_obstacles(env, [pos, *far])
        assert env.intent == expected, pos
    _place_obstacles(env, [(3, 4), *far])
    env.agent_dir = 1  # turned south, towards the ball
    assert env.intent == "evade"


def test_dodge_evade_is_visible_and_required():
    # Along random play the label is "evade" exactly when the view shows a ball
    # in the cell ahead, and exactly when walking forward would kill the agent.
    blue_ball = (OBJECT_TO_IDX["ball"], COLOR_TO_IDX["blue"])
    rng = np.random.default_rng(0)
    env = gym.make("MultiIntent-Dodge-8x8-v0").unwrapped
    seen = set()
    for seed in range(20):
        obs, info = env.reset(seed=seed)
        for _ in range(60):
            evade = info["intent"] == "evade"
            ahead = tuple(obs["image"][3, 5, :2])  # the agent is at [3, 6] of its view, facing up
            assert evade == (ahead == blue_ball)
            _, reward, terminated, _, _ = copy.deepcopy(env).step(Actions.forward)
            assert evade == (terminated and reward == 0)
            seen.add(info["intent"])
            obs, _, terminated, truncated, info = env.step(int(rng.choice([0, 1, 2])))
            if terminated or truncated:
                break
    assert seen == {"navigate", "evade"}


def test_dodge_collision_ends_without_reward():
    env, _ = _make("Dodge")
    env.agent_pos, env.agent_dir = (3, 3), 0
    _place_obstacles(env, [(4, 3), (6, 1), (6, 2), (1, 6)])
    _, reward, terminated, _, info = env.step(Actions.forward)
    assert terminated and reward == 0
    # Obstacles cannot be picked up: a carried one would have no cell to wander from.
    env, _ = _make("Dodge")
    _stand_facing(env, env.obstacles[0].cur_pos)
    env.step(Actions.pickup)
    assert env.carrying is None


# --- demo ---------------------------------------------------------------------


def test_demo_writes_one_frame_per_task(tmp_path):
    out = tmp_path / "frames"
    result = subprocess.run(
        [sys.executable, "-m", "envs", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )
    assert sorted(p.name for p in out.glob("*.png")) == sorted(f"{i}.png" for i in ALL)
    for env_id in ALL:
        assert env_id in result.stdout
        assert ", ".join(envs.intents_of(env_id)) in result.stdout
    help_text = subprocess.run(
        [sys.executable, "-m", "envs", "--help"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert "--out" in help_text

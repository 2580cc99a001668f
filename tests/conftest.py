"""Shared fixtures: a short MiniGrid task whose episodes end often, and a trainer small enough for a test.

The task is registered when this module is imported, which pytest does before any
test module; a trainer started in a subprocess imports it too (`trainer_command`).
"""

import sys

import gymnasium as gym
import pytest
from minigrid.envs import EmptyEnv

from moe.config import resolve
from moe.train import Trainer

SHORT_TASK = "MoETest-ShortDoorKey-v0"
if SHORT_TASK not in gym.registry:
    # Episodes of at most 12 steps, so a short rollout crosses many episode boundaries.
    gym.register(SHORT_TASK, entry_point="minigrid.envs:DoorKeyEnv", kwargs={"size": 5, "max_steps": 12})



class DirectionIntentEnv(EmptyEnv):
    """An empty room whose 'intent' is the half of the compass the agent faces (visible to it)."""

    intents = ("east_or_south", "west_or_north")

    def __init__(self, **kwargs):
        super().__init__(size=5, max_steps=30, **kwargs)

    def _label(self, info):
        return {**info, "intent": self.intents[0] if self.agent_dir in (0, 1) else self.intents[1]}

    def reset(self, **kwargs):
        observation, info = super().reset(**kwargs)
        return observation, self._label(info)

    def step(self, action):
        *transition, info = super().step(action)
        return (*transition, self._label(info))


DIRECTION_TASK = "MoETest-DirectionIntent-v0"
if DIRECTION_TASK not in gym.registry:
    gym.register(DIRECTION_TASK, entry_point=DirectionIntentEnv)

# Two environments x 40 steps = 80 frames an update, a small GAT, a checkpoint after every update.
TINY_SETTINGS = ("num_envs=2", "rollout_steps=40", "minibatch_size=40", "eval.episodes=4", "model.hidden=16",
                 "model.gat_dim=8", "checkpoint.interval_updates=1")


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config):
    """Two xdist workers unless told otherwise (`-n N`, `-p no:xdist`): most tests wait on one
    process at a time (a trainer, a Snakemake parse, a dry run), so two of them share the
    cores; worksteal evens out the slow ones."""
    worker = hasattr(config, "workerinput")  # a worker runs this hook too: it must not start workers of its own
    if (config.pluginmanager.hasplugin("xdist") and config.getoption("numprocesses", None) is None
            and not config.getoption("usepdb", False) and not worker):
        config.option.numprocesses, config.option.dist, config.option.tx = 2, "worksteal", ["popen"] * 2


@pytest.fixture(scope="session")
def short_task() -> str:
    return SHORT_TASK


@pytest.fixture(scope="session")
def tiny() -> list[str]:
    """`--set` assignments of a tiny run (80 frames an update)."""
    return list(TINY_SETTINGS)


@pytest.fixture
def tiny_trainer(tmp_path, tiny, short_task):
    """`make(seed=3, variant="baseline")`: a Trainer of 2 updates on the short task, writing into tmp_path."""

    def make(seed: int = 3, variant: str = "baseline", out_dir=None, assignments=()) -> Trainer:
        return Trainer(short_task, variant, seed, frames=160, config=resolve(None, [*tiny, *assignments]),
                       out_dir=out_dir or tmp_path)

    return make


@pytest.fixture(scope="session")
def trainer_command(short_task) -> list[str]:
    """`moe-train` in a subprocess that knows the short task."""
    return [sys.executable, "-c", "import sys, tests.conftest; from moe.train import main; sys.exit(main())"]


@pytest.fixture
def show(record_property):
    """`show(text)`: a measurement the test prints at the end of the run, in the "measured"
    section of pytest's summary (with -q and across xdist workers too)."""
    return lambda text: record_property("measured", text)


def pytest_terminal_summary(terminalreporter):
    texts = [value for outcome in ("passed", "failed") for report in terminalreporter.getreports(outcome)
             for name, value in report.user_properties if name == "measured"]
    if texts:
        terminalreporter.section("measured")
        for text in texts:
            terminalreporter.write_line(text)

"""MOORE's multi-task suites (envs/multitask.py): Minigrid's own tasks, unchanged, labelled with the
task; an equal share of a batch's environments per task; the return per task, raw and normalised."""

import gymnasium as gym
import numpy as np
import pytest
import torch

import envs
from envs.multitask import ACHIEVABLE_RETURN, SUITES
from moe.environments import EnvBatch, make_env
from moe.errors import ConfigError
from moe.evaluate import evaluate
from moe.model import MoEAgent


def test_the_suites_are_moores_in_its_task_order():
    assert envs.MULTITASK_SUITES == ["MultiTask-MT3-v0", "MultiTask-MT5-v0", "MultiTask-MT7-v0"]
    assert envs.intents_of("MultiTask-MT3-v0") == ("LavaGapS7", "RedBlueDoors-6x6", "MemoryS11")
    assert envs.members_of("MultiTask-MT7-v0") == SUITES["MT7"] and len(SUITES["MT5"]) == 5
    assert set(SUITES["MT3"]) < set(SUITES["MT5"]) < set(SUITES["MT7"])
    assert envs.members_of("MultiIntent-Hunt-6x6-v0") is None


def test_the_achievable_returns_are_whole_optimal_step_counts():
    """1 - 0.9 optimal / max_steps with max_steps from the members as Minigrid builds them: the optimal
    step counts of Todorov et al.'s Table 4 come back whole."""
    optimal = {"MiniGrid-DoorKey-6x6-v0": 11, "MiniGrid-DistShift1-v0": 11, "MiniGrid-RedBlueDoors-6x6-v0": 8,
               "MiniGrid-LavaGapS7-v0": 8, "MiniGrid-MemoryS11-v0": 15, "MiniGrid-SimpleCrossingS9N2-v0": 15,
               "MiniGrid-MultiRoom-N2-S4-v0": 5}
    for member, achievable in ACHIEVABLE_RETURN.items():
        max_steps = gym.make(member).unwrapped.max_steps
        assert (1 - achievable) * max_steps / 0.9 == pytest.approx(optimal[member], abs=0.02)


@pytest.mark.parametrize("task", [0, 2])
def test_a_member_is_minigrids_own_task_labelled_with_its_name(task):
    member = SUITES["MT3"][task]
    ours, theirs = make_env("MultiTask-MT3-v0", task=task), gym.make(member)
    observation, info = ours.reset(seed=7)
    expected, _ = theirs.reset(seed=7)
    assert info["intent"] == envs.intents_of("MultiTask-MT3-v0")[task]
    actions = np.random.default_rng(0).integers(7, size=40).tolist()
    for action in actions:
        np.testing.assert_array_equal(observation["image"], expected["image"])
        observation, reward, terminated, truncated, info = ours.step(action)
        expected, expected_reward, *ended, _ = theirs.step(action)
        assert reward == expected_reward and [terminated, truncated] == ended
        assert info["intent"] == envs.intents_of("MultiTask-MT3-v0")[task]
        if terminated or truncated:
            break


@pytest.mark.parametrize("suite", ["MT5", "MT7"])
def test_the_larger_suites_build_with_every_member_labelled_in_a_batch(suite):
    task_id = f"MultiTask-{suite}-v0"
    members = SUITES[suite]
    batch = EnvBatch(task_id, len(members))
    first = batch.reset(list(range(len(members))))
    assert first["intent"].tolist() == list(range(len(members)))
    assert first["image"].shape == (len(members), 7, 7, 3)
    for task, member in enumerate(members):
        env = make_env(task_id, task=task)
        _, info = env.reset(seed=3)
        assert info["intent"] == envs.intents_of(task_id)[task] == member.removeprefix("MiniGrid-").removesuffix("-v0")
        assert env.unwrapped.max_steps == gym.make(member).unwrapped.max_steps


def test_a_batch_gives_every_task_an_equal_share():
    batch = EnvBatch("MultiTask-MT3-v0", 6)
    assert batch.reset(list(range(6)))["intent"].tolist() == [0, 1, 2, 0, 1, 2]
    with pytest.raises(ConfigError, match="num_envs must divide by 3, not 16"):
        EnvBatch("MultiTask-MT3-v0", 16)


def test_evaluation_reports_the_return_per_task_raw_and_normalised():
    torch.manual_seed(0)
    agent = MoEAgent(num_actions=7, num_experts=3, hidden=8, gat_dim=8, router="oracle")
    summary, _ = evaluate(agent, "MultiTask-MT3-v0", episodes=6, seed_base=0, greedy=False,
                          device=torch.device("cpu"))
    labels = envs.intents_of("MultiTask-MT3-v0")
    assert list(summary["return_by_task"]) == list(labels)
    for label, member in zip(labels, SUITES["MT3"], strict=True):
        assert summary["normalized_return_by_task"][label] == pytest.approx(
            summary["return_by_task"][label] / ACHIEVABLE_RETURN[member])
    assert summary["normalized_return_mean"] == pytest.approx(np.mean(list(summary["normalized_return_by_task"]
                                                                         .values())))
    # The mean return weighs the tasks by their episodes: 2 each here.
    assert summary["return_mean"] == pytest.approx(np.mean(list(summary["return_by_task"].values())))
    assert summary["intent_explained"] == pytest.approx(1.0)  # the oracle routes by the task
    single, _ = evaluate(MoEAgent(num_actions=7, num_experts=2, hidden=8, gat_dim=8), "MultiIntent-Dodge-6x6-v0",
                         episodes=2, seed_base=0, greedy=True, device=torch.device("cpu"))
    assert single["return_by_task"] is None and single["normalized_return_mean"] is None


def test_the_oracle_at_k_equal_to_the_tasks_trains_on_a_suite(tmp_path):
    from moe.train import train

    final = train("MultiTask-MT3-v0", "baseline", 1, 480, tmp_path,
                  assignments=["num_envs=6", "rollout_steps=40", "minibatch_size=80", "eval.episodes=3",
                               "model.hidden=16", "model.gat_dim=8", "model.num_experts=3", "model.router=oracle"])
    assert final["status"] == "finished" and final["intents"] == list(envs.intents_of("MultiTask-MT3-v0"))
    assert final["intent_explained"] == pytest.approx(1.0) and final["verdict"] == "specialise"
    assert set(final["normalized_return_by_task"]) == set(final["intents"])

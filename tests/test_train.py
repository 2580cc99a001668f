"""The trainer's rollout, reproducibility and learning."""

import json

import gymnasium as gym
import numpy as np
import pandas as pd
import pytest
import torch

from moe.config import resolve
from moe.environments import make_env
from moe.train import TIMING_COLUMNS, Trainer, train

SHORT_TASK = "MoETest-ShortDoorKey-v0"
if SHORT_TASK not in gym.registry:
    # Episodes of at most 12 steps, so a short rollout crosses many episode boundaries.
    gym.register(SHORT_TASK, entry_point="minigrid.envs:DoorKeyEnv", kwargs={"size": 5, "max_steps": 12})

TINY = ["num_envs=2", "rollout_steps=40", "minibatch_size=40", "eval.episodes=4", "model.hidden=16",
        "model.gat_dim=8", "checkpoint.interval_updates=1"]


def tiny_trainer(tmp_path, seed=3, variant="baseline"):
    config = resolve(None, TINY)
    return Trainer(SHORT_TASK, variant, seed, frames=160, config=config, out_dir=tmp_path)


def test_rollout_matches_a_step_by_step_replay_and_masks_exactly_episode_starts(tmp_path):
    trainer = tiny_trainer(tmp_path)
    trainer.collect_rollout()
    assert trainer.dones.sum() >= 4, "the rollout should cross several episode boundaries"
    for env_index in range(2):
        env = make_env(SHORT_TASK)
        observation, _ = env.reset(seed=3 * 1000 + env_index)
        previous_done = True
        for step in range(40):
            assert bool(trainer.episode_starts[step, env_index]) == previous_done
            assert np.array_equal(trainer.images[step, env_index].numpy(), observation["image"])
            action = int(trainer.actions[step, env_index])
            observation, reward, terminated, truncated, _ = env.step(action)
            # Same-step autoreset: the step that ends an episode keeps its own reward; no step is a reset.
            assert trainer.rewards[step, env_index].item() == pytest.approx(reward)
            previous_done = terminated or truncated
            assert bool(trainer.dones[step, env_index]) == previous_done
            if previous_done:
                observation, _ = env.reset()


def test_rollout_stores_the_previous_steps_router_output(tmp_path):
    trainer = tiny_trainer(tmp_path)
    trainer.collect_rollout()
    assert torch.allclose(trainer.prev_alphas[1:], trainer.alphas[:-1])
    first_rollout_last_alpha = trainer.alphas[-1].clone()
    trainer.collect_rollout()
    assert torch.allclose(trainer.prev_alphas[0], first_rollout_last_alpha)


def test_advantages_are_gae_restarted_at_every_episode_end(tmp_path):
    trainer = tiny_trainer(tmp_path)
    trainer.collect_rollout()
    generator = torch.Generator().manual_seed(0)
    trainer.rewards = torch.rand(trainer.rewards.shape, generator=generator)
    trainer.values = torch.randn(trainer.values.shape, generator=generator)
    trainer.dones = torch.rand(trainer.dones.shape, generator=generator) < 0.2
    advantages, returns = trainer.advantages()
    with torch.no_grad():
        next_value = trainer.agent(trainer.next_image, trainer.next_direction).value
    gamma, lam = trainer.config["gamma"], trainer.config["gae_lambda"]
    steps, num_envs = trainer.rewards.shape
    for env_index in range(num_envs):
        # The textbook recursion, one environment at a time in Python floats.
        running = 0.0
        for step in reversed(range(steps)):
            if step == steps - 1:
                following = float(next_value[env_index])
            else:
                following = float(trainer.values[step + 1, env_index])
            carry = 0.0 if trainer.dones[step, env_index] else 1.0
            value = float(trainer.values[step, env_index])
            delta = float(trainer.rewards[step, env_index]) + gamma * following * carry - value
            running = delta + gamma * lam * carry * running
            assert advantages[step, env_index].item() == pytest.approx(running, abs=1e-5)
    assert trainer.dones.any() and torch.allclose(returns, advantages + trainer.values)


def test_phase_switches_and_corrections_turn_on_only_in_finetune(tmp_path):
    trainer = tiny_trainer(tmp_path, variant="entropy_min+temporal+overlap")
    warmup, finetune = trainer.loss_weights("warmup"), trainer.loss_weights("finetune")
    coef = {name: settings["coef"] for name, settings in trainer.config["corrections"].items()}
    assert warmup == {"router_entropy": -trainer.config["router_entropy_coef"],
                      "entropy_min": 0.0, "temporal": 0.0, "overlap": 0.0}
    # entropy_min flips the sign: the bonus goes, +lambda_E H(alpha) comes.
    assert finetune == {"router_entropy": 0.0, **coef}
    assert all(value > 0 for value in coef.values())
    trainer.run(progress=type("Quiet", (), {"update": lambda self, row: None, "write": print})())
    assert [row["phase"] for row in trainer.metrics_rows] == ["warmup", "finetune"]


def run_outputs(out_dir):
    metrics = pd.read_csv(out_dir / "metrics.csv").drop(columns=TIMING_COLUMNS)
    return metrics, json.loads((out_dir / "final.json").read_text()), (out_dir / "eval_episode.csv").read_text()


def test_same_seed_gives_identical_outputs(tmp_path):
    for name in ("first", "second"):
        train(SHORT_TASK, "temporal+overlap", 5, 160, tmp_path / name, assignments=TINY)
    first, second = run_outputs(tmp_path / "first"), run_outputs(tmp_path / "second")
    pd.testing.assert_frame_equal(first[0], second[0])
    assert first[1:] == second[1:]
    assert len(first[0]) == 2 and first[1]["status"] == "finished"
    other_seed = train(SHORT_TASK, "temporal+overlap", 6, 160, tmp_path / "other", assignments=TINY)
    assert not pd.read_csv(tmp_path / "other" / "metrics.csv").drop(columns=TIMING_COLUMNS).equals(first[0]) \
        or other_seed != first[1]


def test_metrics_and_final_files_have_the_documented_columns(tmp_path):
    train(SHORT_TASK, "baseline", 0, 80, tmp_path, assignments=TINY)
    metrics = pd.read_csv(tmp_path / "metrics.csv")
    expected = ["update", "frames", "phase", "fps", "return_mean", "success_rate", "episode_length",
                "policy_entropy", "router_entropy", "marginal_router_entropy", "switch_rate", "loss_policy",
                "loss_value", "loss_router_entropy", "loss_temporal", "loss_overlap", "loss_entropy_min"]
    assert set(expected + [f"usage_expert_{k}" for k in range(4)]) <= set(metrics.columns)
    usage = metrics[[f"usage_expert_{k}" for k in range(4)]].sum(axis=1)
    assert np.allclose(usage, 1.0, atol=1e-5)
    final = json.loads((tmp_path / "final.json").read_text())
    assert {"return_mean", "success_rate", "router_entropy", "marginal_router_entropy", "switch_rate",
            "intent_nmi", "frames", "status"} <= set(final)
    assert final["intent_nmi"] is None  # DoorKey has no intent labels
    assert final["frames"] == 80


@pytest.mark.slow
def test_baseline_learns_doorkey_5x5(tmp_path):
    """Fixed seed, 28 updates of 2048 frames: the reference CNN PPO needs ~49k frames to reach 0.9."""
    final = train("MiniGrid-DoorKey-5x5-v0", "baseline", 1, 57344, tmp_path, assignments=["eval.episodes=50"])
    assert final["return_mean"] >= 0.8


@pytest.mark.slow
def test_baseline_learns_a_small_multi_intent_task(tmp_path):
    """Hunt-6x6 (strike the wandering monster, then exit): random play succeeds ~10% of the time."""
    final = train("MultiIntent-Hunt-6x6-v0", "baseline", 1, 49152, tmp_path, assignments=["eval.episodes=50"])
    assert final["return_mean"] >= 0.8
    assert final["intent_nmi"] is not None and 0.0 <= final["intent_nmi"] <= 1.0

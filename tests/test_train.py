"""The trainer's rollout, reproducibility and learning."""

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch

from moe.config import default_config
from moe.corrections import CORRECTIONS
from moe.environments import make_env
from moe.errors import CheckpointError, ConfigError
from moe.evaluate import SUMMARY_KEYS
from moe.ppo import collect_rollout, compute_advantages, loss_weights
from moe.train import TIMING_COLUMNS, train


def rollout_of(trainer):
    rollout, trainer.carry = collect_rollout(trainer.agent, trainer.envs, trainer.carry,
                                             trainer.config["rollout_steps"], trainer.device)
    return rollout


def test_rollout_matches_a_step_by_step_replay_and_masks_exactly_episode_starts(tiny_trainer, short_task):
    trainer = tiny_trainer()
    rollout = rollout_of(trainer)
    assert rollout.dones.sum() >= 4, "the rollout should cross several episode boundaries"
    for env_index in range(2):
        env = make_env(short_task)
        observation, _ = env.reset(seed=3 * 1000 + env_index)
        previous_done = True
        for step in range(40):
            assert bool(rollout.episode_starts[step, env_index]) == previous_done
            assert np.array_equal(rollout.inputs.image[step, env_index].numpy(), observation["image"])
            action = int(rollout.actions[step, env_index])
            observation, reward, terminated, truncated, _ = env.step(action)
            # Same-step autoreset: the step that ends an episode keeps its own reward; no step is a reset.
            assert rollout.rewards[step, env_index].item() == pytest.approx(reward)
            previous_done = terminated or truncated
            assert bool(rollout.dones[step, env_index]) == previous_done
            if previous_done:
                observation, _ = env.reset()


def previous_alphas_by_hand(alphas, episode_starts, carried):
    """alpha_{t-1} of each step: the same environment's previous output, uniform at an episode's first step."""
    previous = torch.cat([carried.unsqueeze(0), alphas[:-1]])
    return torch.where(episode_starts.unsqueeze(-1), torch.full_like(previous, 1 / previous.shape[-1]), previous)


@pytest.mark.parametrize("memory", ["none", "previous_alpha"])
def test_rollout_stores_the_previous_steps_router_output_uniform_at_episode_starts(tiny_trainer, memory):
    trainer = tiny_trainer(assignments=[f"model.router_memory={memory}"])
    first = rollout_of(trainer)
    assert first.episode_starts[1:].any() and not first.episode_starts[1:].all()
    assert torch.equal(first.prev_alphas, previous_alphas_by_hand(first.alphas, first.episode_starts,
                                                                  first.alphas[0]))
    second = rollout_of(trainer)
    assert torch.equal(second.prev_alphas, previous_alphas_by_hand(second.alphas, second.episode_starts,
                                                                   first.alphas[-1]))
    assert torch.equal(second.episode_starts[0], first.dones[-1])
    # The update feeds the agent the stored inputs, alpha_{t-1} included: it recomputes the rollout's alphas.
    with torch.no_grad():
        again = trainer.agent(second.inputs.image.flatten(0, 1), second.inputs.direction.flatten(0, 1),
                              previous_alpha=second.inputs.previous_alpha.flatten(0, 1)).alpha
    assert torch.allclose(again, second.alphas.flatten(0, 1), atol=1e-6)
    # The previous step's inputs are the step before's, carried across the rollout boundary.
    assert torch.equal(second.previous_inputs().image[0], first.inputs.image[-1])
    assert torch.equal(second.previous_inputs().image[1:], second.inputs.image[:-1])


def test_advantages_are_gae_restarted_at_every_episode_end(tiny_trainer):
    trainer = tiny_trainer()
    rollout = rollout_of(trainer)
    generator = torch.Generator().manual_seed(0)
    rollout.rewards = torch.rand(rollout.rewards.shape, generator=generator)
    rollout.values = torch.randn(rollout.values.shape, generator=generator)
    rollout.dones = torch.rand(rollout.dones.shape, generator=generator) < 0.2
    gamma, lam = trainer.config["gamma"], trainer.config["gae_lambda"]
    advantages, returns = compute_advantages(trainer.agent, rollout, trainer.carry, gamma, lam)
    with torch.no_grad():
        next_value = trainer.agent(trainer.carry.image, trainer.carry.direction).value
    steps, num_envs = rollout.rewards.shape
    for env_index in range(num_envs):
        # The textbook recursion, one environment at a time in Python floats.
        running = 0.0
        for step in reversed(range(steps)):
            if step == steps - 1:
                following = float(next_value[env_index])
            else:
                following = float(rollout.values[step + 1, env_index])
            carry = 0.0 if rollout.dones[step, env_index] else 1.0
            value = float(rollout.values[step, env_index])
            delta = float(rollout.rewards[step, env_index]) + gamma * following * carry - value
            running = delta + gamma * lam * carry * running
            assert advantages[step, env_index].item() == pytest.approx(running, abs=1e-5)
    assert rollout.dones.any() and torch.allclose(returns, advantages + rollout.values)


def test_phase_switches_and_corrections_turn_on_only_in_finetune(tiny_trainer):
    trainer = tiny_trainer(variant="entropy_min+temporal+overlap")
    config = trainer.config
    warmup = loss_weights(config, trainer.active_corrections, "warmup")
    finetune = loss_weights(config, trainer.active_corrections, "finetune")
    variant = ("entropy_min", "temporal", "overlap")
    coef = {name: config["corrections"][name]["coef"] for name in variant}
    others = {name: 0.0 for name in config["corrections"] if name not in variant}  # every other registered one
    assert warmup == {"router_entropy": -config["router_entropy_coef"], "router_label": 0.0,
                      **dict.fromkeys(variant, 0.0), **others}
    # entropy_min flips the sign: the bonus goes, +lambda_E H(alpha) comes; the others are not in this variant.
    assert finetune == {"router_entropy": 0.0, "router_label": 0.0, **coef, **others}
    assert all(value > 0 for value in coef.values())
    quiet = type("Quiet", (), {"update": lambda self, row, total: None, "write": print})()
    trainer.run(quiet)
    assert [row["phase"] for row in trainer.metrics_rows] == ["warmup", "finetune"]


def run_outputs(out_dir):
    metrics = pd.read_csv(out_dir / "metrics.csv").drop(columns=TIMING_COLUMNS)
    return metrics, json.loads((out_dir / "final.json").read_text()), (out_dir / "eval_episode.csv").read_text()


def test_same_seed_gives_identical_outputs(tmp_path, short_task, tiny):
    for name in ("first", "second"):
        train(short_task, "temporal+overlap", 5, 160, tmp_path / name, assignments=tiny)
    first, second = run_outputs(tmp_path / "first"), run_outputs(tmp_path / "second")
    pd.testing.assert_frame_equal(first[0], second[0])
    assert first[1:] == second[1:]
    assert len(first[0]) == 2 and first[1]["status"] == "finished"
    other_seed = train(short_task, "temporal+overlap", 6, 160, tmp_path / "other", assignments=tiny)
    assert not pd.read_csv(tmp_path / "other" / "metrics.csv").drop(columns=TIMING_COLUMNS).equals(first[0]) \
        or other_seed != first[1]


def test_metrics_and_final_files_have_the_documented_columns(tmp_path, short_task, tiny):
    train(short_task, "baseline", 0, 80, tmp_path, assignments=tiny)
    metrics = pd.read_csv(tmp_path / "metrics.csv")
    expected = ["update", "frames", "phase", "fps", "return_mean", "success_rate", "episode_length",
                "policy_entropy", "router_entropy", "marginal_router_entropy", "router_mutual_information",
                "expert_similarity", "switch_rate", "loss_policy", "loss_value", "loss_router_entropy",
                *(f"loss_{name}" for name in default_config()["corrections"] if CORRECTIONS[name].term),
                *(f"grad_router_{name}" for name in ("policy", "router_entropy", "entropy_min")), *TIMING_COLUMNS]
    assert set(expected + [f"usage_expert_{k}" for k in range(4)]) <= set(metrics.columns)
    usage = metrics[[f"usage_expert_{k}" for k in range(4)]].sum(axis=1)
    assert np.allclose(usage, 1.0, atol=1e-5)
    assert np.allclose(metrics["router_mutual_information"],
                       metrics["marginal_router_entropy"] - metrics["router_entropy"])
    assert ((-1 <= metrics["expert_similarity"]) & (metrics["expert_similarity"] <= 1)).all()
    final = json.loads((tmp_path / "final.json").read_text())
    assert set(SUMMARY_KEYS) | {"frames", "status", "intents", "expert_usage_by_intent"} <= set(final)
    assert final["intent_nmi"] is None and final["intents"] is None  # DoorKey has no intent labels
    assert final["frames"] == 80
    assert final["effective_experts"] == pytest.approx(math.exp(final["marginal_router_entropy"]))


def test_a_run_started_from_the_shared_warmup_equals_an_uninterrupted_one(tmp_path, short_task, tiny):
    """The corrections act only after the first phase, so every variant shares its updates."""
    frames = 320  # 4 updates of 80 frames: 2 of warm-up, 2 of fine-tuning
    train(short_task, "entropy_min+overlap", 5, frames, tmp_path / "whole", assignments=tiny)
    warmup = train(short_task, "baseline", 5, frames, tmp_path / "warmup", assignments=tiny, warmup_only=True)
    assert warmup["updates"] == 2 and not (tmp_path / "warmup" / "final.json").exists()
    train(short_task, "entropy_min+overlap", 5, frames, tmp_path / "split", assignments=tiny,
          from_warmup=tmp_path / "warmup")
    whole, split = run_outputs(tmp_path / "whole"), run_outputs(tmp_path / "split")
    pd.testing.assert_frame_equal(whole[0], split[0])
    assert whole[1:] == split[1:]
    assert list(whole[0]["phase"]) == ["warmup"] * 2 + ["finetune"] * 2


def gated_phases(until_return):
    """12 planned updates of 80 frames: 9 of warm-up (at most), 3 of fine-tuning."""
    return [f"phases=[{{name: warmup, end: 0.75, until_return: {until_return}}}, {{name: finetune, end: 1.0}}]"]


def test_a_warmup_with_a_return_gate_ends_when_learned_and_the_finetuning_keeps_its_length(tmp_path, short_task, tiny):
    """until_return 0: every update of the short task ends episodes (return >= 0), so the gate
    fires after the first full 5-update window; the 3 fine-tuning updates follow it."""
    frames = 12 * 80
    whole = train(short_task, "temporal", 5, frames, tmp_path / "whole", assignments=tiny + gated_phases(0.0))
    metrics = pd.read_csv(tmp_path / "whole" / "metrics.csv")
    assert list(metrics["phase"]) == ["warmup"] * 5 + ["finetune"] * 3
    assert whole["frames"] == 8 * 80
    # Shared warm-up: it stops at the same update, and a run started from it is the same run.
    warmup = train(short_task, "baseline", 5, frames, tmp_path / "warmup", assignments=tiny + gated_phases(0.0),
                   warmup_only=True)
    assert warmup["updates"] == 5 and warmup["signature"]["until_return"] == 0.0
    train(short_task, "temporal", 5, frames, tmp_path / "split", assignments=tiny + gated_phases(0.0),
          from_warmup=tmp_path / "warmup")
    expected, split = run_outputs(tmp_path / "whole"), run_outputs(tmp_path / "split")
    pd.testing.assert_frame_equal(expected[0], split[0])
    assert expected[1:] == split[1:]
    # A gate that never fires (returns are at most 1) leaves the run as the fixed-length one.
    train(short_task, "temporal", 5, frames, tmp_path / "never", assignments=tiny + gated_phases(2.0))
    fixed = tiny + ["phases=[{name: warmup, end: 0.75}, {name: finetune, end: 1.0}]"]
    train(short_task, "temporal", 5, frames, tmp_path / "fixed", assignments=fixed)
    never, fixed = run_outputs(tmp_path / "never"), run_outputs(tmp_path / "fixed")
    pd.testing.assert_frame_equal(never[0], fixed[0])
    assert never[1:] == fixed[1:] and list(never[0]["phase"]) == ["warmup"] * 9 + ["finetune"] * 3


def test_a_return_gate_on_a_later_phase_is_refused(tmp_path, short_task, tiny):
    with pytest.raises(ConfigError, match="phases.1.until_return"):
        train(short_task, "baseline", 5, 160, tmp_path, assignments=tiny + [
            "phases=[{name: warmup, end: 0.5}, {name: finetune, end: 1.0, until_return: 0.8}]"])


def test_a_warmup_of_other_settings_is_refused(tmp_path, short_task, tiny):
    train(short_task, "baseline", 5, 320, tmp_path / "warmup", assignments=tiny, warmup_only=True)
    with pytest.raises(CheckpointError, match="not this run's.*lr"):
        train(short_task, "temporal", 5, 320, tmp_path / "run", assignments=[*tiny, "lr=0.01"],
              from_warmup=tmp_path / "warmup")
    with pytest.raises(CheckpointError, match="no finished warm-up"):
        train(short_task, "temporal", 5, 320, tmp_path / "run", assignments=tiny, from_warmup=tmp_path / "none")
    # Made by another torch build (or on another device): its numbers would not be this run's.
    marker = tmp_path / "warmup" / "warmup.json"
    content = json.loads(marker.read_text())
    marker.write_text(json.dumps({**content, "made_with": {**content["made_with"], "torch": "0.0.1"}}))
    with pytest.raises(CheckpointError, match="made with .*0.0.1.*delete it"):
        train(short_task, "temporal", 5, 320, tmp_path / "run", assignments=tiny, from_warmup=tmp_path / "warmup")
    marker.write_text(json.dumps(content))
    # A coefficient of a correction that waits for fine-tuning does not touch the warm-up.
    train(short_task, "temporal", 5, 320, tmp_path / "run", assignments=[*tiny, "corrections.temporal.coef=9"],
          from_warmup=tmp_path / "warmup")


@pytest.mark.slow
def test_baseline_learns_doorkey_5x5(tmp_path):
    """Fixed seed, 44 updates of 2048 frames. The default agent's 5-update mean return first
    reaches 0.8 at 72k frames on this seed (the reference CNN PPO reaches 0.9 at ~49k)."""
    final = train("MiniGrid-DoorKey-5x5-v0", "baseline", 1, 90112, tmp_path, assignments=["eval.episodes=50"])
    assert final["return_mean"] >= 0.8


@pytest.mark.slow
def test_baseline_learns_a_small_multi_intent_task(tmp_path):
    """Hunt-6x6 (strike the wandering monster, then exit): random play succeeds ~10% of the time."""
    final = train("MultiIntent-Hunt-6x6-v0", "baseline", 1, 49152, tmp_path, assignments=["eval.episodes=50"])
    assert final["return_mean"] >= 0.8
    assert 0.0 <= final["intent_mutual_information_normalized"] <= 1.0


def test_tensorboard_scalars_are_the_metrics_columns(tmp_path, short_task, tiny):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    train(short_task, "temporal", 0, 160, tmp_path, assignments=[*tiny, "tensorboard=true"])
    events = EventAccumulator(str(tmp_path / "tensorboard"))
    events.Reload()
    metrics = pd.read_csv(tmp_path / "metrics.csv")
    for column in ("return_mean", "router_entropy", "router_mutual_information", "loss_temporal"):
        measured = metrics[metrics[column].notna()]  # an update where no episode ended has no return
        scalars = events.Scalars(column)
        assert [event.step for event in scalars] == list(measured["frames"])
        assert [event.value for event in scalars] == pytest.approx(list(measured[column]), rel=1e-6)
    assert "phase" not in events.Tags()["scalars"]  # text columns are not scalars


def test_a_phase_setting_turns_the_router_entropy_bonus_off_in_finetuning_only(tmp_path, short_task, tiny):
    phases = "phases=[{name: warmup, end: 0.5}, {name: finetune, end: 1.0, set: {router_entropy_coef: 0}}]"
    train(short_task, "temporal", 5, 320, tmp_path, assignments=[*tiny, phases])
    metrics = pd.read_csv(tmp_path / "metrics.csv")
    by_phase = metrics.groupby("phase")["loss_router_entropy"]
    assert (by_phase.get_group("warmup") < 0).all()  # -c_alpha H(alpha), c_alpha = 0.01
    assert (by_phase.get_group("finetune") == 0).all()
    assert (metrics.loc[metrics["phase"] == "finetune", "loss_temporal"] > 0).all()


def test_the_settle_rule_on_synthetic_series():
    from moe.warmup import first_settled

    def rows(entropy, mutual_information):
        return [{"router_entropy": h, "router_mutual_information": i}
                for h, i in zip(entropy, mutual_information, strict=True)]

    tolerances = {"router_entropy": 0.03, "router_mutual_information": 0.1}
    # Falls, then holds within 0.02 (entropy) and 0.08 (MI): settled at the 3rd update of a flat window of 3.
    falling = rows([1.38, 0.9, 0.3, 0.05, 0.04, 0.06, 0.05], [0.0, 0.1, 0.2, 0.25, 0.2, 0.28, 0.24])
    assert first_settled(falling, 3, **tolerances) == 6
    # Still moving: entropy falls by 0.05 every update; MI noise alone never stops it.
    moving = rows([1.0 - 0.05 * t for t in range(10)], [0.2] * 10)
    assert first_settled(moving, 3, **tolerances) is None
    assert first_settled(rows([0.5] * 10, [0.2, 0.35] * 5), 3, **tolerances) is None  # MI jumps 0.15
    assert first_settled(rows([0.5] * 2, [0.2] * 2), 3, **tolerances) is None  # fewer updates than the window


def test_finetuning_ends_once_the_router_has_settled_and_final_json_says_when(tmp_path, short_task, tiny):
    """A tolerance of 2 nats: any 2-update window counts as settled, so fine-tuning stops after its 2nd
    update of 6 planned; a tolerance of 1e-9 never fires, and the run trains its planned length."""
    def phases(tolerance, minimum=""):
        return [f"phases=[{{name: warmup, end: 0.25}}, {{name: finetune, end: 1.0, until_settled: {{window: 2, "
                f"router_entropy: {tolerance}, router_mutual_information: {tolerance}{minimum}}}}}]"]

    settled = train(short_task, "entropy_min", 5, 8 * 80, tmp_path / "settled", assignments=tiny + phases(2.0))
    assert list(pd.read_csv(tmp_path / "settled" / "metrics.csv")["phase"]) == ["warmup"] * 2 + ["finetune"] * 2
    assert (settled["settled"], settled["settled_update"], settled["frames"]) == (True, 4, 4 * 80)
    assert settled["settled_at_minimum"] is None  # no minimum
    # With a minimum of 3 updates the same rule waits for the 3rd fine-tuning update, and says so.
    waited = train(short_task, "entropy_min", 5, 8 * 80, tmp_path / "waited",
                   assignments=tiny + phases(2.0, ", min_updates: 3"))
    assert (waited["settled"], waited["settled_update"], waited["settled_at_minimum"]) == (True, 5, True)
    capped = train(short_task, "entropy_min", 5, 8 * 80, tmp_path / "capped", assignments=tiny + phases(1e-9))
    assert (capped["settled"], capped["settled_update"], capped["frames"]) == (False, None, 8 * 80)
    plain = train(short_task, "entropy_min", 5, 160, tmp_path / "plain", assignments=tiny)
    assert (plain["settled"], plain["settled_update"]) == (None, None)  # no rule, nothing to say


def test_a_settle_rule_on_the_first_phase_is_refused(tmp_path, short_task, tiny):
    with pytest.raises(ConfigError, match="phases.0.until_settled"):
        train(short_task, "baseline", 5, 160, tmp_path, assignments=tiny + [
            "phases=[{name: warmup, end: 0.5, until_settled: {window: 3, router_entropy: 0.1, "
            "router_mutual_information: 0.1}}, {name: finetune, end: 1.0}]"])


def test_a_correction_that_no_update_would_run_is_named_in_a_warning(tmp_path, short_task, tiny, capsys):
    final = train(short_task, "entropy_min", 5, 80, tmp_path, assignments=tiny)  # one update: all warm-up
    assert len(final["warnings"]) == 1
    assert "entropy_min" in final["warnings"][0] and "['finetune']" in final["warnings"][0]
    assert "warning: correction entropy_min" in capsys.readouterr().err
    assert train(short_task, "entropy_min", 5, 160, tmp_path / "long", assignments=tiny)["warnings"] == []


def test_the_oracle_router_trains_and_evaluates_on_a_multi_intent_task(tmp_path, tiny):
    final = train("MultiIntent-Hunt-6x6-v0", "baseline", 1, 160, tmp_path, assignments=[*tiny, "model.router=oracle"])
    assert final["status"] == "finished" and final["intent_explained"] == pytest.approx(1.0)
    assert final["router_entropy"] == 0.0 and final["verdict"] == "specialise"


@pytest.mark.parametrize("settings, message", [
    (["model.router=oracle", "model.num_experts=1"], "one expert per intent.*2 intent labels"),
    (["model.router=oracle"], "needs a task with intent labels"),
])
def test_an_oracle_without_an_expert_per_intent_is_refused(tmp_path, short_task, tiny, settings, message):
    env = "MultiIntent-Hunt-6x6-v0" if "model.num_experts=1" in settings else short_task
    with pytest.raises(ConfigError, match=message):
        train(env, "baseline", 1, 160, tmp_path, assignments=[*tiny, *settings])


def test_the_zloss_correction_reaches_the_router_logits_in_finetuning(tmp_path, short_task, tiny):
    train(short_task, "entropy_min+zloss", 5, 160, tmp_path, assignments=tiny)
    metrics = pd.read_csv(tmp_path / "metrics.csv")
    assert list(metrics["loss_zloss"] > 0) == [False, True]  # warm-up, fine-tuning

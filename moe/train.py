"""Train one MoE-PPO agent: `moe-train --env ID --variant V --seed N --frames N --out DIR`.

Read top to bottom: configuration, environments and agent, then the loop of
rollout -> advantages -> PPO epochs with the phase's loss terms -> metrics row
-> checkpoint, and finally an evaluation of the trained policy.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from moe import checkpoint as ckpt
from moe.config import ConfigError, phase_at, resolve, resolve_device
from moe.corrections import CORRECTIONS, RouterBatch, correction_loss, router_entropy
from moe.environments import EnvBatch, check_env_id, observation_tensors
from moe.evaluate import evaluate
from moe.metrics import entropy, switch_rate
from moe.model import build_agent
from moe.provenance import run_record
from moe.variants import parse_variant

# Wall-clock columns: the only ones that differ between two runs with the same seed.
TIMING_COLUMNS = ["fps", "seconds_env", "seconds_inference", "seconds_update", "seconds_cpu"]


class NonFiniteLoss(RuntimeError):
    pass


class Trainer:
    def __init__(self, env_id: str, variant: str, seed: int, frames: int, config: dict, out_dir: Path):
        if frames < 1:
            raise ConfigError(f"--frames must be positive, got {frames}")
        check_env_id(env_id)
        self.config, self.out_dir = config, out_dir
        self.corrections = list(config["corrections"])
        try:
            self.active_corrections = parse_variant(variant, self.corrections)
        except ValueError as error:
            raise ConfigError(str(error)) from None
        self.batch_frames = config["num_envs"] * config["rollout_steps"]
        self.num_updates = math.ceil(frames / self.batch_frames)

        torch.manual_seed(seed)
        np.random.seed(seed)
        self.device = resolve_device(config["device"])
        self.envs = EnvBatch(env_id, config["num_envs"])
        num_actions = int(self.envs.action_space.n)
        view_size = self.envs.observation_space["image"].shape[0]
        self.agent = build_agent(config["model"], num_actions, view_size).to(self.device)
        # fused: one kernel for all parameters, 3-4x faster than Adam's per-tensor loop on
        # a model this small; the same update rule, rounded differently in the last bit.
        self.optimizer = torch.optim.Adam(self.agent.parameters(), lr=config["lr"], eps=config["adam_eps"],
                                          fused=True)
        self.minibatch_generator = torch.Generator().manual_seed(seed)

        # State carried across updates (and checkpoints).
        self.record: dict | None = None  # the run's config.yaml content, set by train()
        self.update_index = 0
        self.metrics_rows: list[dict] = []
        num_envs, experts = config["num_envs"], config["model"]["num_experts"]
        train_seeds = [seed * 1000 + i for i in range(num_envs)]
        observation = self.envs.reset(train_seeds)
        self.next_image, self.next_direction = observation_tensors(observation, self.device)
        self.next_episode_start = torch.ones(num_envs, dtype=torch.bool, device=self.device)
        self.last_alpha = torch.full((num_envs, experts), 1.0 / experts, device=self.device)
        self.episode_return = np.zeros(num_envs)
        self.episode_length = np.zeros(num_envs, dtype=np.int64)

    # -- one update -----------------------------------------------------------------

    def collect_rollout(self) -> dict:
        """Step all environments `rollout_steps` times with the current policy.

        Fills the rollout tensors, each (time, env, ...): images, directions,
        actions, log_probs, values, alphas, rewards, dones, episode_starts and
        prev_alphas. Each step's results are kept in lists and stacked once at the
        end: on a CPU every tensor operation costs microseconds, and writing each
        step into buffers was 8 us of a frame.
        """
        images, directions, actions, action_logits, values, log_alphas = [], [], [], [], [], []
        rewards, dones = [], []
        finished_returns, finished_lengths = [], []
        env_seconds = 0.0
        for _ in range(self.config["rollout_steps"]):
            images.append(self.next_image)
            directions.append(self.next_direction)
            with torch.inference_mode():  # no_grad's per-operation bookkeeping cost 1 us a frame
                output = self.agent(self.next_image, self.next_direction)
                # action_logits are normalised log-probabilities: no Categorical needed.
                action = torch.multinomial(output.action_logits.exp(), 1).squeeze(1)
            actions.append(action)
            action_logits.append(output.action_logits)
            values.append(output.value)
            log_alphas.append(output.log_alpha)

            started = time.perf_counter()
            observation, reward, terminated, truncated = self.envs.step(action.tolist())
            env_seconds += time.perf_counter() - started
            # MiniGrid's time limit is part of the task (the reward decays with time): a
            # truncation ends the episode like a termination, with no bootstrap.
            done = terminated | truncated
            rewards.append(reward)
            dones.append(done)
            self.next_image, self.next_direction = observation_tensors(observation, self.device)

            self.episode_return += reward
            self.episode_length += 1
            if done.any():
                finished_returns.extend(self.episode_return[done])
                finished_lengths.extend(self.episode_length[done])
                self.episode_return[done] = 0.0
                self.episode_length[done] = 0

        self.images, self.directions, self.actions = torch.stack(images), torch.stack(directions), torch.stack(actions)
        self.log_probs = torch.stack(action_logits).gather(2, self.actions.unsqueeze(2)).squeeze(2)
        self.values = torch.stack(values)
        self.alphas = torch.stack(log_alphas).exp()
        self.rewards = torch.from_numpy(np.stack(rewards).astype(np.float32)).to(self.device)
        self.dones = torch.from_numpy(np.stack(dones)).to(self.device)
        # A step starts an episode when the step before it ended one; the rollout's first
        # step, and its first router target, carry over from the previous rollout.
        self.episode_starts = torch.cat([self.next_episode_start.unsqueeze(0), self.dones[:-1]])
        self.prev_alphas = torch.cat([self.last_alpha.unsqueeze(0), self.alphas[:-1]])
        # Copies, not views: a checkpoint would otherwise save the whole rollout's storage.
        self.next_episode_start, self.last_alpha = self.dones[-1].clone(), self.alphas[-1].clone()
        return {"returns": finished_returns, "lengths": finished_lengths, "env_seconds": env_seconds}

    def advantages(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Generalised advantage estimation over the rollout."""
        gamma, lam = self.config["gamma"], self.config["gae_lambda"]
        with torch.no_grad():
            next_value = self.agent(self.next_image, self.next_direction).value
        not_done = (~self.dones).float()
        following_values = torch.cat([self.values[1:], next_value.unsqueeze(0)])
        deltas = self.rewards + gamma * following_values * not_done - self.values
        discounts = gamma * lam * not_done
        advantages = torch.zeros_like(self.rewards)
        running = torch.zeros_like(next_value)
        for step in reversed(range(self.config["rollout_steps"])):
            running = deltas[step] + discounts[step] * running
            advantages[step] = running
        return advantages, advantages + self.values

    def loss_weights(self, phase: str) -> dict[str, float]:
        """Coefficient of each router term in this phase (0 when off)."""
        weights = {"router_entropy": -self.config["router_entropy_coef"]}
        for name in self.corrections:
            settings = self.config["corrections"][name]
            active = name in self.active_corrections and phase in settings["phases"]
            weights[name] = settings["coef"] if active else 0.0
            if active and CORRECTIONS[name].replaces_router_entropy_bonus:
                weights["router_entropy"] = 0.0
        return weights

    def ppo_update(self, advantages: torch.Tensor, returns: torch.Tensor, phase: str) -> dict:
        config = self.config
        flat = lambda tensor: tensor.reshape(self.batch_frames, *tensor.shape[2:])  # noqa: E731
        images, directions, actions = flat(self.images), flat(self.directions), flat(self.actions)
        old_log_probs, old_values = flat(self.log_probs), flat(self.values)
        advantages, returns = flat(advantages), flat(returns)
        prev_alphas, episode_starts = flat(self.prev_alphas), flat(self.episode_starts)
        weights = self.loss_weights(phase)
        sums: dict[str, float] = {}
        count = 0
        for _ in range(config["epochs"]):
            order = torch.randperm(self.batch_frames, generator=self.minibatch_generator).to(self.device)
            for start in range(0, self.batch_frames, config["minibatch_size"]):
                index = order[start:start + config["minibatch_size"]]
                output = self.agent(images[index], directions[index])
                log_probs = output.action_logits.gather(1, actions[index, None]).squeeze(1)
                ratio = torch.exp(log_probs - old_log_probs[index])
                clipped_ratio = torch.clamp(ratio, 1 - config["clip"], 1 + config["clip"])
                advantage = advantages[index]
                loss_policy = -torch.min(ratio * advantage, clipped_ratio * advantage).mean()
                clipped_value = old_values[index] + torch.clamp(
                    output.value - old_values[index], -config["clip"], config["clip"])
                loss_value = torch.max((output.value - returns[index]) ** 2,
                                       (clipped_value - returns[index]) ** 2).mean()
                policy_entropy = entropy(output.action_logits.exp()).mean()
                batch = RouterBatch(output.alpha, output.log_alpha, output.expert_logits,
                                    prev_alphas[index], episode_starts[index])
                terms = {
                    "policy": loss_policy,
                    "value": config["value_coef"] * loss_value,
                    "policy_entropy": -config["policy_entropy_coef"] * policy_entropy,
                    "router_entropy": weights["router_entropy"] * router_entropy(output.alpha, output.log_alpha),
                }
                for name in self.corrections:
                    if weights[name]:
                        terms[name] = weights[name] * correction_loss(name, config["corrections"][name], batch)
                    else:
                        terms[name] = torch.zeros(())
                loss = sum(terms.values())
                if not torch.isfinite(loss):
                    raise NonFiniteLoss(f"non-finite loss {loss.item()} at update {self.update_index + 1}")
                self.optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(self.agent.parameters(), config["max_grad_norm"])
                self.optimizer.step()
                # Summed as tensors: one device-to-host transfer per update, not per minibatch.
                for name, value in terms.items():
                    sums[f"loss_{name}"] = sums.get(f"loss_{name}", 0.0) + value.detach()
                sums["policy_entropy"] = sums.get("policy_entropy", 0.0) + policy_entropy.detach()
                count += 1
        return {key: float(total) / count for key, total in sums.items()}

    def rollout_statistics(self) -> dict:
        alphas = self.alphas.reshape(-1, self.alphas.shape[-1])
        usage = alphas.mean(0)
        statistics = {
            "router_entropy": float(entropy(alphas).mean()),
            "marginal_router_entropy": float(entropy(usage)),
            "switch_rate": switch_rate(self.alphas.argmax(-1), self.episode_starts),
        }
        statistics.update({f"usage_expert_{k}": float(u) for k, u in enumerate(usage)})
        return statistics

    def train_one_update(self) -> dict:
        started, cpu_started = time.perf_counter(), time.process_time()
        phase = phase_at(self.config["phases"], self.update_index / self.num_updates)
        rollout = self.collect_rollout()
        rollout_seconds = time.perf_counter() - started
        advantages, returns = self.advantages()
        losses = self.ppo_update(advantages, returns, phase)
        elapsed = time.perf_counter() - started
        self.update_index += 1
        returns_done = rollout["returns"]
        row = {
            "update": self.update_index,
            "frames": self.update_index * self.batch_frames,
            "phase": phase,
            "fps": self.batch_frames / elapsed,
            "return_mean": float(np.mean(returns_done)) if returns_done else float("nan"),
            "success_rate": float(np.mean(np.asarray(returns_done) > 0)) if returns_done else float("nan"),
            "episode_length": float(np.mean(rollout["lengths"])) if returns_done else float("nan"),
            **self.rollout_statistics(),
            **losses,
            "seconds_env": rollout["env_seconds"],
            "seconds_inference": rollout_seconds - rollout["env_seconds"],
            "seconds_update": elapsed - rollout_seconds,
            # CPU time of the whole process for this update: what a run costs on a shared machine.
            "seconds_cpu": time.process_time() - cpu_started,
        }
        self.metrics_rows.append(row)
        return row

    # -- the whole run ----------------------------------------------------------------

    def run(self, progress) -> str:
        """Train the remaining updates; 'finished', or 'diverged' on a non-finite loss."""
        interval = self.config["checkpoint"]["interval_updates"]
        while self.update_index < self.num_updates:
            try:
                row = self.train_one_update()
            except NonFiniteLoss as error:
                progress.write(f"stopping: {error}; keeping the last good checkpoint")
                return "diverged"
            write_metrics(self.out_dir / "metrics.csv", self.metrics_rows)
            progress.update(row)
            if self.update_index % interval == 0 or self.update_index == self.num_updates:
                ckpt.save(self.out_dir, self.checkpoint_state())
        return "finished"

    def checkpoint_state(self) -> dict:
        return {
            "model": self.agent.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "update_index": self.update_index,
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if self.device.type == "cuda" else [],
            "minibatch_rng": self.minibatch_generator.get_state(),
            "next_image": self.next_image.cpu(),
            "next_direction": self.next_direction.cpu(),
            "next_episode_start": self.next_episode_start.cpu(),
            "last_alpha": self.last_alpha.cpu(),
            "metrics_rows": self.metrics_rows,
            "record": self.record,  # identifies the run when Snakemake has deleted config.yaml
            # Not tensors: pickled, and read back only from this run's own directory.
            "pickled": {"envs": self.envs, "numpy_rng": np.random.get_state(),
                        "episode_return": self.episode_return, "episode_length": self.episode_length},
        }

    def load_checkpoint_state(self, state: dict) -> None:
        if not isinstance(state["pickled"]["envs"], EnvBatch):
            raise ckpt.CheckpointError(
                f"the checkpoint in {self.out_dir} holds its environments as "
                f"{type(state['pickled']['envs']).__name__}, from an older version of the trainer; "
                "delete checkpoint.pt and checkpoint.prev.pt there to start this run over")
        self.agent.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.update_index = state["update_index"]
        torch.set_rng_state(state["torch_rng"])
        if self.device.type == "cuda" and state["cuda_rng"]:
            torch.cuda.set_rng_state_all(state["cuda_rng"])
        self.minibatch_generator.set_state(state["minibatch_rng"])
        self.next_image = state["next_image"].to(self.device)
        self.next_direction = state["next_direction"].to(self.device)
        self.next_episode_start = state["next_episode_start"].to(self.device)
        self.last_alpha = state["last_alpha"].to(self.device)
        self.metrics_rows = state["metrics_rows"]
        pickled = state["pickled"]
        self.envs.close()
        self.envs = pickled["envs"]
        np.random.set_state(pickled["numpy_rng"])
        self.episode_return, self.episode_length = pickled["episode_return"], pickled["episode_length"]


def write_metrics(path: Path, rows: list[dict]) -> None:
    """Rewrite the whole CSV atomically: a kill never leaves a half-written row."""
    import pandas as pd

    columns = list(rows[0])
    ckpt.atomic_write_text(path, pd.DataFrame(rows, columns=columns).to_csv(index=False))


class Progress:
    """A tqdm bar on a terminal, a plain log line per few updates otherwise."""

    def __init__(self, total: int, initial: int, description: str):
        self.bar = None
        self.total = total
        if sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=initial, desc=description, unit="update")
        self.log_every = max(1, total // 20)

    def update(self, row: dict) -> None:
        summary = (f"update {row['update']}/{self.total} frames {row['frames']} phase {row['phase']} "
                   f"return {row['return_mean']:.3f} router_entropy {row['router_entropy']:.3f} "
                   f"fps {row['fps']:.0f}")
        if self.bar is not None:
            self.bar.set_postfix(ret=f"{row['return_mean']:.2f}", H_alpha=f"{row['router_entropy']:.2f}",
                                 fps=f"{row['fps']:.0f}")
            self.bar.update(1)
        elif row["update"] % self.log_every == 0 or row["update"] == self.total:
            print(summary, file=sys.stderr, flush=True)

    def write(self, message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def train(env_id: str, variant: str, seed: int, frames: int, out_dir: str | Path,
          config_file: str | None = None, assignments: list[str] = ()) -> dict:
    """Train (or resume) one run into `out_dir` and return its final evaluation."""
    config = resolve(config_file, assignments)
    torch.set_num_threads(config["threads"])
    out_dir = Path(out_dir)
    trainer = Trainer(env_id, variant, seed, frames, config, out_dir)  # validates before anything is written
    trainer.record = run_record(config, trainer.device, env_id=env_id, variant=variant, seed=seed, frames=frames)
    state = ckpt.load_latest(out_dir)
    if state is not None and not (out_dir / "config.yaml").exists():
        # No config.yaml: its job was rerun by Snakemake, which deleted its outputs. A
        # checkpoint of other settings is left over from before the change: start afresh.
        stale = ckpt.run_difference(state.get("record"), trainer.record)
        if stale:
            print(f"warning: discarding the checkpoint in {out_dir}, made with other settings ({stale})",
                  file=sys.stderr, flush=True)
            ckpt.remove(out_dir)
            state = None
    ckpt.claim_run_directory(out_dir, trainer.record, state)
    if state is not None:
        trainer.load_checkpoint_state(state)
        print(f"resuming {out_dir} from update {trainer.update_index}", file=sys.stderr, flush=True)
    progress = Progress(trainer.num_updates, trainer.update_index, f"{env_id} {variant} s{seed}")
    try:
        status = trainer.run(progress)
    finally:
        progress.close()
        trainer.envs.close()
    if status == "finished":
        evaluation, episode_rows = evaluate(
            trainer.agent, env_id, config["eval"]["episodes"], seed_base=config["eval"]["seed_offset"] + seed * 1000,
            greedy=config["eval"]["greedy"], device=trainer.device)
        if episode_rows:
            import pandas as pd

            ckpt.atomic_write_text(out_dir / "eval_episode.csv", pd.DataFrame(episode_rows).to_csv(index=False))
    else:
        evaluation = {key: None for key in ("return_mean", "success_rate", "router_entropy",
                                            "marginal_router_entropy", "switch_rate", "intent_nmi")}
    final = {"status": status, "frames": trainer.update_index * trainer.batch_frames,
             "episodes": config["eval"]["episodes"], "greedy": config["eval"]["greedy"],
             "num_experts": config["model"]["num_experts"], **evaluation}
    ckpt.atomic_write_text(out_dir / "final.json", json.dumps(final, indent=2, allow_nan=False) + "\n")
    if status == "finished" and not config["checkpoint"]["keep_after_finish"]:
        ckpt.remove(out_dir)
    return final


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="moe-train", description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--env", required=True, help="gymnasium MiniGrid id, e.g. MultiIntent-KeyDoor-6x6-v0")
    parser.add_argument("--variant", default="baseline", help="baseline or +-joined corrections, e.g. entropy_min+temporal")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--frames", type=int, required=True, help="training frames (rounded up to whole updates)")
    parser.add_argument("--out", required=True, help="run directory")
    parser.add_argument("--config", help="YAML file overriding moe/default_config.yaml")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="assignments",
                        help="override one config key (dotted), repeatable")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        final = train(args.env, args.variant, args.seed, args.frames, args.out, args.config, args.assignments)
    except (ConfigError, ckpt.CheckpointError) as error:
        print(f"moe-train: error: {error}", file=sys.stderr)
        return 2
    print(json.dumps(final))
    return 0 if final["status"] == "finished" else 3


if __name__ == "__main__":
    sys.exit(main())

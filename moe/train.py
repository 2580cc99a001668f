"""Train one MoE-PPO agent: `moe-train --env ID --variant V --seed N --frames N --out DIR`.

The run's lifecycle around the algorithm in `moe/ppo.py`: configuration,
checkpoints and resume, the optional shared warm-up, progress, the final
evaluation, and what finishing writes. A run directory ends with `config.yaml`,
`metrics.csv`, `eval_episode.csv` and, written last, `final.json`; a run killed
at any moment and started again with the same command resumes from its
checkpoint and ends with the same files (apart from wall-clock columns).

Shared warm-up: corrections act from the second phase on, so every variant of a
seed trains the same first phase, bit for bit. `--warmup-only` trains just that
phase into its own directory (`warmup.json` marks it done); `--from-warmup DIR`
starts a run from it. The result equals an uninterrupted run's.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from moe import checkpoint as ckpt
from moe.config import phase_at, phase_config, resolve, resolve_device
from moe.corrections import CORRECTIONS
from moe.environments import EnvBatch, check_env_id, observation_tensors
from moe.errors import CheckpointError, ConfigError
from moe.evaluate import SUMMARY_KEYS, evaluate
from moe.model import MAX_INTENT_LABELS, build_agent
from moe.ppo import (
    NonFiniteLoss,
    RolloutCarry,
    StepInputs,
    collect_rollout,
    compute_advantages,
    episode_statistics,
    loss_weights,
    ppo_update,
    rollout_statistics,
)
from moe.provenance import run_record
from moe.variants import BASELINE, parse_variant
from moe.warmup import (
    SETTLE_STATISTICS,
    SMOOTHING_UPDATES,
    WARMUP_MARKER,
    first_reaching,
    first_settled,
    warmup_signature,
    warmup_updates,
)

# Wall-clock columns: the only ones that differ between two runs with the same seed.
TIMING_COLUMNS = ["fps", "seconds_env", "seconds_inference", "seconds_update", "seconds_cpu"]


class Trainer:
    """The state of one run: agent, optimizer, environments, random generators, metrics so far."""

    def __init__(self, env_id: str, variant: str, seed: int, frames: int, config: dict, out_dir: Path):
        if frames < 1:
            raise ConfigError(f"--frames must be positive, got {frames}")
        check_env_id(env_id)
        self.env_id, self.variant, self.seed, self.config, self.out_dir = env_id, variant, seed, config, out_dir
        try:
            self.active_corrections = parse_variant(variant, list(config["corrections"]))
        except ValueError as error:
            raise ConfigError(str(error)) from None
        self.batch_frames = config["num_envs"] * config["rollout_steps"]
        self.planned_updates = math.ceil(frames / self.batch_frames)
        self.planned_first_phase = warmup_updates(config, frames)

        torch.manual_seed(seed)
        np.random.seed(seed)
        self.device = resolve_device(config["device"])
        self.envs = EnvBatch(env_id, config["num_envs"])
        num_actions = int(self.envs.action_space.n)
        view_size = self.envs.observation_space["image"].shape[0]
        if config["model"]["experts"] == "encoders":
            for name in self.active_corrections:
                if name == "overlap":
                    raise ConfigError("variant overlap: it charges the overlap of the experts' policies, and "
                                      "experts as encoders (model.experts: encoders) have none of their own")
                if config["model"]["router"] == "task":
                    raise ConfigError(f"variant {variant}: MOORE's linear task weights are no distribution for "
                                      f"{name} to act on (model.router: task)")
        try:
            self.agent = build_agent(config["model"], num_actions, view_size, len(self.envs.intents)).to(self.device)
        except ValueError as error:  # a form that this task cannot feed (e.g. a task router without labels)
            raise ConfigError(f"config key model: {error}") from None
        # fused: one kernel for all parameters, 3-4x faster than Adam's per-tensor loop on
        # a model this small; the same update rule, rounded differently in the last bit.
        self.optimizer = torch.optim.Adam(self.agent.parameters(), lr=config["lr"], eps=config["adam_eps"],
                                          fused=True)
        self.minibatch_generator = torch.Generator().manual_seed(seed)

        self.record: dict | None = None  # the run's config.yaml content, set by train()
        self.update_index = 0
        self.metrics_rows: list[dict] = []
        num_envs, experts = config["num_envs"], config["model"]["num_experts"]
        if config["model"]["intent_input"] and len(self.envs.intents) > MAX_INTENT_LABELS:
            raise ConfigError(f"config key model.intent_input: {env_id} has {len(self.envs.intents)} intent labels, "
                              f"more than the embedding's {MAX_INTENT_LABELS}")
        for router in self.routers():  # the run's, and any a phase sets
            if router in ("oracle", "supervised") and not self.envs.intents:
                raise ConfigError(f"config key model.router: the {router} router needs a task with intent labels; "
                                  f"{env_id} has none")
            if router in ("oracle", "supervised") and len(self.envs.intents) > experts:
                raise ConfigError(f"config key model.router: the {router} router needs one expert per intent, but "
                                  f"{env_id} has {len(self.envs.intents)} intent labels and model.num_experts is "
                                  f"{experts}")
        image, direction, intent = observation_tensors(
            self.envs.reset([seed * 1000 + i for i in range(num_envs)]), self.device)
        self.carry = RolloutCarry(image, direction, intent, torch.ones(num_envs, dtype=torch.bool, device=self.device),
                                  torch.full((num_envs, experts), 1.0 / experts, device=self.device),
                                  np.zeros(num_envs), np.zeros(num_envs, dtype=np.int64))
        self.warnings = self.idle_corrections()

    def routers(self) -> list[str]:
        """The routers the run uses: `model.router`, and those its phases set."""
        return [self.config["model"]["router"],
                *(phase["set"]["model"]["router"] for phase in self.config["phases"]
                  if "router" in phase.get("set", {}).get("model", {}))]

    def first_phase_updates(self) -> int:
        """The first phase's length: as planned, or shorter once its return gate (`until_return`) fired.

        Decided by the training returns recorded so far, so a resumed run, or one
        started from a shared warm-up, finds the same boundary."""
        until_return = self.config["phases"][0].get("until_return")
        if until_return is not None:
            returns = [row["return_mean"] for row in self.metrics_rows[:self.planned_first_phase]]
            learned = first_reaching(returns, until_return)
            if learned is not None:
                return learned
        return self.planned_first_phase

    def settled_update(self) -> int | None:
        """The update after which the last phase ended because the router settled (`until_settled`), or None.

        Decided by the router statistics recorded so far, so a resumed run finds the same end."""
        phases = self.config["phases"]
        rule = phases[-1].get("until_settled")
        if rule is None:
            return None
        last = [row for row in self.metrics_rows if row["phase"] == phases[-1]["name"]]
        settled = first_settled(last, rule["window"], rule.get("min_updates", 1),
                                **{name: rule[name] for name in SETTLE_STATISTICS})
        return None if settled is None else len(self.metrics_rows) - len(last) + settled

    @property
    def num_updates(self) -> int:
        """The run's length: the planned updates, less what an early end of the first phase saved, or
        up to the update at which the last phase settled."""
        settled = self.settled_update()
        if settled is not None:
            return settled
        return self.planned_updates - (self.planned_first_phase - self.first_phase_updates())

    def phase(self, update_index: int) -> str:
        first_phase = self.first_phase_updates()
        if update_index >= first_phase:  # the later phases keep their planned lengths
            update_index += self.planned_first_phase - first_phase
        return phase_at(self.config["phases"], update_index / self.planned_updates)

    def idle_corrections(self) -> list[str]:
        """A warning for each of the variant's corrections that no planned update would run."""
        planned = {self.phase(index) for index in range(self.planned_updates)}
        return [f"correction {name} acts in phases {self.config['corrections'][name]['phases']}, but this run of "
                f"{self.planned_updates} updates has no update in them (its phases: {sorted(planned)}): "
                f"{self.variant} trains as the baseline"
                for name in self.active_corrections if not planned & set(self.config["corrections"][name]["phases"])]

    def train_one_update(self) -> dict:
        started, cpu_started = time.perf_counter(), time.process_time()
        phase = self.phase(self.update_index)
        config = phase_config(self.config, phase)
        self.agent.router = config["model"]["router"]  # a phase may hand routing to another router
        rollout, self.carry = collect_rollout(self.agent, self.envs, self.carry, config["rollout_steps"],
                                              self.device)
        rollout_seconds = time.perf_counter() - started
        advantages, returns = compute_advantages(self.agent, rollout, self.carry, config["gamma"],
                                                 config["gae_lambda"])
        weights = loss_weights(config, self.active_corrections, phase, self.update_index / self.planned_updates)
        try:
            losses = ppo_update(self.agent, self.optimizer, rollout, advantages, returns, weights, config,
                                self.minibatch_generator)
        except NonFiniteLoss as error:
            raise NonFiniteLoss(f"{error} at update {self.update_index + 1}") from None
        with torch.no_grad():
            for name in self.active_corrections:
                rule = CORRECTIONS[name].after_update
                if rule is not None and weights[name]:
                    rule(self.agent, rollout.alphas, weights[name])
        elapsed = time.perf_counter() - started
        self.update_index += 1
        row = {
            "update": self.update_index,
            "frames": self.update_index * self.batch_frames,
            "phase": phase,
            "fps": self.batch_frames / elapsed,
            **episode_statistics(rollout),
            **rollout_statistics(rollout),
            **losses,
            "seconds_env": rollout.env_seconds,
            "seconds_inference": rollout_seconds - rollout.env_seconds,
            "seconds_update": elapsed - rollout_seconds,
            # CPU time of the whole process for this update: what a run costs on a shared machine.
            "seconds_cpu": time.process_time() - cpu_started,
        }
        self.metrics_rows.append(row)
        return row

    def end_update(self, first_phase_only: bool) -> int:
        return self.first_phase_updates() if first_phase_only else self.num_updates

    def run(self, progress, first_phase_only: bool = False) -> str:
        """Train to the end of the run (or of its first phase); 'finished', or 'diverged' on a non-finite loss."""
        interval = self.config["checkpoint"]["interval_updates"]
        end = self.end_update(first_phase_only)
        while self.update_index < end:
            try:
                row = self.train_one_update()
            except NonFiniteLoss as error:
                progress.write(f"stopping: {error}; keeping the last good checkpoint")
                return "diverged"
            write_metrics(self.out_dir / "metrics.csv", self.metrics_rows)
            planned, end = end, self.end_update(first_phase_only)
            if end != planned and end == self.settled_update():
                rule = self.config["phases"][-1]["until_settled"]
                progress.write(f"the last phase ends at update {self.update_index}: the router settled ("
                               + ", ".join(f"{name} moved by at most {rule[name]}" for name in SETTLE_STATISTICS)
                               + f" over the phase's last {rule['window']} updates)")
            elif end != planned:  # the return gate fired at this update: the first phase ends here
                progress.write(f"the first phase ends at update {self.update_index}: the mean return of its last "
                               f"{SMOOTHING_UPDATES} updates reached {self.config['phases'][0]['until_return']}; "
                               f"the run ends at update {self.num_updates}")
            progress.update(row, total=end)
            if self.update_index % interval == 0 or self.update_index == end:
                ckpt.save(self.out_dir, self.checkpoint_state())
        return "finished"

    def checkpoint_state(self) -> dict:
        carry = self.carry
        return {
            "model": self.agent.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "update_index": self.update_index,
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if self.device.type == "cuda" else [],
            "minibatch_rng": self.minibatch_generator.get_state(),
            "next_image": carry.image.cpu(),
            "next_direction": carry.direction.cpu(),
            "next_intent": carry.intent.cpu(),
            "next_episode_start": carry.episode_start.cpu(),
            "last_alpha": carry.alpha.cpu(),
            "last_inputs": None if carry.last_inputs is None else asdict(carry.last_inputs.map(torch.Tensor.cpu)),
            "metrics_rows": self.metrics_rows,
            "record": self.record,  # identifies the run when Snakemake has deleted config.yaml
            # Not tensors: pickled, and read back only from this run's own directory.
            "pickled": {"envs": self.envs, "numpy_rng": np.random.get_state(),
                        "episode_return": carry.episode_return, "episode_length": carry.episode_length},
        }

    def load_checkpoint_state(self, state: dict) -> None:
        if not isinstance(state["pickled"]["envs"], EnvBatch) or "next_intent" not in state:
            raise CheckpointError(
                f"the checkpoint in {self.out_dir} holds its environments as "
                f"{type(state['pickled']['envs']).__name__} and no intents, from an older version of the trainer; "
                "delete checkpoint.pt and checkpoint.prev.pt there to start this run over")
        self.agent.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.update_index = state["update_index"]
        torch.set_rng_state(state["torch_rng"])
        if self.device.type == "cuda" and state["cuda_rng"]:
            torch.cuda.set_rng_state_all(state["cuda_rng"])
        self.minibatch_generator.set_state(state["minibatch_rng"])
        self.metrics_rows = state["metrics_rows"]
        pickled = state["pickled"]
        self.envs.close()
        self.envs = pickled["envs"]
        np.random.set_state(pickled["numpy_rng"])
        last_inputs = state["last_inputs"]
        self.carry = RolloutCarry(state["next_image"].to(self.device), state["next_direction"].to(self.device),
                                  state["next_intent"].to(self.device), state["next_episode_start"].to(self.device),
                                  state["last_alpha"].to(self.device), pickled["episode_return"],
                                  pickled["episode_length"],
                                  None if last_inputs is None else StepInputs(**last_inputs).map(
                                      lambda tensor: tensor.to(self.device)))


def write_metrics(path: Path, rows: list[dict]) -> None:
    """Rewrite the whole CSV atomically: a kill never leaves a half-written row."""
    import pandas as pd

    columns = list(rows[0]) if rows else ["update", "frames", "phase"]
    ckpt.atomic_write_text(path, pd.DataFrame(rows, columns=columns).to_csv(index=False))


class Progress:
    """A tqdm bar on a terminal, a plain log line per few updates otherwise; TensorBoard scalars if asked."""

    def __init__(self, total: int, initial: int, description: str, tensorboard_dir: Path | None = None):
        self.bar = None
        self.total = total
        if sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=initial, desc=description, unit="update")
        self.log_every = max(1, total // 20)
        self.writer = None
        if tensorboard_dir is not None:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                raise ConfigError("config key tensorboard: true needs the tensorboard package "
                                  "(pip install -e '.[tensorboard]')") from None
            # purge_step: after a resume, events past the checkpoint are dropped, not duplicated.
            self.writer = SummaryWriter(str(tensorboard_dir), purge_step=initial + 1)

    def update(self, row: dict, total: int) -> None:
        if total != self.total:  # the first phase ended early
            self.total = total
            if self.bar is not None:
                self.bar.total = total
        if self.writer is not None:
            for key, value in row.items():
                if key not in ("update", "frames", "phase") and isinstance(value, (int, float)) \
                        and math.isfinite(value):
                    self.writer.add_scalar(key, value, global_step=row["frames"])
        if self.bar is not None:
            self.bar.set_postfix(ret=f"{row['return_mean']:.2f}", H_alpha=f"{row['router_entropy']:.2f}",
                                 fps=f"{row['fps']:.0f}")
            self.bar.update(1)
        elif row["update"] % self.log_every == 0 or row["update"] == self.total:
            print(f"update {row['update']}/{self.total} frames {row['frames']} phase {row['phase']} "
                  f"return {row['return_mean']:.3f} router_entropy {row['router_entropy']:.3f} "
                  f"fps {row['fps']:.0f}", file=sys.stderr, flush=True)

    def write(self, message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        if self.writer is not None:
            self.writer.close()


def made_with(device: torch.device) -> dict:
    """What else decides a warm-up's numbers: the torch build and the device it ran on."""
    return {"torch": torch.__version__, "device": device.type}


def load_warmup(warmup_dir: Path, signature: dict, device: torch.device) -> dict:
    """The latest checkpoint of a finished warm-up, after checking that it is this run's, made alike."""
    marker = warmup_dir / WARMUP_MARKER
    try:
        content = json.loads(marker.read_text())
        recorded, recorded_with = content["signature"], content["made_with"]
    except (OSError, ValueError, KeyError):
        raise CheckpointError(f"{warmup_dir} holds no finished warm-up ({WARMUP_MARKER} missing or unreadable); "
                              "train it first with --warmup-only") from None
    if recorded != signature:
        difference = ckpt.first_difference(recorded, signature, "warm-up")
        raise CheckpointError(f"the warm-up in {warmup_dir} is not this run's ({difference})")
    if recorded_with != made_with(device):
        raise CheckpointError(f"the warm-up in {warmup_dir} was made with {recorded_with}, this run uses "
                              f"{made_with(device)}: its numbers would differ; delete it to train it again")
    state = ckpt.load_latest(warmup_dir)
    if state is None:
        raise CheckpointError(f"the warm-up in {warmup_dir} has no checkpoint left; train it again")
    return state


def train(env_id: str, variant: str, seed: int, frames: int, out_dir: str | Path,
          config_file: str | None = None, assignments: list[str] = (), warmup_only: bool = False,
          from_warmup: str | Path | None = None) -> dict:
    """Train (or resume) one run into `out_dir`; return final.json's content (or warmup.json's)."""
    config = resolve(config_file, assignments)
    torch.set_num_threads(config["threads"])
    out_dir = Path(out_dir)
    trainer = Trainer(env_id, variant, seed, frames, config, out_dir)  # validates before anything is written
    # After set_num_threads: the record names the CPU and the threads this run computes with.
    trainer.record = run_record(config, trainer.device, env_id=env_id, variant=variant, seed=seed, frames=frames)
    signature = warmup_signature(config, env_id, variant, seed, frames)
    if warmup_only:
        trainer.record["run"]["warmup_only"] = True
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
    resumed = state is not None
    if state is None and from_warmup is not None:
        state = load_warmup(Path(from_warmup), signature, trainer.device)
        state["record"] = trainer.record  # from here on, the state is this run's
        print(f"starting {out_dir} from the warm-up in {from_warmup}", file=sys.stderr, flush=True)
    ckpt.claim_run_directory(out_dir, trainer.record, state)
    if state is not None:
        trainer.load_checkpoint_state(state)
        if resumed:
            print(f"resuming {out_dir} from update {trainer.update_index}", file=sys.stderr, flush=True)
    for warning in trainer.warnings:
        print(f"moe-train: warning: {warning}", file=sys.stderr, flush=True)
    progress = Progress(trainer.end_update(warmup_only), trainer.update_index, f"{env_id} {variant} s{seed}",
                        out_dir / "tensorboard" if config["tensorboard"] else None)
    try:
        status = trainer.run(progress, first_phase_only=warmup_only)
    finally:
        progress.close()
    return finish(trainer, status, signature if warmup_only else None)


def finish(trainer: Trainer, status: str, warmup_signature: dict | None) -> dict:
    """Write every output of a run from its trained state, whatever an earlier, killed attempt wrote.

    Called after the last update, and equally after resuming from a checkpoint of the
    last update, so a kill at any point of finishing loses nothing: each file is
    rewritten atomically, the marker of a finished run last.
    """
    out_dir, config = trainer.out_dir, trainer.config
    write_metrics(out_dir / "metrics.csv", trainer.metrics_rows)
    if warmup_signature is not None:
        trainer.envs.close()
        if status == "finished":
            ckpt.save(out_dir, trainer.checkpoint_state())  # the state every variant starts from
        # A diverged warm-up keeps its last good checkpoint: each run started from it
        # diverges at the same update, as it would have without the split.
        marker = {"status": status, "signature": warmup_signature, "made_with": made_with(trainer.device),
                  "updates": trainer.update_index,
                  "frames": trainer.update_index * trainer.batch_frames}
        ckpt.atomic_write_text(out_dir / WARMUP_MARKER, json.dumps(marker, indent=2) + "\n")
        return marker
    trainer.envs.close()
    episode_rows = []
    # The router of the last phase trained routes the evaluation (set by each update, and here too for a
    # run resumed from the checkpoint of its last update, which trains no update).
    trainer.agent.router = phase_config(config, trainer.phase(max(trainer.update_index - 1, 0)))["model"]["router"]
    if status == "finished":
        evaluation, episode_rows = evaluate(
            trainer.agent, trainer.env_id, config["eval"]["episodes"],
            seed_base=config["eval"]["seed_offset"] + trainer.seed * 1000, greedy=config["eval"]["greedy"],
            device=trainer.device)
    else:
        evaluation = dict.fromkeys(SUMMARY_KEYS)
    import pandas as pd

    ckpt.atomic_write_text(out_dir / "eval_episode.csv",
                           pd.DataFrame(episode_rows, columns=None if episode_rows else ["step", "intent"])
                           .to_csv(index=False))
    settled = trainer.settled_update()
    rule = config["phases"][-1].get("until_settled")
    # The earliest the rule can end the phase: after max(window, min_updates) of its updates.
    at_minimum = None if settled is None or not rule.get("min_updates") else \
        sum(row["phase"] == config["phases"][-1]["name"] for row in trainer.metrics_rows) \
        == max(rule["window"], rule["min_updates"])
    final = {"status": status, "frames": trainer.update_index * trainer.batch_frames,
             "episodes": config["eval"]["episodes"], "greedy": config["eval"]["greedy"],
             "num_experts": config["model"]["num_experts"], **_finite(evaluation),
             "settled": None if "until_settled" not in config["phases"][-1] else settled is not None,
             "settled_update": settled, "settled_at_minimum": at_minimum,
             **learning_speed(trainer.metrics_rows), "warnings": trainer.warnings}
    ckpt.atomic_write_text(out_dir / "final.json", json.dumps(final, indent=2, allow_nan=False) + "\n")
    if status == "finished" and not config["checkpoint"]["keep_after_finish"]:
        ckpt.remove(out_dir)
    return final


def learning_speed(rows: list[dict]) -> dict:
    """How fast the run learned, from its training returns (`moe.analysis.curves.sample_efficiency`):
    `return_auc_run` (its time-averaged return, in [0, 1]), `return_auc` (the same over the phases
    after the first) and `frames_to_threshold` (to a trailing mean of RETURN_THRESHOLD; null if never)."""
    import pandas as pd

    from moe.analysis.curves import RETURN_THRESHOLD, sample_efficiency

    speed = sample_efficiency(pd.DataFrame(rows, columns=list(rows[0]) if rows else ["frames", "return_mean"]),
                              RETURN_THRESHOLD)
    return _finite({"return_threshold": RETURN_THRESHOLD, **speed})


def _finite(summary: dict) -> dict:
    """JSON has no NaN: an undefined statistic is null."""
    return {key: None if isinstance(value, float) and not math.isfinite(value) else value
            for key, value in summary.items()}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="moe-train", description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--env", required=True, help="gymnasium MiniGrid id, e.g. MultiIntent-KeyDoor-6x6-v0")
    parser.add_argument("--variant", default=BASELINE,
                        help="baseline or +-joined corrections, e.g. entropy_min+temporal")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--frames", type=int, required=True, help="training frames (rounded up to whole updates)")
    parser.add_argument("--out", required=True, help="run directory")
    parser.add_argument("--config", help="YAML file overriding moe/default_config.yaml")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="assignments",
                        help="override one config key (dotted), repeatable")
    start = parser.add_mutually_exclusive_group()
    start.add_argument("--warmup-only", action="store_true",
                       help="train only the first phase, shared by every variant of this seed, and stop")
    start.add_argument("--from-warmup", metavar="DIR",
                       help="start from the warm-up trained in DIR (same result as training it here)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        final = train(args.env, args.variant, args.seed, args.frames, args.out, args.config, args.assignments,
                      warmup_only=args.warmup_only, from_warmup=args.from_warmup)
    except (ConfigError, CheckpointError) as error:
        print(f"moe-train: error: {error}", file=sys.stderr)
        return 2
    print(json.dumps(final))
    if final["status"] == "diverged":  # an outcome the tables report, not an error of the command
        print("moe-train: the run diverged; final.json says so", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

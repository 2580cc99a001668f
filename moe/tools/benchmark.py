"""Throughput benchmark: `python -m moe.tools.benchmark` (add `--help` for the options).

Measures, in one invocation, frames per second of

- `reference`: torch-ac's `PPOAlgo` (PyPI `torch-ac`, in the `bench` extra) with
  the rl-starter-files CNN actor-critic (no memory, no text), `--num-envs`
  environment processes (default 16) x `--rollout-steps` frames (default 128),
  4 epochs, minibatch 256, lr 1e-3; every process on one torch thread, so it
  uses all the machine's cores through its environment processes;
- `gat`, `cnn`: our `moe.train.Trainer`, one process and one torch thread, the
  same environment, frames per update, epochs and minibatch, for the default GAT
  MoE agent and the CNN MoE agent;
- `raw_env`: the bare gymnasium environment (MiniGrid's own code, as the
  reference steps it) with random actions, one process, resetting when an
  episode ends;
- `our_env`: the same, for the environment as our trainer builds it
  (`moe.environments.make_env`: observations from `envs.view`, bit for bit
  MiniGrid's, at several times the speed).

Each measurement runs in its own fresh subprocess (so its peak RSS is its own):
one untimed warm-up update, then `--updates` timed updates (`raw_env`, `our_env`:
as many steps as a contender's timed updates hold). Rounds alternate reference,
gat, cnn, raw_env, our_env and repeat `--repeats` times, so drift of a shared
machine falls on every contender alike; the summary is the median over repeats.

The printed table and the CSV (default `results/benchmarks/throughput-<date>.csv`)
carry, per contender: frames/s (median, min, max), the ratio to the reference's
median, the time split of a training update into environment stepping, rollout
inference and PPO update (fractions of the timed wall time), the fraction of raw
environment speed reached, and the peak resident set size of the measured
process (for the reference: its learner process; its environment workers are
separate processes). The CSV has one row per contender per repeat, columns
`COLUMNS` below; the `*_median`, `fps_min`, `fps_max`, `ratio_vs_reference`,
`fraction_of_raw_env`, `round_ratio_min`, `round_ratio_max` (the lowest and
highest ratio of one round to the reference of the same round), `target_ratio`
and `meets_target` columns repeat the contender's summary on each of its rows
(empty where they do not apply, e.g. every ratio with `--skip-reference`).

For our agents it also counts the floating-point operations of one update
(`torch.utils.flop_counter`: matrix products, attention, convolutions, forward
and backward) and measures this thread's rate on a 1024^3 fp32 matrix product:
`floor` is the fraction of that arithmetic floor the update reaches (floor time
over measured update time), so a reader sees how close to the limit the code is
and whether a model is bound by arithmetic or by per-operation overhead.

Targets (issue): gat >= 1.0x and cnn >= 2.0x the reference's frames/s, and every
one of our training processes under 600 MB peak RSS.
"""

from __future__ import annotations

import argparse
import csv
import datetime as _datetime
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

# Kept free of torch imports: the parent only orchestrates, so it stays small and
# the children it starts do not inherit a large address space.

CONTENDERS = ["reference", "gat", "cnn", "raw_env", "our_env"]
ENV_ONLY = ("raw_env", "our_env")
#: Our contenders: the trainer's --set overrides of each.
OURS = {"gat": [], "cnn": ["model.encoder=cnn"]}
TARGET_RATIO = {"gat": 1.0, "cnn": 2.0}
RSS_LIMIT_MB = 600.0
RESULT_PREFIX = "BENCHMARK_RESULT "

COLUMNS = [
    # what was measured
    "date", "host", "cpu", "cpu_count", "torch_version", "env", "contender", "repeat",
    "num_envs", "rollout_steps", "frames_per_update", "updates", "frames", "seconds", "fps",
    # time split of the timed updates (seconds, then fractions of `seconds`)
    "seconds_env", "seconds_inference", "seconds_update", "share_env", "share_inference", "share_update",
    "peak_rss_mb", "cpu_seconds", "fps_per_cpu", "load_average",
    # arithmetic: FLOPs of one PPO update, this thread's GEMM rate, fraction of the floor reached
    "gflop_per_update", "gemm_gflops", "floor_fraction",
    # the contender's summary over repeats, repeated on each of its rows
    "fps_median", "fps_min", "fps_max", "ratio_vs_reference", "fraction_of_raw_env",
    "share_env_median", "share_inference_median", "share_update_median", "peak_rss_mb_max",
    "fps_per_cpu_median", "floor_fraction_median", "round_ratio_min", "round_ratio_max", "target_ratio",
    "meets_target",
]

DEFAULT_ENV = "MiniGrid-DoorKey-5x5-v0"


# -- measurements, each run inside a child process --------------------------------------


def peak_rss_mb() -> float:
    """High-water RSS of this process's address space (VmHWM), in MB (10^6 bytes)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024 / 1e6
    except OSError:
        pass
    import resource

    scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 1e6


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of another process so far (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def _single_thread_torch():
    import torch

    torch.set_num_threads(1)
    return torch


def gemm_gflops(size: int = 1024, repeats: int = 10) -> float:
    """This thread's best rate on a size^3 fp32 matrix product, in GFLOP/s."""
    import torch

    left, right = torch.randn(size, size), torch.randn(size, size)
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        left @ right
        best = min(best, time.perf_counter() - started)
    return 2 * size**3 / best / 1e9


def measure_ours(name: str, env_id: str, num_envs: int, rollout_steps: int, updates: int, seed: int) -> dict:
    """Our trainer, one process, one thread: 1 warm-up update, 1 counted one, then `updates` timed ones."""
    import tempfile

    torch = _single_thread_torch()
    from torch.utils.flop_counter import FlopCounterMode

    from moe.config import resolve
    from moe.train import Trainer

    config = resolve(None, [f"num_envs={num_envs}", f"rollout_steps={rollout_steps}", *OURS[name],
                            "threads=1", "device=cpu"])
    with tempfile.TemporaryDirectory(prefix="moe-benchmark-") as out_dir:  # the trainer writes nothing there
        trainer = Trainer(env_id, "baseline", seed, (updates + 2) * num_envs * rollout_steps, config, Path(out_dir))
        trainer.train_one_update()  # warm-up
        with FlopCounterMode(display=False) as counter:
            trainer.train_one_update()
        split = {"seconds_env": 0.0, "seconds_inference": 0.0, "seconds_update": 0.0}
        cpu_started, started = time.process_time(), time.perf_counter()
        for _ in range(updates):
            row = trainer.train_one_update()
            for key in split:
                split[key] += row[key]
        seconds = time.perf_counter() - started
        cpu_seconds = time.process_time() - cpu_started
    gflop_per_update, gemm = counter.get_total_flops() / 1e9, gemm_gflops()
    return {"frames": updates * trainer.batch_frames, "seconds": seconds, **split, "cpu_seconds": cpu_seconds,
            "peak_rss_mb": peak_rss_mb(), "torch_version": torch.__version__,
            "gflop_per_update": gflop_per_update, "gemm_gflops": gemm,
            "floor_fraction": gflop_per_update / gemm / (seconds / updates)}


def measure_env(env_id: str, steps: int, seed: int, ours: bool) -> dict:
    """The environment alone with random actions: the ceiling for one process.

    `ours`: built as our trainer builds it; otherwise plain `gym.make`.
    """
    import gymnasium as gym
    import minigrid  # noqa: F401  registers the MiniGrid ids
    import numpy as np

    if ours:
        from moe.environments import make_env

        env = make_env(env_id)
    else:
        env = gym.make(env_id)
    env.reset(seed=seed)
    # Python ints: MiniGrid compares actions with IntEnum members, slowly for numpy ints.
    actions = np.random.default_rng(seed).integers(env.action_space.n, size=steps + 200).tolist()
    for action in actions[:200]:  # warm-up
        _, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            env.reset()
    cpu_started, started = time.process_time(), time.perf_counter()
    for action in actions[200:]:
        _, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            env.reset()
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu_started
    env.close()
    # raw_env never imports torch, so its peak RSS is the environment's alone (our_env imports it).
    return {"frames": steps, "seconds": seconds, "cpu_seconds": cpu_seconds, "seconds_env": seconds,
            "seconds_inference": 0.0,
            "seconds_update": 0.0, "peak_rss_mb": peak_rss_mb(), "torch_version": ""}


def _reference_model_class():
    """The rl-starter-files actor-critic without memory or text, as a torch-ac model."""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    import torch_ac
    from torch.distributions import Categorical

    def init_linear(module):
        # rl-starter-files' initialisation: unit-norm Gaussian rows, zero bias.
        if isinstance(module, nn.Linear):
            module.weight.data.normal_(0, 1)
            module.weight.data /= module.weight.data.pow(2).sum(1, keepdim=True).sqrt()
            if module.bias is not None:
                module.bias.data.zero_()

    class StarterACModel(nn.Module, torch_ac.ACModel):
        def __init__(self, image_shape, num_actions: int):
            super().__init__()
            height, width = image_shape[0], image_shape[1]
            self.image_conv = nn.Sequential(
                nn.Conv2d(3, 16, (2, 2)), nn.ReLU(), nn.MaxPool2d((2, 2)),
                nn.Conv2d(16, 32, (2, 2)), nn.ReLU(),
                nn.Conv2d(32, 64, (2, 2)), nn.ReLU(),
            )  # fmt: skip
            embedding = ((height - 1) // 2 - 2) * ((width - 1) // 2 - 2) * 64
            self.actor = nn.Sequential(nn.Linear(embedding, 64), nn.Tanh(), nn.Linear(64, num_actions))
            self.critic = nn.Sequential(nn.Linear(embedding, 64), nn.Tanh(), nn.Linear(64, 1))
            self.apply(init_linear)

        def forward(self, obs):
            # (B, W, H, C) -> (B, C, W, H) as rl-starter-files does it.
            features = self.image_conv(obs.image.transpose(1, 3).transpose(2, 3)).flatten(1)
            dist = Categorical(logits=F.log_softmax(self.actor(features), dim=1))
            return dist, self.critic(features).squeeze(1)

    def preprocess_obss(obss, device=None):
        import numpy as np

        images = np.array([obs["image"] for obs in obss])
        return torch_ac.DictList({"image": torch.tensor(images, device=device, dtype=torch.float)})

    return StarterACModel, preprocess_obss


def measure_reference(env_id: str, num_envs: int, rollout_steps: int, updates: int, seed: int) -> dict:
    """torch-ac PPO as rl-starter-files runs it: `num_envs` env processes plus this learner."""
    os.environ["OMP_NUM_THREADS"] = "1"  # inherited by the forked environment workers
    torch = _single_thread_torch()
    import gymnasium as gym
    import minigrid  # noqa: F401
    import torch_ac  # sets the "fork" start method; only ever imported in this child

    torch.manual_seed(seed)
    import numpy as np

    np.random.seed(seed)
    envs = []
    for index in range(num_envs):
        env = gym.make(env_id)
        env.reset(seed=seed + 10000 * index)
        envs.append(env)
    model_class, preprocess_obss = _reference_model_class()
    model = model_class(envs[0].observation_space["image"].shape, envs[0].action_space.n)
    algo = torch_ac.PPOAlgo(envs, model, torch.device("cpu"), rollout_steps, 0.99, 0.001, 0.95, 0.01, 0.5, 0.5, 1,
                            1e-8, 0.2, 4, 256, preprocess_obss)

    env_seconds = [0.0]
    parallel_step = algo.env.step

    def timed_step(actions):
        started = time.perf_counter()
        result = list(parallel_step(actions))  # the workers answer inside this call
        env_seconds[0] += time.perf_counter() - started
        return result

    algo.env.step = timed_step

    def one_update() -> tuple[float, float]:
        started = time.perf_counter()
        exps, _ = algo.collect_experiences()
        collected = time.perf_counter()
        algo.update_parameters(exps)
        return collected - started, time.perf_counter() - collected

    import multiprocessing

    def cpu_so_far() -> float:  # this learner plus its environment workers
        workers = multiprocessing.active_children()
        return time.process_time() + sum(process_cpu_seconds(worker.pid) for worker in workers)

    one_update()  # warm-up
    env_seconds[0] = 0.0
    collect_total = update_total = 0.0
    cpu_started, started = cpu_so_far(), time.perf_counter()
    for _ in range(updates):
        collect, update = one_update()
        collect_total += collect
        update_total += update
    seconds = time.perf_counter() - started
    cpu_seconds = cpu_so_far() - cpu_started
    return {"frames": updates * num_envs * rollout_steps, "seconds": seconds, "cpu_seconds": cpu_seconds,
            "seconds_env": env_seconds[0],
            "seconds_inference": collect_total - env_seconds[0], "seconds_update": update_total,
            "peak_rss_mb": peak_rss_mb(), "torch_version": torch.__version__}


def run_child(args: argparse.Namespace) -> int:
    if args.child == "reference":
        result = measure_reference(args.env, args.num_envs, args.rollout_steps, args.updates, args.seed)
    elif args.child in OURS:
        result = measure_ours(args.child, args.env, args.num_envs, args.rollout_steps, args.updates, args.seed)
    elif args.child in ENV_ONLY:
        result = measure_env(args.env, args.updates * args.num_envs * args.rollout_steps, args.seed,
                             ours=args.child == "our_env")
    else:
        raise SystemExit(f"unknown contender {args.child!r}")
    print(RESULT_PREFIX + json.dumps(result), flush=True)
    # The reference's environment workers block on their pipes forever, holding this
    # process's stdout open: end them, then leave without waiting on anything else.
    import multiprocessing

    for worker in multiprocessing.active_children():
        worker.terminate()
    for worker in multiprocessing.active_children():
        worker.join(timeout=5)
    sys.stdout.flush()
    os._exit(0)


# -- orchestration, in the parent -----------------------------------------------------


def torch_ac_available() -> bool:
    return importlib.util.find_spec("torch_ac") is not None


def machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"host": platform.node(), "cpu": cpu, "cpu_count": os.cpu_count()}


def run_contender(name: str, args: argparse.Namespace) -> dict:
    command = [sys.executable, "-m", "moe.tools.benchmark", "--child", name, "--env", args.env,
               "--updates", str(args.updates), "--num-envs", str(args.num_envs),
               "--rollout-steps", str(args.rollout_steps), "--seed", str(args.seed)]
    environment = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    completed = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=args.child_timeout)
    for line in reversed(completed.stdout.splitlines()):
        if line.startswith(RESULT_PREFIX):
            return json.loads(line[len(RESULT_PREFIX):])
    raise RuntimeError(f"benchmark of {name} failed (exit {completed.returncode}):\n"
                       f"{completed.stdout[-2000:]}\n{completed.stderr[-4000:]}")


def summarise(rows: list[dict]) -> dict[str, dict]:
    """Per contender: medians over repeats, ratios to the reference and to raw stepping."""
    summary: dict[str, dict] = {}
    for name in CONTENDERS:
        mine = [row for row in rows if row["contender"] == name]
        if not mine:
            continue
        fps = [row["fps"] for row in mine]
        summary[name] = {
            "fps_median": statistics.median(fps), "fps_min": min(fps), "fps_max": max(fps),
            "share_env_median": statistics.median(row["share_env"] for row in mine),
            "share_inference_median": statistics.median(row["share_inference"] for row in mine),
            "share_update_median": statistics.median(row["share_update"] for row in mine),
            "peak_rss_mb_max": max(row["peak_rss_mb"] for row in mine),
            "fps_per_cpu_median": statistics.median(row["fps_per_cpu"] for row in mine),
            "floor_fraction_median": (statistics.median(row["floor_fraction"] for row in mine)
                                      if mine[0].get("floor_fraction") is not None else None),
        }
    reference = summary.get("reference", {}).get("fps_median")
    raw = summary.get("raw_env", {}).get("fps_median")
    reference_by_round = {row["repeat"]: row["fps"] for row in rows if row["contender"] == "reference"}
    for name, entry in summary.items():
        entry["ratio_vs_reference"] = entry["fps_median"] / reference if reference else None
        # Each round's ratio to the reference measured beside it: their spread shows how far
        # one measurement can stray (the 17-process reference is the noisier side).
        round_ratios = [row["fps"] / reference_by_round[row["repeat"]] for row in rows
                        if row["contender"] == name and row["repeat"] in reference_by_round]
        entry["round_ratio_min"] = min(round_ratios) if round_ratios else None
        entry["round_ratio_max"] = max(round_ratios) if round_ratios else None
        entry["fraction_of_raw_env"] = entry["fps_median"] / raw if raw else None
        entry["target_ratio"] = TARGET_RATIO.get(name)
        if name in TARGET_RATIO:
            ratio_ok = entry["ratio_vs_reference"] is not None and entry["ratio_vs_reference"] >= entry["target_ratio"]
            rss_ok = entry["peak_rss_mb_max"] < RSS_LIMIT_MB
            entry["meets_target"] = (ratio_ok and rss_ok) if entry["ratio_vs_reference"] is not None else None
        else:
            entry["meets_target"] = None
    return summary


def _format(value, spec: str, missing: str = "-") -> str:
    return missing if value is None else format(value, spec)


def print_report(header: str, summary: dict[str, dict], args: argparse.Namespace, skipped_reason: str | None,
                 rows_of: dict[str, list[dict]]) -> None:
    print(header)
    if skipped_reason:
        print(skipped_reason)
    titles = ("contender", "fps med", "fps min", "fps max", "vs ref", "env", "infer", "update", "of raw",
              "peak RSS MB", "fps/CPU-s", "floor")
    print("{:<12} {:>8} {:>8} {:>8} {:>7} {:>6} {:>6} {:>7} {:>7} {:>11} {:>9} {:>6}".format(*titles))
    for name, entry in summary.items():
        is_training = name not in ENV_ONLY
        print("{:<12} {:>8.0f} {:>8.0f} {:>8.0f} {:>7} {:>6} {:>6} {:>7} {:>7} {:>11.0f} {:>9.0f} {:>6}".format(
            name, entry["fps_median"], entry["fps_min"], entry["fps_max"],
            _format(entry["ratio_vs_reference"], ".2f") + ("x" if entry["ratio_vs_reference"] is not None else ""),
            _format(entry["share_env_median"] if is_training else None, ".0%"),
            _format(entry["share_inference_median"] if is_training else None, ".0%"),
            _format(entry["share_update_median"] if is_training else None, ".0%"),
            _format(entry["fraction_of_raw_env"], ".2f"), entry["peak_rss_mb_max"], entry["fps_per_cpu_median"],
            _format(entry.get("floor_fraction_median"), ".0%")))
    print("env / infer / update: median shares of the timed wall time spent stepping environments, in rollout "
          "inference (with the rollout's bookkeeping) and in advantages + PPO epochs; of raw: frames/s over raw "
          "single-process stepping of MiniGrid's own env (raw_env); peak RSS: max over repeats of the measured "
          "process (reference: its learner, not its env workers); fps/CPU-s: frames per CPU second of the "
          "measured process(es), reference including its env workers -- less sensitive than frames/s to other "
          "load on the machine; floor: the update's counted FLOPs at this thread's 1024^3 GEMM rate over the "
          "measured time per update (100% = arithmetic-bound at the matrix-product peak).")
    for name in OURS:
        rows = [row for row in rows_of.get(name, []) if row.get("gflop_per_update") is not None]
        if rows:
            print(f"  {name}: {statistics.median(r['gflop_per_update'] for r in rows):.1f} GFLOP per update, "
                  f"GEMM {statistics.median(r['gemm_gflops'] for r in rows):.0f} GFLOP/s, floor "
                  f"{statistics.median(r['gflop_per_update'] / r['gemm_gflops'] for r in rows):.2f} s per update")
    print("targets:")
    for name in TARGET_RATIO:
        if name not in summary:
            continue
        entry = summary[name]
        ratio = entry["ratio_vs_reference"]
        verdict = "n/a (no reference)" if ratio is None else ("PASS" if ratio >= entry["target_ratio"] else "FAIL")
        rounds = ("" if entry["round_ratio_min"] is None else
                  f" (single rounds {entry['round_ratio_min']:.2f}-{entry['round_ratio_max']:.2f}x)")
        print(f"  {name}: {_format(ratio, '.2f')}x the reference{rounds}, target >= {entry['target_ratio']:.1f}x: "
              f"{verdict}")
        rss = entry["peak_rss_mb_max"]
        print(f"  {name}: peak RSS {rss:.0f} MB, target < {RSS_LIMIT_MB:.0f} MB: "
              f"{'PASS' if rss < RSS_LIMIT_MB else 'FAIL'}")


def write_csv(path: Path, rows: list[dict], summary: dict[str, dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    with temporary.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        for row in rows:
            merged = {**row, **summary[row["contender"]]}
            writer.writerow({key: "" if merged.get(key) is None else merged.get(key) for key in COLUMNS})
    temporary.replace(path)


def run_benchmark(args: argparse.Namespace) -> Path:
    now = _datetime.datetime.now().astimezone()
    out = Path(args.out) if args.out else Path("results/benchmarks") / f"throughput-{now:%Y-%m-%d}.csv"
    skipped_reason = None
    contenders = [name for name in CONTENDERS if name in args.contenders]
    if "reference" in contenders and args.skip_reference:
        contenders.remove("reference")
        skipped_reason = "reference skipped (--skip-reference): no ratios to it."
    elif "reference" in contenders and not torch_ac_available():
        contenders.remove("reference")
        skipped_reason = ("torch-ac is not installed, so the reference is skipped and there are no ratios to it; "
                          "install it with: pip install torch==2.13.0 -e '.[bench]'")
    if skipped_reason:
        print(skipped_reason, file=sys.stderr, flush=True)
    host = machine()
    frames_per_update = args.num_envs * args.rollout_steps
    rows: list[dict] = []
    torch_version = ""
    load_before = os.getloadavg()
    for repeat in range(args.repeats):
        for name in contenders:
            print(f"round {repeat + 1}/{args.repeats}: {name} ...", file=sys.stderr, flush=True)
            result = run_contender(name, args)
            torch_version = result.get("torch_version") or torch_version
            seconds = result["seconds"]
            load_average = os.getloadavg()[0]
            rows.append({
                "date": now.isoformat(timespec="seconds"), **host, "torch_version": result.get("torch_version", ""),
                "env": args.env, "contender": name, "repeat": repeat + 1, "num_envs": args.num_envs,
                "rollout_steps": args.rollout_steps, "frames_per_update": frames_per_update,
                "updates": args.updates, "frames": result["frames"], "seconds": seconds,
                "fps": result["frames"] / seconds,
                "seconds_env": result["seconds_env"], "seconds_inference": result["seconds_inference"],
                "seconds_update": result["seconds_update"],
                "share_env": result["seconds_env"] / seconds, "share_inference": result["seconds_inference"] / seconds,
                "share_update": result["seconds_update"] / seconds, "peak_rss_mb": result["peak_rss_mb"],
                "cpu_seconds": result["cpu_seconds"],
                "fps_per_cpu": result["frames"] / max(result["cpu_seconds"], 1e-9),
                "load_average": load_average,
                **{key: result.get(key) for key in ("gflop_per_update", "gemm_gflops", "floor_fraction")},
            })
    summary = summarise(rows)
    header = (f"moe.tools.benchmark {now:%Y-%m-%d %H:%M %Z} | {host['host']} | {host['cpu']} x "
              f"{host['cpu_count']} cores | "
              f"python {platform.python_version()} torch {torch_version}\n"
              f"{args.env}: {args.num_envs} envs x {args.rollout_steps} steps = {frames_per_update} frames/update, "
              f"4 epochs, minibatch 256; 1 warm-up + {args.updates} timed updates, {args.repeats} alternating repeats; "
              f"reference: torch-ac {args.num_envs} env processes + learner (all cores), ours: 1 process, 1 thread\n"
              f"1-min load average: {load_before[0]:.1f} before, {os.getloadavg()[0]:.1f} after "
              f"(above {host['cpu_count']}, other processes competed for the cores: frames/s are noisy; "
              f"a single-process contender loses more to them than the {args.num_envs + 1}-process reference)")
    print_report(header, summary, args, skipped_reason,
                 {name: [row for row in rows if row["contender"] == name] for name in OURS})
    write_csv(out, rows, summary)
    print(f"wrote {out}")
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m moe.tools.benchmark", description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--env", default=DEFAULT_ENV, help="gymnasium MiniGrid id")
    parser.add_argument("--updates", type=int, default=8, help="timed updates per repeat (after 1 untimed warm-up)")
    parser.add_argument("--repeats", type=int, default=5, help="alternating rounds over all contenders")
    parser.add_argument("--num-envs", type=int, default=16,
                        help="environments per update (the reference's processes)")
    parser.add_argument("--rollout-steps", type=int, default=128, help="frames per environment per update")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", help="CSV path (default results/benchmarks/throughput-<date>.csv)")
    parser.add_argument("--skip-reference", action="store_true", help="do not run the torch-ac reference")
    parser.add_argument("--contenders", nargs="+", default=CONTENDERS, choices=CONTENDERS,
                        help="which contenders to run")
    parser.add_argument("--child-timeout", type=float, default=900, help="seconds before a measurement is abandoned")
    parser.add_argument("--child", choices=CONTENDERS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    for name in ("updates", "repeats", "num_envs", "rollout_steps"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        return run_child(args)
    try:
        run_benchmark(args)
    except (RuntimeError, subprocess.TimeoutExpired) as error:
        print(f"moe.tools.benchmark: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

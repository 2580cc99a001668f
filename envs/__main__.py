"""List the multi-intent tasks and save one rendered frame of each.

    python -m envs [--out DIR] [--seed N]
    python -m envs --play MultiIntent-Hunt-8x8-v0   # play in a window
"""

from __future__ import annotations

import argparse
from pathlib import Path

import gymnasium as gym
from PIL import Image

from envs import TASKS, intents_of


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m envs", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("results/env_frames"),
                        help="directory for the PNG frames (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="reset seed (default: %(default)s)")
    parser.add_argument("--play", metavar="ENV_ID", choices=sorted(TASKS),
                        help="instead, play ENV_ID with minigrid's manual control")
    args = parser.parse_args(argv)

    if args.play:
        from minigrid.manual_control import ManualControl

        ManualControl(gym.make(args.play, render_mode="human"), seed=args.seed).start()
        return

    args.out.mkdir(parents=True, exist_ok=True)
    for env_id in TASKS:
        env = gym.make(env_id, render_mode="rgb_array")
        env.reset(seed=args.seed)
        path = args.out / f"{env_id}.png"
        Image.fromarray(env.render()).save(path)
        env.close()
        print(f"{env_id}: intents {', '.join(intents_of(env_id))} -> {path}")


if __name__ == "__main__":
    main()

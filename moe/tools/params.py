"""How many parameters an agent has, and the width that gives one expert as many as K.

    python -m moe.tools.params --env MultiIntent-Remap-n8-c3-8x8-v0 --set model.num_experts=8

prints the agent's parameter count with those settings and the `model.hidden` at which
the same agent with one expert has at least as many: the control "K = 1 with as many
parameters as K = n" (issue "Intents that conflict"). `model.hidden` widens the router,
critic and expert MLPs and the encoder's readout alike, so the count is searched, not
solved.
"""

from __future__ import annotations

import argparse
import sys

from envs import intents_of
from moe.config import resolve
from moe.environments import make_env
from moe.errors import ConfigError
from moe.model import build_agent


def parameter_count(model_config: dict, num_actions: int, view_size: int = 7, num_intents: int = 0) -> int:
    """Every weight of the agent, a router it does not use included (the oracle's)."""
    return sum(parameter.numel()
               for parameter in build_agent(model_config, num_actions, view_size, num_intents).parameters())


def matching_width(model_config: dict, num_actions: int, target: int, view_size: int = 7) -> int:
    """The smallest `hidden` (a multiple of the GAT's heads) at which `model_config` has at least `target`
    parameters (bisection: the count grows with the width)."""
    step = model_config.get("gat_heads", 1)
    low, high = step, step
    while parameter_count({**model_config, "hidden": high}, num_actions, view_size) < target:
        low, high = high, 2 * high
    while high - low > step:
        middle = (low + high) // 2 // step * step
        if parameter_count({**model_config, "hidden": middle}, num_actions, view_size) < target:
            low = middle
        else:
            high = middle
    return high


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", required=True)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="assignments")
    args = parser.parse_args(argv)
    try:
        config = resolve(None, args.assignments)
        env = make_env(args.env)
    except ConfigError as error:
        print(f"python -m moe.tools.params: error: {error}", file=sys.stderr)
        return 2
    actions, view = int(env.action_space.n), env.observation_space["image"].shape[0]
    intents = len(intents_of(args.env) or ())
    count = parameter_count(config["model"], actions, view, intents)
    one_expert = {**config["model"], "num_experts": 1}
    width = matching_width(one_expert, actions, count, view)
    print(f"{args.env}, K = {config['model']['num_experts']}, hidden {config['model']['hidden']}: {count:,} parameters")
    print(f"K = 1 with at least as many: model.hidden={width} "
          f"({parameter_count({**one_expert, 'hidden': width}, actions, view):,} parameters; "
          f"at hidden {config['model']['hidden']}: {parameter_count(one_expert, actions, view):,})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

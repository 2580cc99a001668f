"""The shared warm-up: which runs may start from the same trained first phase.

Corrections act from the second phase on (unless a correction's config lists the
first phase), so all variants of a task and seed train the first phase bit for
bit alike. The workflow trains it once per distinct signature and starts every
run from it; `tests/test_train.py` checks that the result equals an
uninterrupted run's.

The last phase may end early too, once the router has settled (`first_settled`, the
rule of `phases[-1].until_settled`): fine-tuning then runs as long as the router
moves, up to its planned length.

The first phase may end early, once the agent has learned the task: with
`phases[0].until_return` set, it ends after the first update at which the mean
training return of the last `SMOOTHING_UPDATES` updates reaches that value, and the
phases after it keep their lengths (the run ends that many updates sooner). A
task whose learning point varies a lot between seeds then fine-tunes every seed
from a working agent without sizing the warm-up to its slowest seed.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence

from moe.config import phase_at
from moe.variants import BASELINE, parse_variant

#: Written last into a warm-up's directory: the warm-up is finished and has this signature.
WARMUP_MARKER = "warmup.json"
#: Updates in the trailing mean of the training return that says whether a task is learned
#: (one update's return is the mean of the few episodes that ended in it: noisy).
SMOOTHING_UPDATES = 5
#: Settings that never touch training numbers; the phases count through the warm-up's length.
_NOT_TRAINING = ("eval", "checkpoint", "phases", "corrections", "tensorboard")
_LEGACY_MODEL_SETTINGS = {"router": "learned", "router_memory": "none", "routing": "mixture", "oracle_noise": 0.0,
                          "intent_input": False, "experts": "heads", "orthogonal": False, "task_heads": False}
#: Top-level settings added since, at the value that reproduces earlier warm-ups.
_LEGACY_SETTINGS = {"router_label_coef": 1.0, "advantage_normalisation": "none", "critic_full_batch_steps": 0}


def warmup_updates(config: dict, frames: int) -> int:
    """Updates in the first phase of a run of `frames` frames."""
    updates = math.ceil(frames / (config["num_envs"] * config["rollout_steps"]))
    first = config["phases"][0]["name"]
    return sum(1 for index in range(updates) if phase_at(config["phases"], index / updates) == first)


def first_reaching(returns: Sequence[float | None], threshold: float, window: int = SMOOTHING_UPDATES) -> int | None:
    """How many updates it took until the mean return of the last `window` updates first
    reached `threshold`, or None. An update where no episode ended (NaN) has no return:
    every window holding one is skipped, as pandas' `rolling(window).mean()` would."""
    for end in range(window, len(returns) + 1):
        recent = returns[end - window:end]
        if all(value is not None and math.isfinite(value) for value in recent) and sum(recent) / window >= threshold:
            return end
    return None


#: The training statistics whose movement says whether the router has settled (`until_settled`).
SETTLE_STATISTICS = ("router_entropy", "router_mutual_information")


def first_settled(rows: Sequence[dict], window: int, min_updates: int = 1, **tolerances: float) -> int | None:
    """How many of `rows` (a phase's metrics rows, in order) it took until each statistic in
    `tolerances` moved by at most its tolerance (max - min) over the last `window` rows, at the
    earliest after `min_updates` rows, or None."""
    for end in range(max(window, min_updates), len(rows) + 1):
        recent = rows[end - window:end]
        if all(max(row[name] for row in recent) - min(row[name] for row in recent) <= tolerance
               for name, tolerance in tolerances.items()):
            return end
    return None


def warmup_signature(config: dict, env_id: str, variant: str, seed: int, frames: int) -> dict:
    """Everything that decides the first phase's numbers: equal signatures, identical warm-ups.

    Corrections that the variant does not run in the first phase only add zeros
    there, so they and their settings are left out.
    """
    first_phase = config["phases"][0]["name"]
    in_warmup = [name for name in parse_variant(variant, list(config["corrections"]))
                 if first_phase in config["corrections"][name]["phases"]]
    training = {key: value for key, value in config.items()
                if key not in _NOT_TRAINING and not (key in _LEGACY_SETTINGS and value == _LEGACY_SETTINGS[key])}
    training["corrections"] = {name: config["corrections"][name] for name in in_warmup}
    signature = {"env": env_id, "seed": seed, "variant_in_warmup": "+".join(in_warmup) or BASELINE,
                 "warmup_updates": warmup_updates(config, frames), "training": training}
    # Settings added after warm-ups were first shared enter the signature only when they are
    # not at the value that reproduces the earlier warm-ups, which keep their signatures.
    for key, legacy in _LEGACY_MODEL_SETTINGS.items():
        if training["model"].get(key) == legacy:
            training["model"] = {name: value for name, value in training["model"].items() if name != key}
    until_return = config["phases"][0].get("until_return")
    if until_return is not None:
        signature["until_return"] = until_return
    first_set = config["phases"][0].get("set")
    if first_set:
        signature["first_phase_set"] = first_set
        if "router" in first_set.get("model", {}) and config["model"]["experts"] == "heads":
            # The first phase trains with the router it sets; the run's own routes only later phases, and in
            # the heads form every router kind builds the same modules (so the basin test's control shares
            # its warm-up). The encoders form refuses a phase that sets the router.
            training["model"] = {name: value for name, value in training["model"].items() if name != "router"}
    return signature


def signature_id(signature: dict) -> str:
    """A short, stable name for a warm-up's settings (its env and seed left out: they name its directory)."""
    settings = {key: value for key, value in signature.items() if key not in ("env", "seed")}
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:10]

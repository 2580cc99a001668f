"""`moe-train` that SIGKILLs itself at one point of a run's end, for the resume tests.

    MOE_KILL_AT=POINT python tests/tools/kill_at.py [moe-train arguments]
    MOE_KILL_AT=1:POINT,2:POINT,... ...   # each seed's run at its own point (others: not killed)

POINT is one of `after_final_checkpoint` (the last update is trained and
checkpointed, nothing of finishing written), `after_metrics` (finishing wrote
metrics.csv), `after_evaluation` (eval_episode.csv written, final.json not) and
`after_final_json` (everything written, the process dies before exiting). Without
MOE_KILL_AT, and for a warm-up (`--warmup-only`), it is plain `moe-train`.
"""

import os
import signal
import sys

from moe import train

POINTS = ("after_final_checkpoint", "after_metrics", "after_evaluation", "after_final_json")


def die():
    os.kill(os.getpid(), signal.SIGKILL)


def kill_after(function, condition=lambda *args, **kwargs: True):
    def wrapped(*args, **kwargs):
        result = function(*args, **kwargs)
        if condition(*args, **kwargs):
            die()
        return result

    return wrapped


def install(point: str) -> None:
    if point == "after_final_checkpoint":
        finish = train.finish
        train.finish = lambda *args, **kwargs: (die(), finish(*args, **kwargs))[1]
    elif point == "after_metrics":
        evaluate = train.evaluate
        train.evaluate = lambda *args, **kwargs: (die(), evaluate(*args, **kwargs))[1]
    elif point in ("after_evaluation", "after_final_json"):
        name = "eval_episode.csv" if point == "after_evaluation" else "final.json"
        train.ckpt.atomic_write_text = kill_after(train.ckpt.atomic_write_text,
                                                  lambda path, text: os.path.basename(path) == name)
    else:
        raise SystemExit(f"MOE_KILL_AT must be one of {', '.join(POINTS)}, not {point!r}")


def point_for(spec: str, argv: list[str]) -> str | None:
    """The point at which this run dies: MOE_KILL_AT itself, or this run's seed's entry."""
    if ":" not in spec:
        return spec
    seed = argv[argv.index("--seed") + 1]
    return dict(entry.split(":") for entry in spec.split(",")).get(seed)


if __name__ == "__main__":
    point = point_for(os.environ.get("MOE_KILL_AT", ""), sys.argv)
    if point and "--warmup-only" not in sys.argv:
        install(point)
    sys.exit(train.main())

"""How often an interval of the mean covers the true mean, by simulation.

    python -m moe.tools.coverage               # mean_ci (t) and scipy's BCa bootstrap
    python -m moe.tools.coverage --repetitions 500

The distributions stand for what seeds give: symmetric (normal, beta(2,2)), skewed
(log-normal), piled against a bound (beta(8,1): success rates near 1), and a success
rate that is exactly 1.0 on most seeds (where `mean_ci`'s no-spread rule acts).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

import numpy as np
from scipy import stats as scipy_stats

from moe.analysis.stats import mean_ci

SEED = 0


def _ones_or_uniform(rng: np.random.Generator, size) -> np.ndarray:
    """1.0 with probability 0.8, else uniform on [0, 1): mean 0.9."""
    return np.where(rng.random(size) < 0.8, 1.0, rng.random(size))


#: name -> (sampler(rng, size), true mean, range of a value or None)
DISTRIBUTIONS: dict[str, tuple[Callable, float, tuple[float, float] | None]] = {
    "normal": (lambda rng, size: rng.normal(0.0, 1.0, size), 0.0, None),
    "beta(2,2)": (lambda rng, size: rng.beta(2, 2, size), 0.5, (0.0, 1.0)),
    "log-normal(0.5)": (lambda rng, size: rng.lognormal(0.0, 0.5, size), math.exp(0.125), None),
    "beta(8,1)": (lambda rng, size: rng.beta(8, 1, size), 8 / 9, (0.0, 1.0)),
    "log-normal(1)": (lambda rng, size: rng.lognormal(0.0, 1.0, size), math.exp(0.5), None),
    "1.0 w.p. 0.8": (_ones_or_uniform, 0.9, (0.0, 1.0)),
}


def samples(distribution: str, n: int, repetitions: int, seed: int = SEED) -> np.ndarray:
    """`(repetitions, n)` draws, the same for every interval method (seeded per distribution and n)."""
    sampler = DISTRIBUTIONS[distribution][0]
    rng = np.random.default_rng([seed, n, list(DISTRIBUTIONS).index(distribution)])
    return sampler(rng, (repetitions, n))


def coverage(distribution: str, n: int, repetitions: int = 2000, seed: int = SEED, confidence: float = 0.95) -> float:
    """Fraction of `repetitions` samples of size `n` whose `mean_ci` contains the true mean."""
    _, true_mean, bounds = DISTRIBUTIONS[distribution]
    hits = 0
    for sample in samples(distribution, n, repetitions, seed):
        _, low, high = mean_ci(sample, confidence, bounds)
        hits += bool(low <= true_mean <= high)
    return hits / repetitions


def bca_coverage(distribution: str, n: int, repetitions: int = 2000, seed: int = SEED,
                 confidence: float = 0.95, n_resamples: int = 2000) -> float:
    """The same with `scipy.stats.bootstrap(method="BCa")`, all samples in one vectorised call.
    A sample whose interval is undefined (no spread) counts as a miss."""
    _, true_mean, _ = DISTRIBUTIONS[distribution]
    data = samples(distribution, n, repetitions, seed)
    with np.errstate(all="ignore"):
        result = scipy_stats.bootstrap((data,), np.mean, axis=-1, vectorized=True, confidence_level=confidence,
                                       n_resamples=n_resamples, method="BCa", rng=np.random.default_rng(seed))
    low, high = result.confidence_interval
    return float(np.mean((low <= true_mean) & (true_mean <= high)))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repetitions", type=int, default=2000)
    parser.add_argument("--sizes", type=int, nargs="+", default=[5, 10])
    parser.add_argument("--no-bca", action="store_true", help="only mean_ci (BCa takes about a minute)")
    args = parser.parse_args(argv)
    print(f"coverage of the true mean by 95% intervals, {args.repetitions} samples each (seed {SEED})")
    print(f"{'distribution':<18}" + "".join(f"{f't n={n}':>9}" for n in args.sizes)
          + ("" if args.no_bca else "".join(f"{f'BCa n={n}':>11}" for n in args.sizes)))
    for name in DISTRIBUTIONS:
        line = f"{name:<18}" + "".join(f"{coverage(name, n, args.repetitions):>9.3f}" for n in args.sizes)
        if not args.no_bca:
            line += "".join(f"{bca_coverage(name, n, args.repetitions):>11.3f}" for n in args.sizes)
        print(line, flush=True)


if __name__ == "__main__":
    main()

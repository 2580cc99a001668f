"""Variant names: `baseline` or the `+`-joined corrections in canonical order."""

from __future__ import annotations

from itertools import combinations

BASELINE = "baseline"


def all_variants(corrections: list[str]) -> list[str]:
    """Every combination of `corrections` (2^n of them), baseline first, then by size.

    The order of `corrections` is the canonical order used in every name.
    """
    variants = [BASELINE]
    for size in range(1, len(corrections) + 1):
        variants += ["+".join(combo) for combo in combinations(corrections, size)]
    return variants


def parse_variant(variant: str, corrections: list[str]) -> list[str]:
    """The corrections a variant name turns on; rejects unknown or non-canonical names."""
    if variant == BASELINE:
        return []
    names = variant.split("+")
    unknown = [name for name in names if name not in corrections]
    if unknown:
        raise ValueError(
            f"unknown correction {unknown[0]!r} in variant {variant!r}; "
            f"known corrections: {', '.join(corrections)} (or {BASELINE!r})"
        )
    canonical = [name for name in corrections if name in names]
    if names != canonical:
        raise ValueError(
            f"variant {variant!r} is not in canonical order or repeats a correction; "
            f"write it as {'+'.join(canonical)!r}"
        )
    return names

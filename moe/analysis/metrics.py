"""The metric registry: every table, figure and statistic reads a metric's name, label,
unit, direction, range and role from here, and nowhere else.

- `direction`: which side is better, for ranking variants (probability of
  improvement). Router entropy, marginal entropy, switch rate, expert similarity and
  effective experts have none: a collapsed router (one expert everywhere) has the
  lowest entropy, so "lower" would crown the failure the benchmark looks for. Return,
  success and the mutual-information scores (high only when the router commits per
  step AND uses different experts in different states) are `higher`.
- `bounds`: the range one run's value can take; used by `stats.mean_ci` (clipping,
  and the interval when every seed agrees). Entropies and mutual informations have
  (0, inf): their upper end, ln K, depends on the run.
- `diverged`: what a diverged run scores. Return statistics count a diverged run as
  a failure (return 0, success 0, never reaching the threshold); router statistics
  leave it out (None), since it has no router to describe.
- `summary`: `mean` (with `mean_ci`) or `median` for `frames_to_threshold`, whose runs
  that never reach the threshold are censored at the budget (a mean would need a
  number for them).
- `shown_in`: the fixed displays that include the metric: `final_metrics` (the
  Markdown/LaTeX summary table; its CSV has every metric) and `learning_curves`.
  Factorial effects and cross-task aggregates use the config's
  `analysis.effect_metrics` / `analysis.robust_metrics`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

HIGHER, LOWER, NONE = "higher", "lower", "none"
FINAL_JSON, METRICS_CSV = "final.json", "metrics.csv"
FINAL_METRICS_TABLE, LEARNING_CURVES = "final_metrics", "learning_curves"
#: `frames_to_threshold` of a run that never reached the threshold (censored at its budget).
NEVER = math.inf


@dataclass(frozen=True)
class Metric:
    name: str
    label: str
    unit: str = ""
    direction: str = NONE
    bounds: tuple[float, float] | None = None
    diverged: float | None = None
    source: str = FINAL_JSON
    summary: str = "mean"
    shown_in: frozenset[str] = frozenset()

    @property
    def axis_label(self) -> str:
        return f"{self.label} [{self.unit}]" if self.unit else self.label


_TABLE = frozenset({FINAL_METRICS_TABLE})
_TABLE_AND_CURVES = frozenset({FINAL_METRICS_TABLE, LEARNING_CURVES})

#: Router statistics of the final evaluation, each computed per episode then averaged
#: over episodes. final.json also has each over successful episodes only (`<name>_success`).
#: Entropies and mutual informations are >= 0; their upper end, ln K, depends on the run.
NATS = (0.0, math.inf)
ROUTER_STATISTICS = [
    Metric("router_entropy", "router H", "nats", NONE, NATS, shown_in=_TABLE_AND_CURVES),
    Metric("marginal_router_entropy", "marginal H", "nats", NONE, NATS, shown_in=_TABLE),
    Metric("router_mutual_information", "router MI", "nats", HIGHER, NATS, shown_in=_TABLE_AND_CURVES),
    Metric("intent_mutual_information", "intent MI", "nats", HIGHER, NATS),
    Metric("intent_mutual_information_normalized", "intent MI (norm.)", "", HIGHER, (0.0, 1.0), shown_in=_TABLE),
    Metric("expert_similarity", "expert similarity", "cos", NONE, (-1.0, 1.0), shown_in=_TABLE),
    Metric("effective_experts", "effective experts", "exp H", NONE, (1.0, math.inf)),
    Metric("switch_rate", "switch rate", "", NONE, (0.0, 1.0)),
    Metric("intent_nmi", "intent NMI (argmax)", "", HIGHER, (0.0, 1.0)),
]
SUCCESS_SUFFIX = "_success"

#: In the order of the tables' columns.
METRICS: dict[str, Metric] = {
    metric.name: metric
    for metric in [
        *ROUTER_STATISTICS,
        Metric("return_mean", "return", "", HIGHER, (0.0, 1.0), diverged=0.0, shown_in=_TABLE_AND_CURVES),
        Metric("success_rate", "success", "", HIGHER, (0.0, 1.0), diverged=0.0, shown_in=_TABLE),
        Metric("episode_length", "episode length", "steps", NONE, (0.0, math.inf)),
        *(Metric(m.name + SUCCESS_SUFFIX, f"{m.label} (successes)", m.unit, m.direction, m.bounds)
          for m in ROUTER_STATISTICS),
        # From metrics.csv (moe.analysis.curves.sample_efficiency):
        Metric("return_auc", "return AUC (fine-tune)", "", HIGHER, (0.0, 1.0), diverged=0.0,
               source=METRICS_CSV, shown_in=_TABLE),
        Metric("frames_to_threshold", "frames to threshold", "frames", LOWER, diverged=NEVER,
               source=METRICS_CSV, summary="median", shown_in=_TABLE),
    ]
}


def metric(name: str) -> Metric:
    """The registered metric, or a plain one (label = name, no direction) for an unknown column."""
    return METRICS.get(name) or Metric(name, name)


def names(source: str | None = None, shown_in: str | None = None) -> list[str]:
    """Registered metric names in registry order, optionally from one source or display."""
    return [m.name for m in METRICS.values()
            if (source is None or m.source == source) and (shown_in is None or shown_in in m.shown_in)]


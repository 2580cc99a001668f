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
- `scope`: for the router statistics of the final evaluation (docs/DESIGN.md, "What a
  run reports"), how they pool the evaluation's steps: `episode` (per evaluation
  episode, then averaged over episodes; final.json also has `<name>_success`, over
  successful episodes only) or `pooled` (over all evaluation steps of all episodes at
  once; no `_success` variant). None for every other metric.

`ROUTER_STATISTICS` is the one list of the router statistics: the trainer writes
final.json's keys in its order (`router_statistics("episode")`,
`router_statistics("pooled")`), the analysis reads them, the fake trainer of the
tests makes them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

HIGHER, LOWER, NONE = "higher", "lower", "none"
#: The verdicts on a run's router (docs/DESIGN.md, "Verdicts"; decided by `moe.router_statistics.verdict`),
#: in the tables' order.
VERDICTS = ("hedge", "collapse", "split", "specialise")
FINAL_JSON, METRICS_CSV = "final.json", "metrics.csv"
FINAL_METRICS_TABLE, LEARNING_CURVES = "final_metrics", "learning_curves"
EPISODE, POOLED = "episode", "pooled"
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
    scope: str | None = None

    @property
    def axis_label(self) -> str:
        return f"{self.label} [{self.unit}]" if self.unit else self.label


_TABLE = frozenset({FINAL_METRICS_TABLE})
_TABLE_AND_CURVES = frozenset({FINAL_METRICS_TABLE, LEARNING_CURVES})

#: Router statistics of the final evaluation, in final.json's order. Entropies and mutual
#: informations are >= 0; their upper end, ln K, depends on the run.
NATS = (0.0, math.inf)
ROUTER_STATISTICS = [
    # Per episode, then averaged over episodes (and over successful episodes: `<name>_success`).
    Metric("router_entropy", "router H", "nats", NONE, NATS, shown_in=_TABLE_AND_CURVES, scope=EPISODE),
    Metric("marginal_router_entropy", "marginal H", "nats", NONE, NATS, shown_in=_TABLE, scope=EPISODE),
    Metric("router_mutual_information", "router MI", "nats", HIGHER, NATS, shown_in=_TABLE_AND_CURVES, scope=EPISODE),
    Metric("intent_mutual_information", "intent MI", "nats", HIGHER, NATS, scope=EPISODE),
    Metric("intent_mutual_information_normalized", "intent MI (norm.)", "", HIGHER, (0.0, 1.0), shown_in=_TABLE,
           scope=EPISODE),
    Metric("expert_similarity", "expert similarity", "cos", NONE, (-1.0, 1.0), shown_in=_TABLE, scope=EPISODE),
    Metric("effective_experts", "effective experts", "exp H", NONE, (1.0, math.inf), scope=EPISODE),
    Metric("switch_rate", "switch rate", "", NONE, (0.0, 1.0), scope=EPISODE),
    Metric("intent_nmi", "intent NMI (argmax)", "", HIGHER, (0.0, 1.0), scope=EPISODE),
    # Pooled over all evaluation steps of all episodes: an agent that uses a different expert
    # for the same intent in different episodes scores lower than a consistent one.
    Metric("intent_mi", "intent MI (pooled)", "nats", HIGHER, NATS, scope=POOLED),
    Metric("intent_entropy", "intent H", "nats", NONE, NATS, scope=POOLED),
    # intent_mi / min(intent_entropy, ln K): 1 = one expert per intent, 0 = routing blind to the intent.
    Metric("intent_explained", "intent explained", "", HIGHER, (0.0, 1.0), shown_in=_TABLE, scope=POOLED),
    # pooled router MI - intent_mi: routing by state that the intent does not explain (neither good nor bad).
    Metric("state_split", "state split", "nats", NONE, NATS, shown_in=_TABLE, scope=POOLED),
    Metric("pooled_router_entropy", "router H (pooled)", "nats", NONE, NATS, scope=POOLED),
    Metric("pooled_marginal_entropy", "marginal H (pooled)", "nats", NONE, NATS, scope=POOLED),
    Metric("modal_expert_share", "modal expert share", "", NONE, (0.0, 1.0), scope=POOLED),
    # final.json holds a bool: read as 1.0 / 0.0, so its mean is the share of runs.
    Metric("distinct_modal_experts", "distinct modal experts", "", NONE, (0.0, 1.0), scope=POOLED),
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
          for m in ROUTER_STATISTICS if m.scope == EPISODE),
        # From metrics.csv (moe.analysis.curves.sample_efficiency):
        Metric("return_auc", "return AUC (fine-tune)", "", HIGHER, (0.0, 1.0), diverged=0.0,
               source=METRICS_CSV, shown_in=_TABLE),
        Metric("return_auc_run", "return AUC (whole run)", "", HIGHER, (0.0, 1.0), diverged=0.0,
               source=METRICS_CSV, shown_in=_TABLE),
        Metric("frames_to_threshold", "frames to threshold", "frames", LOWER, diverged=NEVER,
               source=METRICS_CSV, summary="median", shown_in=_TABLE),
    ]
}


#: Values a run's routing fixes, whatever it learns: the intent oracle (`model.router: oracle`,
#: K >= the intents) routes one-hot by the intent; one expert routes nothing. The tables print
#: them "(by construction)", without an interval, where every run of a cell has exactly that value.
_ORACLE = {"router_entropy": 0.0, "intent_mutual_information_normalized": 1.0, "intent_nmi": 1.0,
           "intent_explained": 1.0, "state_split": 0.0, "pooled_router_entropy": 0.0, "modal_expert_share": 1.0,
           "distinct_modal_experts": 1.0}
_ONE_EXPERT = {"router_entropy": 0.0, "marginal_router_entropy": 0.0, "router_mutual_information": 0.0,
               "intent_mutual_information": 0.0, "effective_experts": 1.0, "switch_rate": 0.0, "intent_mi": 0.0,
               "state_split": 0.0, "pooled_router_entropy": 0.0, "pooled_marginal_entropy": 0.0,
               "modal_expert_share": 1.0}


def fixed_by_construction(name: str, router: str, num_experts: float) -> float | None:
    """The value of metric `name` that a run with this router and K fixes, or None (`_ORACLE`, `_ONE_EXPERT`)."""
    base = name.removesuffix(SUCCESS_SUFFIX) if name.endswith(SUCCESS_SUFFIX) else name
    if num_experts == 1:
        return _ONE_EXPERT.get(base)
    if router == "oracle":
        return _ORACLE.get(base)
    return None


def metric(name: str) -> Metric:
    """The registered metric, or a plain one (label = name, no direction) for an unknown column."""
    return METRICS.get(name) or Metric(name, name)


def names(source: str | None = None, shown_in: str | None = None) -> list[str]:
    """Registered metric names in registry order, optionally from one source or display."""
    return [m.name for m in METRICS.values()
            if (source is None or m.source == source) and (shown_in is None or shown_in in m.shown_in)]


def router_statistics(scope: str | None = None) -> list[str]:
    """Names of the final evaluation's router statistics in registry (= final.json) order: all
    of them, or those of one scope (`episode`: each also has `<name>_success`; `pooled`)."""
    if scope not in (None, EPISODE, POOLED):
        raise ValueError(f"unknown scope {scope!r}: {EPISODE!r}, {POOLED!r} or None")
    return [m.name for m in ROUTER_STATISTICS if scope is None or m.scope == scope]
#: Router statistics whose upper end is ln K (entropies and mutual informations of the
#: router's weights; the registry gives them [0, inf) since K depends on the run), with
#: their `_success` twins. H(intent) is bounded by the number of intents, not by K.
LN_K_METRICS = frozenset(
    name
    for m in ROUTER_STATISTICS
    if m.unit == "nats" and m.name != "intent_entropy"
    for name in (m.name, m.name + SUCCESS_SUFFIX)
)


def metric_range(name: str, num_experts: int | None = None) -> tuple[float, float] | None:
    """The range one run's value of metric `name` can take with `num_experts` (K) experts:
    the registry's bounds, with ln K as the upper end of the router's entropies and mutual
    informations (`LN_K_METRICS`) and K that of effective experts. Without K, the registry's."""
    bounds = metric(name).bounds
    if bounds is None or not num_experts:
        return bounds
    if name in LN_K_METRICS:
        return bounds[0], math.log(num_experts)
    if name.removesuffix(SUCCESS_SUFFIX) == "effective_experts":
        return bounds[0], float(num_experts)
    return bounds

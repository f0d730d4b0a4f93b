"""The run's Beam metrics, queried once the job is done, by stage namespace (for the summary and the manifest).

Counters are summed over a stage's steps (the escalation's second Generate counts under
``generate`` too). A teacher-call stage's request latency comes from its ``latency_ms``
distribution (count, mean, min, max: exact) and its latency bucket counters (quantiles, by
linear interpolation inside the bucket that holds them, clamped to the exact range).
"""
from __future__ import annotations

import logging
from collections import defaultdict

from schemas.manifest import LatencyStats, RunCost, RunMetrics, StageCost, StageMetrics
from schemas.stages import flow_rank
from transforms.teacher_calls import LATENCY_BOUNDS_MS, LATENCY_BUCKET_PREFIX
from transforms.teachers.cost import dollars

log = logging.getLogger(__name__)
QUANTILES = {"p50_ms": 0.5, "p90_ms": 0.9, "p99_ms": 0.99}


def _value(result):
    return result.committed if result.committed is not None else result.attempted


def bucket_quantile(buckets: dict[float, int], q: float, low: float, high: float) -> float:
    """The ``q`` quantile of counts per bucket upper bound (``inf`` allowed), within [``low``, ``high``]."""
    total = sum(buckets.values())
    rank, seen, lower = q * total, 0, 0.0
    for bound in sorted(buckets):
        count = buckets[bound]
        if count and seen + count >= rank:
            upper = min(bound, high)
            lower = max(lower, low)
            return lower + (upper - lower) * (rank - seen) / count
        seen += count
        lower = bound
    return high


def latency_stats(counters: dict[str, int], distribution) -> LatencyStats | None:
    """Latency of one stage from its ``latency_ms`` distribution (Beam's DistributionData) and bucket counters
    (None without requests)."""
    if distribution is None or not distribution.count:
        return None
    bounds = {f"{LATENCY_BUCKET_PREFIX}{b}": float(b) for b in (*LATENCY_BOUNDS_MS, "inf")}
    buckets = {bound: counters.get(name, 0) for name, bound in bounds.items()}  # empty buckets bound the next one
    counted = any(buckets.values())
    quantiles = {key: round(bucket_quantile(buckets, q, distribution.min, distribution.max), 1) if counted else None
                 for key, q in QUANTILES.items()}
    return LatencyStats(count=distribution.count, mean_ms=round(distribution.sum / distribution.count, 1),
                        min_ms=distribution.min, max_ms=distribution.max, **quantiles)


def query_metrics(result, runner: str) -> RunMetrics:
    """Every user metric of a finished job by stage; unavailable (and said so) where ``runner`` reports none."""
    try:
        found = result.metrics().query()
    except NotImplementedError:
        return RunMetrics(available=False, note=f"{runner} does not report Beam metrics")
    except Exception as exc:  # the job's outputs stand; a metrics service that fails must not fail the run
        log.warning("Could not query the job's metrics from %s: %s", runner, exc)
        return RunMetrics(available=False, note=f"querying {runner} for metrics failed: {type(exc).__name__}: {exc}"[:300])
    counters: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for metric in found["counters"]:
        counters[metric.key.metric.namespace][metric.key.metric.name] += _value(metric) or 0
    latency = {}
    for metric in found["distributions"]:
        if metric.key.metric.name == "latency_ms" and _value(metric) is not None:
            namespace, data = metric.key.metric.namespace, _value(metric).data
            latency[namespace] = data.combine(latency.get(namespace))
    stages = {}
    for namespace in sorted(set(counters) | set(latency), key=flow_rank):  # the manifest lists stages in flow order
        named = dict(sorted(counters[namespace].items()))
        kept = {k: v for k, v in named.items() if not k.startswith(LATENCY_BUCKET_PREFIX)}
        stages[namespace] = StageMetrics(counters=kept, latency=latency_stats(named, latency.get(namespace)))
    return RunMetrics(available=True, note=f"queried from {runner} after the job", stages=stages)


def run_cost(metrics: RunMetrics | None) -> RunCost | None:
    """The cost of the stages that counted one (a priced endpoint's ``cost_pusd``/``cache_saved_pusd``); None when none did."""
    if metrics is None or not metrics.available:
        return None
    stages = {}
    for name, stage in metrics.stages.items():
        c = stage.counters
        if "cost_pusd" in c or "cache_saved_pusd" in c:
            stages[name] = StageCost(dollars(c.get("cost_pusd", 0)), dollars(c.get("cache_saved_pusd", 0)),
                                     *(c.get(k, 0) for k in ("tokens_in", "tokens_out", "cached_tokens_in", "cached_tokens_out")))
    if not stages:
        return None
    return RunCost(sum(s.cost_usd for s in stages.values()), sum(s.cache_saved_usd for s in stages.values()), stages)

"""The end-of-run summary table a person reads."""
from __future__ import annotations

from schemas.manifest import Manifest, RunCost, RunMetrics, usd
from schemas.stages import flow_rank


def summary_table(manifest: Manifest) -> str:
    """Read, kept, dropped and dead-lettered by reason, tokens and wall time, as aligned text."""
    c, s = manifest.counts, manifest.stats
    rows: list[tuple[str, str]] = [("read", f"{c.read}"), ("kept (sft rows)", f"{c.kept}")]
    rows += [(f"dropped  {k}", f"{v}") for k, v in c.dropped.items()]
    rows += [(f"dead-lettered  {k}", f"{v}") for k, v in c.dead_lettered.items()]
    if len(c.by_source) > 1:
        rows += [(f"source {name}: read / kept / dropped / dead", f"{sc.read} / {sc.kept} / {sum(sc.dropped.values())} / "
                  f"{sum(sc.dead_lettered.values())}") for name, sc in c.by_source.items()]
    rows += [
        ("rl rows / preference pairs", f"{manifest.rows.get('rl', 0)} / {manifest.rows.get('preference', 0)}"),
        ("chains (correct / truncated)",
         f"{int(s.get('chains', 0))} ({int(s.get('chains_correct', 0))} / {int(s.get('chains_truncated', 0))})"),
        ("chains from cache", f"{int(s.get('chains_from_cache', 0))}"),
        ("tokens in / out (new)", f"{int(s.get('prompt_tokens', 0))} / {int(s.get('completion_tokens', 0))}"),
        *teacher_call_rows({n: st.counters for n, st in manifest.metrics.stages.items()} if manifest.metrics else {}),
        *cost_rows(manifest.cost),
        ("wall time", f"{manifest.wall_time_s:.1f} s"),
        ("accounting read = kept + dropped + dead", "holds" if c.balanced() else "DOES NOT HOLD"),
    ]
    width = max(len(k) for k, _ in rows)
    value_width = max(len(v) for _, v in rows)
    rule = "-" * (width + value_width + 3)
    body = "\n".join(f"{k.ljust(width)}   {v.rjust(value_width)}" for k, v in rows)
    return f"{rule}\n{body}\n{rule}\n{metrics_lines(manifest.metrics)}"


def teacher_call_rows(counters: dict[str, dict[str, int]]) -> list[tuple[str, str]]:
    """The time teacher calls waited on rate limits, summed over the calls of every stage (no row when none waited)."""
    limited = sum(c.get("rate_limited", 0) for c in counters.values())
    waited_ms = sum(c.get("rate_limit_wait_ms", 0) for c in counters.values())
    return [("waiting on rate limits", f"{waited_ms / 1000:.1f} s summed over {limited} requests")] if limited else []


def cost_rows(cost: RunCost | None) -> list[tuple[str, str]]:
    """The run's cost and what the cache saved, in total and per priced stage (no rows without prices)."""
    if cost is None:
        return []
    rows = [("cost of new calls / saved by cache", f"{usd(cost.cost_usd)} / {usd(cost.cache_saved_usd)}")]
    if len(cost.stages) > 1:
        rows += [(f"  {name}", f"{usd(s.cost_usd)} / {usd(s.cache_saved_usd)}") for name, s in cost.stages.items()]
    return rows


def metrics_lines(metrics: RunMetrics | None) -> str:
    """The job's counters, a line per stage in flow order (``schemas/stages.py``), and teacher latency where requests were sent."""
    if metrics is None or not metrics.available:
        return f"stage metrics: not available ({metrics.note if metrics else 'not queried'})"
    names = sorted(metrics.stages, key=flow_rank)
    width = max((len(n) for n in names), default=0)
    lines = ["stage metrics (Beam counters):"]
    for name in names:
        stage = metrics.stages[name]
        lines.append(f"  {name.ljust(width)}  " + ", ".join(f"{k} {v}" for k, v in stage.counters.items()))
        lat = stage.latency
        if lat is not None:
            quantiles = " / ".join(f"{q} {v:.0f}" for q, v in (("p50", lat.p50_ms), ("p90", lat.p90_ms), ("p99", lat.p99_ms))
                                   if v is not None)
            lines.append(f"  {''.ljust(width)}  latency ms: {quantiles}, mean {lat.mean_ms:.0f}, max {lat.max_ms:.0f}"
                         f" ({lat.count} requests)")
    return "\n".join(lines)

"""The problem funnel, read → kept, with every drop reason and its count."""
from __future__ import annotations

from dataclasses import dataclass, field

from schemas.manifest import Counts
from schemas.stages import FUNNEL_STEPS, stage_named


@dataclass
class FunnelStep:
    """Problems left after a step, and what the step removed (``outcome stage/reason`` → count)."""

    name: str
    remaining: int
    removed: dict[str, int] = field(default_factory=dict)


def _step_of(stage: str) -> str:
    """The funnel step the stage table gives ``stage``; the last step for a name of no stage, so the funnel ends at
    ``kept`` whenever the accounting identity holds."""
    found = stage_named(stage)
    return found.funnel if found else FUNNEL_STEPS[-1]


def funnel(counts: Counts) -> list[FunnelStep]:
    """``read`` then one step per entry of :data:`schemas.stages.FUNNEL_STEPS`."""
    losses = [(f"{outcome} {key}", n, _step_of(key.split("/", 1)[0]))
              for outcome, reasons in (("dropped", counts.dropped), ("dead-lettered", counts.dead_lettered))
              for key, n in sorted(reasons.items())]
    steps, remaining = [FunnelStep("read", counts.read)], counts.read
    for name in FUNNEL_STEPS:
        removed = {key: n for key, n, step in losses if step == name}
        remaining -= sum(removed.values())
        steps.append(FunnelStep(name, remaining, removed))
    return steps


def funnel_section(counts: Counts) -> str:
    """The funnel as a Markdown table and the accounting check."""
    lines = ["| step | problems | removed on the way (outcome stage/reason: count) |", "| --- | ---: | --- |"]
    lines += [f"| {s.name} | {s.remaining} | {'; '.join(f'{k}: {v}' for k, v in s.removed.items())} |"
              for s in funnel(counts)]
    status = "holds" if counts.balanced() else "DOES NOT HOLD"
    lines.append(f"\nAccounting: read ({counts.read}) = kept ({counts.kept}) + dropped ({sum(counts.dropped.values())}) "
                 f"+ dead-lettered ({sum(counts.dead_lettered.values())}) {status}.")
    return "\n".join(lines)

"""The problem funnel, read → kept, with every drop reason and its count."""
from __future__ import annotations

from dataclasses import dataclass, field

from schemas.manifest import Counts

# (step, stages whose drops and dead letters happen on the way to it); the last step also takes any
# stage not named here, so the funnel ends at ``kept`` whenever the accounting identity holds.
FUNNEL_STEPS = (
    ("normalized", ("read", "normalize")),
    ("deduplicated", ("dedup",)),
    ("assessed", ("assess", "plan")),
    ("generated", ("generate",)),
    ("verified", ("verify",)),
    ("kept", ("select",)),
)


@dataclass
class FunnelStep:
    """Problems left after a step, and what the step removed (``outcome stage/reason`` → count)."""

    name: str
    remaining: int
    removed: dict[str, int] = field(default_factory=dict)


def _step_of(stage: str) -> str:
    return next((name for name, stages in FUNNEL_STEPS if stage in stages), FUNNEL_STEPS[-1][0])


def funnel(counts: Counts) -> list[FunnelStep]:
    """``read`` then one step per entry of :data:`FUNNEL_STEPS`."""
    losses = [(f"{outcome} {key}", n, _step_of(key.split("/", 1)[0]))
              for outcome, reasons in (("dropped", counts.dropped), ("dead-lettered", counts.dead_lettered))
              for key, n in sorted(reasons.items())]
    steps, remaining = [FunnelStep("read", counts.read)], counts.read
    for name, _ in FUNNEL_STEPS:
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

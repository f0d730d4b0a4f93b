"""The pass-rate policy's probe: its settings (``length.probe``) and the plan of a problem's second round.

Shared by the plan stage (the probe is the first round's plan) and escalate (which runs the second round).
"""
from __future__ import annotations

import dataclasses
import math

from pydantic import Field

from schemas.plan import SamplingPlan
from schemas.settings import Settings


class ProbeSettings(Settings):
    """The pass-rate policy's probe and its escalation."""

    samples: int = Field(default=2, ge=1, le=64, description="Probe chains per problem.")
    escalate_below: float = Field(
        default=0.5, gt=0.0, le=1.0,
        description="A problem whose probe pass rate is below this gets extra_samples more chains.",
    )
    extra_samples: int = Field(default=4, ge=1, le=64, description="Chains added to an escalated problem.")
    budget_factor: float = Field(default=2.0, ge=1.0, description="An escalated problem's token budget is its band's times this.")


def escalation_plan(probe: SamplingPlan, probe_pass_rate: float, settings: ProbeSettings) -> SamplingPlan | None:
    """More samples and a larger budget after a low probe pass rate; None when the probe did well enough."""
    if probe_pass_rate >= settings.escalate_below:
        return None
    return dataclasses.replace(
        probe,
        n=settings.extra_samples,
        max_tokens=math.ceil(probe.max_tokens * settings.budget_factor),
        length_budget=math.ceil(probe.length_budget * settings.budget_factor),
        policy="pass_rate_escalated",
        first_sample=probe.first_sample + probe.n,
    )

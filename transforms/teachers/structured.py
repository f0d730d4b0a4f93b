"""Replies constrained to a JSON schema: the OpenAI ``response_format`` for a pydantic model, and
the sampling plan of each attempt (the token budget doubles per attempt: a cut-off JSON is the
usual failure). Used by the stages that ask a model for a judgement (problem judge, answer judge)."""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from schemas.plan import SamplingPlan


def json_schema_format(name: str, model: type[BaseModel]) -> dict[str, Any]:
    """The ``response_format`` that constrains a reply to ``model``'s JSON schema (vLLM's structured output)."""
    return {"type": "json_schema", "json_schema": {"name": name, "schema": model.model_json_schema()}}


def attempt_plan(max_tokens: int, temperature: float, attempt: int, policy: str) -> SamplingPlan:
    """Sampling for attempt number ``attempt`` (from 0): ``max_tokens * 2**attempt`` tokens, one sample."""
    budget = max_tokens * 2**attempt
    return SamplingPlan(n=1, max_tokens=budget, temperature=temperature, top_p=1.0, repetition_penalty=1.0,
                        prompt_style=policy, length_budget=budget, policy=policy, band="")


def attempts_field(per: str) -> Any:
    """The ``attempts`` field of a stage whose replies are constrained to a schema: tries ``per`` item, 1–5."""
    return Field(default=2, ge=1, le=5,
                 description=f"Tries per {per} before a malformed reply is given up on (each retry doubles the token budget).")

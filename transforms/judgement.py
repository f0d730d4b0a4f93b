"""The problem judge's answer: its JSON schema (R1V's S_v, S_t, S_I, 1–5 each, and a rationale), its parse, and the
assessment it makes.

Shared by the judge stage (which asks for it) and the assess stage's score scaling (which reads its fields).
"""
from __future__ import annotations

import dataclasses

from pydantic import BaseModel, Field

from schemas.plan import Assessment
from transforms.teachers.structured import json_schema_format

SCORE_FIELDS = ("vision_score", "text_score", "integration_score")


class Judgement(BaseModel):
    """The judge's answer; also the JSON schema it is constrained to."""

    vision_score: int = Field(ge=1, le=5)
    text_score: int = Field(ge=1, le=5)
    integration_score: int = Field(ge=1, le=5)
    rationale: str = Field(default="", max_length=400)


RESPONSE_FORMAT = json_schema_format("problem_assessment", Judgement)


def parse_judgement(content: str) -> Judgement:
    """The judgement in ``content``; raises ValueError when it is not valid JSON of the schema."""
    return Judgement.model_validate_json(content.strip())


def with_judgement(assessment: Assessment, judgement: Judgement, model: str) -> Assessment:
    """The assessment carrying the raw 1–5 scores (normalized later), the rationale and the quality."""
    scores = [getattr(judgement, f) for f in SCORE_FIELDS]
    return dataclasses.replace(
        assessment, **dict(zip(SCORE_FIELDS, map(float, scores))), rationale=judgement.rationale,
        judge_model=model, quality=sum(scores) / len(scores), judge_error=None,
    )

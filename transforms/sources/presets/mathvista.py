"""MathVista (AI4Math/MathVista): ``pid``, ``question``, ``decoded_image``, ``choices`` (null when
free-form), ``answer`` (for multiple choice: the text of the right choice), ``question_type``
(multi_choice | free_form), ``answer_type`` (text | integer | float | list), ``unit``, ``precision``
(decimal places of a float answer), ``metadata`` (a struct: category, skills, source, …)."""
from __future__ import annotations

from typing import Any

from transforms.sources.presets.common import PresetError, letter_of_text, metadata

NAME = "mathvista"
REQUIRE_IMAGES = True
_FREE_FORM_TYPES = {"integer": "numeric", "float": "numeric", "text": "free_form", "list": "expression"}


def fields(raw: dict[str, Any]) -> dict[str, Any]:
    """One MathVista row as mmcot fields."""
    question_type, answer_type = raw.get("question_type"), raw.get("answer_type")
    choices = [str(c) for c in raw.get("choices") or []]
    answer = raw.get("answer")
    if question_type == "multi_choice":
        if not choices:
            raise PresetError("wrong_type", "a multi_choice question has no choices")
        kind = "multiple_choice"
        answer = None if answer in (None, "") else letter_of_text(answer, choices)
    elif question_type == "free_form":
        if answer_type not in _FREE_FORM_TYPES:
            raise PresetError("bad_answer_type", f"answer_type {answer_type!r} is not one of {sorted(_FREE_FORM_TYPES)}")
        kind, choices = _FREE_FORM_TYPES[answer_type], []
    else:
        raise PresetError("bad_answer_type", f"question_type {question_type!r} is not multi_choice or free_form")
    facts = raw.get("metadata") or {}
    return {
        "id": raw.get("pid"),
        "question": raw.get("question"),
        "answer": answer,
        "answer_type": kind,
        "images": raw.get("decoded_image") or raw.get("image"),
        "choices": choices,
        "subject": facts.get("category") or "",
        "unit": raw.get("unit") or "",
        "metadata": metadata(precision=raw.get("precision"), question_type=question_type, answer_type=answer_type,
                             skills=facts.get("skills"), task=facts.get("task"), context=facts.get("context"),
                             grade=facts.get("grade"), origin=facts.get("source"), language=facts.get("language")),
    }

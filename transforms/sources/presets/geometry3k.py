"""Geometry3K as the Hub holds it (hiyouga/geometry3k): ``images`` (a list), ``problem`` with an
``<image>`` placeholder, ``answer`` (the value), and in the full version ``id``, ``choices`` and
``ground_truth`` (the letter of the right choice). With choices the problem is multiple choice."""
from __future__ import annotations

from typing import Any

from transforms.sources.presets.common import LETTERS, letter_of_text, metadata

NAME = "geometry3k"
REQUIRE_IMAGES = True


def _multiple_choice_answer(raw: dict[str, Any], choices: list[str]) -> str | None:
    letter = str(raw.get("ground_truth") or "").strip().upper()
    if letter and letter in LETTERS[: len(choices)]:
        return letter
    return None if raw.get("answer") in (None, "") else letter_of_text(raw["answer"], choices)


def fields(raw: dict[str, Any]) -> dict[str, Any]:
    """One Geometry3K row as mmcot fields."""
    choices = [str(c) for c in raw.get("choices") or []]
    local_id = raw.get("id")
    return {
        "id": None if local_id is None else str(local_id),
        "question": raw.get("problem"),
        "answer": _multiple_choice_answer(raw, choices) if choices else raw.get("answer"),
        "answer_type": "multiple_choice" if choices else None,
        "images": raw.get("images"),
        "choices": choices,
        "subject": "geometry",
        "metadata": metadata(value=raw.get("answer") if choices else None),
    }

"""ScienceQA (derek-thomas/ScienceQA): ``image`` (null for text-only questions), ``question``,
``choices``, ``answer`` (the integer index of the right choice), ``hint`` (context, often empty),
``task``, ``grade``, ``subject``, ``topic``, ``category``, ``skill``, ``lecture``, ``solution``.
About half the questions have no image, so the preset does not require one."""
from __future__ import annotations

from typing import Any

from transforms.sources.presets.common import letter_of_index, metadata

NAME = "scienceqa"
REQUIRE_IMAGES = False


def fields(raw: dict[str, Any]) -> dict[str, Any]:
    """One ScienceQA row as mmcot fields."""
    choices = [str(c) for c in raw.get("choices") or []]
    hint = (raw.get("hint") or "").strip()
    question = raw.get("question")
    if hint and isinstance(question, str):
        question = f"Context: {hint}\n{question}"
    answer = raw.get("answer")
    return {
        "question": question,
        "answer": None if answer is None else letter_of_index(answer, choices),
        "answer_type": "multiple_choice",
        "images": raw.get("image"),
        "choices": choices,
        "subject": raw.get("subject") or "",
        "metadata": metadata(task=raw.get("task"), grade=raw.get("grade"), topic=raw.get("topic"),
                             category=raw.get("category"), skill=raw.get("skill")),
    }

"""ChartQA (HuggingFaceM4/ChartQA): ``image``, ``query``, ``label`` (a list of accepted answers;
some copies store one string), ``human_or_machine`` (class label: 0 human, 1 machine)."""
from __future__ import annotations

from typing import Any

from transforms.sources.presets.common import PresetError, metadata

NAME = "chartqa"
REQUIRE_IMAGES = True
_AUTHORS = {0: "human", 1: "machine"}


def fields(raw: dict[str, Any]) -> dict[str, Any]:
    """One ChartQA row as mmcot fields."""
    label = raw.get("label")
    labels = [label] if isinstance(label, str) else list(label or [])
    if not all(isinstance(v, (str, int, float)) for v in labels):
        raise PresetError("wrong_type", "label must be a list of strings")
    labels = [str(v).strip() for v in labels if str(v).strip()]
    author = raw.get("human_or_machine")
    return {
        "question": raw.get("query"),
        "answer": labels[0] if labels else None,
        "images": raw.get("image"),
        "subject": "chart",
        "metadata": metadata(accepted_answers=labels if len(labels) > 1 else None,
                             author=_AUTHORS.get(author, author)),
    }

"""What the presets share: their error, option letters and JSON metadata."""
from __future__ import annotations

import ast
import json
import string
from typing import Any

LETTERS = string.ascii_uppercase


class PresetError(ValueError):
    """A row a preset cannot map; ``reason`` becomes the dead-letter reason."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def letter_of_index(index: Any, choices: list[str]) -> str:
    """The option letter of a 0-based ``index`` into ``choices``."""
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(choices):
        raise PresetError("answer_not_in_choices", f"answer index {index!r} is not one of {len(choices)} choices")
    return LETTERS[index]


def letter_of_text(answer: str, choices: list[str]) -> str:
    """The option letter of the choice whose text is ``answer`` (compared stripped)."""
    texts = [str(c).strip() for c in choices]
    if str(answer).strip() not in texts:
        raise PresetError("answer_not_in_choices", f"answer {answer!r} is not one of the choices {texts}")
    return LETTERS[texts.index(str(answer).strip())]


def python_list(value: Any, name: str) -> list[str]:
    """A column stored as the text of a Python list (``"['a', 'b']"``), parsed without evaluating code."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return []
    if isinstance(value, list):
        return [str(v) for v in value]
    try:
        parsed = ast.literal_eval(value) if isinstance(value, str) else value
    except (ValueError, SyntaxError) as exc:
        raise PresetError("wrong_type", f"{name} is not a Python list literal: {exc}") from None
    if not isinstance(parsed, list) or not all(isinstance(v, (str, int, float)) for v in parsed):
        raise PresetError("wrong_type", f"{name} must hold a list of strings, got {type(parsed).__name__}")
    return [str(v) for v in parsed]


def metadata(**facts: Any) -> str:
    """The facts worth keeping as Problem.metadata (None values left out), as JSON."""
    return json.dumps({k: v for k, v in facts.items() if v is not None}, sort_keys=True, ensure_ascii=False, default=str)

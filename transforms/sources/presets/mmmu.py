"""MMMU (MMMU/MMMU, one config per subject): ``id`` (``<split>_<Subject>_<n>``), ``question`` with
``<image N>`` placeholders, ``options`` as the text of a Python list, ``image_1`` … ``image_7``
(null when unused), ``answer`` (a letter for multiple choice; for open questions a value, or
the text of a list of accepted values), ``question_type`` (multiple-choice | open),
``explanation``, ``img_type``, ``topic_difficulty``, ``subfield``.

Images are taken in column order and their placeholders renumbered past unused columns, so
``<image N>`` always means the N-th image; normalize then orders images as the question cites
them. Options that show images (``<image 2>`` as an option) are written into the question, where
the markers belong, and the choices name them.
"""
from __future__ import annotations

import re
from typing import Any

from transforms.sources.presets.common import LETTERS, PresetError, metadata, python_list

NAME = "mmmu"
REQUIRE_IMAGES = True
IMAGE_COLUMNS = tuple(f"image_{i}" for i in range(1, 8))
_NUMBERED = re.compile(r"<image\s*(\d+)>", re.IGNORECASE)
_HIDDEN_ANSWER = "?"  # the test split's answers are withheld


def _renumber(text: str, numbers: dict[int, int]) -> str:
    return _NUMBERED.sub(lambda m: f"<image {numbers.get(int(m.group(1)), int(m.group(1)))}>", text)


def _answer(raw: dict[str, Any], options: list[str]) -> tuple[str | None, list[str] | None]:
    answer = raw.get("answer")
    if answer in (None, "", _HIDDEN_ANSWER):
        return None, None
    if raw.get("question_type") == "multiple-choice":
        letter = str(answer).strip().upper()
        if letter not in LETTERS[: len(options)]:
            raise PresetError("answer_not_in_choices", f"answer {answer!r} is not a letter of the {len(options)} options")
        return letter, None
    text = str(answer).strip()
    if text.startswith("["):
        accepted = python_list(text, "answer")
        return (accepted[0] if accepted else None), accepted
    return text, None


def fields(raw: dict[str, Any]) -> dict[str, Any]:
    """One MMMU row as mmcot fields."""
    present = [(int(c.rsplit("_", 1)[1]), raw[c]) for c in IMAGE_COLUMNS if raw.get(c) is not None]
    numbers = {column: position for position, (column, _) in enumerate(present, start=1)}
    question = _renumber(raw.get("question") or "", numbers)
    options = [_renumber(o, numbers) for o in python_list(raw.get("options"), "options")]
    if raw.get("question_type") not in ("multiple-choice", "open"):
        raise PresetError("bad_answer_type", f"question_type {raw.get('question_type')!r} is not multiple-choice or open")
    if raw.get("question_type") == "multiple-choice" and not options:
        raise PresetError("wrong_type", "a multiple-choice question has no options")
    answer, accepted = _answer(raw, options)
    if any(_NUMBERED.search(o) for o in options):
        question += "\n\nOptions:\n" + "\n".join(f"{LETTERS[i]}. {o}" for i, o in enumerate(options))
        options = [f"the option {LETTERS[i]} above" for i in range(len(options))]
    row_id = raw.get("id") or ""
    return {
        "id": row_id or None,
        "question": question,
        "answer": answer,
        "answer_type": "multiple_choice" if raw.get("question_type") == "multiple-choice" else None,
        "images": [image for _, image in present],
        "choices": options if raw.get("question_type") == "multiple-choice" else [],
        "subject": "_".join(row_id.split("_")[1:-1]),
        "metadata": metadata(subfield=raw.get("subfield"), topic_difficulty=raw.get("topic_difficulty"),
                             img_type=python_list(raw.get("img_type"), "img_type") or None,
                             explanation=raw.get("explanation") or None, accepted_answers=accepted),
    }

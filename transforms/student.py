"""What a student model is asked: the SFT rows' user turn, as chat messages.

The SFT rows (:mod:`transforms.rows`) train a vision student on :func:`student_prompt`: the question
with one ``<image>`` tag per image, the options, and how to write the answer. A vision student is asked
exactly that turn, each image at its tag (an ``mmcot-image:`` reference, swapped for a data URL when
sent, as for the teacher). A text student cannot see images, so it gets the same turn with the caption
in their place: the caption first (``Image description: …``), the tags dropped, as a text teacher is
asked. ``mmcot evaluate`` asks with :func:`student_messages` and the closed loop trains text students
on :func:`student_text`, so the training and the test prompt are one function.
"""
from __future__ import annotations

from typing import Any

from schemas.problem import IMAGE_MARKER, Problem
from transforms.teachers.messages import IMAGE_URL_PREFIX, Modality, answer_instruction, problem_content, student_prompt


def student_text(problem: Problem) -> str:
    """The SFT row's user turn for a text student: the caption in place of the images."""
    return problem_content(problem, answer_instruction(problem), "text")


def _vision_parts(problem: Problem) -> list[dict[str, Any]]:
    """The SFT row's user turn with each ``<image>`` tag replaced by its image, in order."""
    parts: list[dict[str, Any]] = []
    for i, piece in enumerate(student_prompt(problem).split(IMAGE_MARKER)):
        if i:
            url = IMAGE_URL_PREFIX + problem.image_meta[i - 1].sha256
            parts.append({"type": "image_url", "image_url": {"url": url}})
        if piece.strip():
            parts.append({"type": "text", "text": piece})
    return parts


def student_messages(problem: Problem, modality: Modality) -> list[dict[str, Any]]:
    """The chat messages a student is asked: the SFT row's user turn (``vision``, or a problem without images), or
    its text form with the caption (``text``)."""
    if modality == "vision" and problem.images:
        return [{"role": "user", "content": _vision_parts(problem)}]
    content = student_text(problem) if problem.images else student_prompt(problem)
    return [{"role": "user", "content": content}]

"""Prompt building: a Problem and a prompt style → OpenAI-format chat messages.

Images are referenced as ``mmcot-image:<sha256>`` URLs while a request is planned and keyed
(so cache keys never contain image bytes); :func:`with_data_urls` swaps in the real base64
data URLs right before sending. A text-only teacher gets the caption instead of the images.
"""
from __future__ import annotations

import base64
import copy
import re
from typing import Any, Literal

from schemas.problem import Problem

Modality = Literal["text", "vision"]
IMAGE_URL_PREFIX = "mmcot-image:"
_PLACEHOLDER = re.compile(r"<image\s*\d*>", re.IGNORECASE)
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

STYLE_INSTRUCTIONS = {
    "concise": "Reason briefly, in a few short steps, inside <think> </think>.",
    "standard": "Think step by step inside <think> </think>.",
    "thorough": "Think carefully step by step inside <think> </think>, and check your result before answering.",
}


def answer_instruction(problem: Problem) -> str:
    """How the final answer must be written, by answer type."""
    if problem.answer_type == "multiple_choice":
        return "Put the letter of the correct option in \\boxed{}."
    return "Put the final answer in \\boxed{}."


def options_text(choices: list[str]) -> str:
    """Choices as lettered lines (``A. …``)."""
    return "\n".join(f"{_LETTERS[i]}. {c}" for i, c in enumerate(choices))


def question_text(problem: Problem, with_caption: bool) -> str:
    """The question (placeholders removed), its options and, for text-only teachers, the caption."""
    parts = []
    if with_caption and problem.caption:
        parts.append(f"Image description: {problem.caption}")
    parts.append(_PLACEHOLDER.sub("", problem.question).strip())
    if problem.choices:
        parts.append("Options:\n" + options_text(problem.choices))
    return "\n\n".join(parts)


def _vision_content(problem: Problem, instruction: str) -> list[dict[str, Any]]:
    """Images interleaved at the question's ``<image>`` placeholders (else first), then the text."""
    urls = [{"type": "image_url", "image_url": {"url": IMAGE_URL_PREFIX + m.sha256}} for m in problem.image_meta]
    pieces = _PLACEHOLDER.split(problem.question)
    content: list[dict[str, Any]] = []
    if len(pieces) - 1 == len(urls) and urls:
        for i, piece in enumerate(pieces):
            if piece.strip():
                content.append({"type": "text", "text": piece.strip()})
            if i < len(urls):
                content.append(urls[i])
        tail = [p for p in (options_text(problem.choices) if problem.choices else "", instruction) if p]
        content.append({"type": "text", "text": "\n\n".join(tail)})
        return content
    return urls + [{"type": "text", "text": f"{question_text(problem, with_caption=False)}\n\n{instruction}"}]


def problem_content(problem: Problem, instruction: str, modality: Modality) -> str | list[dict[str, Any]]:
    """The user turn's content: images (vision) or the caption (text), the question, then ``instruction``."""
    if modality == "vision" and problem.images:
        return _vision_content(problem, instruction)
    return f"{question_text(problem, with_caption=True)}\n\n{instruction}"


def build_messages(problem: Problem, prompt_style: str, modality: Modality) -> list[dict[str, Any]]:
    """Chat messages for one problem."""
    instruction = f"{STYLE_INSTRUCTIONS[prompt_style]} {answer_instruction(problem)}"
    return [{"role": "user", "content": problem_content(problem, instruction, modality)}]


def with_data_urls(messages: list[dict[str, Any]], problem: Problem) -> list[dict[str, Any]]:
    """A copy of ``messages`` with ``mmcot-image:`` references replaced by base64 data URLs."""
    by_hash = {m.sha256: (img, m.format) for img, m in zip(problem.images, problem.image_meta)}
    out = copy.deepcopy(messages)
    for message in out:
        if not isinstance(message["content"], list):
            continue
        for part in message["content"]:
            url = part.get("image_url", {}).get("url", "")
            if url.startswith(IMAGE_URL_PREFIX):
                img, fmt = by_hash[url[len(IMAGE_URL_PREFIX):]]
                encoded = base64.b64encode(img.bytes).decode("ascii")
                part["image_url"]["url"] = f"data:image/{fmt.lower()};base64,{encoded}"
    return out


def student_prompt(problem: Problem) -> str:
    """The user turn a vision student is trained on: the question with one ``<image>`` per image where its
    placeholders are (all prepended when their count does not match the images), then options and instruction."""
    in_place = _PLACEHOLDER.sub("<image>", problem.question).strip()
    if in_place.count("<image>") == len(problem.images):
        return "\n\n".join([in_place, *(["Options:\n" + options_text(problem.choices)] if problem.choices else []),
                             answer_instruction(problem)])
    return "<image>" * len(problem.images) + f"{question_text(problem, with_caption=False)}\n\n{answer_instruction(problem)}"

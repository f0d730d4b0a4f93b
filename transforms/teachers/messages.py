"""Prompt building: a Problem and a prompt style → OpenAI-format chat messages.

Images are referenced as ``mmcot-image:<sha256>`` URLs while a request is planned and keyed
(so cache keys never contain image bytes); :func:`with_data_urls` swaps in the real base64
data URLs right before sending, scaling an image down first when it is larger than the model's
processor would keep (``teacher.image_max_side``: fewer bytes to encode, send and decode).
A text-only teacher gets the caption instead of the images. A Problem's question carries one
``<image>`` marker per image (normalize's contract): a vision request puts each image at its
marker, a text request drops them, the student prompt keeps them.
"""
from __future__ import annotations

import base64
import copy
import io
from collections.abc import Iterator
from typing import Any, Literal

from PIL import Image

from schemas.problem import IMAGE_MARKER, Problem
from transforms.teachers.budget import fit_within

Modality = Literal["text", "vision"]
IMAGE_URL_PREFIX = "mmcot-image:"
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


def question_pieces(problem: Problem) -> list[str]:
    """The question split at its image markers: one more piece than images (markers prepended when it has none)."""
    question = problem.question
    if problem.images and IMAGE_MARKER not in question:
        question = IMAGE_MARKER * len(problem.images) + question
    pieces = question.split(IMAGE_MARKER)
    if len(pieces) - 1 != len(problem.images):
        raise ValueError(f"{problem.id}: {len(pieces) - 1} image marker(s) for {len(problem.images)} image(s)")
    return pieces


def question_text(problem: Problem, with_caption: bool) -> str:
    """The question for a text-only reader, its options and (``with_caption``) the caption.

    Markers go; with several images each becomes ``(image i)`` so the caption can refer to them.
    """
    parts = []
    if with_caption and problem.caption:
        parts.append(f"Image description: {problem.caption}")
    pieces = question_pieces(problem)
    labels = [f"(image {i})" if len(pieces) > 2 else "" for i in range(1, len(pieces))]
    parts.append("".join(p + (labels[i] if i < len(labels) else "") for i, p in enumerate(pieces)).strip())
    if problem.choices:
        parts.append("Options:\n" + options_text(problem.choices))
    return "\n\n".join(parts)


def _vision_content(problem: Problem, instruction: str) -> list[dict[str, Any]]:
    """Images interleaved at the question's ``<image>`` markers, then the options and the instruction."""
    urls = [{"type": "image_url", "image_url": {"url": IMAGE_URL_PREFIX + m.sha256}} for m in problem.image_meta]
    content: list[dict[str, Any]] = []
    for i, piece in enumerate(question_pieces(problem)):
        if piece.strip():
            content.append({"type": "text", "text": piece.strip()})
        if i < len(urls):
            content.append(urls[i])
    tail = [p for p in (options_text(problem.choices) if problem.choices else "", instruction) if p]
    content.append({"type": "text", "text": "\n\n".join(tail)})
    return content


def problem_content(problem: Problem, instruction: str, modality: Modality) -> str | list[dict[str, Any]]:
    """The user turn's content: images (vision) or the caption (text), the question, then ``instruction``."""
    if modality == "vision" and problem.images:
        return _vision_content(problem, instruction)
    return f"{question_text(problem, with_caption=True)}\n\n{instruction}"


def build_messages(problem: Problem, prompt_style: str, modality: Modality) -> list[dict[str, Any]]:
    """Chat messages for one problem."""
    instruction = f"{STYLE_INSTRUCTIONS[prompt_style]} {answer_instruction(problem)}"
    return [{"role": "user", "content": problem_content(problem, instruction, modality)}]


def _image_parts(messages: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """The ``mmcot-image:`` parts of ``messages``, in the order they are sent."""
    for message in messages:
        if isinstance(message["content"], list):
            for part in message["content"]:
                if part.get("image_url", {}).get("url", "").startswith(IMAGE_URL_PREFIX):
                    yield part


def _sha(part: dict[str, Any]) -> str:
    return part["image_url"]["url"][len(IMAGE_URL_PREFIX):]


def sent_image_sizes(messages: list[dict[str, Any]], problem: Problem, max_side: int | None) -> list[tuple[int, int]]:
    """(width, height) of each image of ``messages`` as sent (scaled down to ``max_side``), in order."""
    meta = {m.sha256: m for m in problem.image_meta}
    return [fit_within(meta[_sha(p)].width, meta[_sha(p)].height, max_side) for p in _image_parts(messages)]


def keyed_as_sent(messages: list[dict[str, Any]], problem: Problem, max_side: int | None) -> list[dict[str, Any]]:
    """``messages`` as a cache key reads them: a reference to an image that is scaled down before sending names
    the size it is sent at (``mmcot-image:<sha256>@<w>x<h>``), so answers to other pixels are never reused; the
    others stay as they are (and keep the keys earlier caches wrote)."""
    meta = {m.sha256: m for m in problem.image_meta}
    out = copy.deepcopy(messages)
    for part in _image_parts(out):
        m = meta[_sha(part)]
        size = fit_within(m.width, m.height, max_side)
        if size != (m.width, m.height):
            part["image_url"]["url"] += f"@{size[0]}x{size[1]}"
    return out


def sent_image(data: bytes, fmt: str, max_side: int | None) -> tuple[bytes, str]:
    """An image's bytes and format as sent: as stored when it fits within ``max_side``, else scaled down
    (bicubic, aspect kept, to the size :func:`~transforms.teachers.budget.fit_within` gives) and saved as PNG."""
    with Image.open(io.BytesIO(data)) as img:
        size = fit_within(img.width, img.height, max_side)
        if size == img.size:
            return data, fmt
        out = io.BytesIO()
        img.resize(size, Image.Resampling.BICUBIC, reducing_gap=2.0).save(out, format="PNG", compress_level=1)
    return out.getvalue(), "PNG"


def with_data_urls(messages: list[dict[str, Any]], problem: Problem, max_side: int | None = None) -> list[dict[str, Any]]:
    """A copy of ``messages`` with ``mmcot-image:`` references replaced by base64 data URLs (images longer than
    ``max_side`` scaled down first)."""
    by_hash = {m.sha256: (img, m.format) for img, m in zip(problem.images, problem.image_meta)}
    out = copy.deepcopy(messages)
    for part in _image_parts(out):
        img, fmt = by_hash[_sha(part)]
        data, fmt = sent_image(img.bytes, fmt, max_side)
        part["image_url"]["url"] = f"data:image/{fmt.lower()};base64,{base64.b64encode(data).decode('ascii')}"
    return out


def student_prompt(problem: Problem) -> str:
    """The user turn a vision student is trained on: the question with its ``<image>`` markers in
    place (one per image, in image order), the options, then how to write the answer."""
    parts = [IMAGE_MARKER.join(question_pieces(problem)).strip()]
    if problem.choices:
        parts.append("Options:\n" + options_text(problem.choices))
    return "\n\n".join([*parts, answer_instruction(problem)])

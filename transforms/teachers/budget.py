"""The prompt budget: what one request may hold, checked before it is sent.

A model takes a bounded context (prompt and completion: vLLM's ``max_model_len``) and a bounded
number of images per prompt (vLLM's ``limit_mm_per_prompt``). A prompt over either would come back
as a 400 for every sample; :class:`PromptBudget` refuses it first, with a reason word
(``too_many_images``, ``over_context``), and no request is made.

The limits come from the model, never from constants: the launcher fills what ``teacher.limits``
leaves empty (:mod:`transforms.teachers.registry`) from the engine's settings and model
directory, from the server it started, or from a server's ``/v1/models``. A prompt's tokens are
counted with the model's own processor (its chat template and tokenizer, and its count of the
tokens each image becomes at the size it is sent), so the count is the one vLLM makes; without a
processor only the image count is checked. A prompt over the context is one whose tokens plus
the plan's ``max_tokens`` exceed it: vLLM would cut such a completion short of its budget.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from pydantic import Field

from schemas.settings import Settings
from transforms.teachers.base import TeacherError

log = logging.getLogger(__name__)


class LimitSettings(Settings):
    """What one request to the model may hold (``limits`` of a teacher section); None: read from the model.

    ``context_tokens``: prompt plus completion (vLLM's ``max_model_len``); empty: the engine's
    ``max_model_len``, the started server's, or a vLLM server's ``/v1/models``. ``max_images``: images per
    prompt (vLLM's ``limit_mm_per_prompt``); empty: servers and engines mmcot starts are started with
    ``normalize.limits.max_images`` (the most images a problem can have); another server's is not
    known, so not checked. ``processor_path``: the model's processor (chat template, tokenizer, image
    processor) that counts a prompt's tokens; empty: the model's own directory when it is local (the
    engine, an embedded model).
    """

    context_tokens: int | None = Field(
        default=None, ge=16,
        description="Prompt plus completion tokens a request may hold (vLLM's max_model_len); null: the engine's or the server's.",
    )
    max_images: int | None = Field(
        default=None, ge=0,
        description="Images per prompt (vLLM's limit_mm_per_prompt); null: normalize.limits.max_images for a server or engine mmcot "
                    "starts, not checked for another server.",
    )
    processor_path: str | None = Field(
        default=None,
        description="The model's processor (chat template, tokenizer, image processor) that counts a prompt's tokens; null: the "
                    "model's own folder when it is local.",
    )


def fill(limits: LimitSettings, **found: Any) -> LimitSettings:
    """``limits`` with its empty fields set from ``found`` (the configured ones are kept)."""
    update = {name: value for name, value in found.items() if getattr(limits, name) is None and value is not None}
    return limits.model_copy(update=update) if update else limits


def processor_side(processor_path: str | None) -> int | None:
    """The longest side the model's image processor resizes an image to (``size.longest_edge`` of its
    config), or None when there is no local processor config or it resizes some other way."""
    if not processor_path:
        return None
    for name in ("processor_config.json", "preprocessor_config.json"):
        path = Path(processor_path) / name
        if path.is_file():
            config = json.loads(path.read_text())
            config = config.get("image_processor", config)
            side = (config.get("size") or {}).get("longest_edge")
            return int(side) if side else None
    return None


def fit_within(width: int, height: int, max_side: int | None) -> tuple[int, int]:
    """(width, height) scaled down, aspect kept, so the longer side is at most ``max_side`` (None: unchanged)."""
    longest = max(width, height)
    if max_side is None or longest <= max_side:
        return width, height
    scale = max_side / longest
    return max(1, round(width * scale)), max(1, round(height * scale))


def template_view(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Messages as a chat template sees them: image parts (any URL) become ``{"type": "image"}``."""
    out = []
    for message in messages:
        content = message["content"]
        if isinstance(content, list):
            content = [{"type": "image"} if part.get("type") == "image_url" else part for part in content]
        out.append({**message, "content": content})
    return out


class PromptBudget:
    """Checks prompts against one model's limits (its processor loaded here: a path that does not load fails now)."""

    def __init__(self, limits: LimitSettings):
        self.limits = limits
        self._processor: Any = None
        if limits.processor_path:
            from transformers import AutoProcessor

            self._processor = AutoProcessor.from_pretrained(limits.processor_path)

    def prompt_tokens(self, messages: list[dict[str, Any]], image_sizes: list[tuple[int, int]]) -> int | None:
        """The prompt's tokens as vLLM counts them, each image as the tokens it becomes at its (width, height);
        None without a processor."""
        processor = self._processor
        if processor is None:
            return None
        tokenizer = getattr(processor, "tokenizer", processor)
        text = processor.apply_chat_template(template_view(messages), tokenize=False, add_generation_prompt=True)
        tokens = len(tokenizer(text, add_special_tokens=False)["input_ids"])
        if not image_sizes:
            return tokens
        counts = getattr(processor, "_get_num_multimodal_tokens", None)  # what vLLM's Transformers backend asks too
        if counts is None:
            raise TeacherError("bad_config", f"the processor at {self.limits.processor_path} cannot count image tokens")
        per_image = counts(image_sizes=[[h, w] for w, h in image_sizes]).num_image_tokens
        placeholder = len(tokenizer(processor.image_token, add_special_tokens=False)["input_ids"])
        return tokens - placeholder * len(image_sizes) + sum(per_image)

    def check(self, messages: list[dict[str, Any]], image_sizes: list[tuple[int, int]], max_tokens: int) -> None:
        """Raise TeacherError (``too_many_images``, ``over_context``) for a prompt the model cannot take."""
        limit = self.limits.max_images
        if limit is not None and len(image_sizes) > limit:
            raise TeacherError("too_many_images", f"{len(image_sizes)} images; the model takes at most {limit} per prompt")
        context = self.limits.context_tokens
        if context is None:
            return
        tokens = self.prompt_tokens(messages, image_sizes)
        if tokens is not None and tokens + max_tokens > context:
            raise TeacherError("over_context", f"{tokens} prompt tokens ({len(image_sizes)} images) + max_tokens "
                                               f"{max_tokens} exceed the model's context of {context} tokens")


def image_side(setting: int | str | None, processor_path: str | None) -> int | None:
    """The longest side images are sent at: ``teacher.image_max_side`` as a number, ``processor`` for the
    model's processor's own (None without a local processor config), None to send them as stored."""
    return processor_side(processor_path) if setting == "processor" else setting

"""The models mmcot prepares and serves for you, by the name a config's ``model:`` gives.

The embedded teacher (SmolLM2-135M-Instruct, text) and the plumbing vision teacher built from it
(SmolVLM-256M's shape, untrained vision tower: it tests the image path, never quality). Both are
prepared once under ``mmcot_home()/models`` and served by the same code
(:func:`pipelines.vllm_server.embedded_server`).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pipelines.embedded_teacher import EMBEDDED_MODEL_NAME, prepare_embedded_teacher
from pipelines.vision_teacher import VISION_MODEL_NAME, prepare_vision_teacher


@dataclass(frozen=True)
class EmbeddedModel:
    """A model mmcot can build locally: ``prepare(home, force)`` returns its directory; ``vision``: it takes images
    (served with a per-prompt image limit)."""

    name: str
    prepare: Callable[[Path | None, bool], Path]
    vision: bool


EMBEDDED_MODELS: dict[str, EmbeddedModel] = {
    EMBEDDED_MODEL_NAME: EmbeddedModel(EMBEDDED_MODEL_NAME, prepare_embedded_teacher, vision=False),
    VISION_MODEL_NAME: EmbeddedModel(VISION_MODEL_NAME, prepare_vision_teacher, vision=True),
}


def embedded_model(name: str) -> EmbeddedModel:
    """The embedded model ``name``; ValueError naming the known ones otherwise."""
    try:
        return EMBEDDED_MODELS[name]
    except KeyError:
        raise ValueError(f"{name!r} is not an embedded model (known: {', '.join(EMBEDDED_MODELS)})") from None

"""Dataset presets: a known dataset's own columns mapped to mmcot's fields.

A preset is a module with ``NAME``, ``REQUIRE_IMAGES`` (the default for its sources) and
``fields(raw) -> dict`` turning one row, in the dataset's exact Hub schema, into mmcot's field
names (id, question, answer, answer_type, images, choices, subject, caption, unit, metadata).
Image placeholders are left in the question as the dataset wrote them; normalize makes them
canonical. A row the preset cannot parse raises :class:`PresetError` and is dead-lettered.
"""
from __future__ import annotations

from transforms.sources.presets import chartqa, geometry3k, mathvista, mmmu, scienceqa
from transforms.sources.presets.common import PresetError

PRESETS = {m.NAME: m for m in (mathvista, mmmu, geometry3k, scienceqa, chartqa)}

__all__ = ["PRESETS", "PresetError"]

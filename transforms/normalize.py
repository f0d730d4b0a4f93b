"""Validate a SourceRow and turn it into a Problem with normalized, hashed images.

Field checks are :mod:`transforms.validate`'s, image files are opened by
:mod:`transforms.confined` (never outside the dataset root), and ids are made unique by
:mod:`transforms.identity`. Every failure becomes a dead-letter row naming the reason: those
modules' reasons, ``bad_answer_type``, ``missing_image``, ``unreadable_image``,
``decompression_bomb``, ``image_too_small``, ``image_marker_mismatch`` (the question's image
placeholders do not fit its images). Placeholders become one canonical ``<image>`` per image
(``transforms.image_markers``).
"""
from __future__ import annotations

from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics
from pydantic import Field

from schemas.outputs import RejectRow
from schemas.problem import ANSWER_TYPES, ImageMeta, ImageRef, Problem
from schemas.settings import Settings
from schemas.source import SourceRow
from schemas.stages import NORMALIZE
from transforms import validate
from transforms.confined import read_image_file, read_remote_image
from transforms.failures import guarded
from transforms.identity import DuplicateIds, RepeatedIds, unique_id
from transforms.image_markers import MarkerError, canonical_markers
from transforms.images import ImageError, ImageSettings, normalize_image
from transforms.tags import DEAD_LETTER
from transforms.validate import LimitSettings, RowError
from transforms.verifiers import infer_answer_type

__all__ = ["NormalizeProblems", "NormalizeSettings", "RowError", "to_problem"]


class NormalizeSettings(Settings):
    """Row validation: whether a problem needs an image, the image and size limits, remote images, duplicate ids.

    ``remote_images`` lets an image path be a URL (read through Beam's FileSystems); off, a URL
    is ``remote_image``. ``duplicate_ids``: ``dead_letter`` (default) keeps the first row of an
    id (by file, then row) and dead-letters the others; ``rename`` gives them ``<id>#2``, ``#3`` ….
    """

    require_images: bool = Field(
        default=True,
        description="Dead-letter a problem with no image (missing_image); turn off for text-only sources.",
    )
    images: ImageSettings = Field(default=ImageSettings(), description="Limits for accepted images and how they are re-encoded.")
    limits: LimitSettings = Field(
        default=LimitSettings(),
        description="Sizes a row may have; a larger row is dead-lettered before dedup or a teacher sees it.",
    )
    remote_images: bool = Field(
        default=False,
        description="Let an image path be a URL (read through Beam's FileSystems); off, a URL image is dead-lettered (remote_image).",
    )
    duplicate_ids: DuplicateIds = Field(
        default="dead_letter",
        description="A repeated problem id: dead_letter keeps the first row (by file, then row) and dead-letters the others; rename gives "
                    "them <id>#2, #3, ….",
    )


def _image_bytes(data: bytes | None, path: Any, root: str | None, settings: NormalizeSettings) -> tuple[bytes, str]:
    if data is not None:  # bytes win: the path is only a name and is never opened
        return data, path if isinstance(path, str) and path else "image"
    path = validate.image_path(path, settings.remote_images)
    if validate.is_url(path):
        return read_remote_image(path, settings.limits.max_image_bytes), path
    return read_image_file(root, path, settings.limits.max_image_bytes), path


def _images(value: Any, root: str | None, settings: NormalizeSettings) -> tuple[list[ImageRef], list[ImageMeta]]:
    entries = validate.image_entries(value, settings.limits)
    if not entries and settings.require_images:
        raise RowError("missing_image", "the row has no image")
    refs, metas = [], []
    for data, path in entries:
        data, name = _image_bytes(data, path, root, settings)
        try:
            ref, meta = normalize_image(data, name, settings.images)
        except ImageError as exc:
            raise RowError(exc.reason, exc.detail) from exc
        refs.append(ref)
        metas.append(meta)
    return refs, metas


def to_problem(row: SourceRow, settings: NormalizeSettings) -> Problem:
    """Validate ``row`` and build its Problem; raises :class:`RowError` with a reason."""
    f, limits = row.fields, settings.limits
    question = validate.text(f, "question", limits.max_question_chars, required=True, too_long="question_too_long")
    answer = validate.text(f, "answer", limits.max_answer_chars, required=True, too_long="answer_too_long")
    choices = validate.choices(f.get("choices"), limits)
    answer_type = validate.text(f, "answer_type", limits.max_text_chars) or infer_answer_type(answer, choices)
    if answer_type not in ANSWER_TYPES:
        raise RowError("bad_answer_type", f"answer_type {answer_type[:40]!r} is not one of {', '.join(ANSWER_TYPES)}")
    if answer_type == "multiple_choice" and not choices:
        raise RowError("wrong_type", "a multiple_choice problem needs choices")
    metadata = validate.metadata(f.get("metadata"), limits)
    images, metas = _images(f.get("images"), row.image_root, settings)
    try:
        question, order = canonical_markers(question, len(images))
    except MarkerError as exc:
        raise RowError("image_marker_mismatch", str(exc)) from exc
    images, metas = [images[i] for i in order], [metas[i] for i in order]
    return Problem(
        id=row.row_id,
        source=row.source,
        split=row.split,
        question=question,
        answer=answer,
        answer_type=answer_type,
        images=images,
        image_meta=metas,
        choices=choices,
        subject=validate.text(f, "subject", limits.max_text_chars),
        caption=validate.text(f, "caption", limits.max_text_chars),
        unit=validate.text(f, "unit", limits.max_text_chars),
        metadata=metadata,
    )


class NormalizeFn(beam.DoFn):
    """SourceRow → Problem, or a dead-letter row with the reason; a source may require images or not."""

    def __init__(self, settings: NormalizeSettings, require_images: dict[str, bool] | None = None):
        self._settings = settings
        self._by_source = {name: settings.model_copy(update={"require_images": required})
                           for name, required in (require_images or {}).items()}
        self._ok = Metrics.counter(NORMALIZE.name, "problems")
        self._bad = Metrics.counter(NORMALIZE.name, "dead_lettered")

    def process(self, row: SourceRow, repeated: dict[str, list]):
        try:
            row = unique_id(row, repeated, self._settings.duplicate_ids)
            problem = to_problem(row, self._by_source.get(row.source, self._settings))
        except RowError as exc:
            self._bad.inc()
            yield beam.pvalue.TaggedOutput(
                DEAD_LETTER,
                RejectRow(row_id=row.row_id, source=row.source, stage=NORMALIZE.name, reason=exc.reason, detail=exc.detail),
            )
            return
        self._ok.inc()
        yield problem


class NormalizeProblems(beam.PTransform):
    """SourceRows → Problems (main) and dead letters; ``require_images`` overrides the setting per source name."""

    def __init__(self, settings: NormalizeSettings, require_images: dict[str, bool] | None = None):
        super().__init__()
        self._settings = settings
        self._require_images = require_images

    def expand(self, rows):
        repeated = beam.pvalue.AsDict(rows | "RepeatedIds" >> RepeatedIds())
        fn = NormalizeFn(self._settings, self._require_images)
        return rows | "Normalize" >> guarded(
            NORMALIZE.name, beam.ParDo(fn, repeated).with_outputs(DEAD_LETTER, main="problems"))

"""Validate a SourceRow and turn it into a Problem with normalized, hashed images.

Every failure becomes a dead-letter row naming the reason: ``missing_question``,
``missing_answer``, ``wrong_type``, ``bad_answer_type``, ``missing_image``,
``path_outside_root``, ``unreadable_image``, ``decompression_bomb``, ``image_too_small``,
``image_marker_mismatch`` (the question's image placeholders do not fit its images).
Placeholders become one canonical ``<image>`` per image (``transforms.image_markers``).
"""
from __future__ import annotations

import json
import posixpath
from typing import Any

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from schemas.outputs import RejectRow
from schemas.problem import ANSWER_TYPES, ImageMeta, ImageRef, Problem
from schemas.settings import Settings
from schemas.source import SourceRow
from transforms.image_markers import MarkerError, canonical_markers
from transforms.images import ImageError, ImageSettings, normalize_image
from transforms.tags import DEAD_LETTER
from transforms.verifiers import infer_answer_type

class NormalizeSettings(Settings):
    """Row validation: whether a problem needs an image, and the image limits."""

    require_images: bool = True
    images: ImageSettings = ImageSettings()


class RowError(ValueError):
    """A row that cannot become a Problem."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def _text(fields: dict[str, Any], name: str, required: bool) -> str:
    value = fields.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise RowError(f"missing_{name}", f"{name} is empty or missing")
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and name == "answer":
        return str(value)
    if not isinstance(value, str):
        raise RowError("wrong_type", f"{name} must be a string, got {type(value).__name__}")
    return value.strip()


def _choices(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise RowError("wrong_type", f"choices is a string that is not a JSON list: {exc}") from exc
    if not isinstance(value, list) or not all(isinstance(c, (str, int, float)) for c in value):
        raise RowError("wrong_type", "choices must be a list of strings")
    return [str(c) for c in value]


def _metadata(value: Any) -> str:
    if value is None:
        return "{}"
    if isinstance(value, str):
        try:
            json.loads(value)
        except json.JSONDecodeError as exc:
            raise RowError("wrong_type", f"metadata is not valid JSON: {exc}") from exc
        return value
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    raise RowError("wrong_type", f"metadata must be an object or a JSON string, got {type(value).__name__}")


def resolve_image_path(root: str | None, rel: str) -> str:
    """``rel`` joined to ``root``; raises ``path_outside_root`` if it escapes the root."""
    if root is None:
        raise RowError("path_outside_root", f"{rel}: this source has no image root")
    if rel.startswith("/") or "://" in rel:
        raise RowError("path_outside_root", f"{rel}: absolute paths are not allowed")
    base = posixpath.normpath(root)
    full = posixpath.normpath(posixpath.join(base, rel))
    if not full.startswith(base.rstrip("/") + "/"):
        raise RowError("path_outside_root", f"{rel} resolves outside {root}")
    return full


def _image_bytes(entry: Any, root: str | None) -> tuple[bytes, str]:
    if isinstance(entry, dict) and entry.get("bytes"):
        return entry["bytes"], entry.get("path") or "image"
    path = entry.get("path") if isinstance(entry, dict) else entry
    if not isinstance(path, str) or not path:
        raise RowError("wrong_type", f"image entry must be a path or {{bytes, path}}, got {type(entry).__name__}")
    full = resolve_image_path(root, path)
    try:
        with FileSystems.open(full) as fh:
            return fh.read(), path
    except (OSError, IOError) as exc:
        raise RowError("missing_image", f"{path}: {exc}") from exc


def _images(value: Any, root: str | None, settings: NormalizeSettings) -> tuple[list[ImageRef], list[ImageMeta]]:
    entries = [] if value is None else value if isinstance(value, list) else [value]
    if not entries and settings.require_images:
        raise RowError("missing_image", "the row has no image")
    refs, metas = [], []
    for entry in entries:
        data, name = _image_bytes(entry, root)
        try:
            ref, meta = normalize_image(data, name, settings.images)
        except ImageError as exc:
            raise RowError(exc.reason, exc.detail) from exc
        refs.append(ref)
        metas.append(meta)
    return refs, metas


def to_problem(row: SourceRow, settings: NormalizeSettings) -> Problem:
    """Validate ``row`` and build its Problem; raises :class:`RowError` with a reason."""
    f = row.fields
    question = _text(f, "question", required=True)
    answer = _text(f, "answer", required=True)
    choices = _choices(f.get("choices"))
    answer_type = _text(f, "answer_type", required=False) or infer_answer_type(answer, choices)
    if answer_type not in ANSWER_TYPES:
        raise RowError("bad_answer_type", f"answer_type {answer_type!r} is not one of {', '.join(ANSWER_TYPES)}")
    if answer_type == "multiple_choice" and not choices:
        raise RowError("wrong_type", "a multiple_choice problem needs choices")
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
        subject=_text(f, "subject", required=False),
        caption=_text(f, "caption", required=False),
        unit=_text(f, "unit", required=False),
        metadata=_metadata(f.get("metadata")),
    )


class NormalizeFn(beam.DoFn):
    """SourceRow → Problem, or a dead-letter row with the reason; a source may require images or not."""

    def __init__(self, settings: NormalizeSettings, require_images: dict[str, bool] | None = None):
        self._settings = settings
        self._by_source = {name: settings.model_copy(update={"require_images": required})
                           for name, required in (require_images or {}).items()}
        self._ok = Metrics.counter("normalize", "problems")
        self._bad = Metrics.counter("normalize", "dead_lettered")

    def process(self, row: SourceRow):
        try:
            problem = to_problem(row, self._by_source.get(row.source, self._settings))
        except RowError as exc:
            self._bad.inc()
            yield beam.pvalue.TaggedOutput(
                DEAD_LETTER,
                RejectRow(row_id=row.row_id, source=row.source, stage="normalize", reason=exc.reason, detail=exc.detail),
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
        fn = NormalizeFn(self._settings, self._require_images)
        return rows | "Normalize" >> beam.ParDo(fn).with_outputs(DEAD_LETTER, main="problems")

"""Read stage: JSONL (+ image folder), Parquet (HF Image layout), saved HF datasets and Hub repos.

Each source file is read by one DoFn call (files are listed when the pipeline is built), rows
are emitted as :class:`SourceRow` with the configured column mapping (or the source's preset)
applied, and the rows read per file go to the ``read_counts`` output so the run can prove every
row is accounted for, per source. Lines are parsed safely
(:func:`transforms.validate.parse_json_line`; a UTF-8 BOM is skipped, a line over
``MAX_LINE_BYTES`` is skipped unread), and a line, an id or a row its preset cannot parse is
dead-lettered here; fields are validated by normalize. A file that cannot be read (not Parquet,
truncated, unreadable) is dead-lettered as one row (``<source>/<file>``, reason
``unreadable_file``) and counted as one row read; rows it yielded before failing stay. Local
paths are made absolute against the working directory when the pipeline is built.
"""
from __future__ import annotations

import hashlib
import os
import posixpath
from collections.abc import Iterator
from typing import Any, Literal

import apache_beam as beam
import fsspec
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics
from pydantic import Field, model_validator

from schemas.outputs import RejectRow
from schemas.settings import Settings
from schemas.source import ReadCount, SourceRow
from schemas.stages import READ
from transforms.failures import reason_for
from transforms.sources import layouts
from transforms.sources.finished_run import RESTORED, ReadFinishedRun, TakeSettings
from transforms.sources.presets import PRESETS, PresetError
from transforms.tags import DEAD_LETTER, READ_COUNTS
from transforms.validate import MAX_LINE_BYTES, RowError, parse_json_line, source_id

FIELDS = ("id", "question", "answer", "answer_type", "images", "choices", "subject", "caption", "unit", "metadata")


class SourceSettings(Settings):
    """Where problems come from and how their columns map to mmcot's fields.

    ``path`` is a file or a glob (jsonl, parquet), a ``save_to_disk`` folder (``hf_disk``: a
    Dataset or a DatasetDict root, whose ``split`` is read), or a Hub dataset repo (``hub``: a
    local copy, ``hf://datasets/<id>`` or ``<owner>/<name>``; ``config`` picks a subset, ``*`` all).
    ``preset`` maps a known dataset's own columns (see ``transforms/sources/presets``);
    ``columns`` maps an mmcot field (id, question, answer, …) to the source's column name, and
    with a preset overrides the preset's choice for that field. ``limit`` caps the rows read
    (files in order), ``weight`` keeps that share of the rows, picked by a stable hash of the row
    id (so a larger weight keeps a superset). ``require_images`` overrides ``normalize`` for this
    source (a preset may set its own default: ScienceQA's questions are often text-only).

    ``mmcot`` reads a finished run's output directory (``transforms/sources/finished_run.py``):
    ``take`` picks its problems by outcome; columns, presets and image roots do not apply.
    """

    kind: Literal["jsonl", "parquet", "hf_disk", "hub", "mmcot"] = Field(
        description="Source format: jsonl or parquet files, hf_disk (a save_to_disk folder), hub (a Hub dataset), mmcot (a finished run's "
                    "output).",
    )
    path: str = Field(
        description="A file or glob (jsonl, parquet), a save_to_disk folder (hf_disk), a Hub dataset (hub: a local copy, "
                    "hf://datasets/<id> or <owner>/<name>), or a finished run's output directory (mmcot).",
    )
    name: str = Field(
        min_length=1, pattern=r"^[^/\s]+$",
        description="The source's name: the prefix of every problem id it yields (no slash or whitespace; unique among sources).",
    )
    split: str = Field(default="train", description="The split read from a DatasetDict (hf_disk) or a Hub dataset (hub).")
    config: str | None = Field(
        default=None,
        description="hub: the dataset's subset (configuration) to read, * for all; null: the default one.",
    )
    image_root: str | None = Field(
        default=None,
        description="Folder relative image paths are resolved against; null: the folder of the file being read.",
    )
    columns: dict[str, str] = Field(
        default={},
        description="Maps an mmcot field (id, question, answer, …) to the source's column name; with a preset, overrides its choice for "
                    "that field.",
    )
    preset: str | None = Field(default=None, description="A known dataset's column mapping (transforms/sources/presets); null: none.")
    limit: int | None = Field(default=None, ge=1, description="Most rows read from this source (files in order); null: all.")
    weight: float = Field(
        default=1.0, gt=0.0, le=1.0,
        description="Share of rows kept, picked by a stable hash of the row id (a larger weight keeps a superset); 1: all.",
    )
    require_images: bool | None = Field(
        default=None,
        description="Overrides normalize.require_images for this source; null: the preset's default, else normalize's.",
    )
    max_rows_per_file: int | None = Field(default=None, ge=1, description="Most rows read from each file; null: all.")
    take: TakeSettings | None = Field(
        default=None,
        description="kind: mmcot only: which of the finished run's problems to take, by outcome.",
    )

    @model_validator(mode="after")
    def _kind_fits(self) -> SourceSettings:
        if self.kind != "mmcot" and self.take is not None:
            raise ValueError("take: only a kind: mmcot source (a finished run) takes problems by outcome")
        if self.kind == "mmcot":
            given = [k for k in ("columns", "preset", "image_root", "config", "limit", "max_rows_per_file")
                     if getattr(self, k) not in (None, {})] + (["weight"] if self.weight != 1.0 else [])
            if given:
                raise ValueError(f"{', '.join(given)}: do not apply to a kind: mmcot source (it restores problems as "
                                 "they were); choose them with take:")
        return self

    @model_validator(mode="after")
    def _known_names(self) -> SourceSettings:
        if self.preset is not None and self.preset not in PRESETS:
            raise ValueError(f"preset {self.preset!r} is unknown; known: {', '.join(sorted(PRESETS))}")
        unknown = sorted(set(self.columns) - set(FIELDS))
        if unknown:
            raise ValueError(f"columns: {unknown} are not mmcot fields ({', '.join(FIELDS)})")
        return self

    def column(self, field: str) -> str:
        """The source column that holds ``field``."""
        return self.columns.get(field, field)

    def images_required(self) -> bool | None:
        """This source's ``require_images`` (its preset's default when unset; None: normalize's)."""
        if self.require_images is not None:
            return self.require_images
        return PRESETS[self.preset].REQUIRE_IMAGES if self.preset else None


def require_images_by_source(sources: list[SourceSettings]) -> dict[str, bool]:
    """Source name → whether its problems need an image, for the sources that say (or whose preset says)."""
    return {s.name: s.images_required() for s in sources if s.images_required() is not None}


def absolute(path: str | None) -> str | None:
    """A local path made absolute against the working directory (URLs unchanged)."""
    return path if path is None or "://" in path else os.path.abspath(path)


def list_files(settings: SourceSettings) -> list[str]:
    """The concrete files a source reads, in order; raises if there are none."""
    return layouts.list_files(settings.kind, settings.path, settings.split, settings.config, f"sources[{settings.name}]")


def map_columns(raw: dict[str, Any], settings: SourceSettings) -> dict[str, Any]:
    """Pick mmcot's fields out of a raw row (a missing column becomes None), through the preset if any."""
    if settings.preset is None:
        return {f: raw.get(settings.column(f)) for f in FIELDS}
    fields = {f: None for f in FIELDS} | PRESETS[settings.preset].fields(raw)
    return fields | {f: raw.get(column) for f, column in settings.columns.items()}


def sampled(row_id: str, weight: float) -> bool:
    """Whether ``row_id`` is in the ``weight`` share of its source (stable across runs and runners)."""
    return weight >= 1.0 or int.from_bytes(hashlib.sha256(row_id.encode()).digest()[:8], "big") < weight * 2**64


def _open(path: str):
    """A binary handle on ``path``: Beam's filesystems, else fsspec (the Hub's ``hf://`` and any other)."""
    try:
        FileSystems.get_filesystem(path)
    except ValueError:
        return fsspec.open(path, "rb").open()
    return FileSystems.open(path)


def _lines(fh) -> Iterator[bytes | None]:
    """Lines of a binary stream, each read with a bound; None stands for a line over ``MAX_LINE_BYTES`` (skipped)."""
    while True:
        line = fh.readline(MAX_LINE_BYTES + 1)
        if not line:
            return
        if len(line) <= MAX_LINE_BYTES or line.endswith(b"\n"):
            yield line
            continue
        while line and not line.endswith(b"\n"):
            line = fh.readline(MAX_LINE_BYTES)
        yield None


def _iter_jsonl(path: str) -> Iterator[tuple[int, dict[str, Any] | None, RowError | None]]:
    with _open(path) as fh:
        for line_no, line in enumerate(_lines(fh), start=1):
            if line is None:
                yield line_no, None, RowError("line_too_long", f"line {line_no} exceeds {MAX_LINE_BYTES} bytes")
                continue
            text = line.decode("utf-8", errors="replace").lstrip("\ufeff").strip()
            if not text:
                continue
            try:
                yield line_no, parse_json_line(text), None
            except RowError as exc:
                yield line_no, None, RowError(exc.reason, f"line {line_no}: {exc.detail}")


def _iter_parquet(path: str) -> Iterator[tuple[int, dict[str, Any] | None, RowError | None]]:
    with _open(path) as fh:
        parquet = pq.ParquetFile(fh)
        index = 0
        for batch in parquet.iter_batches(batch_size=256):
            for row in batch.to_pylist():
                index += 1
                yield index, row, None


def _iter_hf_arrow(path: str) -> Iterator[tuple[int, dict[str, Any] | None, RowError | None]]:
    import datasets

    table = datasets.Dataset.from_file(path).with_format("arrow")
    index = 0
    for batch in table.iter(batch_size=256):
        for row in batch.to_pylist():
            index += 1
            yield index, row, None


_READERS = {"jsonl": _iter_jsonl, "parquet": _iter_parquet, "hf_disk": _iter_hf_arrow}


class ReadFileFn(beam.DoFn):
    """Reads source files (one, or a source's whole list under a ``limit``) into SourceRows;
    counts rows per file; dead-letters unusable lines, rows its preset cannot parse and unreadable files."""

    def __init__(self, settings: SourceSettings):
        self._settings = settings
        self._files = Metrics.counter(READ.name, "files")
        self._rows = Metrics.counter(READ.name, "rows")

    def process(self, paths: list[str]):
        budget = self._settings.limit
        for path in paths:
            count = yield from self._read(path, budget)
            budget = None if budget is None else budget - count
            if budget is not None and budget <= 0:
                return

    def _row(self, path: str, stem: str, index: int, raw: dict[str, Any] | None, error: RowError | None):
        """The row's SourceRow or its dead letter, and its id (for sampling)."""
        s = self._settings
        fallback = f"{s.name}/{stem}:{index}"
        try:
            if error is not None:
                raise error
            fields = map_columns(raw, s)
            local_id = source_id(fields.get("id"))
            row_id = fallback if local_id is None else f"{s.name}/{local_id}"
            return row_id, SourceRow(row_id=row_id, source=s.name, split=s.split, fields=fields,
                                     image_root=s.image_root or posixpath.dirname(path), file=path, index=index)
        except Exception as exc:
            if isinstance(exc, (RowError, PresetError)):
                reason, detail = exc.reason, exc.detail
            else:
                reason, detail = reason_for(type(exc)), repr(exc)
            return fallback, beam.pvalue.TaggedOutput(
                DEAD_LETTER, RejectRow(row_id=fallback, source=s.name, stage=READ.name, reason=reason, detail=detail))

    def _read(self, path: str, budget: int | None):
        s = self._settings
        stem = posixpath.basename(path).rsplit(".", 1)[0]
        count = skipped = 0
        try:
            for index, raw, error in _READERS[layouts.reader_kind(s.kind, path)](path):
                if s.max_rows_per_file is not None and count + skipped >= s.max_rows_per_file:
                    break
                if budget is not None and count >= budget:
                    break
                row_id, out = self._row(path, stem, index, raw, error)
                if not sampled(row_id, s.weight):
                    skipped += 1
                    continue
                count += 1
                yield out
        except Exception as exc:
            count += 1
            detail = f"{type(exc).__name__}: {exc} (after {count - 1} rows)"
            yield beam.pvalue.TaggedOutput(DEAD_LETTER, RejectRow(
                row_id=f"{s.name}/{posixpath.basename(path)}", source=s.name, stage=READ.name, reason="unreadable_file",
                detail=detail, payload=path))
        self._files.inc()
        self._rows.inc(count)
        yield beam.pvalue.TaggedOutput(READ_COUNTS, ReadCount(file=path, rows=count, source=s.name, sampled_out=skipped))
        return count


class ReadProblems(beam.PTransform):
    """One source's files → SourceRows (main), dead letters, and rows read per file."""

    def __init__(self, settings: SourceSettings):
        super().__init__()
        self._settings = settings

    def expand(self, pbegin):
        s = self._settings
        hub_id = s.kind == "hub" and not os.path.exists(s.path)  # `<owner>/<name>`, not a local copy
        settings = s.model_copy(update={"path": s.path if hub_id else absolute(s.path),
                                        "image_root": absolute(s.image_root)})
        files = list_files(settings)
        batches = [files] if settings.limit is not None else [[f] for f in files]
        return (
            pbegin
            | "ListFiles" >> beam.Create(batches)
            | "ReadFiles" >> beam.ParDo(ReadFileFn(settings)).with_outputs(DEAD_LETTER, READ_COUNTS, RESTORED, main="rows")
        )


class ReadSources(beam.PTransform):
    """Every configured source → one ``rows``, ``dead_letter``, ``read_counts`` and restored ``problems`` (a finished
    run's, normalized already) collection each."""

    def __init__(self, sources: list[SourceSettings]):
        super().__init__()
        self._sources = sources

    def expand(self, pbegin):
        reads = [pbegin | f"Read_{s.name}" >> (
            ReadFinishedRun(s.name, absolute(s.path), s.take or TakeSettings()) if s.kind == "mmcot" else ReadProblems(s))
            for s in self._sources]
        return {
            tag: [r[tag] for r in reads] | f"All_{tag}" >> beam.Flatten()
            for tag in ("rows", DEAD_LETTER, READ_COUNTS, RESTORED)
        }

"""Read stage: JSONL (+ image folder), Parquet (HF Image layout), saved HF datasets and Hub repos.

Each source file is read by one DoFn call (files are listed when the pipeline is built), rows
are emitted as :class:`SourceRow` with the configured column mapping (or the source's preset)
applied, and the rows read per file go to the ``read_counts`` output so the run can prove every
row is accounted for, per source. A line that is not a JSON object, or a row its preset cannot
parse, is dead-lettered here; everything else is validated later.
"""
from __future__ import annotations

import hashlib
import json
import posixpath
from typing import Any, Iterator, Literal

import apache_beam as beam
import fsspec
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems
from pydantic import Field, model_validator

from schemas.outputs import RejectRow
from schemas.settings import Settings
from schemas.source import ReadCount, SourceRow
from transforms.sources import layouts
from transforms.sources.presets import PRESETS, PresetError
from transforms.tags import DEAD_LETTER, READ_COUNTS

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
    """

    kind: Literal["jsonl", "parquet", "hf_disk", "hub"]
    path: str
    name: str = Field(min_length=1, pattern=r"^[^/\s]+$")
    split: str = "train"
    config: str | None = None
    image_root: str | None = None
    columns: dict[str, str] = {}
    preset: str | None = None
    limit: int | None = Field(default=None, ge=1)
    weight: float = Field(default=1.0, gt=0.0, le=1.0)
    require_images: bool | None = None
    max_rows_per_file: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _known_names(self) -> "SourceSettings":
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


def _iter_jsonl(path: str) -> Iterator[tuple[int, dict[str, Any] | None, str]]:
    with _open(path) as fh:
        for line_no, line in enumerate(fh, start=1):
            text = line.decode("utf-8", errors="replace").strip()
            if not text:
                continue
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as exc:
                yield line_no, None, f"line {line_no}: {exc}"
                continue
            yield (line_no, obj, "") if isinstance(obj, dict) else (line_no, None, f"line {line_no}: not an object")


def _iter_parquet(path: str) -> Iterator[tuple[int, dict[str, Any] | None, str]]:
    with _open(path) as fh:
        parquet = pq.ParquetFile(fh)
        index = 0
        for batch in parquet.iter_batches(batch_size=256):
            for row in batch.to_pylist():
                index += 1
                yield index, row, ""


def _iter_hf_arrow(path: str) -> Iterator[tuple[int, dict[str, Any] | None, str]]:
    import datasets

    table = datasets.Dataset.from_file(path).with_format("arrow")
    index = 0
    for batch in table.iter(batch_size=256):
        for row in batch.to_pylist():
            index += 1
            yield index, row, ""


_READERS = {"jsonl": _iter_jsonl, "parquet": _iter_parquet, "hf_disk": _iter_hf_arrow}


class ReadFileFn(beam.DoFn):
    """Reads source files (one, or a source's whole list under a ``limit``) into SourceRows;
    counts rows per file; dead-letters unparsable lines and rows its preset cannot parse."""

    def __init__(self, settings: SourceSettings):
        self._settings = settings

    def process(self, paths: list[str]):
        budget = self._settings.limit
        for path in paths:
            count = yield from self._read(path, budget)
            budget = None if budget is None else budget - count
            if budget is not None and budget <= 0:
                return

    def _read(self, path: str, budget: int | None):
        s = self._settings
        image_root = s.image_root or posixpath.dirname(path)
        stem = posixpath.basename(path).rsplit(".", 1)[0]
        count = skipped = 0
        for index, raw, error in _READERS[layouts.reader_kind(s.kind, path)](path):
            if s.max_rows_per_file is not None and count + skipped >= s.max_rows_per_file:
                break
            if budget is not None and count >= budget:
                break
            fields, reason = None, "malformed_row"
            if raw is not None:
                try:
                    fields = map_columns(raw, s)
                except PresetError as exc:
                    reason, error = exc.reason, exc.detail
            local_id = fields.get("id") if fields is not None else (raw or {}).get(s.column("id"))
            row_id = f"{s.name}/{local_id if local_id not in (None, '') else f'{stem}:{index}'}"
            if not sampled(row_id, s.weight):
                skipped += 1
                continue
            count += 1
            if fields is None:
                yield beam.pvalue.TaggedOutput(
                    DEAD_LETTER, RejectRow(row_id=row_id, source=s.name, stage="read", reason=reason, detail=error)
                )
                continue
            yield SourceRow(row_id=row_id, source=s.name, split=s.split, fields=fields, image_root=image_root)
        yield beam.pvalue.TaggedOutput(READ_COUNTS, ReadCount(file=path, rows=count, source=s.name, sampled_out=skipped))
        return count


class ReadProblems(beam.PTransform):
    """One source's files → SourceRows (main), dead letters, and rows read per file."""

    def __init__(self, settings: SourceSettings):
        super().__init__()
        self._settings = settings

    def expand(self, pbegin):
        files = list_files(self._settings)
        batches = [files] if self._settings.limit is not None else [[f] for f in files]
        return (
            pbegin
            | "ListFiles" >> beam.Create(batches)
            | "ReadFiles" >> beam.ParDo(ReadFileFn(self._settings)).with_outputs(DEAD_LETTER, READ_COUNTS, main="rows")
        )


class ReadSources(beam.PTransform):
    """Every configured source → one ``rows``, ``dead_letter`` and ``read_counts`` collection each."""

    def __init__(self, sources: list[SourceSettings]):
        super().__init__()
        self._sources = sources

    def expand(self, pbegin):
        reads = [pbegin | f"Read_{s.name}" >> ReadProblems(s) for s in self._sources]
        return {
            tag: [r[tag] for r in reads] | f"All_{tag}" >> beam.Flatten()
            for tag in ("rows", DEAD_LETTER, READ_COUNTS)
        }

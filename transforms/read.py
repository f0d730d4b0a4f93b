"""Read stage: JSONL (+ image folder), Parquet (HF Image layout) and saved HF datasets.

Each source file is read by one DoFn call (files are listed when the pipeline is built), rows
are emitted as :class:`SourceRow` with the configured column mapping applied, and the rows read
per file go to the ``read_counts`` output so the run can prove every row is accounted for.
Lines are parsed safely (:func:`transforms.validate.parse_json_line`; a UTF-8 BOM is skipped,
a line over ``MAX_LINE_BYTES`` is skipped unread) and a line or id that cannot be used is
dead-lettered here; fields are validated by normalize. A file that cannot be read (not
Parquet, truncated, unreadable) is dead-lettered as one row (``<source>/<file>``, reason
``unreadable_file``) and counted as one row read; rows it yielded before failing stay. Local
paths are made absolute against the working directory when the pipeline is built.
"""
from __future__ import annotations

import os
import posixpath
from typing import Any, Iterator, Literal

import apache_beam as beam
from apache_beam.metrics import Metrics
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems

from schemas.outputs import RejectRow
from schemas.settings import Settings
from schemas.source import ReadCount, SourceRow
from transforms.failures import reason_for
from transforms.tags import DEAD_LETTER, READ_COUNTS
from transforms.validate import MAX_LINE_BYTES, RowError, parse_json_line, source_id

FIELDS = ("id", "question", "answer", "answer_type", "images", "choices", "subject", "caption", "unit", "metadata")


class SourceSettings(Settings):
    """Where problems come from and how their columns map to mmcot's fields.

    ``path`` is a file, a glob, or (``hf_disk``) a ``Dataset.save_to_disk`` directory;
    ``columns`` maps an mmcot field (id, question, answer, …) to the source's column name.
    """

    kind: Literal["jsonl", "parquet", "hf_disk"]
    path: str
    name: str
    split: str = "train"
    image_root: str | None = None
    columns: dict[str, str] = {}
    max_rows_per_file: int | None = None

    def column(self, field: str) -> str:
        """The source column that holds ``field``."""
        return self.columns.get(field, field)


def absolute(path: str | None) -> str | None:
    """A local path made absolute against the working directory (URLs unchanged)."""
    return path if path is None or "://" in path else os.path.abspath(path)


def list_files(settings: SourceSettings) -> list[str]:
    """The concrete files a source reads, sorted; raises if there are none."""
    pattern = settings.path
    if settings.kind == "hf_disk":
        pattern = posixpath.join(settings.path.rstrip("/"), "*.arrow")
    files = sorted(m.path for r in FileSystems.match([pattern]) for m in r.metadata_list)
    if not files:
        raise FileNotFoundError(f"source.path: no files match {pattern!r}")
    return files


def map_columns(raw: dict[str, Any], settings: SourceSettings) -> dict[str, Any]:
    """Pick mmcot's fields out of a raw row (a missing column becomes None)."""
    return {f: raw.get(settings.column(f)) for f in FIELDS}


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
    with FileSystems.open(path) as fh:
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
    with FileSystems.open(path) as fh:
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
    """Reads one source file into SourceRows; counts rows; dead-letters unusable lines and unreadable files."""

    def __init__(self, settings: SourceSettings):
        self._settings = settings
        self._files = Metrics.counter("read", "files")
        self._rows = Metrics.counter("read", "rows")

    def _row(self, path: str, stem: str, index: int, raw: dict[str, Any] | None, error: RowError | None):
        s = self._settings
        fallback = f"{s.name}/{stem}:{index}"
        try:
            if error is not None:
                raise error
            local_id = source_id(raw.get(s.column("id")))
            row_id = fallback if local_id is None else f"{s.name}/{local_id}"
            return SourceRow(row_id=row_id, source=s.name, split=s.split, fields=map_columns(raw, s),
                             image_root=s.image_root or posixpath.dirname(path), file=path, index=index)
        except Exception as exc:  # noqa: BLE001 - this row, not the rest of the file, fails
            reason, detail = (exc.reason, exc.detail) if isinstance(exc, RowError) else (reason_for(type(exc)), repr(exc))
            return beam.pvalue.TaggedOutput(
                DEAD_LETTER, RejectRow(row_id=fallback, source=s.name, stage="read", reason=reason, detail=detail))

    def process(self, path: str):
        s = self._settings
        stem = posixpath.basename(path).rsplit(".", 1)[0]
        count = 0
        try:
            for index, raw, error in _READERS[s.kind](path):
                if s.max_rows_per_file is not None and count >= s.max_rows_per_file:
                    break
                count += 1
                yield self._row(path, stem, index, raw, error)
        except Exception as exc:  # noqa: BLE001 - the file, not the job, fails
            count += 1
            detail = f"{type(exc).__name__}: {exc} (after {count - 1} rows)"
            yield beam.pvalue.TaggedOutput(DEAD_LETTER, RejectRow(
                row_id=f"{s.name}/{posixpath.basename(path)}", source=s.name, stage="read", reason="unreadable_file",
                detail=detail, payload=path))
        self._files.inc()
        self._rows.inc(count)
        yield beam.pvalue.TaggedOutput(READ_COUNTS, ReadCount(file=path, rows=count))


class ReadProblems(beam.PTransform):
    """Source files → SourceRows (main), dead letters, and rows read per file."""

    def __init__(self, settings: SourceSettings):
        super().__init__()
        self._settings = settings

    def expand(self, pbegin):
        settings = self._settings.model_copy(update={"path": absolute(self._settings.path),
                                                     "image_root": absolute(self._settings.image_root)})
        files = list_files(settings)
        return (
            pbegin
            | "ListFiles" >> beam.Create(files)
            | "ReadFiles" >> beam.ParDo(ReadFileFn(settings)).with_outputs(DEAD_LETTER, READ_COUNTS, main="rows")
        )

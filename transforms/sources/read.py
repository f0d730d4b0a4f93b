"""Read stage: JSONL (+ image folder), Parquet (HF Image layout) and saved HF datasets.

Each source file is read by one DoFn call (files are listed when the pipeline is built), rows
are emitted as :class:`SourceRow` with the configured column mapping applied, and the rows read
per file go to the ``read_counts`` output so the run can prove every row is accounted for.
A line that is not a JSON object is dead-lettered here; everything else is validated later.
"""
from __future__ import annotations

import json
import posixpath
from typing import Any, Iterator, Literal

import apache_beam as beam
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems

from schemas.outputs import RejectRow
from schemas.settings import Settings
from schemas.source import ReadCount, SourceRow
from transforms.tags import DEAD_LETTER, READ_COUNTS

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


def _iter_jsonl(path: str) -> Iterator[tuple[int, dict[str, Any] | None, str]]:
    with FileSystems.open(path) as fh:
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
    with FileSystems.open(path) as fh:
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
    """Reads one source file into SourceRows; counts rows; dead-letters unparsable lines."""

    def __init__(self, settings: SourceSettings):
        self._settings = settings

    def process(self, path: str):
        s = self._settings
        image_root = s.image_root or posixpath.dirname(path)
        stem = posixpath.basename(path).rsplit(".", 1)[0]
        count = 0
        for index, raw, error in _READERS[s.kind](path):
            if s.max_rows_per_file is not None and count >= s.max_rows_per_file:
                break
            count += 1
            local_id = raw.get(s.column("id")) if raw else None
            row_id = f"{s.name}/{local_id if local_id not in (None, '') else f'{stem}:{index}'}"
            if raw is None:
                yield beam.pvalue.TaggedOutput(
                    DEAD_LETTER, RejectRow(row_id=row_id, source=s.name, stage="read", reason="malformed_row", detail=error)
                )
                continue
            yield SourceRow(row_id=row_id, source=s.name, split=s.split, fields=map_columns(raw, s), image_root=image_root)
        yield beam.pvalue.TaggedOutput(READ_COUNTS, ReadCount(file=path, rows=count))


class ReadProblems(beam.PTransform):
    """Source files → SourceRows (main), dead letters, and rows read per file."""

    def __init__(self, settings: SourceSettings):
        super().__init__()
        self._settings = settings

    def expand(self, pbegin):
        files = list_files(self._settings)
        return (
            pbegin
            | "ListFiles" >> beam.Create(files)
            | "ReadFiles" >> beam.ParDo(ReadFileFn(self._settings)).with_outputs(DEAD_LETTER, READ_COUNTS, main="rows")
        )

"""Writers for the two input layouts mmcot's readers consume (JSONL + PNGs, HF-style Parquet)."""
from __future__ import annotations

import io
import json
from collections.abc import Iterable
from itertools import islice
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

from transforms.synth.record import SynthProblem

PARQUET_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("question", pa.string()),
        ("images", pa.list_(pa.struct([("bytes", pa.binary()), ("path", pa.string())]))),
        ("choices", pa.list_(pa.string())),
        ("answer", pa.string()),
        ("answer_type", pa.string()),
        ("subject", pa.string()),
        ("caption", pa.string()),
        ("metadata", pa.string()),
    ]
)
ROW_GROUP = 256


def _row(problem: SynthProblem, images: list[Any], metadata: Any) -> dict[str, Any]:
    """One output record in column order; ``images`` and ``metadata`` are layout-specific."""
    return {
        "id": problem.id,
        "question": problem.question,
        "images": images,
        "choices": problem.choices,
        "answer": problem.answer,
        "answer_type": problem.answer_type,
        "subject": problem.subject,
        "caption": problem.caption,
        "metadata": metadata,
    }


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def png_bytes(problem: SynthProblem) -> bytes:
    """The problem's (first) image encoded as PNG."""
    return _png(problem.image)


def _names(problem: SynthProblem) -> list[str]:
    """File names of the problem's images: ``<id>.png``, then ``<id>-2.png``, … for a multi-image problem."""
    return [f"{problem.id}.png"] + [f"{problem.id}-{i}.png" for i in range(2, len(problem.images) + 1)]


def write_jsonl(problems: Iterable[SynthProblem], out_dir: Path) -> Path:
    """``out_dir/problems.jsonl`` plus ``out_dir/images/<id>.png``; returns the JSONL path."""
    out_dir = Path(out_dir)
    (out_dir / "images").mkdir(parents=True, exist_ok=True)
    path = out_dir / "problems.jsonl"
    with path.open("w", encoding="utf-8") as f:
        for problem in problems:
            relative = [f"images/{name}" for name in _names(problem)]
            for rel, image in zip(relative, problem.images):
                (out_dir / rel).write_bytes(_png(image))
            f.write(json.dumps(_row(problem, relative, problem.metadata), ensure_ascii=False) + "\n")
    return path


def write_parquet(problems: Iterable[SynthProblem], out_path: Path) -> Path:
    """A Parquet file with Hugging Face Image-feature ``images`` and JSON-string ``metadata``."""
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    rows = (
        _row(p, [{"bytes": _png(image), "path": name} for image, name in zip(p.images, _names(p))],
             json.dumps(p.metadata, ensure_ascii=False))
        for p in problems
    )
    with pq.ParquetWriter(out_path, PARQUET_SCHEMA) as writer:
        while batch := list(islice(rows, ROW_GROUP)):
            writer.write_table(pa.Table.from_pylist(batch, schema=PARQUET_SCHEMA))
    return out_path

"""One example row per output set for the card, from the pipeline's row sample: images written as files, long text cut."""
from __future__ import annotations

import io
import json
import posixpath
from dataclasses import dataclass
from typing import Any

import fsspec
import pyarrow.parquet as pq
from PIL import Image

from schemas.figures import sample_shard

EXAMPLES_DIR = "examples"
MAX_TEXT = 300


@dataclass
class Example:
    """An output set's first row as display JSON, and the image files it references (relative paths)."""

    config: str
    json: str
    images: list[str]


def _cut(text: str) -> str:
    return text if len(text) <= MAX_TEXT else f"{text[:MAX_TEXT]}… [{len(text) - MAX_TEXT} more characters]"


class _ImageWriter:
    """Writes the image structs (``{bytes, path}``) of one row as ``examples/<config>-<n>.<ext>``."""

    def __init__(self, fs, root: str, config: str):
        self.fs, self.root, self.config, self.paths = fs, root, config, []

    def __call__(self, image_bytes: bytes) -> str:
        ext = (Image.open(io.BytesIO(image_bytes)).format or "png").lower()
        rel = f"{EXAMPLES_DIR}/{self.config}-{len(self.paths)}.{ext}"
        with self.fs.open(posixpath.join(self.root, rel), "wb") as fh:
            fh.write(image_bytes)
        self.paths.append(rel)
        return rel


def _display(value: Any, write_image: _ImageWriter) -> Any:
    if isinstance(value, dict) and set(value) == {"bytes", "path"} and value["bytes"]:
        return write_image(value["bytes"])
    if isinstance(value, dict):
        return {k: _display(v, write_image) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_display(v, write_image) for v in value]
    return _cut(value) if isinstance(value, str) else value


def write_examples(out_dir: str, configs: list[str]) -> list[Example]:
    """The first sampled row of each of ``configs`` (from the pipeline's row sample under ``_meta/sample/``, never a
    data shard); images go under ``examples/``. A set the sample has no row of (a run before the sample) is left out."""
    fs, root = fsspec.core.url_to_fs(out_dir)
    fs.makedirs(posixpath.join(root, EXAMPLES_DIR), exist_ok=True)
    examples = []
    for config in configs:
        path = posixpath.join(root, sample_shard(config))
        if not fs.exists(path):
            continue
        with fs.open(path, "rb") as fh:
            row = next(iter(pq.ParquetFile(fh).iter_batches(batch_size=1)), None)
        if row is None:
            continue
        write_image = _ImageWriter(fs, root, config)
        shown = _display(row.to_pylist()[0], write_image)
        examples.append(Example(config, json.dumps(shown, indent=2, ensure_ascii=False, default=str), write_image.paths))
    return examples

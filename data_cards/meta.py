"""Read the figures the pipeline's workers wrote under ``_meta/`` (small JSON files; never a data shard)."""
from __future__ import annotations

import posixpath
from typing import TypeVar

import fsspec

from schemas.figures import loads

T = TypeVar("T")


class FiguresMissing(FileNotFoundError):
    """An output directory without the figures a finished run's pipeline writes under ``_meta/``."""


def read_figures(out_dir: str, rel: str, cls: type[T]) -> T:
    """The figures record ``rel`` (e.g. ``_meta/funnel.json``) of the run in ``out_dir``."""
    fs, root = fsspec.core.url_to_fs(out_dir)
    path = posixpath.join(root, rel)
    if not fs.exists(path):
        raise FiguresMissing(f"{out_dir} has no {rel}: it is not a finished run, or one written before the pipeline "
                             "computed its figures (rerun it with this mmcot)")
    with fs.open(path, "r", encoding="utf-8") as fh:
        return loads(cls, fh.read())

"""A guard that fails any read of a run's data shard outside a Beam worker: the launcher reads ``_meta/`` only.

Every way this code base opens a file is patched (Python's ``open``, fsspec's ``open``, Beam's
``FileSystems.open``, pyarrow's Parquet readers and datasets); a path inside one of the output sets
of the guarded output directories (``<out>/sft/…``, ``<out>/generations/…``; ``_meta/`` is not a set)
raises :class:`ShardRead`, unless the call comes from inside a bundle a Beam runner is executing (a
worker's work, which on DirectRunner runs in this process).
"""
from __future__ import annotations

import builtins
import io
import os
import sys
from contextlib import contextmanager

import fsspec.spec
import pyarrow.dataset
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems

from schemas.output_sets import RUN_OUTPUT_NAMES

WORKER_FRAMES = ("apache_beam/runners/worker/", "apache_beam/runners/common.py")


class ShardRead(AssertionError):
    """A launcher code path opened a data shard."""


def _in_worker() -> bool:
    frame = sys._getframe(2)
    while frame is not None:
        if any(part in frame.f_code.co_filename for part in WORKER_FRAMES):
            return True
        frame = frame.f_back
    return False


def _forms(path: str) -> set[str]:
    """A path as it may be spelled: as given, without a protocol, without a leading slash, resolved when local."""
    bare = path.rpartition("://")[2]
    forms = {bare.lstrip("/")}
    if "://" not in path:
        forms.add(os.path.realpath(path).lstrip("/"))
    return forms


class _Guard:
    def __init__(self, out_dirs: list[str]):
        self.roots = [f"{form.rstrip('/')}/{name}/" for out in out_dirs for form in _forms(str(out))
                      for name in RUN_OUTPUT_NAMES]
        self.refused: list[str] = []

    def check(self, target, how: str) -> None:
        if isinstance(target, (list, tuple)):
            for item in target:
                self.check(item, how)
            return
        if not isinstance(target, (str, os.PathLike)):
            return
        shard = any(form.startswith(root) for form in _forms(str(target)) for root in self.roots)
        if shard and not _in_worker():
            self.refused.append(f"{how}: {target}")
            raise ShardRead(f"the launcher read a data shard ({how}): {target}")


@contextmanager
def no_shard_reads(monkeypatch, *out_dirs: str):
    """Within the block, reading a data shard of ``out_dirs`` outside a Beam worker raises :class:`ShardRead`;
    yields the guard (its ``refused`` lists every attempt)."""
    guard = _Guard(list(out_dirs))

    def wrap(owner, name: str, how: str, arg: int = 0, method: bool = False):
        original = getattr(owner, name)

        def guarded(*args, **kwargs):
            target = args[arg + method] if len(args) > arg + method else kwargs.get("source") or kwargs.get("path")
            guard.check(target, how)
            return original(*args, **kwargs)

        monkeypatch.setattr(owner, name, guarded)

    wrap(builtins, "open", "open")
    wrap(io, "open", "io.open")
    wrap(fsspec.spec.AbstractFileSystem, "open", "fsspec open", method=True)
    wrap(FileSystems, "open", "FileSystems.open")
    wrap(pq, "read_table", "pyarrow.parquet.read_table")
    wrap(pq, "read_metadata", "pyarrow.parquet.read_metadata")
    wrap(pq, "read_schema", "pyarrow.parquet.read_schema")
    wrap(pq.ParquetFile, "__init__", "pyarrow.parquet.ParquetFile", method=True)
    wrap(pyarrow.dataset, "dataset", "pyarrow.dataset.dataset")
    yield guard

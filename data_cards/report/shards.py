"""Read an output directory's Parquet sets by column name, through fsspec (local, gs://, s3://, memory://).

Columns a set lacks (older outputs) are left out, columns other branches add are read like any
other; a set that is absent reads as an empty table.
"""
from __future__ import annotations

import posixpath

import fsspec
import pyarrow as pa
import pyarrow.dataset as ds
from pyarrow.fs import FSSpecHandler, PyFileSystem

#: The column (a dotted path into a struct where needed) naming the problem in each output set.
PROBLEM_KEYS = {"generations": "problem_id", "sft": "id", "rl": "extra_info.id", "preference": "id",
                "dropped": "row_id", "dead_letter": "row_id", "problems": "id"}

#: Tables are read into the C allocator's memory: Arrow's default pool (mimalloc) keeps what a read freed, which cost
#: ``report.html``'s rendering 20 MB more in the launcher (issue 29); these reads are small and few.
READ_POOL = pa.system_memory_pool()


class OutputShards:
    """The output sets under ``out_dir``, opened lazily as pyarrow datasets over one fsspec filesystem."""

    def __init__(self, out_dir: str):
        self.out_dir = out_dir
        self.fs, self.root = fsspec.core.url_to_fs(out_dir)
        self._arrow_fs = PyFileSystem(FSSpecHandler(self.fs))
        self._datasets: dict[str, ds.Dataset | None] = {}

    def path(self, rel: str) -> str:
        """The filesystem path of ``rel`` under the output directory."""
        return posixpath.join(self.root, rel)

    def read_bytes(self, rel: str) -> bytes | None:
        """A file under the output directory, or None when it is missing."""
        path = self.path(rel)
        if not self.fs.exists(path):
            return None
        with self.fs.open(path, "rb") as fh:
            return fh.read()

    def _dataset(self, name: str) -> ds.Dataset | None:
        if name not in self._datasets:
            files = sorted(self.fs.glob(self.path(f"{name}/*.parquet")))
            self._datasets[name] = ds.dataset(files, format="parquet", filesystem=self._arrow_fs) if files else None
        return self._datasets[name]

    def columns(self, name: str) -> list[str]:
        """The top-level columns of output set ``name`` (empty when it is absent)."""
        dataset = self._dataset(name)
        return dataset.schema.names if dataset is not None else []

    def read(self, name: str, columns: list[str] | None = None, ids: list[str] | None = None) -> pa.Table:
        """Rows of set ``name`` (those of problems ``ids`` only, when given) with the wanted ``columns`` it has."""
        dataset = self._dataset(name)
        if dataset is None:
            return pa.table({})
        present = dataset.schema.names if columns is None else [c for c in columns if c in dataset.schema.names]
        key = PROBLEM_KEYS[name].split(".")
        if ids is None:
            return dataset.to_table(columns=present, memory_pool=READ_POOL)
        if key[0] not in dataset.schema.names:
            return dataset.schema.empty_table().select(present)
        return dataset.to_table(columns=present, filter=ds.field(*key).isin(ids), memory_pool=READ_POOL)

"""Response cache: one JSON file per sample, keyed by a content hash, on any fsspec URL.

The key covers the model, the messages (images by hash), the sampling settings that change the
output, and the sample index, so a rerun or a resumed run only pays for samples it lacks.
Local writes go to a temporary file and are renamed, so a killed run never leaves a torn entry;
an unreadable entry counts as a miss.
"""
from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

import fsspec


def cache_key(model: str, messages: list[dict[str, Any]], sampling: dict[str, Any], sample_index: int) -> str:
    """sha256 over a canonical JSON of everything that determines one sample."""
    payload = {"model": model, "messages": messages, "sampling": sampling, "sample_index": sample_index}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


class ResponseCache:
    """Get/put JSON entries under ``url`` (a local directory or an fsspec URL)."""

    def __init__(self, url: str):
        self.url = url.rstrip("/")
        self._fs, self._root = fsspec.core.url_to_fs(self.url)
        self._local = "file" in self._fs.protocol or "local" in self._fs.protocol

    def _path(self, key: str) -> str:
        return f"{self._root}/{key[:2]}/{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        """The stored entry, or None when absent or unreadable."""
        try:
            return json.loads(self._fs.cat_file(self._path(key)))
        except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
            return None

    def put(self, key: str, entry: dict[str, Any]) -> None:
        """Store ``entry`` under ``key`` (atomically on local disk)."""
        path = self._path(key)
        data = json.dumps(entry, ensure_ascii=False).encode()
        if not self._local:
            self._fs.pipe_file(path, data)
            return
        self._fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        tmp = f"{path}.{uuid.uuid4().hex}.tmp"
        self._fs.pipe_file(tmp, data)
        self._fs.mv(tmp, path)

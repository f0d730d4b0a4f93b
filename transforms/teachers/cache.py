"""Response cache: one JSON file per sample, keyed by a content hash, on any fsspec URL.

The key (:func:`request_key`) covers the model, the messages (images by hash), every sampling
setting that changes the output, the output constraint and the sample index, so a rerun or a
resumed run only pays for samples it lacks. An entry is a versioned :class:`Completion`: fields
it lacks take their defaults and fields this version does not know are ignored, so adding a
field to ``Completion`` keeps every cache readable (entries without a version, from before
versioning, have the same layout). Local writes go to a temporary file and are renamed, so a
killed run never leaves a torn entry; an unreadable entry counts as a miss.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import uuid
from typing import Any

import fsspec

from schemas.plan import SamplingPlan
from transforms.teachers.base import Completion, sampling_fields

ENTRY_VERSION = 1
_COMPLETION_FIELDS = {f.name for f in dataclasses.fields(Completion)}


def cache_key(model: str, messages: list[dict[str, Any]], sampling: dict[str, Any], sample_index: int) -> str:
    """sha256 over a canonical JSON of everything that determines one sample."""
    payload = {"model": model, "messages": messages, "sampling": sampling, "sample_index": sample_index}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def request_key(model: str, messages: list[dict[str, Any]], plan: SamplingPlan, sample: int,
                response_format: dict[str, Any] | None = None, seed: int | None = None) -> str:
    """The cache key of one request: every field the backends send from ``plan``, plus the output
    constraint and the seed when there is one (absent ones leave the key as earlier caches wrote it)."""
    sampling = sampling_fields(plan)
    if response_format is not None:
        sampling["response_format"] = response_format
    if seed is not None:
        sampling["seed"] = seed
    return cache_key(model, messages, sampling, sample)


def to_entry(completion: Completion) -> dict[str, Any]:
    """The cache entry for ``completion``."""
    return {"version": ENTRY_VERSION, **dataclasses.asdict(completion)}


def from_entry(entry: dict[str, Any]) -> Completion | None:
    """The completion in a cache entry of any version (unknown fields ignored); None when a required one is missing."""
    try:
        return Completion(**{k: v for k, v in entry.items() if k in _COMPLETION_FIELDS})
    except TypeError:
        return None


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

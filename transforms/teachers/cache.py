"""Response cache: JSON entries keyed by a content hash, one object per sample or per problem, on any fsspec URL.

The key (:func:`request_key`) covers the model, the messages (images by hash), every sampling
setting that changes the output, the output constraint and the sample index, so a rerun or a
resumed run only pays for samples it lacks. An entry is a versioned :class:`Completion`: fields
it lacks take their defaults and fields this version does not know are ignored, so adding a
field to ``Completion`` keeps every cache readable (entries without a version, from before
versioning, have the same layout). Local writes go to a temporary file and are renamed, so a
killed run never leaves a torn entry; an unreadable entry counts as a miss.
"""
from __future__ import annotations

import collections
import dataclasses
import hashlib
import json
import threading
import uuid
from typing import Any

import fsspec

from schemas.plan import SamplingPlan
from transforms.teachers.base import Completion, TeacherError, sampling_fields
from transforms.teachers.reply_gate import parse_body

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


def from_entry(entry: Any) -> Completion | None:
    """The completion in a cache entry of any version (unknown fields ignored); None when a required one is missing
    or the entry is no object. Its values are checked by the reply gate, as a reply's are."""
    if not isinstance(entry, dict):
        return None
    try:
        return Completion(**{k: v for k, v in entry.items() if k in _COMPLETION_FIELDS})
    except TypeError:
        return None


def group_key(model: str, messages: list[dict[str, Any]], plan: SamplingPlan,
              response_format: dict[str, Any] | None = None) -> str:
    """The key of the group a request's samples share under the ``problem`` layout: the request
    key without the sample index and seed (all samples of one prompt and plan)."""
    return request_key(model, messages, plan, -1, response_format)


LAYOUTS = ("sample", "problem")
#: Groups kept in memory by a ``problem``-layout cache (each a few samples' entries).
GROUPS_IN_MEMORY = 1024
#: Writers of one group are serialized by one of this many locks (the group key picks it).
LOCK_STRIPES = 256


class ResponseCache:
    """Get/put JSON entries under ``url`` (a local directory or an fsspec URL).

    ``layout="sample"``: one object per sample, ``<url>/<key[:2]>/<key>.json``. ``layout="problem"``:
    one object per group (a prompt's samples, :func:`group_key`), ``<url>/groups/<group[:2]>/<group>.json``
    holding ``{"version", "entries": {key: entry}}``, rewritten whole when a sample is added, so a
    sample is stored the moment it is paid for and a resume reads one object per problem instead
    of one per sample. A group read once stays in memory (``GROUPS_IN_MEMORY``; one writer per
    group is assumed: a problem's samples are asked by one DoFn), and a sample a group lacks is
    looked up in the per-sample layout when the cache holds any such entry, so caches written
    before stay readable.
    """

    def __init__(self, url: str, layout: str = "sample"):
        if layout not in LAYOUTS:
            raise ValueError(f"cache layout must be one of {LAYOUTS}, got {layout!r}")
        self.url = url.rstrip("/")
        self.layout = layout
        self._fs, self._root = fsspec.core.url_to_fs(self.url)
        self._local = "file" in self._fs.protocol or "local" in self._fs.protocol
        self._groups: collections.OrderedDict[str, dict[str, Any]] = collections.OrderedDict()
        self._locks = [threading.Lock() for _ in range(LOCK_STRIPES)]
        self._groups_lock = threading.Lock()
        self._legacy: bool | None = None

    def _path(self, key: str) -> str:
        return f"{self._root}/{key[:2]}/{key}.json"

    def _group_path(self, group: str) -> str:
        return f"{self._root}/groups/{group[:2]}/{group}.json"

    def _read(self, path: str) -> Any:
        """The JSON at ``path`` as the reply gate parses a body (a hostile file is unreadable, never a crash); None
        when it is absent or unreadable."""
        try:
            return parse_body(self._fs.cat_file(path))
        except (FileNotFoundError, TeacherError):
            return None

    def _write(self, path: str, entry: dict[str, Any]) -> None:
        data = json.dumps(entry, ensure_ascii=False).encode()
        if not self._local:
            self._fs.pipe_file(path, data)
            return
        self._fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        tmp = f"{path}.{uuid.uuid4().hex}.tmp"
        self._fs.pipe_file(tmp, data)
        self._fs.mv(tmp, path)

    def get(self, key: str, group: str | None = None) -> dict[str, Any] | None:
        """The stored entry, or None when absent or unreadable (``group``: see the ``problem`` layout)."""
        if self.layout == "sample" or group is None:
            return self._read(self._path(key))
        with self._lock(group):
            entry = self._group(group).get(key)
        if entry is None and self._has_legacy():
            entry = self._read(self._path(key))
        return entry

    def put(self, key: str, entry: dict[str, Any], group: str | None = None) -> None:
        """Store ``entry`` under ``key`` (atomically on local disk)."""
        if self.layout == "sample" or group is None:
            self._write(self._path(key), entry)
            return
        with self._lock(group):
            entries = dict(self._group(group))
            entries[key] = entry
            self._write(self._group_path(group), {"version": ENTRY_VERSION, "entries": entries})
            self._remember(group, entries)

    def _lock(self, group: str) -> threading.Lock:
        return self._locks[int(group[:8], 16) % LOCK_STRIPES]

    def _group(self, group: str) -> dict[str, Any]:
        """A group's entries (from memory, else read once); call under the group's lock."""
        with self._groups_lock:
            entries = self._groups.get(group)
        if entries is None:
            stored = self._read(self._group_path(group))
            entries = stored.get("entries") if isinstance(stored, dict) else None
            entries = entries if isinstance(entries, dict) else {}
            self._remember(group, entries)
        return entries

    def _remember(self, group: str, entries: dict[str, Any]) -> None:
        with self._groups_lock:
            self._groups[group] = entries
            self._groups.move_to_end(group)
            while len(self._groups) > GROUPS_IN_MEMORY:
                self._groups.popitem(last=False)

    def _has_legacy(self) -> bool:
        """Whether the cache holds per-sample entries (a two-character shard directory), checked once."""
        if self._legacy is None:
            try:
                names = [p.rstrip("/").rsplit("/", 1)[-1] for p in self._fs.ls(self._root, detail=False)]
            except (FileNotFoundError, NotADirectoryError):
                names = []
            self._legacy = any(len(n) == 2 for n in names)
        return self._legacy

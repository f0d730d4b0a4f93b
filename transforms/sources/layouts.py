"""The files behind a source path, for every layout mmcot reads.

- ``jsonl`` / ``parquet``: a file or a glob.
- ``hf_disk``: a ``save_to_disk`` folder: one Dataset (``state.json`` + ``data-*.arrow``) or a
  DatasetDict root (``dataset_dict.json`` naming the splits, one Dataset folder per split).
- ``hub``: a Hub dataset repo, as a local copy or by id (``hf://datasets/<owner>/<name>[@rev]``, or
  just ``<owner>/<name>``, read through huggingface_hub's ``HfFileSystem``): the card's ``configs:``
  data files when it declares them, else the config's folder, else the Hub's own file-name
  conventions (``data/<split>-*.parquet``, ``<split>/…``), resolved by ``datasets.data_files``
  exactly as the Hub resolves them.

Errors name the config key at fault (``path``, ``split``, ``config``).
"""
from __future__ import annotations

import json
import posixpath
import re

import fsspec
from apache_beam.io.filesystems import FileSystems

HUB_EXTENSIONS = {".parquet": "parquet", ".jsonl": "jsonl", ".json": "jsonl", ".arrow": "hf_disk"}
_REPO_ID = re.compile(r"^[\w.-]+/[\w.-]+(@[\w./-]+)?$")


class LayoutError(FileNotFoundError):
    """A source path whose layout has no files for the configured split or config."""


def _match(pattern: str) -> list[str]:
    return sorted(m.path for r in FileSystems.match([pattern]) for m in r.metadata_list)


def _read_json(fs, path: str) -> dict:
    with fs.open(path, "r") as fh:
        return json.load(fh)


def saved_dataset_files(path: str, split: str, key: str) -> list[str]:
    """The Arrow files of a ``save_to_disk`` folder (a DatasetDict root: those of ``split``)."""
    fs, root = fsspec.core.url_to_fs(path.rstrip("/"))
    folder = path.rstrip("/")
    if fs.exists(posixpath.join(root, "dataset_dict.json")):
        splits = _read_json(fs, posixpath.join(root, "dataset_dict.json")).get("splits", [])
        if split not in splits:
            raise LayoutError(f"{key}.split: {split!r} is not a split of the DatasetDict at {path} (splits: {splits})")
        folder, root = posixpath.join(folder, split), posixpath.join(root, split)
    state = posixpath.join(root, "state.json")
    if fs.exists(state):
        files = [posixpath.join(folder, f["filename"]) for f in _read_json(fs, state).get("_data_files", [])]
    else:
        files = _match(posixpath.join(folder, "*.arrow"))
    if not files:
        raise LayoutError(f"{key}.path: no Arrow files in the saved dataset at {path}")
    return files


def hub_root(path: str) -> str:
    """``path`` as a location fsspec can open: a bare repo id becomes ``hf://datasets/<id>``."""
    if "://" not in path and _REPO_ID.match(path) and not fsspec.filesystem("file").exists(path):
        return f"hf://datasets/{path}"
    return path.rstrip("/")


def _card_configs(root: str) -> dict[str, dict]:
    """The ``configs:`` section of the repo's dataset card (empty when there is none)."""
    from datasets.utils.metadata import MetadataConfigs
    from huggingface_hub import DatasetCard

    fs, local = fsspec.core.url_to_fs(root)
    readme = posixpath.join(local, "README.md")
    if not fs.exists(readme):
        return {}
    with fs.open(readme, "r", encoding="utf-8") as fh:
        return dict(MetadataConfigs.from_dataset_card_data(DatasetCard(fh.read()).data))


def _entries(data_files) -> list[dict]:
    """A card's ``data_files`` (a string, a list, or a list of {split, path}) as {split, path} entries."""
    items = [data_files] if isinstance(data_files, str) else data_files
    return [{"split": "train", "path": e} if isinstance(e, str) else e for e in items]


def _split_patterns(data_files) -> dict[str, list[str]]:
    """split → file patterns, from a card's ``data_files``."""
    out: dict[str, list[str]] = {}
    for entry in _entries(data_files):
        paths = entry["path"]
        out.setdefault(entry["split"], []).extend([paths] if isinstance(paths, str) else paths)
    return out


def _choose_config(configs: dict[str, dict], config: str | None, path: str, key: str) -> dict:
    """The card entry of ``config`` (None: the only or the default one; ``*``: every config's files together)."""
    if config == "*":
        return {"data_files": [e for c in configs.values() for e in _entries(c.get("data_files", []))]}
    if config is None:
        if len(configs) == 1:
            return next(iter(configs.values()))
        defaults = [c for name, c in configs.items() if name == "default" or c.get("default")]
        if len(defaults) == 1:
            return defaults[0]
        raise LayoutError(f"{key}.config: {path} has several configs, name one of {sorted(configs)}")
    if config not in configs:
        raise LayoutError(f"{key}.config: {config!r} is not a config of {path} (configs: {sorted(configs)})")
    return configs[config]


def hub_files(path: str, split: str, config: str | None, key: str) -> list[str]:
    """The data files of one split (and config) of a Hub dataset repo, in the Hub's resolution order."""
    from datasets.data_files import DataFilesDict, get_data_patterns

    root = hub_root(path)
    configs = _card_configs(root)
    base = root
    try:
        if configs:
            patterns = _split_patterns(_choose_config(configs, config, path, key).get("data_files", []))
        else:
            if config is not None:
                base = posixpath.join(root, config)
            patterns = get_data_patterns(base)
    except LayoutError:
        raise
    except FileNotFoundError as exc:  # datasets' EmptyDatasetError and DataFilesNotFoundError are ones
        raise LayoutError(f"{key}.path: no data files in {base}: {exc}") from None
    patterns = {str(name): p for name, p in patterns.items()}
    if split not in patterns:
        raise LayoutError(f"{key}.split: {split!r} is not a split of {path} (splits: {sorted(patterns)})")
    files = list(DataFilesDict.from_patterns({split: patterns[split]}, base_path=base)[split])
    unknown = [f for f in files if posixpath.splitext(f)[1] not in HUB_EXTENSIONS]
    if unknown:
        raise LayoutError(f"{key}.path: cannot read {unknown[0]} (readable: {', '.join(HUB_EXTENSIONS)})")
    return files


def reader_kind(kind: str, file: str) -> str:
    """Which reader a file of a ``kind`` source needs (a Hub repo holds Parquet, JSON Lines or Arrow)."""
    return HUB_EXTENSIONS[posixpath.splitext(file)[1]] if kind == "hub" else kind


def list_files(kind: str, path: str, split: str, config: str | None, key: str) -> list[str]:
    """The concrete files a source reads, in order; raises :class:`LayoutError` if there are none."""
    if kind == "hf_disk":
        return saved_dataset_files(path, split, key)
    if kind == "hub":
        return hub_files(path, split, config, key)
    files = _match(path)
    if not files:
        raise LayoutError(f"{key}.path: no files match {path!r}")
    return files

"""Does a finished run load the way its card says? Every config of the card, through the real ``datasets`` library.

:func:`load_problems` loads each config listed in the card's YAML with ``datasets.load_dataset`` (the output folder
read as a local dataset repo), compares its row count with the manifest's, and decodes every image: a column the
card declares as ``Image`` must give PIL images with pixels, and a column stored in the ``{bytes, path}`` image
layout must be declared as ``Image`` (else ``datasets`` hands out raw structs). CI runs it on the demo's output.
"""
from __future__ import annotations

import posixpath
import tempfile
from typing import Any

import datasets
import fsspec
from huggingface_hub import DatasetCard
from PIL import Image

from data_cards.card import load_manifest


def _is_image_struct(feature: Any) -> bool:
    return isinstance(feature, dict) and set(feature) == {"bytes", "path"}


def _item(feature: Any) -> Any:
    """The element feature of a list feature, else the feature itself."""
    return feature.feature if isinstance(feature, datasets.List | datasets.LargeList) else feature


def image_columns(features: datasets.Features) -> list[str]:
    """Columns declared as ``Image`` or a list of ``Image``."""
    return [name for name, feature in features.items() if isinstance(_item(feature), datasets.Image)]


def undeclared_images(features: datasets.Features) -> list[str]:
    """Columns in the ``{bytes, path}`` image layout that are not declared as ``Image``."""
    return [name for name, feature in features.items() if _is_image_struct(_item(feature))]


def _decoded(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def check_config(out_dir: str, config: str, rows: int | None, cache_dir: str) -> list[str]:
    """What is wrong with one config of the card: row count, image columns, decoding."""
    ds = datasets.load_dataset(out_dir, config, split="train", cache_dir=cache_dir)
    problems = []
    if rows is not None and len(ds) != rows:
        problems.append(f"{config}: {len(ds)} rows load, the manifest says {rows}")
    problems += [f"{config}.{name}: images stored as {{bytes, path}} structs but not declared as an Image feature"
                 for name in undeclared_images(ds.features)]
    for name in image_columns(ds.features):
        column = ds.select_columns([name])
        for index in range(len(column)):
            try:
                values = _decoded(column[index][name])
            except OSError as exc:  # datasets decodes the pixels as it reads the row
                problems.append(f"{config}.{name}[{index}]: its pixels do not decode ({exc})")
                continue
            problems += [f"{config}.{name}[{index}]: {wrong}" for wrong in map(_not_an_image, values) if wrong]
    return problems


def _not_an_image(value: Any) -> str | None:
    """Why ``value`` is not a decoded image with pixels (None when it is one)."""
    if not isinstance(value, Image.Image):
        return f"decodes to {type(value).__name__}, not a PIL image"
    try:
        value.load()  # the pixels themselves: a truncated file fails here
    except OSError as exc:
        return f"its pixels do not decode ({exc})"
    return "an empty image" if 0 in value.size else None


def card_configs(out_dir: str) -> list[str]:
    """The config names the run's card offers (its YAML ``configs``)."""
    fs, root = fsspec.core.url_to_fs(out_dir)
    with fs.open(posixpath.join(root, "README.md"), "r") as fh:
        card = DatasetCard(fh.read())
    return [c["config_name"] for c in card.data.get("configs") or []]


def load_problems(out_dir: str) -> list[str]:
    """Everything that keeps the run in ``out_dir`` from loading as its card says; empty when every config loads."""
    manifest = load_manifest(out_dir)
    configs = card_configs(out_dir)
    if not configs:
        return [f"{out_dir}/README.md lists no configs"]
    with tempfile.TemporaryDirectory(prefix="mmcot-load-") as cache_dir:  # no stale cache of an earlier run
        return [problem for config in configs for problem in check_config(out_dir, config, manifest.rows.get(config), cache_dir)]

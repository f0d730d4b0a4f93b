"""The card's Hub YAML metadata: one config per loadable output set, with features and sizes."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from huggingface_hub import DatasetCardData

from data_cards.meta import read_figures
from schemas.figures import SHARDS_FILE, SetFigures, ShardFigures
from schemas.manifest import Manifest

if TYPE_CHECKING:
    import datasets

TASK_CATEGORIES = ["image-text-to-text", "visual-question-answering"]


@dataclass
class OutputSet:
    """A non-empty output set of a run, and whether ``datasets`` can load it.

    ``bytes`` is the Parquet files' size, ``data_bytes`` their uncompressed data size (from the Parquet footers, as
    the workers read them). ``features`` come from the Parquet schema of the set's first shard; ``unloadable`` says why
    ``datasets`` cannot represent that schema (the set is then listed but not offered as a config).
    """

    name: str
    rows: int
    shards: int
    bytes: int
    data_bytes: int
    features: datasets.Features | None
    unloadable: str | None = None

    @property
    def data_files(self) -> str:
        """The glob the Hub and ``datasets`` read the set from."""
        return f"{self.name}/*.parquet"


def size_category(rows: int) -> str:
    """The Hub's ``size_categories`` bucket for a row count."""
    for limit, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if rows < limit:
            return label
    return "1M<n<10M" if rows < 10_000_000 else "n>10M"


def output_sets(out_dir: str, manifest: Manifest) -> list[OutputSet]:
    """The manifest's non-empty output sets, in shard-list order, with the ``datasets`` features and data size the
    workers recorded in ``_meta/shards.json``."""
    import datasets  # here, not at import: the launcher loads it only to write a card (issue 29)

    recorded = {s.name: s for s in read_figures(out_dir, SHARDS_FILE, ShardFigures).sets}
    sets = []
    for name in dict.fromkeys(s.config for s in manifest.shards):
        shards = [s for s in manifest.shards if s.config == name and s.rows]
        if not shards:
            continue
        figures = recorded.get(name, SetFigures(name, unloadable="no features recorded for it in _meta/shards.json"))
        features = None if figures.features is None else datasets.Features.from_dict(figures.features)
        sets.append(OutputSet(name, sum(s.rows for s in shards), len(shards), sum(s.bytes for s in shards),
                              figures.data_bytes, features, figures.unloadable))
    return sets


def loadable(sets: list[OutputSet]) -> list[OutputSet]:
    """The sets offered as configs."""
    return [s for s in sets if s.unloadable is None]


def card_data(manifest: Manifest, sets: list[OutputSet]) -> DatasetCardData:
    """License, language, tags and name from the run's config; configs, features and sizes from the output."""
    import datasets
    from datasets.info import DatasetInfo, DatasetInfosDict

    output, offered = manifest.config["output"], loadable(sets)
    data = DatasetCardData(
        license=output["license"],
        language=output["language"],
        pretty_name=output.get("pretty_name") or manifest.config["run"]["name"],
        size_categories=[size_category(max((s.rows for s in offered), default=0))],
        task_categories=TASK_CATEGORIES,
        tags=output["tags"],
        configs=[{"config_name": s.name, "data_files": [{"split": "train", "path": s.data_files}], **({"default": True} if i == 0 else {})}
                 for i, s in enumerate(offered)],
    )
    infos = {
        s.name: DatasetInfo(
            features=s.features,
            splits=datasets.SplitDict({"train": datasets.SplitInfo("train", num_bytes=s.data_bytes, num_examples=s.rows)}),
            download_size=s.bytes,
        )
        for s in offered
    }
    DatasetInfosDict(infos).to_dataset_card_data(data)
    return data

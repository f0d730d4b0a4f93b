"""Source layouts (save_to_disk Dataset and DatasetDict roots, Hub repos by card, by config
folder and by file-name convention, repo ids), several sources in one read, limit and weight."""
from __future__ import annotations

import json

import apache_beam as beam
import datasets
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from tests.support import hub_copies
from tests.support.helpers import png_bytes
from transforms.sources import ReadSources, SourceSettings
from transforms.sources.layouts import LayoutError, hub_files, hub_root, saved_dataset_files
from transforms.sources.read import list_files, sampled
from transforms.tags import DEAD_LETTER, READ_COUNTS

FEATURES = datasets.Features({"qid": datasets.Value("string"), "question": datasets.Value("string"),
                              "answer": datasets.Value("string"), "images": datasets.List(datasets.Image())})


def _rows(prefix: str, n: int) -> list[dict]:
    return [{"qid": f"{prefix}{i}", "question": f"{prefix} question {i}?", "answer": str(i),
             "images": [{"bytes": png_bytes(), "path": "a.png"}]} for i in range(n)]


def test_a_dataset_dict_root_reads_the_configured_split(tmp_path):
    datasets.DatasetDict({"train": datasets.Dataset.from_list(_rows("t", 3), features=FEATURES),
                          "test": datasets.Dataset.from_list(_rows("e", 2), features=FEATURES)}).save_to_disk(str(tmp_path / "dd"))
    train = saved_dataset_files(str(tmp_path / "dd"), "train", "sources[x]")
    assert train and all("/dd/train/" in f for f in train)
    assert all("/dd/test/" in f for f in saved_dataset_files(str(tmp_path / "dd"), "test", "sources[x]"))
    with pytest.raises(LayoutError, match=r"sources\[x\]\.split: 'validation' is not a split.*\['train', 'test'\]"):
        saved_dataset_files(str(tmp_path / "dd"), "validation", "sources[x]")
    datasets.Dataset.from_list(_rows("s", 2), features=FEATURES).save_to_disk(str(tmp_path / "one"))
    assert saved_dataset_files(str(tmp_path / "one"), "any", "k")[0].endswith(".arrow")


def test_hub_layouts_card_configs_folders_and_conventions(tmp_path):
    mmmu = hub_copies.write_mmmu(tmp_path)
    assert [f.split("/")[-2] for f in hub_files(str(mmmu), "validation", "*", "k")] == ["Accounting", "Art_Theory"]
    with pytest.raises(LayoutError, match=r"k\.config: .* several configs"):
        hub_files(str(mmmu), "validation", None, "k")
    # a per-config folder with no card: the config's folder, by the Hub's file-name rules
    (mmmu / "README.md").unlink()
    # (which, like the Hub, read "dev" files as the validation split)
    assert sorted(f.split("/")[-1] for f in hub_files(str(mmmu), "validation", "Accounting", "k")) == [
        "dev-00000-of-00001.parquet", "validation-00000-of-00001.parquet"]
    sqa = hub_copies.write_scienceqa(tmp_path)
    assert len(hub_files(str(sqa), "train", None, "k")) == 1 and len(hub_files(str(sqa), "validation", None, "k")) == 1
    with pytest.raises(LayoutError, match=r"k\.split: 'test'"):
        hub_files(str(sqa), "test", None, "k")
    chart = hub_copies.write_chartqa(tmp_path)
    assert len(hub_files(str(chart), "train", None, "k")) == 2  # the card's data/train-* over three shards' two


def test_hub_repo_ids_go_through_the_hf_filesystem(tmp_path):
    assert hub_root("AI4Math/MathVista") == "hf://datasets/AI4Math/MathVista"
    assert hub_root("MMMU/MMMU@refs/convert/parquet") == "hf://datasets/MMMU/MMMU@refs/convert/parquet"
    assert hub_root("hf://datasets/a/b/") == "hf://datasets/a/b"
    (tmp_path / "owner" / "name").mkdir(parents=True)
    local = str(tmp_path / "owner" / "name")
    assert hub_root(local) == local


def test_path_errors_name_the_source(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"sources\[x\]\.path"):
        list_files(SourceSettings(kind="jsonl", path=str(tmp_path / "none*.jsonl"), name="x"))
    with pytest.raises(FileNotFoundError, match=r"sources\[y\]\.path"):
        list_files(SourceSettings(kind="hub", path=str(tmp_path), name="y"))


def test_weight_is_a_stable_nested_sample():
    ids = [f"s/{i}" for i in range(4000)]
    half = {i for i in ids if sampled(i, 0.5)}
    fifth = {i for i in ids if sampled(i, 0.2)}
    assert fifth <= half and 1800 < len(half) < 2200 and 650 < len(fifth) < 950
    assert all(sampled(i, 1.0) for i in ids)


def test_several_sources_with_limit_and_weight_are_read_and_counted_each(tmp_path):
    (tmp_path / "a.jsonl").write_text("\n".join(json.dumps({"id": f"a{i}", "question": "q", "answer": "1"}) for i in range(5))
                                      + "\n{broken\n")
    (tmp_path / "b1.jsonl").write_text("\n".join(json.dumps({"id": f"b{i}", "question": "q", "answer": "1"}) for i in range(4)) + "\n")
    (tmp_path / "b2.jsonl").write_text("\n".join(json.dumps({"id": f"c{i}", "question": "q", "answer": "1"}) for i in range(4)) + "\n")
    chart = hub_copies.write_chartqa(tmp_path / "hub")
    sources = [SourceSettings(kind="jsonl", path=str(tmp_path / "a.jsonl"), name="a", weight=0.5),
               SourceSettings(kind="jsonl", path=str(tmp_path / "b*.jsonl"), name="b", limit=6),
               SourceSettings(kind="hub", path=str(chart), name="chart", preset="chartqa")]
    kept_a = sorted(f"a/a{i}" for i in range(5) if sampled(f"a/a{i}", 0.5))
    with TestPipeline() as p:
        read = p | ReadSources(sources)
        assert_that(read["rows"] | beam.Map(lambda r: r.row_id), equal_to(
            kept_a + [f"b/b{i}" for i in range(4)] + ["b/c0", "b/c1"] + ["chart/train-00000-of-00003-49492f364babfa44:1",
                                                                          "chart/train-00001-of-00003-7302bae5e425bbc7:1"]))
        assert_that(read[DEAD_LETTER] | "dead" >> beam.Map(lambda r: (r.source, r.reason)),
                    equal_to([("a", "malformed_row")] if sampled("a/a:6", 0.5) else []), label="dead")
        per_source = read[READ_COUNTS] | beam.Map(lambda c: (c.source, (c.rows, c.sampled_out))) | beam.CombinePerKey(
            lambda pairs: tuple(map(sum, zip(*pairs))))
        broken = 1 if sampled("a/a:6", 0.5) else 0
        assert_that(per_source, equal_to([("a", (len(kept_a) + broken, 6 - len(kept_a) - broken)), ("b", (6, 0)),
                                          ("chart", (2, 0))]), label="counts")


def test_a_hub_repo_on_a_remote_filesystem_is_resolved_and_read_through_fsspec(tmp_path):
    """The code path of ``hf://`` repos (card, data-file resolution and reads all through fsspec),
    on fsspec's in-memory filesystem: no network here, and Beam's filesystems know neither."""
    import fsspec

    memory = fsspec.filesystem("memory")
    local = hub_copies.write_mmmu(tmp_path)
    for path in local.rglob("*"):
        if path.is_file():
            memory.pipe_file(f"/remote/MMMU/{path.relative_to(local)}", path.read_bytes())
    source = SourceSettings(kind="hub", path="memory://remote/MMMU", name="mmmu", split="validation", config="Accounting",
                            preset="mmmu")
    assert [f.rsplit("/", 2)[-2:] for f in list_files(source)] == [["Accounting", "validation-00000-of-00001.parquet"]]
    with TestPipeline() as p:
        read = p | ReadSources([source])
        assert_that(read["rows"] | beam.Map(lambda r: (r.row_id, len(r.fields["images"]))),
                    equal_to([("mmmu/validation_Accounting_1", 2), ("mmmu/validation_Accounting_2", 1)]))
    memory.rm("/remote", recursive=True)

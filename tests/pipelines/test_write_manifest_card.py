"""Shard writing, the manifest read off an output directory, the card and the summary table."""
from __future__ import annotations

import pyarrow.parquet as pq
import yaml
from huggingface_hub import DatasetCard

from data_cards.card import write_card
from data_cards.metadata import size_category
from pipelines.config import parse_config
from pipelines.manifest import build_manifest
from pipelines.summary import summary_table
from schemas.output_sets import READ_COUNTS_SET
from schemas.outputs import Message, RejectRow, SFTRow
from schemas.problem import ImageRef
from schemas.source import ReadCount
from tests.support.helpers import png_bytes, write_run_records
from transforms.shards import shard_of


def _sft(i: int) -> SFTRow:
    return SFTRow(id=f"s/{i}", source="s", images=[ImageRef(png_bytes(), "a.png")],
                  messages=[Message("user", "<image>q"), Message("assistant", "<think>r</think> 3")], answer="3",
                  answer_type="numeric", difficulty=0.2, pass_rate=0.5, teacher="t", completion_tokens=9,
                  selection="shortest_correct of 2")


def test_shard_of_is_stable_and_spreads_keys():
    assert shard_of("s/1", 4) == shard_of("s/1", 4)
    assert len({shard_of(f"s/{i}", 4) for i in range(100)}) == 4


def _write_fake_run(out):
    rejects = [RejectRow("s/7", "s", "normalize", "missing_answer"), RejectRow("s/8", "s", "select", "no_correct_chain"),
               RejectRow("s/9", "s", "dedup", "duplicate", survivor_id="s/1")]
    write_run_records(_config(out), {"sft": [_sft(i) for i in range(5)], "dropped": rejects[1:],
                                     READ_COUNTS_SET.name: [ReadCount("a.jsonl", 6, "s"), ReadCount("b.jsonl", 2, "s")]},
                      rejects[:1])


def _config(out):
    return parse_config({"run": {"name": "fake", "output_dir": str(out)},
                         "source": {"kind": "jsonl", "path": "x.jsonl", "name": "s"},
                         "output": {"license": "cc-by-4.0", "shards": {"sft": 2}, "trainers": ["llamafactory"]}})


def test_shards_are_written_with_the_huggingface_naming_and_no_temp_files(tmp_path):
    _write_fake_run(tmp_path)
    names = sorted(p.name for p in (tmp_path / "sft").iterdir())
    assert all(n.startswith("train-0000") and n.endswith("-of-00002.parquet") for n in names)
    assert sum(pq.read_table(tmp_path / "sft" / n).num_rows for n in names) == 5
    assert not list(tmp_path.rglob("*.tmp"))


def test_manifest_counts_and_card_come_from_the_files(tmp_path):
    _write_fake_run(tmp_path)
    manifest = build_manifest(_config(tmp_path), command="mmcot run --config c.yaml", wall_time_s=3.0, run_id="r1")
    c = manifest.counts
    assert (c.read, c.kept) == (8, 5)
    assert c.dead_lettered == {"normalize/missing_answer": 1}
    assert c.dropped == {"dedup/duplicate": 1, "select/no_correct_chain": 1}
    assert c.balanced() and manifest.rows["sft"] == 5 and len([s for s in manifest.shards if s.config == "sft"]) >= 1

    card = DatasetCard.load(write_card(str(tmp_path), manifest, "me/fake"))
    data = card.data.to_dict()
    assert data["license"] == "cc-by-4.0" and data["size_categories"] == ["n<1K"]
    # rl and generations are empty here, so they are not offered
    assert [c["config_name"] for c in data["configs"]] == ["sft", "dead_letter", "dropped"]
    assert 'load_dataset("me/fake", "sft"' in card.text and "dead-lettered normalize/missing_answer: 1" in card.text
    assert yaml.safe_load(card.text.split("```yaml\n", 1)[1].split("```", 1)[0])["run"]["name"] == "fake"

    table = summary_table(manifest)
    assert "dead-lettered  normalize/missing_answer" in table and "holds" in table


def test_size_categories():
    assert [size_category(n) for n in (0, 999, 1000, 50_000, 2_000_000)] == \
        ["n<1K", "n<1K", "1K<n<10K", "10K<n<100K", "1M<n<10M"]

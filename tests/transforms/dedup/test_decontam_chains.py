"""Decontamination against benchmark files, and near-duplicate chains."""
from __future__ import annotations

import dataclasses
import io
import json

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to
from PIL import Image

from pipelines.config import ConfigError, parse_config
from tests.support.factories import chains, generation, problem
from tests.support.helpers import png_bytes
from transforms.dedup.chains import MarkDuplicateChains, duplicate_chains
from transforms.dedup.decontam import BenchmarkIndex, Decontaminate, load_benchmark
from transforms.dedup.settings import BenchmarkSpec, ChainDedupSettings, DecontamSettings
from transforms.images import perceptual_hash
from transforms.select import shortest_correct
from transforms.tags import DROPPED

EVAL_Q = "In the figure, the chord AB is parallel to the diameter CD of the circle; find the angle ABD."


def _phash_of(data: bytes) -> str:
    return perceptual_hash(Image.open(io.BytesIO(data)).convert("RGB"))


@pytest.fixture
def bench_files(tmp_path):
    chart = png_bytes((120, 90), color=(30, 30, 200))
    (tmp_path / "img.png").write_bytes(chart)
    rows = [{"pid": "m-7", "question": EVAL_Q, "image": "img.png"}, {"pid": "m-8", "question": "Short one?", "image": None}]
    jsonl = tmp_path / "mathvista.jsonl"
    jsonl.write_text("\n".join(json.dumps(r) for r in rows))
    parquet = tmp_path / "mmmu.parquet"
    pq.write_table(pa.Table.from_pylist([{"id": "v1", "q": "Which planet in the picture is the largest one of all?",
                                          "img": {"bytes": png_bytes((80, 80)), "path": None}}]), parquet)
    return [BenchmarkSpec(name="mathvista", path=str(jsonl), id_column="pid", image_column="image"),
            BenchmarkSpec(name="mmmu", path=str(parquet), kind="parquet", question_column="q", image_column="img")], chart


def test_benchmarks_load_from_jsonl_and_parquet_with_their_images(bench_files):
    specs, chart = bench_files
    items = load_benchmark(specs[0]) + load_benchmark(specs[1])
    assert [(i.benchmark, i.item_id) for i in items] == [("mathvista", "m-7"), ("mathvista", "m-8"), ("mmmu", "v1")]
    assert items[0].phashes == (int(_phash_of(chart), 16),) and items[1].phashes == ()


def test_index_matches_a_shared_8gram_or_a_close_image_and_nothing_else(bench_files):
    specs, chart = bench_files
    index = BenchmarkIndex([i for s in specs for i in load_benchmark(s)], ngram=8, image_hamming=4)
    reworded = "Look: " + EVAL_Q.upper().replace("FIND THE ANGLE ABD", "what is angle ABD?")
    hit = index.match(problem(question=reworded))
    assert (hit.item.benchmark, hit.item.item_id) == ("mathvista", "m-7") and "8-gram" in hit.evidence
    assert index.match(problem(question="In the figure, the chord AB runs parallel to a radius.")) is None
    assert index.match(problem(question="short one")) is None
    resized = Image.open(io.BytesIO(chart)).resize((60, 45))
    image_hit = index.match(problem(question="Unrelated question text here", phash=perceptual_hash(resized)))
    assert image_hit.item.item_id == "m-7" and "bits" in image_hit.evidence


def test_decontaminate_drops_rows_naming_benchmark_and_item(bench_files):
    specs, _ = bench_files
    rows = [problem(pid="s/1", question=EVAL_Q), problem(pid="s/2", question="How many dots?", phash="f" * 16)]
    with TestPipeline() as p:
        out = p | beam.Create(rows) | Decontaminate(DecontamSettings(benchmarks=specs))
        assert_that(out.kept | beam.Map(lambda pr: pr.id), equal_to(["s/2"]), label="kept")
        assert_that(out[DROPPED] | beam.Map(lambda r: (r.row_id, r.reason, r.detail.split(":")[0])),
                    equal_to([("s/1", "contaminated", "benchmark mathvista item m-7")]), label="dropped")


def test_config_names_a_bad_dedup_key():
    base = {"run": {"name": "r", "output_dir": "o"}, "source": {"kind": "jsonl", "path": "p", "name": "s"}}
    assert parse_config(base).dedup.decontam.ngram == 8
    with pytest.raises(ConfigError) as err:
        parse_config({**base, "dedup": {"decontam": {"benchmarks": [{"name": "b", "path": "x", "kin": "jsonl"}]},
                                        "images": {"mode": "pixels"}}})
    assert "dedup.decontam.benchmarks.0.kin: unknown key" in str(err.value)
    assert "dedup.images.mode" in str(err.value)


CHAIN = "First count the red dots in the top row, then the dots in the bottom row, and add them up to get"


def test_near_duplicate_chains_are_marked_only_against_the_same_answer():
    gens = [generation(0, True, 30, content=CHAIN + " 3. \\boxed{3}"),
            generation(1, True, 20, content=CHAIN.replace("add them up", "add them together") + " 3. \\boxed{3}"),
            generation(2, False, 25, content=CHAIN + " 4. \\boxed{4}"),
            generation(3, True, 40, content="Count every dot once: one, two, three. \\boxed{3}")]
    assert duplicate_chains(gens, ChainDedupSettings(threshold=0.6)) == {1: 0}
    assert duplicate_chains(gens, ChainDedupSettings(threshold=0.99)) == {}


def test_marked_chains_keep_the_pass_rate_but_are_never_selected():
    gens = [generation(0, True, 30, content=CHAIN + " 3. \\boxed{3}"),
            generation(1, True, 20, content=CHAIN.replace("add them up", "add them together") + " 3. \\boxed{3}"),
            generation(2, False, 25)]
    with TestPipeline() as p:
        out = p | beam.Create([chains(gens)]) | MarkDuplicateChains(ChainDedupSettings(threshold=0.6))
        assert_that(out | beam.Map(lambda c: ([g.duplicate_of for g in c.generations], c.pass_rate,
                                              shortest_correct(c.generations).sample_index)),
                    equal_to([([None, 0, None], 2 / 3, 0)]))
    assert shortest_correct([dataclasses.replace(g, duplicate_of=None) for g in gens]).sample_index == 1

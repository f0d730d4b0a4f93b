"""Every config a run's card lists loads with the real ``datasets`` library, images decoded as PIL (``problems`` too).

A whole run on the scripted teacher (named as such: replies keyed by the problem's caption and sample number)
writes every output set: kept chains, RL rows and preference pairs (one chain right, one wrong), TRL's twins, a
dropped problem, a dead-lettered one, two-image problems. :func:`data_cards.loads.load_problems` (what CI runs on
the demo's output) must find nothing wrong, and must find a set whose images are stored without the ``Image``
declaration, a truncated image, and a set whose row count disagrees with the manifest.
"""
from __future__ import annotations

import io
import json
import shutil

import datasets
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from data_cards.loads import card_configs, image_columns, load_problems, undeclared_images
from pipelines.cli import main
from pipelines.config import parse_config
from pipelines.run import run_pipeline
from schemas.derive import features
from schemas.problem import Problem
from tests.support.helpers import record_shard_again
from transforms.synth import generate, write_jsonl
from transforms.teachers.scripted import Reply, Rule, Script, scripted_settings

IMAGE_SETS = {"problems", "sft", "rl", "preference", "sft_trl", "rl_trl", "preference_trl"}


def _reply(answer: str) -> Reply:
    return Reply(f"<think>I look at the picture and count.</think> The answer is \\boxed{{{answer}}}.")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("card-loads")
    problems = [*generate(4, seed=11), *generate(2, seed=11, families=["compare_counts"])]  # the last two: two images
    rules = [Rule(Reply(fail="http_500"), match=problems[0].caption),  # dead-lettered
             Rule(_reply("nothing"), match=problems[1].caption)]         # no correct chain: dropped
    for p in problems[2:]:
        rules += [Rule(_reply(p.answer), match=p.caption, sample=0), Rule(_reply("nothing"), match=p.caption, sample=1)]
    scripted_settings(Script(rules, default=None), name="card-loads-teacher")
    config = parse_config({
        "run": {"name": "card-loads", "output_dir": str(root / "out")},
        "source": {"kind": "jsonl", "path": str(write_jsonl(problems, root / "data")), "name": "synth"},
        "length": {"samples": 2},
        "teacher": {"backend": "scripted", "model": "card-loads-teacher", "cache_url": str(root / "cache")},
        "verify": {"require_reasoning": False},
    })
    manifest = run_pipeline(config, ["--runner", "direct"], command="pytest")
    assert manifest.counts.dead_lettered and manifest.counts.dropped
    return root / "out"


def test_every_config_of_the_card_loads_with_its_images_decoded(run_dir):
    configs = card_configs(str(run_dir))
    assert set(configs) >= IMAGE_SETS
    assert load_problems(str(run_dir)) == []
    problems = datasets.load_dataset(str(run_dir), "problems", split="train", cache_dir=str(run_dir.parent / "hf"))
    assert image_columns(problems.features) == ["images"] and not undeclared_images(problems.features)
    two = [row["images"] for row in problems if len(row["images"]) == 2]
    assert two and all(isinstance(image, Image.Image) and image.size[0] > 0 for images in two for image in images)
    declared = {c: image_columns(datasets.load_dataset(str(run_dir), c, split="train",
                                                       cache_dir=str(run_dir.parent / "hf")).features) for c in configs}
    assert {c for c, cols in declared.items() if cols} == IMAGE_SETS


def _copy(run_dir, tmp_path):
    return shutil.copytree(run_dir, tmp_path / "copy")


def _rewrite(shard, change) -> None:
    table = pq.read_table(shard)
    pq.write_table(change(table), shard)


def test_images_without_the_image_declaration_are_reported(run_dir, tmp_path):
    out = _copy(run_dir, tmp_path)
    shard = next((out / "problems").glob("*.parquet"))
    _rewrite(shard, lambda t: t.replace_schema_metadata(None))  # the layout problems/ had before it declared Image
    # the card takes each set's features from what the workers read off the written files (_meta/shards.json): record
    # the rewritten shard as a worker would have, then render the card again, as `mmcot card` does
    record_shard_again(out, "problems", shard)
    assert main(["card", str(out)]) == 0
    found = load_problems(str(out))
    assert found == ["problems.images: images stored as {bytes, path} structs but not declared as an Image feature"]


def test_a_truncated_image_and_a_short_set_are_reported(run_dir, tmp_path):
    out = _copy(run_dir, tmp_path)
    shard = next((out / "sft").glob("*.parquet"))

    def truncate(table: pa.Table) -> pa.Table:
        rows = table.to_pylist()
        rows[0]["images"][0]["bytes"] = rows[0]["images"][0]["bytes"][:60]
        return pa.Table.from_pylist(rows, schema=table.schema)

    _rewrite(shard, truncate)
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["rows"]["rl"] += 1
    (out / "manifest.json").write_text(json.dumps(manifest))
    found = load_problems(str(out))
    assert any(f.startswith("sft.images[0]: ") for f in found), found
    assert any(f.startswith("sft_trl.images") for f in found) is False  # the TRL twin's shard is untouched
    assert f"rl: {manifest['rows']['rl'] - 1} rows load, the manifest says {manifest['rows']['rl']}" in found


def test_the_problems_schema_declares_its_images():
    assert image_columns(features(Problem)) == ["images"]
    assert b"Image" in features(Problem).arrow_schema.metadata[b"huggingface"]
    image = Image.new("RGB", (3, 2), (9, 9, 9))
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    row = {"id": "a", "source": "s", "split": "train", "question": "<image>?", "answer": "1", "answer_type": "numeric",
           "images": [{"bytes": buf.getvalue(), "path": "a.png"}], "image_meta": [], "choices": [], "subject": "",
           "caption": "", "unit": "", "metadata": "{}"}
    assert features(Problem).decode_example(row)["images"][0].size == (3, 2)

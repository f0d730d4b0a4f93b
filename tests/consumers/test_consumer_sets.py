"""The output sets each trainer takes: tags vs typed parts, verl's index and data_source, curriculum shards, dataset_info.json, card."""
from __future__ import annotations

import glob
import json
import random

import apache_beam as beam
import datasets
import pyarrow.parquet as pq
import pytest
from huggingface_hub import DatasetCard

from data_cards.trainers import TRAINER_NAMES
from pipelines.config import ConfigError, parse_config
from schemas.derive import arrow_schema
from schemas.output_sets import RUN_OUTPUT_NAMES, TRAINER_SETS, trainer_of
from schemas.outputs import IMAGE_TAG, ContentPart, RewardModel, RLExtraInfo, RLRow
from schemas.problem import ImageRef
from tests.consumers.fixture_run import write_fixture
from tests.support.factories import problem
from transforms.curriculum import order_key, with_index
from transforms.image_markers import canonical_markers
from transforms.row_invariant import violation
from transforms.teachers.messages import student_prompt
from transforms.trl_rows import content_parts
from transforms.write import WriteSortedShards


def rows(out, name):
    return [r for f in sorted(glob.glob(str(out / name / "*.parquet"))) for r in pq.read_table(f).to_pylist()]


def joined(parts) -> str:
    """Typed parts back to tagged text: the exact inverse of content_parts (blank pieces aside)."""
    return "".join(IMAGE_TAG if p["type"] == "image" else p["text"] for p in parts)


def test_content_parts_put_each_image_where_its_tag_was():
    assert content_parts("Compare <image> with <image>: which is larger?") == [
        ContentPart("text", "Compare "), ContentPart("image"), ContentPart("text", " with "), ContentPart("image"),
        ContentPart("text", ": which is larger?")]
    assert content_parts("<image><image>\nHow many?") == [ContentPart("image"), ContentPart("image"), ContentPart("text", "\nHow many?")]
    assert content_parts("<image> \n <image>") == [ContentPart("image"), ContentPart("image")]
    assert content_parts("no image") == [ContentPart("text", "no image")]


def test_student_prompt_keeps_the_canonical_markers_in_place():
    question, order = canonical_markers("Is <image 2> wider than <image1>?", 2)  # as normalize leaves it
    two = problem(question=question)
    two.images = two.images * 2
    text = student_prompt(two)
    assert order == [1, 0] and text.startswith("Is <image> wider than <image>?") and text.count(IMAGE_TAG) == 2
    question, _ = canonical_markers("How many dots?", 1)
    assert student_prompt(problem(question=question)).startswith("<image>How many dots?")


def test_tagged_sets_hold_one_tag_per_image_and_trl_twins_the_same_text_as_parts(consumer_run):
    sft, pref, rl = rows(consumer_run, "sft"), rows(consumer_run, "preference"), rows(consumer_run, "rl")
    assert len(sft) == 5 and len(pref) == 5 and len(rl) == 5
    assert {len(r["images"]) for r in sft} == {1, 2}
    for r in sft:
        assert r["messages"][0]["content"].count(IMAGE_TAG) == len(r["images"]) and IMAGE_TAG not in r["messages"][1]["content"]
    for r in pref:
        assert r["messages"][0]["content"].count(IMAGE_TAG) == len(r["images"])
        assert r["chosen"]["role"] == r["rejected"]["role"] == "assistant" and r["chosen"]["content"] != r["rejected"]["content"]
    two = next(r for r in sft if r["id"] == "fx/two-images")
    assert two["messages"][0]["content"].startswith("Count the dots in <image> and in <image>.")

    twins = {"sft_trl": ("sft", "messages", "messages"), "preference_trl": ("preference", "prompt", "messages"),
             "rl_trl": ("rl", "prompt", "prompt")}
    for twin, (base, twin_key, base_key) in twins.items():
        base_rows = {r.get("id") or r["extra_info"]["id"]: r for r in rows(consumer_run, base)}
        twin_rows = rows(consumer_run, twin)
        assert len(twin_rows) == len(base_rows)
        for r in twin_rows:
            b = base_rows[r.get("id") or r["extra_info"]["id"]]
            parts = [p for m in r[twin_key] for p in m["content"]]
            assert sum(p["type"] == "image" for p in parts) == len(r["images"]) == len(b["images"])
            assert not any(IMAGE_TAG in (p["text"] or "") for p in parts)
            assert joined(r[twin_key][0]["content"]) == b[base_key][0]["content"]
            assert [i["bytes"] for i in r["images"]] == [i["bytes"] for i in b["images"]]


def test_every_row_of_every_set_holds_the_row_invariant(consumer_run):
    """The writer's one invariant (transforms/row_invariant.py) over every row of every set a trainer loads."""
    checked = 0
    for name in ("sft", "rl", "preference", "sft_trl", "rl_trl", "preference_trl"):
        for row in rows(consumer_run, name):
            checked += 1
            assert violation(row) is None, (name, violation(row))
    assert checked == 30
    broken = {**rows(consumer_run, "sft")[0]}
    broken["messages"] = [broken["messages"][0], {"role": "assistant", "content": "<think>a</think> <|im_end|>"}]
    assert violation(broken).reason == "reserved_token"  # the check can fail


def test_rl_rows_route_to_mmcots_reward_and_carry_the_answer_spec_and_the_curriculum_index(consumer_run):
    rl = rows(consumer_run, "rl")
    assert [r["extra_info"]["index"] for r in rl] == list(range(len(rl)))
    assert all(r["data_source"] == "mmcot/fx" for r in rl)
    keys = [(-r["extra_info"]["pass_rate"], r["extra_info"]["difficulty"], r["extra_info"]["id"]) for r in rl]
    assert keys == sorted(keys) and keys[0] != keys[-1]
    by_id = {r["extra_info"]["id"]: r for r in rl}
    assert by_id["fx/unit"]["extra_info"]["unit"] == "cm"
    assert by_id["fx/mc-one"]["extra_info"]["choices"] == ["circle", "square", "triangle"]
    assert by_id["fx/mc-one"]["extra_info"]["answer_type"] == "multiple_choice"
    assert [r["extra_info"]["index"] for r in rows(consumer_run, "rl_trl")] == list(range(len(rl)))

    manifest = json.loads((consumer_run / "manifest.json").read_text())
    shards = manifest["curriculum"]["shards"]
    assert manifest["curriculum"]["order"] == "pass_rate" and [s["rows"] for s in shards] == [2, 3]
    assert [s["first_index"] for s in shards] == [0, 2] and shards[0]["min_pass_rate"] >= shards[1]["max_pass_rate"]


def _rl(pid: str, pass_rate: float, difficulty: float) -> RLRow:
    return RLRow("mmcot/s", [], [ImageRef(b"x", None)], "math", RewardModel("rule", "1"),
                 RLExtraInfo(pid, "train", "numeric", [], pass_rate, difficulty, 4))


@pytest.mark.parametrize("order", ["pass_rate", "difficulty", "id"])
@pytest.mark.parametrize("n_rows,n_shards", [(23, 4), (2, 4), (1, 1)])
def test_sorted_shards_hold_contiguous_ranges_of_one_order_numbered_from_zero(tmp_path, order, n_rows, n_shards):
    rng = random.Random(n_rows)
    records = [_rl(f"s/{i:03d}", rng.choice([0.25, 0.5, 0.75]), rng.choice([0.1, 0.5, 0.9])) for i in range(n_rows)]
    rng.shuffle(records)
    key = order_key(order)
    with beam.Pipeline() as p:
        p | beam.Create(records) | WriteSortedShards(str(tmp_path), arrow_schema(RLRow), key, with_index, n_shards)
    files = sorted(glob.glob(str(tmp_path / "*.parquet")))
    assert len(files) == min(n_rows, n_shards)
    written = [r for f in files for r in pq.read_table(f).to_pylist()]
    assert [r["extra_info"]["index"] for r in written] == list(range(n_rows))
    expected = sorted(records, key=key)
    assert [r["extra_info"]["id"] for r in written] == [r.extra_info.id for r in expected]
    sizes = [pq.read_metadata(f).num_rows for f in files]
    assert max(sizes) - min(sizes) <= 1


def test_rl_order_is_validated_naming_the_key():
    with pytest.raises(ConfigError, match=r"select\.rl_order"):
        parse_config({"run": {"name": "x", "output_dir": "o"}, "source": {"kind": "jsonl", "path": "p", "name": "s"},
                      "select": {"rl_order": "hardest"}})


def test_dataset_info_names_the_sharegpt_sets_and_the_card_says_which_set_is_for_which_trainer(consumer_run):
    info = json.loads((consumer_run / "dataset_info.json").read_text())
    assert info["mmcot_sft"]["file_name"] == "sft" and info["mmcot_sft"]["formatting"] == "sharegpt"
    assert info["mmcot_preference"]["ranking"] is True
    assert set(info["mmcot_preference"]["columns"]) == {"messages", "chosen", "rejected", "images"}
    card = DatasetCard.load(consumer_run / "README.md")
    configs = [c["config_name"] for c in card.data.configs]
    assert set(configs) >= {"sft", "rl", "preference", "sft_trl", "rl_trl", "preference_trl"} and configs[0] == "sft"
    assert "## Train on it" in card.text and "assistant_only_loss=True" in card.text
    assert "custom_reward_function.name=compute_score" in card.text and "dataset: mmcot_preference" in card.text
    assert "### RL curriculum" in card.text and "`rl/train-00001-of-00002.parquet` | 3 | 2–4 |" in card.text


@pytest.mark.parametrize("trainers", [("verl",), ("trl",)])  # llamafactory alone: test_write_manifest_card
def test_a_run_writes_only_the_sets_its_trainers_load(tmp_path, trainers):
    write_fixture(str(tmp_path), trainers)
    wanted = {name for t in trainers for name in TRAINER_SETS[t]}
    trainer_sets = {name for names in TRAINER_SETS.values() for name in names}
    written = {p.name for p in tmp_path.iterdir() if p.is_dir() and list(p.glob("*.parquet"))}
    assert written == wanted | {"generations", "dropped"}  # this fixture has no problems/ and no dead letters
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert all(manifest["rows"][name] == 0 for name in trainer_sets - wanted)
    assert manifest["counts"]["kept"] == 5 and manifest["rows"]["generations"] == 24  # kept counts whatever is written
    card = DatasetCard.load(tmp_path / "README.md")
    assert [c["config_name"] for c in card.data.configs if c["config_name"] in trainer_sets] == \
        [name for name in RUN_OUTPUT_NAMES if name in wanted]
    for name in wanted:  # loadable without conversion, and the card names its trainer
        assert datasets.load_dataset(str(tmp_path), name, split="train").num_rows == manifest["rows"][name] > 0
        assert f"| `{name}` | {TRAINER_NAMES[trainer_of(name)]} |" in card.text
    info = json.loads((tmp_path / "dataset_info.json").read_text())
    assert ("mmcot_sft" in info) == ("llamafactory" in trainers)
    assert ("dataset: mmcot_sft" in card.text) == ("llamafactory" in trainers)
    assert ("`rl_trl` | `reward_funcs" in card.text) == ("trl" in trainers)
    ordered = "rl" if "verl" in trainers else "rl_trl" if "trl" in trainers else None
    assert [r["path"].split("/")[0] for r in manifest["curriculum"]["shards"]] == ([ordered] * 2 if ordered else [])
    sampled = json.loads((tmp_path / "_meta/sample.json").read_text())["sets"]
    assert sampled["sft"] == 5  # the report's sample keeps every set, written or not

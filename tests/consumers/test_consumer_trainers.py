"""The real trainers on the output as written: TRL (mmcot's env), verl and LLaMA-Factory (their cached venvs).

Each check script runs in its trainer's interpreter and prints what it saw as JSON; the assertions are here.
The tiny LLaVA gives 4 image tokens per image (28x28 image, 14-pixel patches, CLS dropped).
"""
from __future__ import annotations

import math
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.support.consumer_venvs import run_in

pytestmark = pytest.mark.integration  # real trainers: TRL here, verl and LLaMA-Factory in their venvs
HERE = Path(__file__).resolve().parent
TOKENS_PER_IMAGE = 4


def set_rows(out: Path, name: str) -> int:
    return sum(pq.read_metadata(f).num_rows for f in (out / name).glob("*.parquet"))


def test_trl_takes_one_sft_and_one_dpo_step_through_its_vision_collators(consumer_run, tmp_path):
    pytest.importorskip("trl")
    seen = run_in(Path(sys.executable), HERE / "trl_check.py", str(consumer_run), str(tmp_path))
    sft, dpo = seen["sft"], seen["dpo"]
    assert seen["invariant"] == []  # mmcot's row invariant over every row TRL loaded
    assert sft["rows"] == set_rows(consumer_run, "sft_trl") and dpo["rows"] == set_rows(consumer_run, "preference_trl")
    assert sft["collator"] == "DataCollatorForVisionLanguageModeling" and dpo["collator"] == "DataCollatorForVisionPreference"
    for step in (sft, dpo):
        assert step["steps"] == 1 and math.isfinite(step["loss"]) and step["pixel_images"] > 0
        assert step["image_tokens"] == TOKENS_PER_IMAGE * step["pixel_images"]
    assert sft["literal_tags"] == 0 and "labels" in sft["batch_keys"]


def test_verl_rlhf_dataset_yields_every_row_with_its_images_and_loads_mmcots_reward(consumer_run, verl_python):
    seen = run_in(verl_python, HERE / "verl_check.py", str(consumer_run))
    items = seen["items"]
    assert seen["invariant"] == []  # mmcot's row invariant over every rl row
    assert len(items) == set_rows(consumer_run, "rl") == 5
    assert [i["index"] for i in items] == list(range(5))
    assert {i["row_images"] for i in items} == {1, 2}
    for item in items:
        assert item["image_parts"] == item["row_images"] and item["literal_tags_left"] == 0
        assert item["image_tokens"] == TOKENS_PER_IMAGE * item["row_images"]
    rewards = seen["rewards"]
    assert len(rewards) == 20 and {r["verdict"] for r in rewards} == {True, False}
    assert all(r["score"] == r["acc"] == float(r["verdict"]) for r in rewards)
    fmt = seen["rewards_format"]
    assert all(r["score"] == pytest.approx(0.9 * r["acc"] + 0.1 * r["format"]) for r in fmt)
    assert {r["format"] for r in fmt} == {0.0, 1.0}
    assert seen["gsm8k_score"] == 1.0  # a non-mmcot data_source goes to verl's own scorer


def test_llamafactory_converts_and_tokenizes_every_sft_and_preference_row(consumer_run, llamafactory_python, tmp_path):
    seen = run_in(llamafactory_python, HERE / "llamafactory_check.py", str(consumer_run), str(tmp_path))
    sft, pref = seen["sft"], seen["preference"]
    assert (sft["rows"], pref["rows"], sft["invariant"], pref["invariant"]) == (5, 5, [], [])  # the same helper, every row
    assert sft["examples"] == set_rows(consumer_run, "sft") == 5  # 0 dropped
    assert pref["examples"] == set_rows(consumer_run, "preference") == 5
    assert set(sft["images"]) == {1, 2} and sorted(pref["images"]) == sorted(sft["images"])
    assert [TOKENS_PER_IMAGE * n for n in sft["images"]] == sft["image_tokens"]["input_ids"]
    for key in ("chosen_input_ids", "rejected_input_ids"):
        assert pref["image_tokens"][key] == [TOKENS_PER_IMAGE * n for n in pref["images"]]


def test_deepseek_r1_distill_template_drops_the_reasoning_unless_trls_assistant_only_loss_template(consumer_run):
    """The card's warning, checked: the template cuts the <think> block; SFTConfig(assistant_only_loss=True)'s does not."""
    trl_templates = pytest.importorskip("trl.chat_template_utils")
    from transformers import AutoTokenizer

    from tests.consumers.tiny_vlm import embedded_tokenizer_dir

    tokenizer = AutoTokenizer.from_pretrained(str(embedded_tokenizer_dir()))
    tokenizer.chat_template = trl_templates.deepseek_r1_distill_chat_template
    row = next(r for f in (consumer_run / "sft").glob("*.parquet") for r in pq.read_table(f).to_pylist())
    reasoning = row["messages"][1]["content"].split("</think>")[0].removeprefix("<think>").strip()
    assert reasoning and reasoning not in tokenizer.apply_chat_template(row["messages"], tokenize=False)
    training = trl_templates.get_training_chat_template(tokenizer)  # what SFTTrainer swaps in for assistant_only_loss
    assert reasoning in tokenizer.apply_chat_template(row["messages"], chat_template=training, tokenize=False)

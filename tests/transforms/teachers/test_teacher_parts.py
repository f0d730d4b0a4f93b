"""Prompt building, the response cache, reasoning parsing and the generate progress line (no server needed)."""
from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import logging
import threading

import aiohttp
import pytest

from tests.support.factories import PLAN, problem
from transforms import generate
from transforms.teacher_calls import Answer
from transforms.teachers.base import Completion, sampling_fields
from transforms.teachers.cache import ENTRY_VERSION, ResponseCache, cache_key, from_entry, request_key, to_entry
from transforms.teachers.messages import IMAGE_URL_PREFIX, build_messages, with_data_urls
from transforms.teachers.openai_http import HTTPStatusError, failure_reason, is_retryable
from transforms.teachers.parse import split_reasoning
from transforms.teachers.reply_gate import checked, completions_from_body


def test_text_teacher_gets_caption_question_options_and_instruction():
    (msg,) = build_messages(problem(choices=["2", "3"], answer="B"), "concise", "text")
    assert msg["role"] == "user" and isinstance(msg["content"], str)
    text = msg["content"]
    assert text.index("three red dots") < text.index("How many dots?") < text.index("A. 2") < text.index("B. 3")
    assert "letter" in text and "\\boxed{}" in text and "briefly" in text


def test_vision_teacher_gets_images_at_placeholders_then_real_data_urls():
    p = problem(question="Compare <image> with the count: how many dots?")
    (msg,) = build_messages(p, "standard", "vision")
    kinds = [part["type"] for part in msg["content"]]
    assert kinds == ["text", "image_url", "text", "text"]
    assert msg["content"][1]["image_url"]["url"] == IMAGE_URL_PREFIX + p.image_meta[0].sha256
    assert "three red dots" not in json.dumps(msg)
    sent = with_data_urls([msg], p)
    url = sent[0]["content"][1]["image_url"]["url"]
    assert url.startswith("data:image/png;base64,") and base64.b64decode(url.split(",", 1)[1]) == p.images[0].bytes
    assert msg["content"][1]["image_url"]["url"].startswith(IMAGE_URL_PREFIX)  # the keyed copy is untouched


def test_vision_without_placeholders_puts_images_first():
    (msg,) = build_messages(problem(), "standard", "vision")
    assert [part["type"] for part in msg["content"]] == ["image_url", "text", "text"]


def test_cache_key_changes_with_everything_that_changes_a_sample():
    messages = build_messages(problem(), "concise", "text")
    base = cache_key("m", messages, sampling_fields(PLAN), 0)
    assert base == cache_key("m", build_messages(problem(), "concise", "text"), sampling_fields(PLAN), 0)
    assert base != cache_key("m2", messages, sampling_fields(PLAN), 0)
    assert base != cache_key("m", messages, sampling_fields(PLAN), 1)
    assert base != cache_key("m", messages, {**sampling_fields(PLAN), "max_tokens": 65}, 0)
    assert base != cache_key("m", build_messages(problem(image_hash="cd" * 32), "concise", "vision"), sampling_fields(PLAN), 0)


def test_request_key_covers_every_sent_sampling_field_the_output_constraint_and_the_seed():
    messages = build_messages(problem(), "concise", "text")
    base = request_key("m", messages, PLAN, 0)
    assert base == cache_key("m", messages, sampling_fields(PLAN), 0)  # keys of caches written before stay valid
    for field, value in sampling_fields(PLAN).items():
        changed = dataclasses.replace(PLAN, **{field: value + 1})
        assert request_key("m", messages, changed, 0) != base, field
    schema = {"type": "json_schema", "json_schema": {"name": "a", "schema": {"type": "object"}}}
    constrained = request_key("m", messages, PLAN, 0, schema)
    assert constrained not in (base, request_key("m", messages, PLAN, 0, {"type": "json_object"}))
    assert request_key("m", messages, PLAN, 0, seed=7) not in (base, request_key("m", messages, PLAN, 0, seed=8))
    # fields that do not change a completion stay out of the key
    assert request_key("m", messages, dataclasses.replace(PLAN, band="hard", policy="x", n=9), 0) == base


def test_cache_entries_are_versioned_and_read_across_versions():
    completion = Completion("B", "why", "stop", 12, 7, 0.5)
    entry = to_entry(completion)
    assert entry["version"] == ENTRY_VERSION and from_entry(entry) == completion
    legacy = {k: v for k, v in entry.items() if k != "version"}  # written before entries had a version
    assert from_entry(legacy) == completion
    assert from_entry({**entry, "version": ENTRY_VERSION + 1, "served_by": "pod-7"}) == completion  # a later field
    assert from_entry({"content": "B"}) is None  # required fields missing: a miss, not a crash


def test_cache_round_trips_ignores_torn_entries_and_is_thread_safe(tmp_path):
    cache = ResponseCache(str(tmp_path / "c"))
    assert cache.get("ab12") is None
    cache.put("ab12", {"content": "x", "n": 1})
    assert ResponseCache(f"file://{tmp_path}/c").get("ab12") == {"content": "x", "n": 1}
    (tmp_path / "c" / "cd" / "cd34.json").parent.mkdir(parents=True)
    (tmp_path / "c" / "cd" / "cd34.json").write_text('{"content": "tor')
    assert cache.get("cd34") is None
    threads = [threading.Thread(target=cache.put, args=(f"ee{i:02d}", {"i": i})) for i in range(16)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert [cache.get(f"ee{i:02d}")["i"] for i in range(16)] == list(range(16))
    assert not list((tmp_path / "c").rglob("*.tmp"))


def test_split_reasoning_prefers_the_server_field_then_think_tags():
    assert split_reasoning("The answer is 3", "count them") == ("count them", "The answer is 3")
    assert split_reasoning("<think> count </think>\n\\boxed{3}", None) == ("count", "\\boxed{3}")
    assert split_reasoning("count </think> \\boxed{3}", None) == ("count", "\\boxed{3}")
    assert split_reasoning("no block \\boxed{3}", None) == ("", "no block \\boxed{3}")


def test_retry_classification():
    assert is_retryable(HTTPStatusError(503, "busy", None)) and is_retryable(HTTPStatusError(429, "slow", 2.0))
    assert not is_retryable(HTTPStatusError(400, "bad", None))
    assert is_retryable(TimeoutError()) and is_retryable(aiohttp.ServerDisconnectedError())
    assert is_retryable(aiohttp.ClientPayloadError("torn body"))
    assert not is_retryable(ValueError("not JSON"))
    assert failure_reason(HTTPStatusError(404, "no model", None)) == ("http_404", "no model")
    assert failure_reason(TimeoutError())[0] == "timeout"
    assert failure_reason(aiohttp.ClientOSError(111, "refused"))[0] == "connection_error"


def test_a_refused_connection_fails_with_its_reason_after_the_retries():
    from pipelines.vllm_server import find_free_port
    from transforms.teachers.base import TeacherError
    from transforms.teachers.openai_http import OpenAIChatTeacher
    from transforms.teachers.settings import TeacherSettings

    settings = TeacherSettings(model="m", max_attempts=2, max_backoff_s=0.01, timeout_s=5,
                               base_url=f"http://127.0.0.1:{find_free_port()}/v1")  # nothing listens there
    teacher = OpenAIChatTeacher(settings)

    async def ask():
        try:
            await teacher.complete([{"role": "user", "content": "hi"}], PLAN)
        finally:
            await teacher.aclose()

    with pytest.raises(TeacherError) as failed:
        asyncio.run(ask())
    assert failed.value.reason == "connection_error" and teacher.retries == 1


def test_a_body_reads_reasoning_fields_and_usage():
    body = {"choices": [{"message": {"content": "B", "reasoning_content": "think"}, "finish_reason": "length"}],
            "usage": {"prompt_tokens": 12, "completion_tokens": 7}}
    (completion,) = completions_from_body(body, 0.5)
    assert checked(completion).completion == Completion("B", "think", "length", 12, 7, 0.5)


def test_progress_counts_chains_and_tokens_as_requests_finish(monkeypatch, caplog):
    monkeypatch.setattr(generate, "PROGRESS_EVERY_S", 0.0)
    progress = generate._Progress()
    progress.submit()
    progress.submit()
    hit = Answer(Completion("x", None, "stop", 5, 99, 0.1), "k", cached=True)
    progress.sample(hit, retries=0, failed=0)
    progress.sample(hit, retries=0, failed=0)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger=generate.__name__):
        # a problem still running: its chain shows already
        progress.sample(Answer(Completion("y", None, "stop", 5, 40, 0.1), "k2", cached=False), retries=1, failed=0)
        progress.problem(retries=1, failed=0)
    first, second = (r.getMessage() for r in caplog.records)
    assert first.startswith("generate: 0/2 problems done, 3 chains (2 from cache), 40 new tokens")
    assert first.endswith("1 retries, 0 problems failed")
    assert second.startswith("generate: 1/2 problems done, 3 chains (2 from cache), 40 new tokens")

"""What the in-process engine receives: conversations with decoded images, per-request SamplingParams."""
from __future__ import annotations

import dataclasses

import pytest
from vllm import CompletionOutput, RequestOutput

from tests.support.factories import PLAN, problem
from transforms.teachers.base import TeacherError
from transforms.teachers.engine_inputs import engine_conversation, sampling_params, to_completions
from transforms.teachers.messages import build_messages, with_data_urls
from transforms.teachers.settings import EngineSettings
from transforms.teachers.vllm_engine import engine_kwargs


def test_images_become_decoded_pil_parts_at_their_placeholders():
    p = problem(question="Compare <image> with the count: how many dots?")
    sent = with_data_urls(build_messages(p, "standard", "vision"), p)
    (message,) = engine_conversation(sent)
    assert [part["type"] for part in message["content"]] == ["text", "image_pil", "text", "text"]
    image = message["content"][1]["image_pil"]
    assert image.size == (64, 48) and image.getpixel((20, 15)) == (0, 0, 0)  # the factory's dark square
    assert message["content"][0] == sent[0]["content"][0]
    assert sent[0]["content"][1]["type"] == "image_url"  # the caller's messages are untouched


def test_text_messages_pass_through_and_non_data_urls_are_refused():
    text = build_messages(problem(), "concise", "text")
    assert engine_conversation(text) == text
    remote = [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x/a.png"}}]}]
    with pytest.raises(TeacherError) as excinfo:
        engine_conversation(remote)
    assert excinfo.value.reason == "bad_request"


def test_sampling_params_follow_the_plan_and_the_response_format():
    plan = dataclasses.replace(PLAN, max_tokens=77, temperature=0.3, top_p=0.8, repetition_penalty=1.2)
    params = sampling_params(plan, None, seed=None)
    assert (params.n, params.max_tokens, params.temperature, params.top_p, params.repetition_penalty, params.seed) == (
        1, 77, 0.3, 0.8, 1.2, None)
    assert params.structured_outputs is None
    schema = {"type": "object", "properties": {"score": {"type": "integer"}}}
    constrained = sampling_params(plan, {"type": "json_schema", "json_schema": {"name": "s", "schema": schema}}, seed=7)
    assert constrained.structured_outputs.json == schema and constrained.seed == 7
    assert sampling_params(plan, {"type": "json_object"}, None).structured_outputs.json_object is True
    with pytest.raises(TeacherError):
        sampling_params(plan, {"type": "xml"}, None)


def test_request_output_becomes_a_completion_per_sample_in_index_order():
    def sample(index: int, text: str, tokens: int, finish: str) -> CompletionOutput:
        return CompletionOutput(index=index, text=text, token_ids=list(range(tokens)), cumulative_logprob=None,
                                logprobs=None, finish_reason=finish)

    output = RequestOutput(request_id="0", prompt=None, prompt_token_ids=[5] * 11, prompt_logprobs=None,
                           outputs=[sample(1, "second", 2, "stop"), sample(0, "<think>a</think> \\boxed{3}", 3, "length")],
                           finished=True)
    completions = to_completions(output, 0.5)
    assert [(c.content, c.finish_reason, c.prompt_tokens, c.completion_tokens, c.latency_s) for c in completions] == [
        ("<think>a</think> \\boxed{3}", "length", 11, 3, 0.5), ("second", "stop", 11, 2, 0.5)]
    assert sampling_params(PLAN, None, seed=7, n=3).n == 3


def test_engine_kwargs_use_cpu_defaults_only_where_unset_on_cpu():
    settings = EngineSettings(model_path="/m", engine_kwargs={"max_num_seqs": 64})
    cpu = engine_kwargs(settings, seed=1, on_cpu=True)
    assert (cpu["dtype"], cpu["enforce_eager"], cpu["seed"], cpu["max_num_seqs"]) == ("float32", True, 1, 64)
    gpu = engine_kwargs(settings, seed=1, on_cpu=False)
    assert (gpu["dtype"], gpu["enforce_eager"]) == ("auto", False)
    assert engine_kwargs(settings.model_copy(update={"dtype": "bfloat16"}), 0, on_cpu=True)["dtype"] == "bfloat16"
    with pytest.raises(TeacherError):
        engine_kwargs(EngineSettings(), 0, on_cpu=True)

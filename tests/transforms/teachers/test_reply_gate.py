"""The reply gate (transforms/teachers/reply_gate.py) and the ask path that calls it: no reply stops a job.

Property-based: reply bodies and completions drawn from a grammar of hostile pieces either pass the
gate with every field checked and bounded, or fail it with one of its reason words; nothing else
escapes. Then the HOSTILE TEACHER STUB's replies (tests/support/hostile_teacher.py) through the gate without a
server, and the ask path on the scripted backend inside a Beam pipeline: huge usage no longer
overflows a counter at the end of a bundle, cache entries read back go through the gate too.
"""
from __future__ import annotations

import asyncio
import json
import math

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.factories import planned
from tests.support.hostile_teacher import CASES
from transforms.generate import GenerateChains
from transforms.tags import DEAD_LETTER
from transforms.teacher_calls import MAX_METRIC, Prompt, TeacherCallFn
from transforms.teachers import reply_gate
from transforms.teachers.base import Completion, TeacherError
from transforms.teachers.cache import ResponseCache, request_key
from transforms.teachers.registry import Endpoint
from transforms.teachers.scripted import Reply, Script, scripted_settings
from transforms.verifiers.hygiene import DEFAULT_TOKENS

REASONS = {"too_large", "bad_text", "nested_too_deep", "not_json", "bad_response", "no_choices", "bad_content",
           "refusal"}
QUICK = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

texts = st.lists(st.sampled_from([
    "plain words ", "\\boxed{3}", "<think>", "</think>", "<answer>4</answer>", "\ud800", "\udfff", "\x00", "\x1b[31m",
    "<image>", "<video>", "{" * 50, "}" * 50, "1" * 5000, "<script>alert(1)</script>", "![x](http://127.0.0.1:9/a)",
    "é漢字🙂", *DEFAULT_TOKENS[:12],
]), max_size=8).map("".join)
numbers = st.one_of(st.none(), st.booleans(), st.integers(min_value=-2**70, max_value=2**70),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=5), st.just([1]), st.just({}))
contents = st.one_of(texts, st.none(), st.integers(), st.lists(st.fixed_dictionaries(
    {"type": st.sampled_from(["text", "output_text", "image_url", "refusal", 3]), "text": st.one_of(texts, st.none())}),
    max_size=3), st.just({"text": "x"}))
finishes = st.one_of(st.none(), st.sampled_from(["stop", "length", "content_filter", "tool_calls", " STOP ", "eos", ""]),
                     st.integers(), st.just(["stop"]))
messages = st.fixed_dictionaries({"content": contents}, optional={
    "reasoning_content": contents, "reasoning": contents, "refusal": st.one_of(st.none(), texts)})
choices = st.one_of(st.fixed_dictionaries({"message": st.one_of(messages, st.none(), st.just("x"))},
                                          optional={"finish_reason": finishes}), st.just("choice"), st.none())
bodies = st.one_of(
    st.fixed_dictionaries({}, optional={
        "choices": st.one_of(st.lists(choices, max_size=2), st.none(), st.just("x"), st.just({})),
        "usage": st.one_of(st.fixed_dictionaries({}, optional={"prompt_tokens": numbers, "completion_tokens": numbers}),
                           st.none(), st.just([1]), st.just("many"))}),
    st.lists(st.integers(), max_size=3), st.text(max_size=5), st.none())


def raise_error(reply: Completion | TeacherError) -> Completion:
    """A sample's reply, its TeacherError raised."""
    if isinstance(reply, TeacherError):
        raise reply
    return reply


def _bounded(completion: Completion) -> None:
    assert isinstance(completion.content, str) and (completion.reasoning is None or isinstance(completion.reasoning, str))
    assert not any(0xD800 <= ord(c) <= 0xDFFF for c in completion.content + (completion.reasoning or ""))
    assert completion.finish_reason in (*reply_gate.FINISH_REASONS, "missing", "unknown")
    for count in (completion.prompt_tokens, completion.completion_tokens):
        assert count is None or (type(count) is int and 0 <= count <= reply_gate.MAX_TOKENS)
    assert math.isfinite(completion.latency_s) and 0 <= completion.latency_s <= reply_gate.MAX_LATENCY_S


@QUICK
@given(bodies, st.floats(allow_nan=True, allow_infinity=True))
def test_any_body_is_a_checked_completion_or_a_reason_word_per_choice(body, latency):
    try:
        replies = reply_gate.completions_from_body(body, latency)
    except TeacherError as exc:
        assert exc.reason in REASONS
        return
    assert 1 <= len(replies) == len(body["choices"])
    for reply in replies:
        try:
            gated = reply_gate.checked(raise_error(reply))
        except TeacherError as exc:
            assert exc.reason in REASONS
            continue
        _bounded(gated.completion)
        assert set(gated.notes) <= {"usage_missing", "usage_out_of_range", "latency_out_of_range"}


@QUICK
@given(st.one_of(st.binary(max_size=64), st.text(max_size=64), bodies.map(lambda b: json.dumps(b, allow_nan=True))))
def test_any_bytes_parse_or_fail_with_a_reason_word(raw):
    try:
        reply_gate.parse_body(raw)
    except TeacherError as exc:
        assert exc.reason in REASONS


@QUICK
@given(contents, contents, finishes, numbers, numbers, numbers)
def test_any_completion_from_any_backend_or_cache_is_bounded_or_refused(content, reasoning, finish, p, c, latency):
    try:
        gated = reply_gate.checked(Completion(content, reasoning, finish, p, c, latency))
    except TeacherError as exc:
        assert exc.reason in REASONS
        return
    _bounded(gated.completion)


def test_the_named_failures_get_their_reason_words():
    with pytest.raises(TeacherError) as deep:
        reply_gate.parse_body("[" * 100_000 + "]" * 100_000)
    assert deep.value.reason == "nested_too_deep"
    with pytest.raises(TeacherError) as surrogate:
        reply_gate.checked(Completion("half \ud800 a pair", None, "stop", 1, 1, 0.1))
    assert surrogate.value.reason == "bad_text"
    with pytest.raises(TeacherError) as big:
        reply_gate.parse_body(b" " * (reply_gate.MAX_BODY_BYTES + 1))
    assert big.value.reason == "too_large"
    parts = {"choices": [{"message": {"content": [{"type": "text", "text": "<think>a</think>"},
                                                  {"type": "text", "text": " \\boxed{1}"}]}, "finish_reason": "stop"}]}
    (joined,) = reply_gate.completions_from_body(parts, 0.1)
    assert reply_gate.checked(joined).completion.content == "<think>a</think> \\boxed{1}"
    huge = reply_gate.parse_body('{"usage": {"completion_tokens": ' + "9" * 100_000 + "}}")
    assert huge["usage"]["completion_tokens"] == math.inf  # never a 10^5-digit int
    gated = reply_gate.checked(Completion("x", None, "Content_Filter", 10**30, -3, 0.1))
    assert gated.completion.finish_reason == "content_filter" and gated.completion.completion_tokens is None
    assert gated.notes == ["usage_out_of_range", "usage_out_of_range"]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_each_hostile_stub_reply_meets_the_gate_as_its_class_says(case):
    """The stub's replies without a server: a ``dead`` class's first sample fails with its reason, others pass."""
    for sample, (status, data, _) in enumerate(case.replies("B", 9)):
        assert status == 200
        try:
            (reply,) = reply_gate.completions_from_body(reply_gate.parse_body(data), 0.1)
            reply_gate.checked(raise_error(reply))
        except TeacherError as exc:
            assert (case.outcome, sample, f"generate/teacher_{exc.reason}") == ("dead", 0, case.reason)
        else:
            assert case.outcome != "dead" or sample == 1


class _AskFn(TeacherCallFn):
    """The ask path alone: one ask per element (a TeacherCallFn as a stage builds it)."""

    def __init__(self, endpoint: Endpoint):
        super().__init__("gate_test", endpoint)

    async def _ask(self, text: str):
        answer = await self.ask(Prompt([{"role": "user", "content": text}]), planned().plan)
        return answer.completion

    def process(self, text: str):
        yield from self.submit(self._ask(text), text)


def test_huge_usage_no_longer_overflows_a_counter_at_the_end_of_a_bundle(tmp_path):
    """The issue's OverflowError: ``usage.completion_tokens`` beyond a C long reached Beam's counter in finish_bundle."""
    script = Script(default=Reply("<think>ok</think> \\boxed{3}", prompt_tokens=2**70, completion_tokens=10**30))
    endpoint = Endpoint(scripted_settings(script), str(tmp_path / "cache"))
    with TestPipeline() as p:
        out = (p | beam.Create([planned()]) | GenerateChains(endpoint))
        tokens = out.chains | beam.Map(lambda c: [g.completion_tokens for g in c.generations])
        assert_that(tokens, equal_to([[None, None, None]]))
        assert_that(out[DEAD_LETTER], equal_to([]), label="none dead")


def test_report_bounds_whatever_was_counted(tmp_path):
    fn = _AskFn(Endpoint(scripted_settings(Script()), str(tmp_path / "cache")))
    fn.setup()
    try:
        fn.count("tokens_out", 10**40)
        fn._latencies.append(10**40)
        fn._report()  # a C long would overflow without the bound
        assert MAX_METRIC < 2**63
    finally:
        fn.teardown()


def test_a_cache_entry_read_back_goes_through_the_gate(tmp_path):
    """A hostile entry (a lone surrogate, a list, a deep file) is a miss, asked again and replaced; never a crash."""
    script = Script(default=Reply("<think>fresh</think> \\boxed{3}"))
    settings_ = scripted_settings(script)
    endpoint = Endpoint(settings_, str(tmp_path / "cache"))
    fn = _AskFn(endpoint)
    fn.setup()
    try:
        prompt, plan = Prompt([{"role": "user", "content": "q"}]), planned().plan
        key = request_key(settings_.model, prompt.messages, plan, 0)
        path = tmp_path / "cache" / key[:2] / f"{key}.json"
        path.parent.mkdir(parents=True)
        surrogate = ('{"content": "bad \\ud800", "reasoning": null, "finish_reason": "stop", "prompt_tokens": 1, '
                     '"completion_tokens": 1, "latency_s": 0.1}')
        for entry, rejected in ((surrogate, 1), ('["not", "an", "entry"]', 1), ("[" * 100_000, 0)):  # 0: unreadable
            path.write_text(entry)
            fn._tally.clear()
            assert fn._run(fn._ask("q")).content == "<think>fresh</think> \\boxed{3}"  # a miss, asked again
            assert fn._tally["cache_rejected"] == rejected and fn._tally["cache_misses"] == 1
            assert ResponseCache(str(tmp_path / "cache")).get(key)["content"] == "<think>fresh</think> \\boxed{3}"
    finally:
        fn.teardown()


def test_the_http_backend_refuses_an_oversized_body_without_holding_it(monkeypatch):
    """A server streaming more than the bound: the client stops reading and the gate says too_large."""
    from aiohttp import web

    from tests.support.loopback_app import LoopbackApp
    from transforms.teachers import openai_http
    from transforms.teachers.openai_http import OpenAIChatTeacher
    from transforms.teachers.settings import TeacherSettings

    monkeypatch.setattr(openai_http, "MAX_BODY_BYTES", 4096)
    monkeypatch.setattr(reply_gate, "MAX_BODY_BYTES", 4096)

    class Endless(LoopbackApp):
        async def _chat(self, request):
            response = web.StreamResponse()
            await response.prepare(request)
            for _ in range(64):
                await response.write(b"x" * 1024)
            return response

        def routes(self, app):
            app.router.add_post("/v1/chat/completions", self._chat)

    async def ask(url):
        teacher = OpenAIChatTeacher(TeacherSettings(base_url=url, model="m", max_attempts=1))
        try:
            return await teacher.complete([{"role": "user", "content": "hi"}], planned().plan)
        finally:
            await teacher.aclose()

    with Endless() as server, pytest.raises(TeacherError) as failed:
        asyncio.run(ask(server.base_url))
    assert failed.value.reason == "too_large"

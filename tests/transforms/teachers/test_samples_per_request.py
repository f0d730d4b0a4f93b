"""k samples of a prompt in one request (``teacher.samples_per_request``), on the ask path of TeacherCallFn.

A loopback OpenAI-compatible stub (``NStub``, no model behind it) answers ``n`` choices and records the
``n`` of every request; it can refuse ``n`` > 1 with a 400, send one choice fewer than asked, or make
one choice unusable on its first request. Asserted: one request for the missing samples, each sample
cached under its own key so a resume asks only for the ones it lacks; a refusing server gets one
request per sample, said once in the log; a short reply's missing samples asked again one by one; a
sample the reply gate refuses fails alone (the problem is dead-lettered with its reason, its good
samples cached, so a rerun pays for that sample only). ``request_groups`` is checked for every input.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import math
from collections import Counter

import apache_beam as beam
from aiohttp import web
from apache_beam.testing.test_pipeline import TestPipeline
from hypothesis import given
from hypothesis import strategies as st

from tests.support.factories import PLAN, planned, problem
from tests.support.loopback_app import LoopbackApp
from tests.support.vision_cases import image_problem
from transforms.generate import GenerateChains
from transforms.tags import DEAD_LETTER
from transforms.teacher_calls import Answer, Prompt, TeacherCallFn
from transforms.teachers.base import TeacherError
from transforms.teachers.budget import LimitSettings
from transforms.teachers.messages import build_messages
from transforms.teachers.registry import Endpoint
from transforms.teachers.samples import request_groups
from transforms.teachers.settings import TeacherSettings

MESSAGES = [{"role": "user", "content": "How many dots are there?"}]


class NStub(LoopbackApp):
    """Chat completions of ``n`` choices (``sample <i>`` of the request's choices); ``refuse_n``: 400 for n > 1;
    ``short``: one choice fewer than asked; ``bad_once``: on the first request, choice 1's content is a number."""

    def __init__(self, refuse_n: bool = False, short: bool = False, bad_once: bool = False):
        self.refuse_n, self.short, self.bad_once = refuse_n, short, bad_once
        self.ns: list[int] = []
        self.counts: Counter[str] = Counter()

    async def _chat(self, request: web.Request) -> web.Response:
        body = json.loads(await request.read())
        n = body.get("n", 1)
        self.ns.append(n)
        if self.refuse_n and n > 1:
            self.counts["refused"] += 1
            return web.Response(status=400, text='{"error": "n must be 1"}', content_type="application/json")
        choices = [{"index": i, "finish_reason": "stop", "token_ids": [7] * (i + 1),
                    "message": {"role": "assistant", "content": f"<think>sample {i}</think> \\boxed{{3}}"}}
                   for i in range(n - 1 if self.short and n > 1 else n)]
        if self.bad_once and len(self.ns) == 1 and len(choices) > 1:
            choices[1]["message"]["content"] = 12345
        return web.json_response({"id": "x", "object": "chat.completion", "model": body["model"], "choices": choices,
                                  "usage": {"prompt_tokens": 9, "completion_tokens": sum(range(1, n + 1))}})

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/chat/completions", self._chat)


def _settings(stub: NStub, per_request: int = 16) -> TeacherSettings:
    return TeacherSettings(base_url=stub.base_url, model="n-stub", max_in_flight=8, max_attempts=2, max_backoff_s=0.1,
                           samples_per_request=per_request)


def _ask(settings: TeacherSettings, cache, samples: list[int], plan=PLAN) -> list[Answer | TeacherError]:
    fn = TeacherCallFn("ask", Endpoint(settings, str(cache)))
    fn.setup()
    try:
        return fn._run(fn.ask_samples(Prompt(MESSAGES), plan, samples))
    finally:
        fn.teardown()


def test_the_missing_samples_go_in_one_request_and_each_is_cached_under_its_own_key(tmp_path):
    with NStub() as stub:
        first = _ask(_settings(stub), tmp_path / "c", [0, 1, 2])
        assert stub.ns == [3]
        assert [a.completion.content for a in first] == [f"<think>sample {i}</think> \\boxed{{3}}" for i in range(3)]
        assert [a.completion.completion_tokens for a in first] == [1, 2, 3]  # each choice's token_ids, not the usage
        assert not any(a.cached for a in first) and len({a.key for a in first}) == 3
        assert len(list((tmp_path / "c").rglob("*.json"))) == 3
        resumed = _ask(_settings(stub), tmp_path / "c", [0, 1, 2, 3, 4])
        assert stub.ns == [3, 2]  # only the two missing samples, in one request
        assert [a.cached for a in resumed] == [True, True, True, False, False]
        assert [a.key for a in resumed[:3]] == [a.key for a in first]
        chunked = _ask(_settings(stub, per_request=2), tmp_path / "d", [0, 1, 2, 3, 4])
        assert sorted(stub.ns[2:]) == [1, 2, 2] and all(isinstance(a, Answer) for a in chunked)


def test_a_greedy_plan_asks_one_sample_a_request_as_vllm_refuses_n_with_greedy_sampling(tmp_path):
    with NStub() as stub:
        answers = _ask(_settings(stub), tmp_path / "c", [0, 1, 2], dataclasses.replace(PLAN, temperature=0.0))
    assert stub.ns == [1, 1, 1] and all(isinstance(a, Answer) for a in answers)


def test_a_prompt_over_the_models_limits_asks_nothing_and_fails_every_missing_sample(tmp_path):
    """Three images where the model takes two: the budget refuses before any request, for every missing sample."""
    with NStub() as stub:
        settings = _settings(stub).model_copy(update={"limits": LimitSettings(max_images=2)})
        images = image_problem("v/1", ["Compare", "with", "and", "."], [(30, 30)] * 3)
        fn = TeacherCallFn("ask", Endpoint(settings, str(tmp_path / "c")))
        fn.setup()
        try:
            prompt = Prompt(build_messages(images, "standard", "vision"), images)
            answers = fn._run(fn.ask_samples(prompt, PLAN, [0, 1, 2]))
        finally:
            fn.teardown()
    assert stub.ns == [] and [a.reason for a in answers] == ["too_many_images"] * 3


def test_a_server_that_refuses_n_gets_one_request_per_sample_said_once(tmp_path, caplog):
    with NStub(refuse_n=True) as stub, caplog.at_level(logging.WARNING, "transforms.teachers.samples"):
        first = _ask(_settings(stub), tmp_path / "c", [0, 1, 2])
        assert stub.ns == [3, 1, 1, 1]  # refused, the same prompt alone went through: the rest one by one
        second = _ask(_settings(stub), tmp_path / "c", [3, 4])
        assert stub.ns == [3, 1, 1, 1, 1, 1]  # no second try of n on this endpoint
    assert all(isinstance(a, Answer) for a in first + second) and len({a.key for a in first + second}) == 5
    said = [r for r in caplog.records if "does not take several samples" in r.getMessage()]
    assert len(said) == 1 and "http_400" in said[0].getMessage()


def test_a_reply_with_fewer_choices_than_asked_gets_the_rest_asked_again(tmp_path):
    with NStub(short=True) as stub:
        answers = _ask(_settings(stub), tmp_path / "c", [0, 1, 2])
    assert stub.ns == [3, 1] and all(isinstance(a, Answer) for a in answers)


def test_a_400_for_one_sample_too_is_that_request_failing_not_a_refusal(tmp_path):
    class Always400(NStub):
        async def _chat(self, request: web.Request) -> web.Response:
            self.ns.append(json.loads(await request.read()).get("n", 1))
            return web.Response(status=400, text="bad request")

    with Always400() as stub:
        answers = _ask(_settings(stub), tmp_path / "c", [0, 1, 2])
        assert stub.ns == [3, 1]
        assert [a.reason for a in answers] == ["http_400"] * 3
        _ask(_settings(stub), tmp_path / "c", [0, 1])
        assert stub.ns == [3, 1, 2, 1]  # n was not blamed


_SEEN: dict[str, list] = {}


def _keep(value, label: str) -> None:
    _SEEN[label].append(value)


def _generate(settings: TeacherSettings, cache) -> tuple[list, list]:
    """Generate for one problem; (its chains, its dead letters)."""
    p = TestPipeline()
    out = p | beam.Create([planned(problem(pid="s/1"))]) | GenerateChains(Endpoint(settings, str(cache)))
    _SEEN.update(chains=[], dead=[])
    _ = out.chains | "KeepChains" >> beam.Map(_keep, "chains")
    _ = out[DEAD_LETTER] | "KeepDead" >> beam.Map(_keep, "dead")
    p.run().wait_until_finish()
    return _SEEN.pop("chains"), _SEEN.pop("dead")


def test_a_sample_the_gate_refuses_fails_alone_and_a_rerun_pays_for_it_only(tmp_path):
    with NStub(bad_once=True) as stub:
        chains, dead = _generate(_settings(stub), tmp_path / "c")
        assert not chains and [(d.reason, d.stage) for d in dead] == [("teacher_bad_content", "generate")]
        assert "1/3 samples failed (sample reason: 1 bad_content)" in dead[0].detail
        assert len(list((tmp_path / "c").rglob("*.json"))) == 2  # samples 0 and 2 are kept
        chains, dead = _generate(_settings(stub), tmp_path / "c")
    assert stub.ns == [3, 1] and not dead
    assert [(g.sample_index, g.cached) for g in chains[0].generations] == [(0, True), (1, False), (2, True)]


@given(st.sets(st.integers(0, 40)), st.integers(1, 8), st.booleans())
def test_request_groups_take_every_sample_once_in_as_few_requests_as_allowed(missing, per_request, seeded):
    ordered = sorted(missing)
    groups = request_groups(ordered, per_request, seeded)
    assert [s for g in groups for s in g] == ordered and all(1 <= len(g) <= per_request for g in groups)
    if seeded:  # a seeded request's i-th sample is seeded seed + i: a run of consecutive numbers
        assert all(g == list(range(g[0], g[0] + len(g))) for g in groups)
        runs = [len(r) for r in _runs(ordered)]
        assert len(groups) == sum(math.ceil(r / per_request) for r in runs)
    else:
        assert len(groups) == math.ceil(len(ordered) / per_request)


def _runs(ordered: list[int]) -> list[list[int]]:
    runs: list[list[int]] = []
    for s in ordered:
        if runs and s == runs[-1][-1] + 1:
            runs[-1].append(s)
        else:
            runs.append([s])
    return runs

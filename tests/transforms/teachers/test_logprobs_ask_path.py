"""Log probabilities on the ask path: asked for by the generate stage only, keyed, gated, cached, turned into signals.

Backends here are the SCRIPTED backend, a HOSTILE LOGPROBS STUB on loopback (an OpenAI-compatible server whose
``logprobs`` are hostile by design, per question) and the Batches API STUB (tests/support/batch_api_stub.py); the real
server and engine are in tests/pipelines/test_logprobs_integration.py.
"""
from __future__ import annotations

import dataclasses
import json
import math

import pytest
from aiohttp import web

from tests.support.batch_api_stub import BatchAPIStub
from tests.support.factories import planned, problem
from tests.support.generate_run import run_generate
from tests.support.logprob_payloads import confident, vllm_logprobs
from tests.support.loopback_app import LoopbackApp
from transforms.answer_judge import AnswerJudgeFn
from transforms.chain_score import ScoreFn
from transforms.generate import GenerateFn
from transforms.judge import JudgeFn
from transforms.repair import RepairFn
from transforms.teacher_calls import Prompt, TeacherCallFn
from transforms.teachers.cache import request_key
from transforms.teachers.openai_http import chat_body
from transforms.teachers.registry import Endpoint
from transforms.teachers.scripted import Reply, Rule, Script, scripted_settings
from transforms.teachers.settings import BatchSettings, LogprobSettings, TeacherSettings

CHAIN = ["<think>", "So", " 3", " dots", ".", " Wait", ",", " yes", ".</think>", " \\boxed{", "3", "}"]
RIGHT = "".join(CHAIN)
GOOD = vllm_logprobs(confident(CHAIN, p=0.8), 3)
def _scripted(tmp_path, script: Script, logprobs: LogprobSettings | None, name: str = "scripted-logprobs") -> Endpoint:
    return Endpoint(scripted_settings(script, name=name, logprobs=logprobs), str(tmp_path / "cache"))


def test_every_chain_gets_signals_and_a_bad_payload_leaves_them_unknown_with_its_reason(tmp_path):
    nan = {"content": [{"token": "x", "logprob": math.nan}]}
    script = Script([Rule(Reply(RIGHT, logprobs=nan), sample=1), Rule(Reply(RIGHT), sample=2)],
                    default=Reply(RIGHT, logprobs=GOOD))
    chains, dead, counters = run_generate(_scripted(tmp_path, script, LogprobSettings(top=3)), [planned()])
    gens = chains["s/1"].generations
    assert not dead and [g.sample_index for g in gens] == [0, 1, 2]
    known = gens[0].signals
    assert known.unknown is None and known.tokens == len(CHAIN) and known.answer_tokens == 1
    assert known.critical_tokens == 3  # So, Wait and the answer's first token
    assert known.answer_logprob == pytest.approx(math.log(0.8), abs=1e-4) and known.low_confidence_share == 0.0
    assert (gens[1].signals.unknown, gens[2].signals.unknown) == ("logprobs_bad_number", "logprobs_missing")
    assert gens[1].signals.mean_entropy is None and all(g.token_logprobs is None for g in gens)  # keep: off
    assert counters["logprobs_bad_number"] == 1 and counters["logprobs_missing"] == 1


def test_keep_writes_the_per_token_data_and_off_means_no_signals(tmp_path):
    script = Script(default=Reply(RIGHT, logprobs=GOOD))
    kept, _, _ = run_generate(_scripted(tmp_path, script, LogprobSettings(top=3, keep=True)), [planned()])
    data = kept["s/1"].generations[0].token_logprobs
    assert data.tokens == CHAIN and len(data.top) == len(CHAIN) and all(len(t) == 3 for t in data.top)
    off, _, counters = run_generate(_scripted(tmp_path, script, None, name="scripted-off"), [planned()])
    assert all(g.signals is None and g.token_logprobs is None for g in off["s/1"].generations)
    assert not any(name.startswith("logprobs_") for name in counters)


@pytest.mark.parametrize("layout", ["sample", "problem"])
def test_a_reply_without_logprobs_never_answers_a_request_for_them(tmp_path, layout):
    script = Script(default=Reply(RIGHT, logprobs=GOOD))

    def run(logprobs):
        settings = scripted_settings(script, name="scripted-cache", logprobs=logprobs, cache_layout=layout)
        before = len(script.calls)
        chains, _, _ = run_generate(Endpoint(settings, str(tmp_path / "cache")), [planned()])
        return chains["s/1"].generations, len(script.calls) - before

    plain, calls = run(None)
    assert calls == 3 and all(g.signals is None for g in plain)
    asked, calls = run(LogprobSettings(top=3))
    assert calls == 3 and all(g.signals.unknown is None and not g.cached for g in asked)  # misses: paid again
    again, calls = run(LogprobSettings(top=3, critical_tokens=["yes"], answer_start=False))
    assert calls == 0 and all(g.cached for g in again)  # the signals' settings are not part of the key
    assert [g.signals.critical_tokens for g in again] == [1, 1, 1]  # recomputed from the cached per-token data
    _, calls = run(LogprobSettings(top=5))
    assert calls == 3  # another top count is another request


class HostileLogprobsStub(LoopbackApp):
    """A HOSTILE LOGPROBS STUB: answers every chat request with a right chain whose ``logprobs`` are the raw JSON text
    ``payloads`` names for the question's last word (valid ones when none), and records every request body."""

    def __init__(self, payloads: dict[str, str], by_choice: list[str] | None = None):
        self.payloads = payloads
        self.by_choice = by_choice  # a request for n samples: choice i's logprobs are by_choice[i]
        self.bodies: list[dict] = []

    async def _chat(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.bodies.append(body)
        text = body["messages"][-1]["content"]
        word = next((w for w in self.payloads if w in text), None)
        n = body.get("n", 1)
        payloads = self.by_choice[:n] if self.by_choice else [self.payloads[word] if word else json.dumps(GOOD)] * n
        choices = []
        for i, logprobs in reversed(list(enumerate(payloads))):  # out of index order: the index decides
            choice = json.dumps({"index": i, "finish_reason": "stop", "token_ids": [1] * len(CHAIN),
                                 "message": {"role": "assistant", "content": RIGHT}})
            choices.append(f'{choice[:-1]}, "logprobs": {logprobs}}}')
        reply = (f'{{"choices": [{", ".join(choices)}], '
                 f'"usage": {{"prompt_tokens": 9, "completion_tokens": {n * len(CHAIN)}}}}}')
        return web.Response(text=reply, content_type="application/json")

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/chat/completions", self._chat)


HOSTILE = {
    "nan": ('{"content": [{"token": "x", "logprob": NaN, "top_logprobs": []}]}', "logprobs_bad_number"),
    "digits": ('{"content": [{"token": "x", "logprob": -' + "9" * 5000 + "}]}", "logprobs_bad_number"),
    "mass": ('{"content": [{"token": "x", "logprob": -0.1, "top_logprobs": [{"token": "x", "logprob": -0.1}, '
             '{"token": "y", "logprob": -0.2}]}]}', "logprobs_bad_mass"),
    "surrogate": ('{"content": [{"token": "\\ud800", "logprob": -0.1}]}', "logprobs_bad_token"),
    "deep": ('{"content": ' + "[" * 50 + "]" * 50 + "}", "logprobs_bad_shape"),
    "flood": ('{"content": [{"token": "x", "logprob": -1.0, "top_logprobs": ['
              + ", ".join(['{"token": "y", "logprob": -9}'] * 40) + "]}]}", "logprobs_too_many"),
    "null": ("null", "logprobs_missing"),
    "string": ('"many"', "logprobs_bad_shape"),
}


def test_the_http_backend_asks_for_logprobs_and_hostile_ones_never_stop_a_chain(tmp_path):
    questions = {f"h/{word}": f"How many dots? {word}" for word in [*HOSTILE, "fine"]}
    items = [dataclasses.replace(planned(problem(pid=pid, question=q)), plan=dataclasses.replace(
        planned().plan, n=1)) for pid, q in questions.items()]
    with HostileLogprobsStub({w: p for w, (p, _) in HOSTILE.items()}) as stub:
        settings = TeacherSettings(base_url=stub.base_url, model="hostile", logprobs={"top": 3}, max_attempts=1)
        chains, dead, counters = run_generate(Endpoint(settings, str(tmp_path / "cache")), items)
    assert not dead and len(chains) == len(questions)
    for word, (_, reason) in HOSTILE.items():
        assert chains[f"h/{word}"].generations[0].signals.unknown == reason, word
        assert chains[f"h/{word}"].generations[0].answer_text == "\\boxed{3}"
    assert chains["h/fine"].generations[0].signals.tokens == len(CHAIN)
    assert all(b["logprobs"] is True and b["top_logprobs"] == 3 for b in stub.bodies)
    assert sum(n for name, n in counters.items() if name.startswith("logprobs_")) == len(HOSTILE)


def test_k_samples_in_one_request_each_carry_their_own_logprobs(tmp_path):
    """One request for n=3 samples whose choices hold a good, a NaN and a flooded payload (sent out of index order):
    each chain's signals follow its own choice, and a rerun reads each sample's own entry from the cache."""
    by_choice = [json.dumps(GOOD), HOSTILE["nan"][0], HOSTILE["flood"][0]]
    with HostileLogprobsStub({}, by_choice) as stub:
        settings = TeacherSettings(base_url=stub.base_url, model="hostile", logprobs={"top": 3}, max_attempts=1,
                                   samples_per_request=3)
        endpoint = Endpoint(settings, str(tmp_path / "cache"))
        chains, dead, _ = run_generate(endpoint, [planned()])
        again, _, _ = run_generate(endpoint, [planned()])
    assert not dead and len(stub.bodies) == 1 and stub.bodies[0]["n"] == 3
    for run in (chains, again):
        gens = run["s/1"].generations
        assert [g.signals.unknown for g in gens] == [None, "logprobs_bad_number", "logprobs_too_many"]
        assert gens[0].signals.tokens == len(CHAIN)
    assert all(g.cached for g in again["s/1"].generations)


class _OtherStage(TeacherCallFn):
    """A teacher-call stage that is not generate (a judge, a scorer …): it does not set ``asks_logprobs``."""

    def __init__(self, endpoint: Endpoint):
        super().__init__("other", endpoint)


def test_stages_that_do_not_ask_send_and_key_their_requests_without_logprobs(tmp_path):
    """On an endpoint with logprobs, another stage's body has none and its key is that of a request without them."""
    assert GenerateFn.asks_logprobs and not any(fn.asks_logprobs for fn in (JudgeFn, ScoreFn, AnswerJudgeFn, RepairFn))
    with HostileLogprobsStub({}) as stub:
        settings = TeacherSettings(base_url=stub.base_url, model="hostile", logprobs={"top": 3})
        stage = _OtherStage(Endpoint(settings, str(tmp_path / "cache")))
        stage.setup()
        try:
            prompt, plan = Prompt([{"role": "user", "content": "judge this"}]), planned().plan
            assert stage.key(prompt, plan, 0, None) == request_key("hostile", prompt.messages, plan, 0)
            assert stage._run(stage.ask(prompt, plan)).completion.logprobs is None
        finally:
            stage.teardown()
    assert len(stub.bodies) == 1 and "logprobs" not in stub.bodies[0] and "top_logprobs" not in stub.bodies[0]
    assert chat_body(settings, prompt.messages, plan)["top_logprobs"] == 3  # what the generate stage sends


def test_the_batch_backend_carries_logprobs_in_its_batch_file_and_back(tmp_path):
    with BatchAPIStub(in_progress_polls=1) as stub:
        settings = TeacherSettings(backend="openai_batch", base_url=stub.base_url, model="hosted", logprobs={"top": 2},
                                   cache_url=str(tmp_path / "cache"), batch=BatchSettings(linger_s=0.2, poll_s=0.05))
        chains, dead, _ = run_generate(Endpoint(settings, str(tmp_path / "cache")), [planned()])
        lines = [json.loads(line) for line in stub.files["file-0"].splitlines()]
    assert not dead and all(line["body"]["logprobs"] is True and line["body"]["top_logprobs"] == 2 for line in lines)
    signals = [g.signals for g in chains["s/1"].generations]
    assert all(s.unknown is None and s.tokens > 0 and s.answer_logprob == pytest.approx(-0.1) for s in signals)

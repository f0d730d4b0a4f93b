"""Hostile log-probability payloads meet the reply gate (transforms/teachers/logprob_gate.py via reply_gate.checked).

Property-based: payloads drawn from a grammar of hostile pieces (NaN, infinities, 10^5-digit numbers, booleans,
strings, lone surrogates, megabyte tokens, extra alternatives, probability mass past 1, wrong nesting) either
become a bounded TokenLogprobs whose signals are finite and in range, or leave the chain's signals unknown with one
reason word; the completion itself always passes. What the gate keeps reads back from the cache as it was kept.
"""
from __future__ import annotations

import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.logprob_payloads import confident, vllm_logprobs
from transforms.chain_signals import VOCAB_BOUND, chain_signals
from transforms.teachers import logprob_gate, reply_gate
from transforms.teachers.base import Completion
from transforms.teachers.cache import from_entry, to_entry
from transforms.teachers.settings import LogprobSettings

QUICK = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
REASONS = {f"logprobs_{r}" for r in logprob_gate.REASONS}

numbers = st.one_of(st.floats(-20, 0), st.floats(allow_nan=True, allow_infinity=True), st.integers(-50, 3),
                    st.just(-9999.0), st.just(1e-4), st.just(0.5), st.just(-(10**30)), st.booleans(), st.none(),
                    st.just("-0.1"), st.just([-0.1]))
tokens = st.one_of(st.sampled_from([" Wait", " so", "\\boxed{", "7", "}", "", " ", "é漢", "<think>", "</think>"]),
                   st.just("\ud800"), st.just("x" * 300), st.integers(), st.none(), st.just(["a"]))
alternative = st.one_of(st.fixed_dictionaries({"token": tokens, "logprob": numbers}), st.just("alt"), st.none(),
                        st.fixed_dictionaries({"logprob": numbers}))
entry = st.one_of(
    st.fixed_dictionaries({"token": tokens, "logprob": numbers},
                          optional={"top_logprobs": st.one_of(st.lists(alternative, max_size=8), st.none(), st.just({})),
                                    "bytes": st.one_of(st.none(), st.lists(st.integers(0, 255), max_size=3))}),
    st.just([1, 2]), st.just("entry"), st.none())
openai_shape = st.fixed_dictionaries({"content": st.one_of(st.lists(entry, max_size=6), st.none(), st.just("x"),
                                                           st.just({}))})
compact_shape = st.fixed_dictionaries({"tokens": st.lists(tokens, max_size=4), "logprobs": st.lists(numbers, max_size=4),
                                       "top": st.lists(st.one_of(st.lists(numbers, max_size=7), st.none()), max_size=4)})
payloads = st.one_of(openai_shape, compact_shape, st.none(), st.just([]), st.just("logprobs"), st.integers(),
                     st.just({"content": None, "refusal": None}), st.just({}))
valid = st.lists(st.sampled_from([" Wait", " so", " 3", "+", "4", " is", " \\boxed{", "7", "}", "."]), max_size=30)


def _completion(logprobs, error=None) -> Completion:
    return Completion("<think>So 7.</think> \\boxed{7}", None, "stop", 10, 5, 0.1, logprobs=logprobs,
                      logprobs_error=error)


def _bounded(data, top: int) -> None:
    assert len(data.tokens) == len(data.logprobs) == len(data.top) <= logprob_gate.MAX_POSITIONS
    for token, logprob, listed in zip(data.tokens, data.logprobs, data.top):
        assert isinstance(token, str) and len(token) <= logprob_gate.MAX_TOKEN_CHARS
        assert not any(0xD800 <= ord(c) <= 0xDFFF for c in token)
        assert 1 <= len(listed) <= top + 1 and logprob in listed and listed == sorted(listed, reverse=True)
        assert all(type(v) is float and logprob_gate.FLOOR <= v <= 0 for v in listed)
        assert math.fsum(math.exp(v) for v in listed) <= 1 + logprob_gate.MASS_SLACK


def _signals_in_range(data) -> None:
    signals = chain_signals(data, LogprobSettings())
    for value in (signals.mean_entropy, signals.critical_entropy):
        assert value is None or 0 <= value <= math.log(VOCAB_BOUND) + 1
    assert signals.answer_logprob is None or logprob_gate.FLOOR <= signals.answer_logprob <= 0
    assert signals.low_confidence_share is None or 0 <= signals.low_confidence_share <= 1


@QUICK
@given(payloads, st.integers(1, 6))
def test_any_payload_is_bounded_or_makes_the_signals_unknown_never_a_crash(payload, top):
    gated = reply_gate.checked(_completion(payload), top)
    data, error = gated.completion.logprobs, gated.completion.logprobs_error
    if data is None:
        assert error in REASONS and gated.notes == [error]
        return
    assert error is None and not gated.notes
    _bounded(data, top)
    _signals_in_range(data)
    again = reply_gate.checked(from_entry(json.loads(json.dumps(to_entry(gated.completion)))), top).completion
    assert again.logprobs == data  # the cache holds what the gate kept, and reads back through the gate unchanged


@QUICK
@given(valid, st.integers(1, 8))
def test_a_servers_payload_is_kept_and_reads_back_from_the_cache_with_the_same_signals(texts, top):
    gated = reply_gate.checked(_completion(vllm_logprobs(confident(texts, vocabulary=6), top)), top).completion
    assert gated.logprobs.tokens == texts and gated.logprobs_error is None
    entry = json.loads(json.dumps(to_entry(gated)))
    assert entry["logprobs"]["tokens"] == texts and "content" not in entry["logprobs"]  # compact: no alternative texts
    again = reply_gate.checked(from_entry(entry), top).completion
    assert chain_signals(again.logprobs, LogprobSettings()) == chain_signals(gated.logprobs, LogprobSettings())


HOSTILE = {
    "logprobs_missing": [None, {"content": None}],
    "logprobs_bad_shape": ["x", [], {"neither": 1}, {"content": "x"}, {"content": [3]},
                           {"content": [{"token": "a", "logprob": -0.1, "top_logprobs": "b"}]},
                           {"tokens": ["a"], "logprobs": [-0.1], "top": []},
                           {"tokens": ["a"], "logprobs": [-0.1], "top": [[-0.5]]}],
    "logprobs_too_many": [{"content": [{"token": "a", "logprob": -0.1}] * (logprob_gate.MAX_POSITIONS + 1)},
                          {"content": [{"token": "a", "logprob": -2.0, "top_logprobs": [
                              {"token": f"t{i}", "logprob": -3.0} for i in range(4)]}]}],
    "logprobs_bad_token": [{"content": [{"token": "a" * 257, "logprob": -0.1}]},
                           {"content": [{"token": "\udc80", "logprob": -0.1}]}, {"content": [{"logprob": -0.1}]},
                           {"content": [{"token": "a", "logprob": -0.1, "top_logprobs": [{"token": 7, "logprob": -1}]}]}],
    "logprobs_bad_number": [{"content": [{"token": "a", "logprob": v}]}
                            for v in (math.nan, math.inf, -math.inf, 0.5, True, "-0.1", None, [-0.1])],
    "logprobs_bad_mass": [{"content": [{"token": "a", "logprob": -0.1, "top_logprobs": [
        {"token": "a", "logprob": -0.1}, {"token": "b", "logprob": -0.5}]}]},
                          {"content": [{"token": "a", "logprob": -0.1, "top_logprobs": [
                              {"token": "a", "logprob": -0.1}, {"token": "a", "logprob": -0.1}]}]}],
}


@pytest.mark.parametrize("reason,payload", [(r, p) for r, ps in HOSTILE.items() for p in ps])
def test_each_named_failure_gets_its_reason_word_and_the_chain_is_kept(reason, payload):
    gated = reply_gate.checked(_completion(payload), 3)
    assert gated.completion.logprobs is None and gated.completion.logprobs_error == reason
    assert gated.notes == [reason] and gated.completion.content.endswith("\\boxed{7}")


def test_a_huge_number_parses_as_infinity_and_is_refused():
    body = ('{"choices": [{"message": {"content": "x"}, "finish_reason": "stop", "logprobs": {"content": '
            '[{"token": "x", "logprob": -' + "9" * 100_000 + "}]}}]}")
    (completion,) = reply_gate.completions_from_body(reply_gate.parse_body(body), 0.1)
    assert reply_gate.checked(completion, 5).completion.logprobs_error == "logprobs_bad_number"


def test_logprobs_nobody_asked_for_are_dropped_and_a_recorded_reason_is_checked():
    sent = vllm_logprobs(confident([" a"]), 2)
    assert reply_gate.checked(_completion(sent)).completion.logprobs is None
    assert reply_gate.checked(_completion(sent)).notes == []
    assert reply_gate.checked(_completion(None, "logprobs_bad_mass"), 2).completion.logprobs_error == "logprobs_bad_mass"
    assert reply_gate.checked(_completion(sent, "<script>"), 2).completion.logprobs_error == "logprobs_bad_shape"


def test_a_slightly_positive_rounding_is_zero_and_minus_infinitys_stand_in_is_the_floor():
    data = logprob_gate.gated_logprobs({"content": [{"token": "a", "logprob": 0.0004, "top_logprobs": [
        {"token": "a", "logprob": 0.0004}, {"token": "b", "logprob": -1e300}]}]}, 2)
    assert data.logprobs == [0.0] and data.top == [[0.0, logprob_gate.FLOOR]]

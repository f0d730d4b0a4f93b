"""The chain signals (transforms/chain_signals.py) from token probabilities: the truncated top-k entropy estimate,
the answer span, critical tokens and the low-confidence share.

Property-based over random next-token distributions listed as vLLM lists them (tests/support/logprob_payloads.py): the
estimate is a lower bound on the true entropy whether or not the sampled token ranks inside the top k, exact once
the list holds every token, and never falls as k grows. Metamorphic over tokenizations: the answer span and the
figures read off it do not depend on where a text is cut into tokens.
"""
from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests.support.logprob_payloads import Position, confident, normalized, vllm_logprobs
from transforms.chain_signals import VOCAB_BOUND, answer_positions, answer_span, chain_signals, position_entropy
from transforms.teachers.logprob_gate import gated_logprobs
from transforms.teachers.settings import CRITICAL_TOKENS, LogprobSettings

QUICK = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TOLERANCE = 2e-3  # the gate rounds log probabilities to 4 decimals

positions = st.lists(st.floats(1e-4, 1.0), min_size=2, max_size=24).map(normalized).flatmap(
    lambda probs: st.builds(Position, st.just(probs), st.integers(0, len(probs) - 1), st.just(" x")))


def estimate(position: Position, top: int) -> float:
    data = gated_logprobs(vllm_logprobs([position], top), top)
    return position_entropy(data.top[0], data.logprobs[0])


@QUICK
@given(positions, st.integers(1, 20))
def test_the_estimate_never_exceeds_the_true_entropy(position, top):
    assert 0 <= estimate(position, top) <= position.entropy() + TOLERANCE


@QUICK
@given(positions)
def test_the_estimate_is_exact_once_every_token_is_listed(position):
    assert estimate(position, len(position.probs)) == pytest.approx(position.entropy(), abs=TOLERANCE)


@QUICK
@given(positions, st.integers(1, 19))
def test_the_estimate_never_falls_as_k_grows_even_when_the_sampled_token_ranks_low(position, top):
    assert estimate(position, top) <= estimate(position, top + 1) + TOLERANCE


def test_a_sampled_token_below_the_top_k_does_not_inflate_the_estimate():
    """vLLM lists a low-ranked sampled token in place of the k-th: the unlisted mass is bounded by the (k-1)-th."""
    probs = (0.4, 0.3, 0.2, 0.09, 0.01)
    low = Position(probs, sampled=4, text=" x")
    assert estimate(low, 2) <= low.entropy()
    listed_alone = -(0.4 * math.log(0.4) + 0.01 * math.log(0.01))
    assert estimate(low, 2) == pytest.approx(listed_alone + 0.59 * -math.log(0.4), abs=TOLERANCE)


def test_an_inconsistent_list_is_capped_at_the_vocabulary_bound():
    """A near-zero least listed alternative with most mass unlisted cannot exceed what 2^18 tokens could hold."""
    value = position_entropy([-0.7, -9999.0], -0.7)
    assert value <= math.exp(-0.7) * 0.7 + (1 - math.exp(-0.7)) * math.log(VOCAB_BOUND / (1 - math.exp(-0.7))) + 1e-9


def _tokenized(text: str, cuts: list[int]) -> list[str]:
    bounds = sorted({0, len(text), *(c % (len(text) + 1) for c in cuts)})
    return [text[a:b] for a, b in itertools.pairwise(bounds)]


CHAINS = [
    ("<think>So 3 + 4 is 7. But wait, \\boxed{6} was a guess.</think> The answer is \\boxed{7}.", "7"),
    ("First 2, then \\boxed{\\frac{1}{2}} and finally \\boxed{ \\boxed{12\\text{ cm}} }", "12\\text{ cm}"),
    ("Counting again.\nThe answer is: 42. Done", "42"),
    ("<think>long thought</think>\n\nB\n", "B"),
    ("Therefore the count is\n  9  \n\n", "9"),
]


@pytest.mark.parametrize("text,answer", CHAINS)
def test_the_answer_span_is_read_where_the_verifier_reads_the_answer(text, answer):
    start, end = answer_span(text)
    assert text[start:end] == answer


@pytest.mark.parametrize("text", ["<think>the answer is \\boxed{3}</think>", "so \\boxed{} here", "so \\boxed{3",
                                  "", "<think>x</think>   \n "])
def test_no_span_when_the_final_part_has_no_answer(text):
    assert answer_span(text) is None


@QUICK
@given(st.sampled_from(CHAINS), st.lists(st.integers(0, 400), max_size=40))
def test_the_answer_tokens_cover_the_span_however_the_text_is_cut(chain, cuts):
    text, answer = chain
    tokens = _tokenized(text, cuts)
    found = answer_positions(tokens)
    starts = [sum(len(t) for t in tokens[:i]) for i in range(len(tokens))]
    start, end = answer_span(text)
    first, last = found[0], found[-1]
    assert starts[first] <= start < starts[first] + len(tokens[first])
    assert starts[last] < end <= starts[last] + len(tokens[last])
    assert found == list(range(first, last + 1)) and answer in "".join(tokens[first:last + 1])


@QUICK
@given(st.sampled_from(CHAINS), st.lists(st.integers(0, 400), max_size=40), st.floats(-5.0, -0.01))
def test_the_answer_logprob_is_the_mean_over_its_tokens_and_the_share_counts_low_tokens(chain, cuts, low):
    tokens = _tokenized(chain[0], cuts)
    answer = answer_positions(tokens)
    chain_positions = [Position(normalized([math.exp(low) if i == answer[0] else 0.9] + [0.1 / 3] * 3)
                                if i == answer[0] else (0.9, *[0.1 / 3] * 3), 0, t) for i, t in enumerate(tokens)]
    signals = chain_signals(gated_logprobs(vllm_logprobs(chain_positions, 3), 3), LogprobSettings(low_confidence=0.5))
    first = math.log(chain_positions[answer[0]].probs[0])
    assert signals.answer_tokens == len(answer) and signals.tokens == len(tokens)
    assert signals.answer_logprob == pytest.approx((first + (len(answer) - 1) * math.log(0.9)) / len(answer), abs=1e-4)
    assert signals.low_confidence_share == pytest.approx((first < math.log(0.5)) / len(tokens))


def test_critical_tokens_match_on_stripped_lower_case_text_and_the_answer_start_counts():
    tokens = ["<think>", " Wait", ",", " WAIT ", " waiting", " so", "Alternatively", "</think>", " \\boxed{", "5", "}"]
    data = gated_logprobs(vllm_logprobs(confident(tokens), 2), 2)
    entropy = [position_entropy(t, lp) for t, lp in zip(data.top, data.logprobs)]
    with_start = chain_signals(data, LogprobSettings())
    assert with_start.critical_tokens == 5  # Wait, WAIT, so, Alternatively, and "5" opening the answer
    assert with_start.critical_entropy == pytest.approx(sum(entropy[i] for i in (1, 3, 5, 6, 9)) / 5)
    only_wait = chain_signals(data, LogprobSettings(critical_tokens=[" Wait "], answer_start=False))
    assert only_wait.critical_tokens == 2 and only_wait.answer_tokens == 1
    none = chain_signals(data, LogprobSettings(critical_tokens=["hmm"], answer_start=False))
    assert none.critical_tokens == 0 and none.critical_entropy is None and none.mean_entropy == pytest.approx(
        sum(entropy) / len(entropy))


def test_the_defaults_are_the_documented_critical_tokens():
    assert {"wait", "but", "so", "therefore", "alternatively"} <= set(LogprobSettings().critical_tokens)
    assert LogprobSettings().critical_tokens == list(CRITICAL_TOKENS) and LogprobSettings().answer_start
    with pytest.raises(ValueError):
        LogprobSettings(critical_tokens=["  "])


def test_a_chain_without_positions_has_empty_figures():
    empty = chain_signals(gated_logprobs({"content": []}, 5), LogprobSettings())
    assert (empty.tokens, empty.mean_entropy, empty.answer_logprob, empty.low_confidence_share) == (0, None, None, None)


@QUICK
@given(st.lists(positions, min_size=1, max_size=12), st.integers(1, 6))
def test_sharpening_the_teachers_distributions_lowers_the_mean_entropy(chain, top):
    """Metamorphic: squaring every distribution (renormalized) lowers every true entropy; the signal follows, and the
    truncated estimate of the sharper chain stays below the original's exact figure."""
    sharp = [Position(normalized([p * p for p in pos.probs]), pos.sampled, pos.text) for pos in chain]
    assume(all(min(p.probs) > 1e-6 for p in sharp))
    settings_ = LogprobSettings()
    full = [chain_signals(gated_logprobs(vllm_logprobs(c, 24), 24), settings_).mean_entropy for c in (chain, sharp)]
    truncated = chain_signals(gated_logprobs(vllm_logprobs(sharp, top), top), settings_).mean_entropy
    assert full[1] <= full[0] + TOLERANCE and truncated <= full[0] + TOLERANCE

"""Correctness bound: adversarial 100 KB outputs get a verdict in under a second.

The bound is on CPU time of this process (all threads), not wall time, so a loaded CI machine
does not make it flaky; on an idle core the two are the same.
"""
from __future__ import annotations

import time

import pytest

from transforms.verifiers import extract_answer, verify, warm_up

N = 100_000
R = "<think>\nreasoning\n</think>\n"
SLOW_GOLD = "\\frac{(\\sin a+\\cos b+\\tan c)^5}{\\sec d}"

ADVERSARIAL = {
    "open_braces": R + "\\boxed{" + "{" * N,
    "nested_boxes_unclosed": R + "\\boxed{" * (N // 7),
    "nested_boxes_closed": R + "\\boxed{" * (N // 8) + "1" + "}" * (N // 8),
    "balanced_braces_in_box": R + "\\boxed{" + "{" * (N // 2) + "x" + "}" * (N // 2) + "}",
    "many_boxes": R + "\\boxed{1}" * (N // 9),
    "frac_tower": R + "\\boxed{" + "\\frac{1}{" * (N // 10) + "2" + "}" * (N // 10) + "}",
    "short_frac_tower_after_100k": R + "x " * (N // 2) + "\\boxed{" + "\\frac{1}{" * 12 + "2" + "}" * 12 + "}",
    "slow_sympy_after_100k": R + "y " * (N // 2) + "\\boxed{\\cos d(\\cos b+\\sin a+\\tan c)^5}",
    "power_tower": R + "z " * (N // 2) + "\\boxed{9^{9^{9^{9}}}}",
    "huge_power": R + "w " * (N // 2) + "\\boxed{2^{99999999}}",
    "huge_factorial": R + "w " * (N // 2) + "\\boxed{99999999!}",
    "digits": R + "\\boxed{" + "1" * N + "}",
    "answer_marker_spam": R + "Answer: " * (N // 8),
    "answer_words": R + "Answer: " + "a " * (N // 2),
    "left_parens": R + "\\boxed{" + "\\left(" * (N // 6) + "}",
    "backslashes": R + "\\" * N,
    "dollars": R + "$" * N,
    "think_tag_spam": "<think>" * (N // 7) + "</think>" * (N // 8),
    "option_spam": R + "(A) " * (N // 4),
    "cjk_spam": R + "答案" * (N // 2),
    "unit_spam": R + "\\boxed{5 " + "cm " * (N // 3) + "}",
    "tuple_spam": R + "\\boxed{" + "1," * (N // 2) + "1}",
}


@pytest.fixture(scope="module", autouse=True)
def _warm():
    warm_up()  # one-time SymPy setup, as a DoFn's setup would do


@pytest.mark.parametrize("name", sorted(ADVERSARIAL))
def test_verdict_within_one_second(name):
    output = ADVERSARIAL[name]
    assert len(output) >= N * 0.9
    gold = SLOW_GOLD if name == "slow_sympy_after_100k" else "4"
    start = time.process_time()
    verdict = verify(output, gold, choices=["1", "2", "3", "4"] if name == "option_spam" else None)
    elapsed = time.process_time() - start
    assert elapsed < 1.0, f"{name}: {elapsed:.3f}s"
    assert verdict.correct is False
    assert verdict.correct == (not verdict.reasons)


@pytest.mark.parametrize("name", ["open_braces", "nested_boxes_unclosed", "backslashes"])
def test_adversarial_unclosed_gives_no_answer(name):
    assert extract_answer(ADVERSARIAL[name]) is None


def test_deeply_nested_closed_boxes_unwrap():
    assert extract_answer(ADVERSARIAL["nested_boxes_closed"]) == "1"


@pytest.mark.parametrize("name", ["slow_sympy_after_100k", "power_tower", "huge_power", "huge_factorial",
                                  "digits", "frac_tower"])
def test_refused_or_out_of_budget_is_unverifiable(name):
    gold = SLOW_GOLD if name == "slow_sympy_after_100k" else "4"
    verdict = verify(ADVERSARIAL[name], gold, answer_type="expression")
    assert "unverifiable" in verdict.reasons
    assert verdict.checks["answer_match"] is False

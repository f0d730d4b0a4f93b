"""Reasoning-block splitting, the format measures, config validation and type inference."""
from __future__ import annotations

import pytest

from schemas.generation import ANSWER_CHECKS
from transforms.verifiers import VerifyConfig, infer_answer_type, verify
from transforms.verifiers.format_checks import (
    foreign_char_share,
    not_truncated,
    repeated_line_share,
    repeated_ngram_share,
)
from transforms.verifiers.segments import split_output


@pytest.mark.parametrize("output,reasoning,expected", [
    ("<think>r</think>f", None, ("r", "f", True)),
    ("\n<think>r</think>f", None, ("r", "f", True)),
    ("r</think>f", None, ("r", "f", True)),
    ("plain answer", None, (None, "plain answer", True)),
    ("final", "field reasoning", ("field reasoning", "final", True)),
    ("<think>r", None, ("r", "", False)),
    ("<think>a</think><think>b</think>f", None, (None, "f", False)),
    ("x<think>r</think>f", None, ("r", "f", False)),
    ("</think>f<think>g", None, (None, "f", False)),
    ("<think>r</think>f", "field", ("field", "f", False)),
])
def test_split_output(output, reasoning, expected):
    seg = split_output(output, reasoning)
    want_reasoning, want_final, want_ok = expected
    if want_reasoning is not None:
        assert seg.reasoning == want_reasoning
    assert seg.final == want_final
    assert seg.well_formed is want_ok


def test_implicit_open_can_be_refused():
    assert not split_output("r</think>f", allow_implicit_open=False).well_formed


def test_ngram_share_detects_loops_in_latin_and_cjk():
    loop = "so we add the two numbers and get the same result again " * 30
    assert repeated_ngram_share(loop, 10) > 0.8
    zh_loop = "我们再检查一遍这个结果是否正确。" * 30
    assert repeated_ngram_share(zh_loop, 10) > 0.8
    varied = " ".join(f"term {i} squared is {i * i} and cubed is {i ** 3}." for i in range(60))
    assert repeated_ngram_share(varied, 10) < 0.1


def test_ngram_share_ignores_short_texts():
    assert repeated_ngram_share("a b a b a b", 10) == 0.0


def test_line_share():
    text = "\n".join(["Check the value again."] * 5 + [f"line number {i} is different" for i in range(5)])
    assert repeated_line_share(text, 10, 6) == pytest.approx(0.4)
    assert repeated_line_share("short\nshort\nshort", 10, 6) == 0.0


def test_foreign_share():
    scripts = ("common", "latin", "greek", "math", "cjk")
    assert foreign_char_share("x² + π ≤ ∞, 三角形 (ok) — “fine”", scripts) == 0.0
    assert foreign_char_share("abcd привет", scripts) == pytest.approx(6 / 10)
    assert foreign_char_share("日本語のテキスト", scripts) > 0.0  # kana is not in the default set
    assert foreign_char_share("日本語のテキスト", (*scripts, "kana")) == 0.0


@pytest.mark.parametrize("finish_reason,passed", [("length", False), ("LENGTH", False), ("stop", True),
                                                   (None, True), ("", True), ("eos", True)])
def test_not_truncated(finish_reason, passed):
    assert not_truncated(finish_reason)[0] is passed


def test_correct_verdict_runs_every_check():
    verdict = verify("<think>2 + 2 = 4, nothing more to check.</think>The answer is \\boxed{4}.", "4")
    assert verdict.correct and verdict.reasons == []
    assert list(verdict.checks) == list(ANSWER_CHECKS)  # the verify stage adds REPLY_CHECKS
    assert all(verdict.checks.values())


def test_skipped_checks_are_absent():
    verdict = verify("The answer is \\boxed{4}.", "4", config=VerifyConfig(require_reasoning=False))
    assert "reasoning_nonempty" not in verdict.checks and verdict.correct
    verdict = verify("<think>thinking hard about it</think>no idea", "4")
    assert "answer_match" not in verdict.checks and verdict.reasons == ["no_answer"]


def test_reasons_follow_check_order():
    verdict = verify("<think></think>nothing", "4", finish_reason="length")
    assert verdict.reasons == ["empty_reasoning", "truncated", "no_answer"]


def test_bad_answer_type_is_an_error():
    with pytest.raises(ValueError):
        verify("\\boxed{4}", "4", answer_type="number")


@pytest.mark.parametrize("kwargs", [
    dict(max_repeated_ngram_share=1.5), dict(max_foreign_char_share=-0.1), dict(ngram_size=0),
    dict(min_chars=10, max_chars=5), dict(rel_tol=-1), dict(math_verify_budget_s=0),
    dict(allowed_scripts=("latin", "klingon")),
])
def test_config_validation(kwargs):
    with pytest.raises(ValueError):
        VerifyConfig(**kwargs)


def test_config_accepts_a_list_of_scripts():
    assert VerifyConfig(allowed_scripts=["latin", "common"]).allowed_scripts == ("latin", "common")


@pytest.mark.parametrize("gold,choices,expected", [
    ("B", ["1", "2"], "multiple_choice"),
    ("2", ["1", "2"], "multiple_choice"),
    ("5", None, "numeric"),
    ("50%", None, "numeric"),
    ("\\frac{1}{2}", None, "numeric"),
    ("x^2+1", None, "expression"),
    ("[1,2)", None, "expression"),
    ("yes", None, "free_form"),
    ("Paris", None, "free_form"),
    ("Paris", ["London", "Rome"], "free_form"),
])
def test_infer_answer_type(gold, choices, expected):
    assert infer_answer_type(gold, choices) == expected


def test_ngram_bound_never_below_exact_and_decision_unchanged():
    """The hashed upper bound is >= the exact share on every text, so the repetition decision is the exact one."""
    import random

    from transforms.verifiers.format_checks import _ascii_word_hashes, _share_upper_bound, ngram_share_above

    rng = random.Random(7)
    vocab = ["the", "x", "=", "2", "so", "area", "is", "\\frac{1}{2}", "面积", "Ω", "then", "ok"]
    spaces = [" ", "  ", "\n", "\t", "\x0b", "\x0c", "\r\n", "\x1c", "\x1f", " \u00a0 "]
    for trial in range(300):
        words = [rng.choice(vocab[: rng.randint(2, len(vocab))]) for _ in range(rng.randint(0, 400))]
        if trial % 3 == 0:  # a looping tail
            words += words[-15:] * rng.randint(0, 6)
        text = "".join(w + rng.choice(spaces) for w in words)
        for n in (1, 3, 10):
            exact = repeated_ngram_share(text, n)
            hashes = _ascii_word_hashes(text)
            if hashes is not None:
                assert len(hashes) == len(text.split())
                assert _share_upper_bound(hashes, n) >= exact - 1e-12
            for limit in (0.0, 0.1, 0.3, 0.8):
                assert ngram_share_above(text, n, limit) == (exact > limit), (text[:80], n, limit)

"""Whole-answer parsing: the canonical form is stable, generated answers parse to their whole
value, and text the grammar would read in part is refused (parse-or-unverifiable)."""
from __future__ import annotations

import sympy as sp
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tests.transforms.verifiers.test_verifiers_classes import CLASS_CASES
from tests.transforms.verifiers.test_verifiers_table import CASES
from transforms.verifiers.math_text import math_text
from transforms.verifiers.normalize import clean_answer
from transforms.verifiers.symbolic import parse_whole

SMALL = settings(max_examples=25, deadline=None, derandomize=True, database=None)
numbers = st.integers(min_value=1, max_value=999)


def _value(text: str):
    parsed = parse_whole(text)
    assert parsed is not None, text
    return sp.sympify(parsed).doit()


def test_canonical_form_is_a_fixed_point():
    for case in CASES + CLASS_CASES:
        once = math_text(clean_answer(case.gold))
        if once is not None:
            assert math_text(once) == once, case.id


@SMALL
@given(a=numbers, n=st.integers(min_value=2, max_value=99), op=st.sampled_from(("+", "-")),
       form=st.sampled_from(("sqrt({})", " sqrt({})", "sqrt {}", "√{}", "\\sqrt({})", "sqrt{{{}}}")))
def test_plain_text_roots_are_read_whole(a, n, op, form):
    text = f"{a} {op} " + form.format(n).strip()
    expected = a + sp.sqrt(n) if op == "+" else a - sp.sqrt(n)
    assert sp.simplify(_value(text) - expected) == 0, text


@SMALL
@given(a=numbers, b=numbers, form=st.sampled_from(("({a})({b})", "{a}({b})", "({a}) ({b})", "\\pi({b})")))
def test_juxtaposed_brackets_are_products(a, b, form):
    expected = (sp.pi if form.startswith("\\pi") else a) * b
    assert sp.simplify(_value(form.format(a=a, b=b)) - expected) == 0


@SMALL
@given(a=numbers, b=numbers, gap=st.sampled_from((" ", "\\,", "\\;", "\\ ", "~", "\\quad ")))
def test_numbers_side_by_side_are_refused(a, b, gap):
    assume(not (gap == "\\," and len(str(b)) == 3))  # 1\,100: a thousands separator
    assert math_text(f"{a}{gap}{b}") is None


@SMALL
@given(a=numbers, b=numbers, tail=st.sampled_from((")", " +", "\\frac{1}{", "}", " = ", "'")))
def test_trailing_input_is_not_read_in_part(a, b, tail):
    assert parse_whole(f"{a} + {b}{tail}") is None


@SMALL
@given(word=st.sampled_from(("sinx", "cosx", "logx", "xsqrt(2)", "largest", "the", "is", "value")), a=numbers)
def test_words_are_not_products_of_letters(word, a):
    assert math_text(f"{a} {word}") is None

"""Plain numbers, the numeric rule, yes/no, option letters, text keys."""
from __future__ import annotations

from fractions import Fraction

import pytest

from transforms.verifiers.normalize import (
    choice_letter_for_text,
    clean_answer,
    letter_of,
    normalize_expression,
    normalize_text,
    numbers_equal,
    parse_number,
    yes_no,
)

RULE = dict(rel_tol=1e-6, abs_tol=1e-9)


@pytest.mark.parametrize("text,value", [
    ("5", 5), ("-3/4", Fraction(-3, 4)), ("\\frac{-3}{4}", Fraction(-3, 4)), ("\\dfrac34", Fraction(3, 4)),
    (".5", Fraction(1, 2)), ("5.", 5), ("+5", 5), ("−2", -2),
    ("1,234", 1234), ("12 345", 12345), ("1\\,000", 1000), ("1{,}000", 1000), ("2,000.5", Fraction(4001, 2)),
    ("1.5e3", 1500), ("1.5\\times 10^{-3}", Fraction(3, 2000)),
    ("5 cm", 5), ("5cm", 5), ("3 cm^2", 3), ("5 km/h", 5), ("7 \\text{ apples}", 7), ("5 米", 5), ("5 m", 5),
    ("30^\\circ", 30), ("30^{\\circ}C", 30), ("30°", 30), ("45 degrees", 45),
    ("\\$5.00", 5), ("€5", 5), ("5 dollars", 5), ("x = 5", 5),
])
def test_parse_number(text, value):
    number = parse_number(text)
    assert number is not None and number.value == value


@pytest.mark.parametrize("text", [
    "1,23", "1,2", "2 pi", "5 x", "2x", "\\sqrt{2}", "10^{5}", "1e400000", "3/0", "x", "", "(1,2)", "5!",
])
def test_not_a_plain_number(text):
    assert parse_number(text) is None


def test_percent_flag():
    assert parse_number("50\\%").percent and parse_number("50 percent").percent
    assert not parse_number("50").percent


@pytest.mark.parametrize("pred,gold,equal", [
    ("0.5", "1/2", True),
    ("0.333", "1/3", False),
    ("1/3", "0.333", True),
    ("3.1416", "3.14", True),
    ("3.15", "3.14", False),
    ("3.1", "3.14", False),  # less precise than the gold
    ("2.9999999", "3", False),
    ("3.00", "3", True),
    ("1000000.5", "1000000.0", True),  # relative tolerance 1e-6 on a decimal gold
    ("50%", "0.5", True),
    ("0.5", "50%", True),
    ("50", "50%", True),
    ("0.5%", "0.5", True),  # percent signs are stripped like units
    ("5%", "0.5", False),
])
def test_numbers_equal(pred, gold, equal):
    assert numbers_equal(parse_number(pred), parse_number(gold), **RULE) is equal


def test_numeric_rule_switches():
    p, g = parse_number("2.9999999"), parse_number("3")
    assert numbers_equal(p, g, rel_tol=1e-6, abs_tol=1e-9, integer_exact=False)
    p, g = parse_number("3.1416"), parse_number("3.14")
    assert not numbers_equal(p, g, rel_tol=1e-6, abs_tol=1e-9, round_to_gold_decimals=False)
    p, g = parse_number("0.5"), parse_number("50%")
    assert not numbers_equal(p, g, rel_tol=1e-6, abs_tol=1e-9, percent_equivalence=False)


@pytest.mark.parametrize("text,expected", [
    ("Yes", "yes"), ("**No.**", "no"), ("yes, because", "yes"), ("True", "yes"), ("false", "no"),
    ("是", "yes"), ("否", "no"), ("不是", "no"), ("maybe", None), ("Not sure", None), ("y = 3", None), ("", None),
])
def test_yes_no(text, expected):
    assert yes_no(text) == expected


@pytest.mark.parametrize("text,letter", [
    ("B", "B"), ("(B)", "B"), ("[B]", "B"), ("B)", "B"), ("B:", "B"), ("**B**", "B"), ("\\text{(B)}", "B"),
    ("$B$", "B"), ("B) 42", "B"), ("option b", "B"), ("Choice (C)", "C"), ("A, since", "A"),
    ("E", None), ("b", None), ("Paris", None), ("A circle", None), ("AB", None),
])
def test_letter_of(text, letter):
    assert letter_of(text, "ABCD") == letter


def test_choice_letter_for_text():
    choices = ["A. London", "(B) Paris", "3.5", "3.50 m"]
    assert choice_letter_for_text("paris", choices, **RULE) == "B"
    assert choice_letter_for_text("London.", choices, **RULE) == "A"
    assert choice_letter_for_text("3.5", choices, **RULE) == "C"  # same text first
    assert choice_letter_for_text("7/2", choices, **RULE) is None  # two choices have that value
    assert choice_letter_for_text("Rome", choices, **RULE) is None


def test_text_keys():
    assert clean_answer("  **$\\text{Paris}$**. ") == "Paris"
    assert normalize_text("The  Eiffel-Tower!") == normalize_text("eiffel tower")
    assert normalize_text("三角形。") == "三角形"
    assert normalize_expression("\\left( \\dfrac{1}{2}, 3 \\right]") == normalize_expression("(\\frac{1}{2},3]")
    assert normalize_expression("[1,2)") != normalize_expression("(1,2]")

"""extract_answer on its own: boxes, markers, option letters, reasoning exclusion."""
from __future__ import annotations

import pytest

from transforms.verifiers import extract_answer
from transforms.verifiers.extract import last_box

ABCD = ["12", "42", "7", "9"]


@pytest.mark.parametrize("text,expected", [
    ("\\boxed{5}", "5"),
    ("\\boxed{\\frac{a}{b^{2}}}", "\\frac{a}{b^{2}}"),
    ("\\boxed{\\boxed{\\boxed{x}}}", "x"),
    ("\\boxed{ \\boxed{7} }", "7"),
    ("\\boxed{1} and \\boxed{2}", "2"),
    ("\\boxed{\\{1,2\\}}", "\\{1,2\\}"),
    ("\\boxed{a\\}b}", "a\\}b"),
    ("\\fbox{3}", "3"),
    ("\\boxed{}", None),
    ("\\boxed{ }", None),
    ("\\boxed{5", None),
    ("\\boxed{5} \\boxed{", None),
    ("\\boxed", None),
    ("\\boxed{{}", None),
    ("The answer is 7.", "7"),
    ("the answer is: $x^2$", "x^2"),
    ("Final Answer: The final answer is $5$. I hope it is correct.", "5"),
    ("Answer: **C**", "C"),
    ("**Answer:** 12", "12"),
    ("答案：12", "12"),
    ("最终答案是 \\frac{1}{2}", "\\frac{1}{2}"),
    ("42", "42"),
    ("x = 5", "x = 5"),
    ("I am not sure.", None),
    ("To answer this, we note 5", None),
    ("", None),
])
def test_extract(text, expected):
    assert extract_answer(text) == expected


@pytest.mark.parametrize("text,expected", [
    ("<think>so \\boxed{5}</think>I give up.", None),
    ("<think>so \\boxed{5}</think>\\boxed{6}", "6"),
    ("<think>still thinking \\boxed{5}", None),
    ("reasoning without opening tag</think>\\boxed{3}", "3"),
    ("<think>a</think>b \\boxed{1}<think>c \\boxed{2}", "1"),
])
def test_only_the_final_part_counts(text, expected):
    assert extract_answer(text) == expected


@pytest.mark.parametrize("text,expected", [
    ("(B)", "B"),
    ("B", "B"),
    ("B)", "B"),
    ("B.", "B"),
    ("**B**", "B"),
    ("$\\text{(B)}$", "B"),
    ("\\boxed{B}", "B"),
    ("\\boxed{\\textbf{B}}", "B"),
    ("I choose option C.", "C"),
    ("The answer is (D) 9", "D"),
    ("The answer is A, since the others fail.", "A"),
    ("故选D", "D"),
    ("\\boxed{42}", "B"),
    ("\\boxed{7.0}", "C"),
    ("So the answer is 9", "D"),
    ("\\boxed{E}", "E"),  # not an option letter here: the raw answer, which cannot match
    ("\\boxed{100}", "100"),
    ("Both (b) and (c) look plausible.", None),
    ("I have no idea which one it is, honestly speaking.", None),
])
def test_extract_multiple_choice(text, expected):
    assert extract_answer(text, "multiple_choice", ABCD) == expected


def test_choices_alone_mean_multiple_choice():
    assert extract_answer("\\boxed{42}", None, ABCD) == "B"
    assert extract_answer("\\boxed{42}", "numeric", ABCD) == "42"


def test_last_box_statuses():
    assert last_box("no box here") is None
    assert last_box("\\boxed{}").status == "empty"
    assert last_box("\\boxed{1").status == "unclosed"
    assert last_box("\\boxed{1}").content == "1"

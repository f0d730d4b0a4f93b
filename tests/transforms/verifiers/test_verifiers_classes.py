"""Verdict tables for the classes of issue 28, both directions: wrong answers that must never be
called right (``bad``), and right answers that must not be rejected (``ok``).

Each class has many more cases than the issue's examples: plain-text functions, hidden
juxtaposition, several-solution golds, answer phrases, percent words, ``%``/degree suffixes,
``\\mathrm{e}``, unknown units and currency, ``\\text{}`` golds. ``CLASS_CASES`` also feed the
metamorphic tests (``test_verifiers_metamorphic``).
"""
from __future__ import annotations

import pytest

from tests.transforms.verifiers.test_verifiers_table import Case, bad, ok, run, think

# ---- plain-text functions: a function read as a product, or a term dropped after it ----
PLAIN_FUNCTIONS = [
    bad("sqrt_after_plus", think("\\boxed{1 + sqrt(3)}"), "1", "wrong_answer"),
    bad("sqrt_after_space", think("\\boxed{3 sqrt(3)}"), "3", "wrong_answer"),
    bad("sqrt_phrase", think("The answer is 5 + sqrt(2)."), "5", "wrong_answer"),
    bad("sqrt_after_minus", think("\\boxed{2 - sqrt 5}"), "2", "wrong_answer"),
    bad("sqrt_no_space_digits", think("\\boxed{4 sqrt3}"), "4", "wrong_answer"),
    bad("sqrt_unicode", think("\\boxed{1+√3}"), "1", "wrong_answer"),
    bad("sqrt_braces_plain", think("\\boxed{2 sqrt{2}}"), "2", "wrong_answer"),
    bad("sqrt_times", think("\\boxed{7 * sqrt(3)}"), "7", "wrong_answer"),
    bad("sqrt_of_variable", think("\\boxed{10 + sqrt(x)}"), "10", "wrong_answer"),
    bad("sqrt_over_two", think("\\boxed{sqrt(2)/2}"), "\\frac{1}{2}", "wrong_answer"),
    bad("sqrt_in_numerator", think("\\boxed{(1 + sqrt(3))/2}"), "\\frac{1}{2}", "wrong_answer"),
    bad("sqrt_other_radicand", think("\\boxed{1 + sqrt(3)}"), "1+\\sqrt{2}", "wrong_answer"),
    bad("sqrt_after_polynomial", think("\\boxed{x^2 + sqrt(5)}"), "x^2", "wrong_answer"),
    bad("sqrt_final_answer_line", think("Final Answer: $6 + sqrt(6)$"), "6", "wrong_answer"),
    bad("sin_plain_added", think("\\boxed{sin(x) + 1}"), "1", "wrong_answer"),
    bad("pi_plain_added", think("\\boxed{pi/2 + 1}"), "\\frac{\\pi}{2}", "wrong_answer"),
    bad("sin_glued_is_no_product", think("\\boxed{sinx}"), "\\sin x", "unverifiable"),
    bad("sqrt_glued_is_no_product", think("\\boxed{xsqrt(3)}"), "x\\sqrt{3}", "unverifiable"),
    bad("sqrt_unclosed", think("\\boxed{1 + sqrt(3}"), "1", "unverifiable"),
    ok("sqrt_plain_equal", think("\\boxed{1 + sqrt(3)}"), "1+\\sqrt{3}"),
    ok("sqrt_plain_space_equal", think("\\boxed{3 sqrt(3)}"), "\\sqrt{27}"),
    ok("sqrt_plain_fraction", think("\\boxed{sqrt(2)/2}"), "\\frac{\\sqrt{2}}{2}"),
    ok("sqrt_plain_glued_number", think("\\boxed{2sqrt(3)}"), "\\sqrt{12}"),
    ok("sqrt_unicode_equal", think("\\boxed{√3}"), "\\sqrt{3}"),
    ok("sqrt_plain_digits", think("The answer is sqrt 12."), "2\\sqrt{3}"),
    ok("sqrt_command_parens", think("\\boxed{\\sqrt(8)}"), "2\\sqrt{2}"),
    ok("power_half_parens", think("\\boxed{3^(1/2)}"), "\\sqrt{3}"),
    ok("pi_plain_equal", think("\\boxed{pi/2}"), "\\frac{\\pi}{2}"),
    ok("double_star_power", think("\\boxed{2**3}"), "8", answer_type="expression"),
    ok("sin_plain_equal", think("\\boxed{2 sin(x)}"), "2\\sin x"),
    ok("frac_short_args", think("\\boxed{\\frac12 + \\sqrt3}"), "\\frac{1+2\\sqrt{3}}{2}"),
]

# ---- juxtaposed numbers the grammar would sum, trailing input, dropped operators ----
JUXTAPOSITION = [
    bad("parens_product_not_sum", think("\\boxed{(2)(3)}"), "5", "wrong_answer", answer_type="expression"),
    bad("number_paren_product_not_sum", think("\\boxed{2(3)}"), "5", "wrong_answer", answer_type="expression"),
    bad("spaced_numbers", think("\\boxed{2\\ 3}"), "5", "unverifiable", answer_type="expression"),
    bad("thin_spaced_numbers", think("\\boxed{2\\,3}"), "5", "unverifiable", answer_type="expression"),
    bad("quad_spaced_numbers", think("\\boxed{3 \\quad 4}"), "7", "unverifiable", answer_type="expression"),
    bad("trailing_paren", think("\\boxed{2 ) + 3}"), "3", "unverifiable", answer_type="expression"),
    bad("trailing_operator", think("\\boxed{1 +}"), "1", "unverifiable", answer_type="expression"),
    bad("empty_denominator", think("\\boxed{1 + \\frac{1}{}}"), "1", "unverifiable", answer_type="expression"),
    bad("prime_dropped", think("\\boxed{f'(x)}"), "f(x)", "unverifiable", answer_type="expression"),
    bad("mixed_then_variable", think("\\boxed{3\\frac{1}{2}x}"), "\\frac{3x}{2}", "unverifiable"),
    bad("prose_is_no_product", think("\\boxed{n \\text{ is } 34}"), "34", "unverifiable"),
    bad("prose_words_unverifiable", think("\\boxed{largest n 34}"), "34", "unverifiable"),
    bad("digits_side_by_side_not_a_number", think("\\boxed{3 4}"), "34", "unverifiable"),
    bad("digits_thin_space_not_thousands", think("\\boxed{3\\,4}"), "34", "unverifiable"),
    ok("parens_product", think("\\boxed{(2)(3)}"), "6", answer_type="expression"),
    ok("number_paren_product", think("\\boxed{2(3)}"), "6", answer_type="expression"),
    ok("pi_paren_product", think("\\boxed{\\pi(2)}"), "2\\pi"),
    ok("mixed_number_gold", think("\\boxed{3.5}"), "3\\frac{1}{2}"),
    bad("mixed_number_gold_not_product", think("\\boxed{\\frac{3}{2}}"), "3\\frac{1}{2}", "wrong_answer"),
    ok("mixed_number_pred", think("\\boxed{2\\frac{1}{4}}"), "\\frac{9}{4}"),
    ok("space_thousands", think("\\boxed{12 345}"), "12345"),
]

# ---- several solutions: the whole gold, a subset is partial, spacing never splits ----
SEVERAL = [
    bad("gold_boxes_subset", think("\\boxed{-2}"), "The solutions are $\\boxed{1}$ and $\\boxed{-2}$.", "partial_answer"),
    bad("gold_boxes_other_subset", think("\\boxed{1}"), "The solutions are $\\boxed{1}$ and $\\boxed{-2}$.", "partial_answer"),
    bad("gold_boxes_wrong_one", think("\\boxed{1, 2}"), "\\(\\boxed{1}\\) and \\(\\boxed{-2}\\)", "wrong_answer"),
    bad("gold_three_boxes_two", think("\\boxed{1, 2}"), "$\\boxed{1}$, $\\boxed{2}$, $\\boxed{3}$", "partial_answer"),
    bad("gold_or_subset_box", think("x = \\boxed{2}"), "x=2 \\text{ or } x=-3", "partial_answer"),
    bad("spacing_list_subset", think("\\boxed{4, -8}"), "\\boxed{a=4,\\,-8,\\,-10}", "partial_answer"),
    bad("spacing_list_extra", think("\\boxed{4, -8, -10, 2}"), "\\boxed{a=4,\\,-8,\\,-10}", "wrong_answer"),
    bad("plain_brace_set_subset", think("\\boxed{\\{1,2\\}}"), "${1,2,3}$", "partial_answer"),
    bad("plain_brace_set_extra", think("\\boxed{1,2,3,4}"), "${1,2,3}$", "wrong_answer"),
    bad("plain_brace_set_wrong", think("\\boxed{\\{1,2,4\\}}"), "${1,2,3}$", "wrong_answer"),
    bad("tuples_subset", think("\\boxed{(5,2)}"), "$p=5,q=2;p=7,q=2$", "partial_answer"),
    bad("tuples_swapped", think("\\boxed{(2,5),(2,7)}"), "$p=5,q=2;p=7,q=2$", "wrong_answer"),
    bad("tuple_assignment_swapped", think("\\boxed{x=3, y=2}"), "x=2, y=3", "wrong_answer"),
    bad("tuple_positional_swapped", think("\\boxed{(3, 2)}"), "x=2, y=3", "wrong_answer"),
    bad("tuple_other_names", think("\\boxed{a=2, b=3}"), "x=2, y=3", "wrong_answer"),
    bad("semicolon_values_subset", think("\\boxed{2}"), "2; -3", "partial_answer"),
    bad("semicolon_spacing_not_split", think("\\boxed{1}"), "1\\;000", "unverifiable"),
    bad("gold_boxes_sign", think("\\boxed{1, 2}"), "$\\boxed{1}$ and $\\boxed{-2}$", "wrong_answer"),
    ok("gold_boxes_one_box", think("$\\boxed{-2,1}$"), "\\(\\boxed{1}\\) and \\(\\boxed{-2}\\)"),
    ok("gold_boxes_two_boxes", think("So $x=\\boxed{1}$ or $x=\\boxed{-2}$."), "\\(\\boxed{1}\\) and \\(\\boxed{-2}\\)"),
    ok("gold_boxes_set", think("\\boxed{\\{-2, 1\\}}"), "The solutions are $\\boxed{1}$ and $\\boxed{-2}$."),
    ok("gold_three_boxes", think("\\boxed{3, 1, 2}"), "$\\boxed{1}$, $\\boxed{2}$, $\\boxed{3}$"),
    ok("spacing_list_whole", think("\\boxed{4, -8, -10}"), "\\boxed{a=4,\\,-8,\\,-10}"),
    ok("spacing_list_reordered", think("\\boxed{-10,4,-8}"), "\\boxed{a=4,\\,-8,\\,-10}"),
    ok("spacing_list_both_sides", think("\\boxed{a = -8,\\; 4,\\; -10}"), "a=4,\\,-8,\\,-10"),
    ok("plain_brace_set_escaped", think("\\boxed{\\{1,2,3\\}}"), "${1,2,3}$"),
    ok("plain_brace_set_list", think("\\boxed{3, 2, 1}"), "${1,2,3}$"),
    ok("tuples_list", think("$\\boxed{(5,2),(7,2)}$"), "$p=5,q=2;p=7,q=2$"),
    ok("tuples_assignments_and", think("\\boxed{p=7, q=2 \\text{ and } p=5, q=2}"), "$(5,2),(7,2)$"),
    ok("tuples_set", think("\\boxed{\\{(7,2), (5,2)\\}}"), "$p=5,q=2;p=7,q=2$"),
    ok("tuple_from_assignments", think("\\boxed{(2, 3)}"), "x=2, y=3"),
    ok("tuple_assignments_reordered", think("\\boxed{y=3, x=2}"), "x=2, y=3"),
    ok("tuple_plain_values", think("\\boxed{2, 3}"), "x=2, y=3"),
    ok("semicolon_values", think("\\boxed{-3, 2}"), "2; -3"),
    ok("semicolon_spacing_is_thousands", think("\\boxed{1000}"), "1\\,000"),
]

# ---- answer phrases: the value a sentence names ----
PHRASES = [
    ok("final_answer_sentence", think("Final Answer: The largest $n$ is 34."), "34", "34"),
    ok("final_answer_sentence_units", think("Final Answer: The area is $12$ square units."), "12"),
    ok("final_answer_assignment", think("Final Answer: $n = 7$"), "7"),
    ok("final_answer_bold_sentence", think("**Final Answer:** The number of ways is 120."), "120", "120"),
    ok("answer_is_because", think("Thus the answer is 5 because 2+3 = 5."), "5", "5"),
    ok("answer_is_which", think("The answer is $\\frac{1}{2}$, which is the probability."), "0.5"),
    ok("concluding_so", think("So the minimum value is $-3$."), "-3", "-3"),
    ok("concluding_therefore_units", think("Therefore, the perimeter is 24 cm."), "24"),
    ok("concluding_hence_math", think("Hence, $x = 4$."), "4"),
    ok("concluding_value_first", think("Therefore, 12 is the answer."), "12", "12"),
    ok("answer_tag_sentence", think("<answer>The total is 15 apples</answer>"), "15"),
    ok("answer_tag_math_span", think("<answer>The length of $AB$ equals $2\\sqrt{3}$.</answer>"), "\\sqrt{12}"),
    ok("final_answer_next_line_sentence", think("**Final Answer**\n\nThe probability is $\\frac{3}{8}$."), "0.375"),
    bad("final_answer_sentence_wrong", think("Final Answer: The largest $n$ is 35."), "34", "wrong_answer", extracted="35"),
    bad("concluding_sign", think("So the minimum value is $-3$."), "3", "wrong_answer"),
    bad("answer_is_which_wrong", think("The answer is 7, which is bigger than 5."), "5", "wrong_answer", extracted="7"),
    bad("answer_is_not", think("The answer is not 5."), "5", "unverifiable"),
    bad("answer_at_least", think("Final Answer: $n$ is at least 34."), "34", "unverifiable"),
    bad("box_beats_phrase", think("So the value is 12.\n\n\\boxed{13}"), "12", "wrong_answer", extracted="13"),
    bad("marker_beats_concluding", think("Final Answer: 9\n\nSo the value is 12."), "12", "wrong_answer", extracted="9"),
    bad("tag_beats_box_outside", think("<answer>The value is 9</answer> \\boxed{12}"), "12", "wrong_answer", extracted="9"),
    bad("non_concluding_sentence", think("I think the value is 12 but I am not sure how"), "12", "no_answer", extracted=None),
]

# ---- percent words and suffixes ----
PERCENT = [
    ok("pct_word", think("\\boxed{33.5 pct}"), "0.335"),
    ok("percentage_word", think("\\boxed{33.5 percentage}"), "0.335"),
    ok("text_percent", think("\\boxed{\\frac{1}{2}\\text{ percent}}"), "0.005"),
    ok("per_cent", think("The answer is 12 per cent."), "0.12"),
    ok("text_percent_no_space", think("\\boxed{45\\text{percent}}"), "0.45"),
    ok("mathrm_percent_sign", think("\\boxed{20\\mathrm{\\%}}"), "\\frac{1}{5}"),
    ok("percent_capital", think("\\boxed{25 Percent}"), "25\\%"),
    ok("text_pct", think("\\boxed{7.5 \\text{ pct}}"), "0.075"),
    ok("percent_expression_both", think("\\boxed{\\frac{100}{3}\\%}"), "33\\frac{1}{3}\\%"),
    ok("percent_expression_value", think("\\boxed{50\\sqrt{2}\\%}"), "\\frac{\\sqrt{2}}{2}"),
    bad("pct_wrong", think("\\boxed{33.5 pct}"), "0.34", "wrong_answer"),
    bad("percent_hides_pi", think("\\boxed{25\\pi\\%}"), "25\\%", "wrong_answer"),
    bad("percent_hides_sqrt", think("\\boxed{25\\sqrt{2}\\%}"), "25\\%", "wrong_answer"),
    bad("percent_hides_term", think("\\boxed{(25+\\pi)\\%}"), "25\\%", "wrong_answer"),
    bad("percent_hides_factor", think("\\boxed{2\\cdot 25\\%}"), "25\\%", "wrong_answer"),
    bad("percent_word_hides_pi", think("\\boxed{25\\pi \\text{ percent}}"), "25\\%", "wrong_answer"),
    bad("percent_hides_variable", think("\\boxed{25x\\%}"), "0.25", "wrong_answer"),
]

# ---- degree suffixes ----
DEGREES = [
    bad("degree_hides_term", think("\\boxed{74 + \\sqrt{3}°}"), "74^\\circ", "wrong_answer"),
    bad("degree_hides_factor", think("\\boxed{74\\sqrt{3}^\\circ}"), "74^\\circ", "wrong_answer"),
    bad("degree_hides_pi_term", think("\\boxed{30 + \\pi°}"), "30°", "wrong_answer"),
    bad("degree_hides_sum", think("\\boxed{(74+1)^{\\circ}}"), "74°", "wrong_answer"),
    bad("degree_word_hides_term", think("The answer is 60 + sqrt(2) degrees."), "60^\\circ", "wrong_answer"),
    ok("degree_forms", think("\\boxed{74°}"), "74^\\circ"),
    ok("degree_word", think("\\boxed{74^{\\circ}}"), "74 degrees"),
    ok("degree_fraction", think("\\boxed{\\frac{148}{2}^\\circ}"), "74^\\circ"),
    ok("degree_sum", think("\\boxed{(70+4)^\\circ}"), "74°"),
    ok("degree_expression", think("\\boxed{\\left(\\frac{180}{\\pi}\\right)^\\circ}"), "\\frac{180}{\\pi}°"),
]

# ---- Euler's e written \mathrm{e} ----
EULER = [
    bad("mathrm_e_term_dropped", think("\\boxed{1}"), "1 - \\frac{1}{\\mathrm{e}}", "wrong_answer"),
    bad("mathrm_e_sign", think("\\boxed{1 + \\frac{1}{\\mathrm{e}}}"), "1 - \\frac{1}{\\mathrm{e}}", "wrong_answer"),
    bad("mathrm_e_power", think("\\boxed{\\mathrm{e}}"), "\\mathrm{e}^2", "wrong_answer"),
    bad("mathrm_e_factor", think("\\boxed{2\\mathrm{e}}"), "\\mathrm{e}", "wrong_answer"),
    bad("mathrm_e_minus_one", think("\\boxed{\\mathrm{e} - 1}"), "\\mathrm{e}", "wrong_answer"),
    bad("mathrm_e_exponent", think("\\boxed{\\mathrm{e}^{x}}"), "\\mathrm{e}^{2x}", "wrong_answer"),
    ok("mathrm_e_inverse", think("\\boxed{1 - e^{-1}}"), "1 - \\frac{1}{\\mathrm{e}}"),
    ok("mathrm_e_plain_e", think("\\boxed{1-\\frac{1}{e}}"), "1 - \\frac{1}{\\mathrm{e}}"),
    ok("mathrm_e_square", think("\\boxed{\\mathrm{e}^{2}}"), "e^2"),
    ok("mathrm_e_fraction", think("\\boxed{\\frac{e-1}{e}}"), "1 - \\frac{1}{\\mathrm{e}}"),
]

# ---- units: unknown units never ignored, money against quantities ----
UNITS = [
    bad("kg_vs_yuan", think("\\boxed{0.06 \\text{ kg}}"), "0.06 yuan", "wrong_answer"),
    bad("kg_vs_dollars", think("\\boxed{5 kg}"), "5 dollars", "wrong_answer"),
    bad("dollars_vs_kg", think("\\boxed{\\$5}"), "5 kg", "wrong_answer"),
    bad("noun_vs_unit", think("\\boxed{2 \\text{ apples}}"), "2 cm", "unverifiable"),
    bad("noun_vs_other_noun", think("\\boxed{5 \\text{ oranges}}"), "5 apples", "unverifiable"),
    bad("yuan_vs_dollars", think("\\boxed{5 yuan}"), "5 dollars", "unverifiable"),
    bad("two_letter_word_is_variables", think("\\boxed{3 ab}"), "3", "wrong_answer"),
    bad("glued_word_is_variables", think("\\boxed{3ab}"), "3", "wrong_answer"),
    bad("glued_unknown_word", think("\\boxed{3xyz}"), "3", "wrong_answer"),
    bad("expression_unit_dimension", think("\\boxed{2\\sqrt{3} \\text{ kg}}"), "2\\sqrt{3} \\text{ m}", "wrong_answer"),
    bad("expression_unit_scale", think("\\boxed{2\\sqrt{3} \\text{ cm}}"), "2\\sqrt{3} \\text{ m}", "wrong_answer"),
    bad("cents_vs_dollars_value", think("\\boxed{50 cents}"), "\\$5", "wrong_answer"),
    ok("yuan_bare", think("\\boxed{0.06 yuan}"), "0.06"),
    ok("dollar_sign_vs_word", think("\\boxed{\\$5}"), "5 dollars"),
    ok("cents_vs_dollars", think("\\boxed{50 cents}"), "\\$0.50"),
    ok("yen_sign_vs_yuan", think("\\boxed{¥20}"), "20 yuan"),
    ok("yuan_cjk", think("\\boxed{20元}"), "20 yuan"),
    ok("noun_bare_gold", think("Answer: 12 apples"), "12"),
    ok("noun_plural", think("\\boxed{1 \\text{ apples}}"), "1 apple"),
    ok("pound_money", think("\\boxed{5 pounds}"), "£5"),
    ok("expression_unit_same", think("\\boxed{2\\sqrt{3} \\text{ cm}}"), "2\\sqrt{3}"),
    ok("expression_unit_converted", think("\\boxed{200\\sqrt{3} \\text{ cm}}"), "2\\sqrt{3} \\text{ m}"),
    ok("expression_unit_problem_field", think("\\boxed{\\frac{\\pi}{2} \\text{ m}}"), "\\frac{\\pi}{2}", unit="m"),
]

# ---- \text{} golds are words (an option letter or a word), not expressions ----
TEXT_GOLDS = [
    ok("text_letter_bare", think("E"), "\\text{E}", "E"),
    ok("text_letter_box", think("\\boxed{E}"), "\\text{E}"),
    ok("text_letter_marker", think("The answer is E."), "\\textbf{E}", "E"),
    ok("text_word", think("Answer: red"), "\\text{red}"),
    ok("text_words", think("\\boxed{\\text{isosceles triangle}}"), "\\text{Isosceles Triangle}"),
    bad("text_letter_other", think("\\boxed{D}"), "\\text{E}", "wrong_answer"),
    bad("text_letter_vs_number", think("\\boxed{2.718}"), "\\text{E}", "unverifiable"),
    bad("text_word_other", think("Answer: blue"), "\\text{red}", "wrong_answer"),
    bad("text_letter_other_marker", think("The answer is C."), "\\text{(E)}", "wrong_answer"),
    bad("text_word_not_expression", think("\\boxed{2 red}"), "\\text{red}", "unverifiable"),
]

# ---- expressions and large numbers in their usual forms (also the bases of the sum/product rewrites) ----
FORMS = [
    ok("expanded_square", think("\\boxed{x^2+2x+1}"), "(x+1)^2"),
    ok("factored_quadratic", think("\\boxed{3x^2 - 5x + 2}"), "(3x-2)(x-1)"),
    ok("sum_with_radical", think("\\boxed{2+\\sqrt{3}}"), "\\frac{1}{2-\\sqrt{3}}"),
    ok("sum_with_pi", think("The answer is $\\pi + 1$."), "1+\\pi"),
    ok("sum_of_fractions", think("\\boxed{\\frac{1}{2} + \\frac{\\sqrt{3}}{2}}"), "\\frac{1+\\sqrt{3}}{2}"),
    ok("difference_of_radicals", think("\\boxed{3\\sqrt{2} - 2\\sqrt{3}}"), "\\sqrt{18}-\\sqrt{12}"),
    ok("sum_in_two_variables", think("\\boxed{a^2 + 2ab + b^2}"), "(a+b)^2"),
    ok("coefficient_radical", think("\\boxed{4\\sqrt{3}}"), "\\sqrt{48}"),
    ok("coefficient_pi", think("\\boxed{6\\pi}"), "\\frac{12\\pi}{2}"),
    ok("coefficient_variable", think("\\boxed{7x}"), "x+6x"),
    ok("large_number", think("\\boxed{12500}"), "12,500"),
    ok("large_money", think("Final Answer: \\$2500"), "2500 dollars"),
    ok("large_count", think("\\boxed{1048576}"), "2^{20}", answer_type="expression"),
    bad("expanded_square_wrong", think("\\boxed{x^2+x+1}"), "(x+1)^2", "wrong_answer"),
    bad("factored_quadratic_sign", think("\\boxed{3x^2 + 5x + 2}"), "(3x-2)(x-1)", "wrong_answer"),
    bad("sum_with_radical_wrong", think("\\boxed{2+\\sqrt{2}}"), "\\frac{1}{2-\\sqrt{3}}", "wrong_answer"),
    bad("coefficient_radical_wrong", think("\\boxed{4\\sqrt{2}}"), "\\sqrt{48}", "wrong_answer"),
    bad("large_number_off_by_one", think("\\boxed{12501}"), "12,500", "wrong_answer"),
]

CLASSES = {
    "plain_functions": PLAIN_FUNCTIONS, "juxtaposition": JUXTAPOSITION, "several_solutions": SEVERAL,
    "answer_phrases": PHRASES, "percent": PERCENT, "degrees": DEGREES, "euler_e": EULER, "units": UNITS,
    "text_golds": TEXT_GOLDS, "forms": FORMS,
}
CLASS_CASES: list[Case] = [case for cases in CLASSES.values() for case in cases]


def test_every_class_has_both_directions_and_ids_are_unique():
    for name, cases in CLASSES.items():
        assert sum(c.correct for c in cases) >= 4 and sum(not c.correct for c in cases) >= 4, name
    assert len({c.id for c in CLASS_CASES}) == len(CLASS_CASES)


@pytest.mark.parametrize("case", CLASS_CASES, ids=[c.id for c in CLASS_CASES])
def test_class_verdict(case: Case):
    verdict = run(case)
    assert verdict.correct is case.correct, verdict
    assert sorted(verdict.reasons) == sorted(case.reasons), verdict
    if case.extracted != "<any>":
        assert verdict.extracted_answer == case.extracted, verdict

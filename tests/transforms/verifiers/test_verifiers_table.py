"""The verdict table: every extraction, equivalence and format rule, accepted and rejected.

``CASES`` is also run from eight threads by ``test_verifiers_threads``.
"""
from __future__ import annotations

from dataclasses import dataclass

import pytest

from transforms.verifiers import CHECK_NAMES, DEFAULT_CONFIG, VerifyConfig, verify

REASONING = "Let me work through the problem step by step and check each quantity carefully."
NO_REASONING = VerifyConfig(require_reasoning=False)


def think(final: str, reasoning: str = REASONING) -> str:
    """An output with one reasoning block and then ``final``."""
    return f"<think>\n{reasoning}\n</think>\n\n{final}"


@dataclass(frozen=True)
class Case:
    id: str
    output: str
    gold: str
    correct: bool
    reasons: tuple[str, ...] = ()
    extracted: str | None = "<any>"
    answer_type: str | None = None
    choices: tuple[str, ...] | None = None
    reasoning: str | None = None
    finish_reason: str | None = "stop"
    config: VerifyConfig | None = None
    unit: str = ""


def ok(id, output, gold, extracted="<any>", **kw) -> Case:
    return Case(id, output, gold, True, (), extracted, **kw)


def bad(id, output, gold, *reasons, extracted="<any>", **kw) -> Case:
    return Case(id, output, gold, False, tuple(reasons), extracted, **kw)


ABCD = ("12", "42", "7", "9")

LOOP = "Wait, let me recompute the sum of the two numbers again from the start. " * 40
CYRILLIC = "Давайте решим эту задачу шаг за шагом и проверим каждое значение отдельно."
CHINESE_REASONING = "我们先计算三角形的面积，然后检查每一步的结果是否正确。"

CASES: list[Case] = [
    # ---- boxes: found, nested, last wins, empty, unclosed ----
    ok("box_simple", think("The answer is \\boxed{4}."), "4", "4"),
    bad("box_simple_wrong", think("\\boxed{5}"), "4", "wrong_answer", extracted="5"),
    ok("box_nested_braces", think("\\boxed{\\frac{1}{\\sqrt{2}}}"), "\\frac{\\sqrt{2}}{2}", "\\frac{1}{\\sqrt{2}}"),
    ok("box_inside_box", think("\\boxed{\\boxed{5}}"), "5", "5"),
    ok("box_deeply_nested_frac", think("\\boxed{\\frac{\\frac{1}{2}}{\\frac{3}{4}}}"), "\\frac{2}{3}"),
    ok("box_last_wins", think("First \\boxed{3}, but correcting: \\boxed{5}"), "5", "5"),
    bad("box_last_wins_not_first", think("First \\boxed{3}, but correcting: \\boxed{5}"), "3", "wrong_answer", extracted="5"),
    ok("box_escaped_braces_set", think("\\boxed{\\{1,2\\}}"), "\\{2,1\\}"),
    bad("box_empty", think("So the answer is \\boxed{}."), "4", "no_answer", extracted=None),
    bad("box_blank", think("So the answer is \\boxed{   }."), "4", "no_answer", extracted=None),
    bad("box_unclosed", think("So the answer is \\boxed{\\frac{1}{2}"), "\\frac{1}{2}", "no_answer", extracted=None),
    bad("box_empty_last_after_good", think("\\boxed{4} hmm, actually \\boxed{}"), "4", "no_answer", extracted=None),
    bad("box_unclosed_last_after_good", think("\\boxed{4} so \\boxed{4"), "4", "no_answer", extracted=None),
    ok("fbox", think("\\fbox{7}"), "7", "7"),
    ok("box_without_braces", think("\\boxed 7"), "7", "7"),
    ok("box_in_dollars", think("$\\boxed{12}$"), "12", "12"),
    # ---- the answer must be in the final part ----
    bad("answer_only_in_reasoning", think("I am not sure.", "So x = \\boxed{5}."), "5", "no_answer", extracted=None),
    bad("reasoning_box_ignored", think("\\boxed{6}", "The result is \\boxed{5}."), "5", "wrong_answer", extracted="6"),
    bad("unclosed_think_box_inside", "<think>\nwork work \\boxed{5}", "5", "malformed_think", "no_answer", extracted=None),
    ok("reasoning_field_answer_in_output", "\\boxed{5}", "5", "5", reasoning=REASONING),
    bad("reasoning_field_answer_only_there", "Done.", "5", "no_answer", extracted=None, reasoning="x = \\boxed{5}"),
    # ---- answer markers ----
    ok("marker_answer_colon", think("Answer: 12"), "12", "12"),
    ok("marker_the_answer_is", think("Therefore, the answer is 12."), "12", "12"),
    ok("marker_final_answer", think("Final Answer: 12"), "12", "12"),
    ok("marker_final_answer_bold", think("**Final Answer:** $12$"), "12", "12"),
    ok("marker_final_answer_next_line", think("**Final Answer**\n\n12"), "12", "12"),
    ok("marker_last_one_wins", think("The answer is 10? No. The answer is 12."), "12", "12"),
    bad("marker_wrong", think("Answer: 13"), "12", "wrong_answer", extracted="13"),
    ok("bare_final_number", think("42"), "42", "42"),
    bad("long_final_without_marker", think("We found that the quantity equals forty two after\nsimplifying all the terms carefully."),
        "42", "no_answer", extracted=None),
    # ---- Chinese ----
    ok("zh_answer_colon", think("答案：12"), "12", "12"),
    ok("zh_answer_is_unit", think("所以答案是 5米。"), "5"),
    ok("zh_answer_letter", think("答案是 B"), "B", "B", choices=ABCD),
    ok("zh_gu_xuan", think("综上，故选C"), "C", "C", choices=ABCD),
    ok("zh_box", think("所以答案为\\boxed{3}"), "3", "3"),
    ok("zh_free_form", think("答案：三角形。"), "三角形", answer_type="free_form"),
    bad("zh_free_form_wrong", think("答案：正方形"), "三角形", "wrong_answer", answer_type="free_form"),
    ok("zh_reasoning_allowed", think("答案：12", CHINESE_REASONING), "12"),
    # ---- multiple choice letters ----
    ok("mc_paren", think("The correct option is (B)."), "B", "B", choices=ABCD),
    ok("mc_letter_paren_text", think("Answer: (B) 42"), "B", "B", choices=ABCD),
    ok("mc_letter_close_paren", think("B)"), "B", "B", choices=ABCD),
    ok("mc_bold", think("**B**"), "B", "B", choices=ABCD),
    ok("mc_text_paren", think("The answer is $\\text{(B)}$"), "B", "B", choices=ABCD),
    ok("mc_boxed_letter", think("\\boxed{B}"), "B", "B", choices=ABCD),
    ok("mc_boxed_text_letter", think("\\boxed{\\text{(B)}}"), "B", "B", choices=ABCD),
    ok("mc_option_word", think("I pick option B since it matches."), "B", "B", choices=ABCD),
    ok("mc_option_word_lower", think("so option b"), "B", "B", choices=ABCD),
    ok("mc_answer_is_letter_reason", think("The answer is B because 6 * 7 = 42."), "B", "B", choices=ABCD),
    bad("mc_wrong_letter", think("\\boxed{C}"), "B", "wrong_answer", extracted="C", choices=ABCD),
    bad("mc_letter_out_of_range", think("\\boxed{E}"), "B", "wrong_answer", extracted="E", choices=ABCD),
    bad("mc_lowercase_paren_in_prose_ignored", think("Case (b) is tricky and (c) too, so I need more time."),
        "B", "no_answer", extracted=None, choices=ABCD),
    ok("mc_option_text_to_letter", think("\\boxed{42}"), "B", "B", choices=ABCD),
    ok("mc_option_number_to_letter", think("\\boxed{42.0}"), "B", "B", choices=ABCD),
    bad("mc_option_text_wrong", think("\\boxed{12}"), "B", "wrong_answer", extracted="A", choices=ABCD),
    ok("mc_gold_option_text_pred_letter", think("\\boxed{B}"), "42", "B", answer_type="multiple_choice", choices=ABCD),
    ok("mc_gold_option_text_pred_text", think("The answer is 42"), "42", "B", answer_type="multiple_choice", choices=ABCD),
    bad("mc_gold_option_text_pred_other", think("\\boxed{D}"), "42", "wrong_answer", answer_type="multiple_choice", choices=ABCD),
    ok("mc_choices_with_prefixes", think("\\boxed{Paris}"), "C",
       "C", choices=("A. London", "B. Berlin", "C. Paris", "D. Rome")),
    ok("mc_last_line_option_text", think("After comparing all four cities:\nParis"), "C",
       "C", choices=("London", "Berlin", "Paris", "Rome")),
    ok("mc_gold_in_parens", think("\\boxed{B}"), "(B)", "B", choices=ABCD),
    ok("mc_inferred_type", think("\\boxed{B}"), "B", "B", choices=ABCD),
    # ---- numbers: fractions, decimals, tolerance ----
    ok("frac_vs_decimal", think("\\boxed{\\frac{1}{2}}"), "0.5"),
    ok("decimal_vs_frac", think("\\boxed{0.5}"), "\\frac{1}{2}"),
    ok("slash_vs_decimal", think("\\boxed{1/2}"), "0.5"),
    ok("dfrac_short", think("\\boxed{\\dfrac12}"), "0.5"),
    ok("trailing_zeros", think("\\boxed{0.50}"), "0.5"),
    bad("frac_wrong", think("\\boxed{\\frac{1}{3}}"), "0.5", "wrong_answer"),
    bad("third_too_coarse", think("\\boxed{0.333}"), "\\frac{1}{3}", "wrong_answer"),
    ok("gold_rounded_pred_exact", think("\\boxed{\\frac{1}{3}}"), "0.333"),
    ok("gold_decimals_pred_more_precise", think("\\boxed{3.14159}"), "3.14"),
    bad("gold_decimals_pred_off", think("\\boxed{3.15}"), "3.14", "wrong_answer"),
    bad("integer_gold_exact", think("\\boxed{2.9999999}"), "3", "wrong_answer"),
    ok("integer_gold_float_pred", think("\\boxed{3.0}"), "3"),
    ok("unicode_minus", think("\\boxed{−2}"), "-2"),
    bad("sign_matters", think("\\boxed{2}"), "-2", "wrong_answer"),
    ok("scientific_e", think("\\boxed{1.5e3}"), "1500"),
    ok("scientific_times", think("\\boxed{1.5 \\times 10^{3}}"), "1500"),
    ok("assignment_prefix", think("\\boxed{x = 5}"), "5", answer_type="numeric"),
    ok("tolerance_configured", think("\\boxed{100.0}"), "100.5", config=VerifyConfig(rel_tol=0.01)),
    bad("tolerance_default_strict", think("\\boxed{100.0}"), "100.5", "wrong_answer"),
    # ---- units, degrees, percent, currency, thousands ----
    ok("unit_text", think("\\boxed{5 \\text{ cm}}"), "5"),
    ok("unit_word", think("The answer is 5 cm."), "5"),
    ok("unit_attached", think("\\boxed{5cm}"), "5"),
    ok("unit_compound", think("\\boxed{12 m/s^2}"), "12"),
    ok("unit_plural_noun", think("Answer: 12 apples"), "12"),
    ok("unit_gold_has_unit", think("\\boxed{5}"), "5 cm"),
    bad("unit_wrong_number", think("\\boxed{6 \\text{ cm}}"), "5", "wrong_answer"),
    ok("variable_not_unit_sym", think("\\boxed{2x}"), "2x"),
    bad("variable_not_unit", think("\\boxed{2x}"), "2", "wrong_answer"),
    ok("degrees_circ", think("\\boxed{30^\\circ}"), "30"),
    ok("degrees_symbol", think("\\boxed{30°}"), "30"),
    ok("degrees_word", think("The answer is 30 degrees."), "30"),
    bad("degrees_wrong", think("\\boxed{45^{\\circ}}"), "30", "wrong_answer"),
    ok("percent_same", think("\\boxed{50\\%}"), "50%"),
    ok("percent_vs_fraction", think("\\boxed{50\\%}"), "0.5"),
    ok("fraction_vs_percent", think("\\boxed{0.5}"), "50%"),
    ok("percent_vs_bare", think("\\boxed{50}"), "50%"),
    bad("percent_wrong", think("\\boxed{40\\%}"), "50%", "wrong_answer"),
    ok("currency_dollar_thousands", think("\\boxed{\\$1,234.50}"), "1234.5"),
    ok("currency_word", think("The answer is 5 dollars."), "5"),
    ok("currency_euro", think("\\boxed{€5}"), "5"),
    ok("thousands_commas", think("\\boxed{1,000,000}"), "1000000"),
    ok("thousands_thin_space", think("\\boxed{1\\,000}"), "1000"),
    ok("thousands_braced_comma", think("\\boxed{1{,}000}"), "1000"),
    ok("thousands_gold_side", think("\\boxed{1000}"), "1,000"),
    bad("thousands_wrong", think("\\boxed{1,001}"), "1000", "wrong_answer"),
    bad("tuple_is_not_thousands", think("\\boxed{1,2}"), "12", "wrong_answer"),
    # ---- expressions, intervals, sets (math-verify) ----
    ok("expr_expand", think("\\boxed{(x+1)^2}"), "x^2+2x+1"),
    bad("expr_wrong", think("\\boxed{x^2+2x}"), "x^2+2x+1", "wrong_answer"),
    ok("expr_sqrt", think("\\boxed{2\\sqrt{2}}"), "\\sqrt{8}"),
    ok("expr_pi_frac", think("\\boxed{3\\pi/4}"), "\\frac{3\\pi}{4}"),
    ok("interval_same_spacing", think("\\boxed{[1, 2)}"), "[1,2)"),
    bad("interval_open_closed_swapped", think("\\boxed{(1,2]}"), "[1,2)", "wrong_answer"),
    ok("interval_infinity", think("\\boxed{(-\\infty, 3]}"), "(-\\infty,3]"),
    ok("interval_union", think("\\boxed{(-\\infty,1)\\cup(2,+\\infty)}"), "(-\\infty,1)\\cup(2,\\infty)"),
    bad("interval_union_wrong", think("\\boxed{(-\\infty,1]\\cup(2,\\infty)}"), "(-\\infty,1)\\cup(2,\\infty)", "wrong_answer"),
    ok("set_order", think("\\boxed{\\{3,1,2\\}}"), "\\{1,2,3\\}"),
    ok("equation_gold_assignment", think("\\boxed{3}"), "x=3", answer_type="expression"),
    bad("power_tower_unverifiable", think("\\boxed{2^{2^{2^{100}}}}"), "4", "unverifiable", answer_type="expression"),
    bad("huge_factorial_unverifiable", think("\\boxed{100000!}"), "5", "unverifiable", answer_type="expression"),
    # ---- yes / no and free form ----
    ok("yes", think("\\boxed{Yes}"), "yes"),
    ok("no_bold_period", think("**No.**"), "no"),
    ok("yes_with_reason", think("The answer is yes, because both sides are equal."), "Yes"),
    bad("yes_vs_no", think("\\boxed{No}"), "yes", "wrong_answer"),
    ok("yes_chinese", think("答案：是"), "yes"),
    ok("no_chinese", think("答案：否"), "No"),
    ok("true_is_yes", think("\\boxed{True}"), "yes"),
    ok("free_form_case_articles", think("Answer: The Eiffel Tower"), "eiffel tower", answer_type="free_form"),
    bad("free_form_wrong", think("Answer: London"), "Paris", "wrong_answer", answer_type="free_form"),
    ok("free_form_math_gold", think("\\boxed{\\frac{1}{2}}"), "1/2", answer_type="free_form"),
    # ---- truncation ----
    bad("truncated", "<think>\nLet me think about this for a very long time and", "5",
        "malformed_think", "truncated", "no_answer", extracted=None, finish_reason="length"),
    bad("truncated_even_with_answer", think("\\boxed{5}"), "5", "truncated", extracted="5", finish_reason="length"),
    ok("finish_reason_none", think("\\boxed{5}"), "5", finish_reason=None),
    # ---- repetition ----
    bad("repetition_ngram_loop", think("\\boxed{5}", REASONING + " " + LOOP), "5", "repetition"),
    bad("repetition_lines", think("\\boxed{5}", "\n".join(["Check the value of x again."] * 8 + ["Step one.", "x is five now."])),
        "5", "repetition"),
    bad("repetition_short_lines_only", think("\\boxed{5}", "\n".join(
        line for i in range(5) for line in ("Recheck the sum.", f"Step {i}: the partial total after adding term {i} "
                                            f"is {i * 7 + 3}, which stays below the bound {100 + i}."))), "5",
        "repetition"),
    ok("varied_reasoning_not_repetition", think("\\boxed{5}", " ".join(
        f"Step {i}: we add {i} to the running total, which becomes {i * (i + 1) // 2}." for i in range(1, 40))), "5"),
    ok("repetition_threshold_configurable", think("\\boxed{5}", REASONING + " " + LOOP), "5",
       config=VerifyConfig(max_repeated_ngram_share=1.0, max_repeated_line_share=1.0)),
    # ---- think tags ----
    bad("two_think_blocks", "<think>a first pass</think><think>a second pass</think>\\boxed{5}", "5", "malformed_think"),
    bad("two_opens_one_close", "<think>one <think> two</think>\\boxed{5}", "5", "malformed_think"),
    bad("close_before_open", "</think>oops<think>\\boxed{5}", "5", "malformed_think", "no_answer", extracted=None),
    bad("text_before_think", "Sure! <think>reasoning goes here</think>\\boxed{5}", "5", "malformed_think"),
    bad("tags_in_output_with_reasoning_field", think("\\boxed{5}"), "5", "malformed_think", reasoning=REASONING),
    ok("implicit_open_tag", REASONING + "\n</think>\n\\boxed{5}", "5", "5"),
    bad("implicit_open_tag_disallowed", REASONING + "\n</think>\n\\boxed{5}", "5", "malformed_think",
        config=VerifyConfig(allow_implicit_think_open=False)),
    bad("no_reasoning_block", "The answer is \\boxed{5}.", "5", "no_reasoning"),
    ok("no_reasoning_block_allowed", "The answer is \\boxed{5}.", "5", "5", config=NO_REASONING),
    bad("malformed_still_fails_without_requirement", "<think>a</think><think>b</think>\\boxed{5}", "5",
        "malformed_think", config=NO_REASONING),
    bad("empty_think", "<think></think>\\boxed{5}", "5", "empty_reasoning"),
    bad("blank_think", "<think>\n   \n</think>\\boxed{5}", "5", "empty_reasoning"),
    ok("empty_think_allowed_without_requirement", "<think></think>The answer is \\boxed{5}", "5", config=NO_REASONING),
    # ---- language ----
    bad("language_mix_cyrillic", think("\\boxed{5}", REASONING + " " + CYRILLIC), "5", "language_mix"),
    ok("cyrillic_allowed_when_configured", think("\\boxed{5}", REASONING + " " + CYRILLIC), "5",
       config=VerifyConfig(allowed_scripts=("common", "latin", "greek", "math", "cyrillic"))),
    bad("chinese_disallowed_when_configured", think("\\boxed{5}", CHINESE_REASONING), "5", "language_mix",
        config=VerifyConfig(allowed_scripts=("common", "latin", "greek", "math"))),
    ok("greek_and_math_symbols_ok", think("\\boxed{5}", "Let θ = π/6 so sin θ = ½; ∀x ∈ ℝ, x² ≥ 0 ⇒ Σ ≤ ∞."), "5"),
    # ---- length ----
    bad("too_long", think("\\boxed{5}", REASONING + " Then we verify the remaining terms one by one."), "5",
        "too_long", config=VerifyConfig(max_chars=100)),
    bad("too_short", "5", "5", "too_short", config=NO_REASONING),
    ok("short_allowed_when_configured", "5", "5", config=VerifyConfig(require_reasoning=False, min_chars=1)),
    # ---- gold problems ----
    ok("gold_is_a_boxed_solution", think("\\boxed{12}"), "so 3 * 4 = \\boxed{12}", "12"),
    bad("gold_is_a_boxed_solution_wrong", think("\\boxed{3}"), "so 3 * 4 = \\boxed{12}", "wrong_answer"),
    bad("empty_gold", think("\\boxed{5}"), "", "no_gold", answer_type="numeric"),
    # ---- R1V's <answer> block decides ----
    ok("tag_plain", think("<answer>42</answer>"), "42", "42"),
    ok("tag_boxed_inside", think("<answer>The area is $\\boxed{12}$.</answer>"), "12", "12"),
    ok("tag_beats_later_box", think("<answer>5</answer>\nCheck: \\boxed{6}"), "5", "5"),
    bad("tag_beats_earlier_box", think("\\boxed{5} is my guess.\n<answer>6</answer>"), "5", "wrong_answer", extracted="6"),
    ok("tag_last_block_wins", think("<answer>3</answer> no wait <answer>\\frac{1}{2}</answer>"), "0.5"),
    bad("tag_empty_no_fallback", think("<answer>  </answer>\n\\boxed{5}"), "5", "no_answer", extracted=None),
    bad("tag_unclosed", think("<answer>\\boxed{5}"), "5", "no_answer", extracted=None),
    bad("tag_only_in_reasoning", think("Hmm, I could not finish.", "So <answer>5</answer> it is."), "5",
        "no_answer", extracted=None),
    bad("tag_inside_unclosed_think", "<think>work <answer>5</answer>", "5", "malformed_think", "no_answer", extracted=None),
    ok("tag_uppercase", think("<ANSWER>7</ANSWER>"), "7", "7"),
    ok("tag_mc_letter_sentence", think("<answer>(C) because the bars are equal</answer>"), "C", "C", choices=ABCD),
    ok("tag_mc_option_text", think("<answer>Paris</answer>"), "C", "C", choices=("London", "Berlin", "Paris", "Rome")),
    ok("tag_free_form_sentence_whole", think("<answer>The Eiffel Tower</answer>"), "eiffel tower", answer_type="free_form"),
    ok("tag_reasoning_field", "<answer>\\boxed{9}</answer>", "9", "9", reasoning=REASONING),
    # ---- AMC style boxed letters ----
    ok("amc_letter_value_mc", think("\\boxed{\\textbf{(B)}\\ 45}"), "B", "B", answer_type="multiple_choice"),
    ok("amc_letter_space_inside", think("$\\boxed{\\textbf{(D) }9}$"), "D", "D", choices=ABCD),
    ok("amc_qquad_prefix", think("\\boxed{\\qquad\\textbf{(A) }12}"), "A", "A", choices=ABCD),
    bad("amc_wrong_letter_right_value", think("\\boxed{\\textbf{(C)}\\ 42}"), "B", "wrong_answer", extracted="C", choices=ABCD),
    ok("amc_gold_letter_untyped", think("\\boxed{\\textbf{(E)}\\ \\frac{1}{2}}"), "E"),
    ok("amc_gold_value", think("\\boxed{\\textbf{(B)}\\ \\frac{3}{4}}"), "0.75", answer_type="numeric"),
    bad("amc_gold_value_wrong", think("\\boxed{\\mathrm{(B)}\\ 46}"), "45", "wrong_answer", answer_type="numeric"),
    # ---- several solutions: set equality ----
    ok("multi_two_boxes", think("The roots are $\\boxed{-3}$ and $\\boxed{2}$."), "2, -3", "-3, 2"),
    ok("multi_gold_or_assignments", think("x = \\boxed{2} or x = \\boxed{-3}"), "x=2 or x=-3"),
    ok("multi_one_box_text_or", think("\\boxed{x_1 = -3 \\text{ or } x_2 = 2}"), "x=2 or x=-3"),
    ok("multi_set_braces", think("\\boxed{\\{-3, 2\\}}"), "2; -3"),
    ok("multi_forms_differ", think("\\boxed{\\frac{1}{2}, -\\sqrt{4}}"), "-2 \\text{ and } 0.5"),
    ok("multi_later_paragraph_only", think("First try \\boxed{7}.\n\nCorrected: \\boxed{2} and \\boxed{-3}."), "2, -3", "2, -3"),
    bad("multi_missing_one", think("\\boxed{2}"), "x=2 or x=-3", "partial_answer"),
    bad("multi_extra_one", think("\\boxed{2, -3, 5}"), "2, -3", "wrong_answer"),
    bad("multi_sign_wrong", think("\\boxed{2} and \\boxed{3}"), "2, -3", "wrong_answer"),
    bad("multi_earlier_paragraph_ignored", think("\\boxed{2}\n\nSo the answer: \\boxed{-3}"), "2, -3", "partial_answer"),
    bad("single_gold_two_boxes_last_wins", think("\\boxed{2} and \\boxed{-3}"), "2", "wrong_answer", extracted="-3"),
    ok("thousands_gold_is_one_solution", think("\\boxed{1000}"), "1,000"),
    # ---- units compared with pint ----
    ok("unit_cm_vs_m", think("\\boxed{500 \\text{ cm}}"), "5 m"),
    ok("unit_km_vs_m_decimal", think("The answer is 0.0125 km."), "12.5 m"),
    ok("unit_speed", think("\\boxed{18\\,\\mathrm{km/h}}"), "5 m/s"),
    ok("unit_area", think("\\boxed{5\\text{ cm}^2}"), "500 mm^2"),
    ok("unit_volume_litres", think("\\boxed{2.5 L}"), "2500 \\text{mL}"),
    ok("unit_temperature_offset", think("\\boxed{86^\\circ F}"), "30°C"),
    ok("unit_pred_rounded_after_conversion", think("\\boxed{16.4 ft}"), "5 m"),
    ok("unit_from_problem_field", think("\\boxed{250 cm}"), "2.5", unit="m"),
    ok("unit_cjk", think("答案：5米"), "500 cm"),
    bad("unit_dimension_mismatch", think("\\boxed{5 kg}"), "5 m", "wrong_answer", extracted="5 kg"),
    bad("unit_dimension_mismatch_problem_field", think("\\boxed{5 \\text{ cm}^2}"), "5", "wrong_answer", unit="cm"),
    bad("unit_value_after_conversion", think("\\boxed{50 cm}"), "5 m", "wrong_answer"),
    bad("unit_same_number_other_scale", think("\\boxed{5 mm}"), "5", "wrong_answer", unit="m"),
    bad("unit_speed_not_per_hour", think("\\boxed{18 m/s}"), "5 m/s", "wrong_answer"),
    bad("unit_bare_number_takes_gold_unit", think("\\boxed{500}"), "5 m", "wrong_answer"),
    ok("unit_bare_number_gold_unit", think("\\boxed{5}"), "5 m"),
    ok("unit_bare_gold_pred_unit", think("\\boxed{5 \\text{ kg}}"), "5"),
    bad("unit_unknown_noun_not_ignored", think("\\boxed{12 apples}"), "12", "unverifiable", unit="m"),
    # ---- angles: degrees and radians ----
    ok("angle_pi_half_vs_degrees", think("\\boxed{\\frac{\\pi}{2}}"), "90°"),
    ok("angle_degrees_vs_pi", think("So the answer is 135 degrees."), "\\frac{3\\pi}{4}"),
    ok("angle_circ_vs_pi_slash", think("\\boxed{60^{\\circ}}"), "\\pi/3"),
    ok("angle_pi_rad_suffix", think("\\boxed{\\frac{1}{6}\\pi \\text{ rad}}"), "30", unit="degree"),
    ok("angle_decimal_radians", think("\\boxed{0.7854 rad}"), "45^\\circ"),
    ok("angle_degrees_same", think("\\boxed{90^\\circ}"), "90 degrees"),
    bad("angle_pi_wrong", think("\\boxed{\\frac{\\pi}{3}}"), "90^\\circ", "wrong_answer"),
    bad("angle_degrees_vs_pi_wrong", think("\\boxed{45°}"), "\\frac{\\pi}{3}", "wrong_answer"),
    bad("angle_radian_number_not_degrees", think("\\boxed{1.5708 rad}"), "89°", "wrong_answer"),
    bad("angle_vs_length", think("\\boxed{90 cm}"), "90^\\circ", "wrong_answer"),
    # ---- free form: match, a rule that shows a difference, or unverifiable ----
    ok("free_form_number_word", think("Answer: seven"), "7", answer_type="free_form"),
    ok("free_form_markdown_punct", think("**Answer:** *Mount Everest!*"), "mount everest", answer_type="free_form"),
    bad("free_form_superset_unverifiable", think("Answer: the Eiffel Tower in Paris"), "Eiffel Tower", "unverifiable",
        answer_type="free_form"),
    bad("free_form_plural_unverifiable", think("\\boxed{\\text{triangles}}"), "triangle", "unverifiable",
        answer_type="free_form"),
    bad("free_form_paraphrase_unverifiable", think("Answer: it goes up"), "increases", "unverifiable", answer_type="free_form"),
    bad("free_form_yes_no_gold_other_answer", think("Answer: they are congruent"), "yes", "unverifiable"),
    bad("free_form_distinct_single_words", think("Answer: blue"), "red", "wrong_answer", answer_type="free_form"),
    bad("free_form_synonym_left_to_judge", think("Answer: automobile"), "car", "unverifiable", answer_type="free_form",
        config=VerifyConfig(distinct_words_differ=False)),
    bad("free_form_number_words_differ", think("Answer: eight"), "7", "wrong_answer", answer_type="free_form"),
    bad("free_form_unverifiable_but_truncated", think("Answer: it goes up"), "increases", "truncated", "unverifiable",
        answer_type="free_form", finish_reason="length"),
    bad("mc_gold_not_an_option_unverifiable", think("\\boxed{a dog}"), "a brown dog", "unverifiable",
        answer_type="multiple_choice", choices=("cat", "bird")),
]


def run(case: Case):
    # The table checks verdicts, not time: a cold SymPy cache once pushed a correct case past the
    # 0.5 s default budget in CI. The time bound has its own tests (test_verifiers_worst_case).
    config = (case.config or DEFAULT_CONFIG).model_copy(update={"math_verify_budget_s": 10.0})
    return verify(case.output, case.gold, case.answer_type, list(case.choices) if case.choices else None,
                  reasoning=case.reasoning, finish_reason=case.finish_reason, config=config, unit=case.unit)


def test_table_is_large_and_ids_unique():
    assert len(CASES) >= 100
    assert len({c.id for c in CASES}) == len(CASES)
    assert any(c.correct for c in CASES) and any(not c.correct for c in CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_verdict(case: Case):
    verdict = run(case)
    assert sorted(verdict.reasons) == sorted(case.reasons), verdict
    assert verdict.correct is case.correct
    assert verdict.correct == (not verdict.reasons)
    if case.extracted != "<any>":
        assert verdict.extracted_answer == case.extracted, verdict
    # unverifiable is a verdict of its own only when nothing else failed
    assert verdict.unverifiable is (case.reasons == ("unverifiable",))
    if verdict.checks.get("answer_match") is True:
        assert verdict.decided_by
    if "unverifiable" in verdict.reasons or "answer_match" not in verdict.checks:
        assert verdict.decided_by == ""
    failed = [name for name, passed in verdict.checks.items() if not passed]
    assert len(failed) == len(verdict.reasons)
    assert set(verdict.checks) <= set(CHECK_NAMES)

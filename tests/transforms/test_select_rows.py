"""Selection of the shortest correct chain, the RL rule, and the shape of output rows."""
from __future__ import annotations

import dataclasses

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from schemas.generation import ProblemChains
from tests.support.factories import PLAN, chains, generation, planned, problem
from transforms.rows import assistant_text, preference_row, rl_row, sft_row
from transforms.select import (
    PREFERENCE,
    RL,
    SelectChains,
    SelectSettings,
    best_fit,
    choose,
    reject_summary,
    rejected_for,
    shortest_correct,
    wants_rl,
)
from transforms.tags import DROPPED


def test_shortest_correct_ignores_wrong_chains_and_breaks_ties_by_index():
    gens = [generation(0, False, 5), generation(1, True, 40), generation(2, True, 30), generation(3, True, 30)]
    assert shortest_correct(gens).sample_index == 2
    assert shortest_correct([generation(0, False, 5)]) is None


def test_reject_summary_counts_reasons():
    gens = [generation(0, False, 5, reasons=["truncated", "no_answer"]), generation(1, False, 5, reasons=["truncated"])]
    assert reject_summary(gens) == "truncated×2, no_answer×1"


@pytest.mark.parametrize("rate,expected", [(0.0, False), (0.25, True), (0.75, True), (1.0, False)])
def test_rl_keeps_only_problems_the_samples_disagree_on(rate, expected):
    assert wants_rl(rate, SelectSettings()) is expected


def test_sft_row_puts_reasoning_in_think_then_answer():
    with_block = generation(0, True, 10, content="<think>add</think> \\boxed{3}", reasoning="add")
    with_block.answer_text = "\\boxed{3}"
    assert assistant_text(with_block) == "<think>\nadd\n</think>\n\n\\boxed{3}"
    plain = generation(1, True, 10, content="1+2=3 so \\boxed{3}")
    assert assistant_text(plain) == "<think>\n1+2=3 so \\boxed{3}\n</think>\n\nThe answer is \\boxed{3}."
    row = sft_row(chains([plain, generation(2, False, 3)]), plain, "shortest_correct of 2")
    assert [m.role for m in row.messages] == ["user", "assistant"]
    assert row.messages[0].content.startswith("<image>How many dots?") and "three red dots" not in row.messages[0].content
    assert row.pass_rate == 0.5 and row.images[0].bytes


def test_rl_row_is_in_verls_layout():
    row = rl_row(chains([generation(0, True, 5), generation(1, False, 5)], problem(choices=["1", "3"], answer="B")))
    assert row.reward_model.style == "rule" and row.reward_model.ground_truth == "B"
    assert row.extra_info.pass_rate == 0.5 and row.extra_info.num_samples == 2 and row.extra_info.choices == ["1", "3"]
    assert "A. 1" in row.prompt[0].content and "\\boxed" in row.prompt[0].content


def test_select_routes_kept_dropped_and_rl():
    mixed = chains([generation(0, True, 9, pid="s/1"), generation(1, False, 4, pid="s/1")], problem("s/1"))
    all_wrong = chains([generation(0, False, 9, pid="s/2")], problem("s/2"))
    all_right = chains([generation(0, True, 9, pid="s/3")], problem("s/3"))
    with TestPipeline() as p:
        out = p | beam.Create([mixed, all_wrong, all_right]) | SelectChains(SelectSettings())
        assert_that(out.sft | "sft" >> beam.Map(lambda r: r.id), equal_to(["s/1", "s/3"]), label="sft")
        assert_that(out[PREFERENCE] | "pref" >> beam.Map(lambda r: (r.id, r.rejected_reason)), equal_to([("s/1", "wrong")]),
                    label="preference")
        assert_that(out[RL] | "rl" >> beam.Map(lambda r: r.extra_info.id), equal_to(["s/1"]), label="rl")
        assert_that(out[DROPPED] | "dropped" >> beam.Map(lambda r: (r.row_id, r.reason)),
                    equal_to([("s/2", "no_correct_chain")]), label="dropped")


def _with_budget(gens, budget: int) -> ProblemChains:
    base = planned()
    return ProblemChains(planned=dataclasses.replace(base, plan=dataclasses.replace(PLAN, length_budget=budget, band="hard")),
                         generations=gens)


def test_length_fit_keeps_the_correct_chain_closest_to_the_band_target():
    gens = [generation(0, True, 40), generation(1, True, 180), generation(2, True, 130), generation(3, False, 150)]
    assert best_fit(gens, 150).sample_index == 2
    assert best_fit(gens, 10).sample_index == 0
    assert best_fit([generation(0, True, 90), generation(1, True, 110)], 100).sample_index == 0  # tie: the shorter
    chosen, why = choose(_with_budget(gens, 150), "length_fit")
    assert chosen.sample_index == 2 and why == "length_fit: sample 2, 130 tokens, closest to 150 tokens (hard); 3 of 4 correct"
    chosen, why = choose(_with_budget(gens, 150), "shortest_correct")
    assert chosen.sample_index == 0 and why.startswith("shortest_correct: sample 0, 40 tokens, shortest")
    assert choose(_with_budget([generation(0, False, 5)], 150), "length_fit") == (None, "")


def test_preference_pairs_a_wrong_chain_first_then_an_overlong_correct_one():
    chosen = generation(0, True, 100)
    assert rejected_for(chosen, [chosen, generation(1, True, 400), generation(2, False, 90)], 1.5)[1] == "wrong"
    rejected, reason = rejected_for(chosen, [chosen, generation(1, True, 140), generation(2, True, 400), generation(3, True, 151)], 1.5)
    assert (rejected.sample_index, reason) == (2, "overlong")
    assert rejected_for(chosen, [chosen, generation(1, True, 140)], 1.5) is None


def test_a_repaired_chain_is_never_the_rejected_one_and_not_in_the_pass_rate():
    repaired = dataclasses.replace(generation(2, True, 50), provenance="repair")
    problem_chains = chains([generation(0, False, 60), generation(1, False, 70), repaired])
    assert problem_chains.pass_rate == 0.0
    chosen, why = choose(problem_chains, "length_fit")
    assert chosen.provenance == "repair" and "repaired chain" in why
    assert rejected_for(chosen, [repaired, dataclasses.replace(generation(3, False, 9), provenance="repair")], 1.5) is None


def test_preference_row_is_in_llamafactorys_sharegpt_ranking_layout():
    c = chains([generation(0, True, 30, reasoning="r1", content="\\boxed{3}"), generation(1, False, 80)])
    row = preference_row(c, c.generations[0], c.generations[1], "wrong")
    assert [m.role for m in row.messages] == ["user"] and row.messages[0].content.count("<image>") == 1
    assert row.chosen.role == "assistant" and row.rejected.role == "assistant"
    assert row.chosen.content.startswith("<think>\nr1\n</think>") and row.chosen.content != row.rejected.content
    assert (row.chosen_tokens, row.rejected_tokens, row.pass_rate, row.rejected_reason) == (30, 80, 0.5, "wrong")
    assert row.images == c.planned.problem.images


def test_unverifiable_chains_are_no_evidence_of_a_wrong_answer():
    unsure = chains([generation(0, False, 9, reasons=["unverifiable"], pid="u/1"),
                     generation(1, False, 5, reasons=["unverifiable"], pid="u/1")], problem("u/1"))
    unsure_and_wrong = chains([generation(0, False, 9, reasons=["unverifiable"], pid="u/2"),
                               generation(1, False, 5, reasons=["truncated", "unverifiable"], pid="u/2"),
                               generation(2, False, 5, pid="u/2")], problem("u/2"))
    wrong = chains([generation(0, False, 9, reasons=["truncated", "unverifiable"], pid="u/3")], problem("u/3"))
    two_right_one_unsure_one_wrong = chains([generation(0, True, 9), generation(1, True, 7), generation(2, False, 8),
                                             generation(3, False, 6, reasons=["unverifiable"])])
    # pass rate over decided chains only: 2 of 3, not 2 of 4; none decided -> 0
    assert two_right_one_unsure_one_wrong.pass_rate == pytest.approx(2 / 3)
    assert unsure.pass_rate == 0.0 and unsure_and_wrong.pass_rate == 0.0
    # the rejected chain of a preference pair is a decided wrong one, never an unverifiable one
    kept = shortest_correct(two_right_one_unsure_one_wrong.generations)
    assert rejected_for(kept, two_right_one_unsure_one_wrong.generations, 1.5)[0].sample_index == 2
    with TestPipeline() as p:
        out = p | beam.Create([unsure, unsure_and_wrong, wrong]) | SelectChains(SelectSettings())
        assert_that(out[DROPPED] | "dropped" >> beam.Map(lambda r: (r.row_id, r.reason)),
                    equal_to([("u/1", "unverifiable"), ("u/2", "unverifiable"), ("u/3", "no_correct_chain")]),
                    label="dropped")
        assert_that(out.sft, equal_to([]), label="sft")

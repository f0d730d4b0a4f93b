"""Pure parts of the repair step and of the pass-rate escalation join."""
from __future__ import annotations

import dataclasses

from schemas.generation import ProblemChains
from tests.support.factories import PLAN, chains, generation, planned
from transforms.escalate import merge_rounds
from transforms.repair import RepairSettings, needs_repair, repair_messages, repair_plan


def test_only_problems_without_a_correct_chain_are_repaired_from_their_first_nonempty_chain():
    assert needs_repair(chains([generation(0, False, 5), generation(1, True, 5)])) is None
    empty = dataclasses.replace(generation(0, False, 0), content="  ")
    assert needs_repair(chains([empty, generation(1, False, 9)])).sample_index == 1
    assert needs_repair(chains([empty])) is None


def test_repair_request_holds_the_reference_answer_and_the_wrong_chain_and_numbers_after_the_samples():
    c = chains([generation(0, False, 9, content="2+2=5 so \\boxed{5}")])
    text = repair_messages(c, c.generations[0], "text")[0]["content"]
    assert "Correct final answer: 3" in text and "2+2=5 so \\boxed{5}" in text and "How many dots?" in text
    plan = repair_plan(c, RepairSettings(max_tokens=77))
    assert (plan.n, plan.first_sample, plan.max_tokens, plan.policy) == (1, PLAN.n, 77, "repair")


def test_merge_rounds_joins_probe_and_escalated_chains_and_skips_failed_second_rounds():
    probe = chains([generation(0, False, 5), generation(1, False, 6)])
    later = ProblemChains(planned=dataclasses.replace(planned(), plan=dataclasses.replace(PLAN, first_sample=2)),
                          generations=[generation(2, True, 7), generation(3, False, 8)])
    (merged,) = merge_rounds(("s/1", {"probe": [probe], "more": [later]}))
    assert [g.sample_index for g in merged.generations] == [0, 1, 2, 3] and merged.pass_rate == 0.25
    assert merged.planned.plan.first_sample == 2
    assert list(merge_rounds(("s/1", {"probe": [probe], "more": []}))) == []

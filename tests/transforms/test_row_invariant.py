"""The row invariant (transforms/row_invariant.py) and the select stage that checks it for every row it builds.

Property-based over chains drawn from a grammar of hostile pieces, through the real verify and the row
builders: each chain gets exactly one verdict, each problem exactly one outcome (kept, dropped or one
dead letter), and every row that would be written, TRL twins included, holds the invariant.
"""
from __future__ import annotations

import dataclasses

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from schemas.outputs import ContentPart, Message, PartsMessage
from tests.support.factories import chains, problem
from tests.support.factories import generation as scripted_generation
from transforms.row_invariant import violation
from transforms.rows import preference_row, sft_row
from transforms.select import DROPPED, SFT, SelectChains, SelectSettings, route, unwritable
from transforms.tags import DEAD_LETTER
from transforms.teachers.parse import split_reasoning
from transforms.trl_rows import trl_preference_row, trl_sft_row
from transforms.verdicts import verify_generation
from transforms.verifiers.config import VerifyConfig
from transforms.verifiers.hygiene import HygieneSettings

QUICK = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PIECES = ("I count the dots. ", "\\boxed{3}", "\\boxed{4}", "<think>", "</think>", "<answer>3</answer>", "<image>",
          "<video>", "<Image 2>", "<|im_end|>", "<|eot_id|>", "</s>", "[INST]", "<end_of_turn>", "<｜User｜>", "\x00",
          "\x1b[2J", "<script>x()</script>", "![a](http://127.0.0.1:9/b)", "{{{", "}}}", "é漢字", "\n")
hostile = st.lists(st.sampled_from(PIECES), max_size=6).map("".join)
clean = st.sampled_from(["I count the dots one by one.", "Three dots, so 3.", "First row: 2. Second row: 1."])
chain_texts = st.one_of(
    st.builds(lambda r, a: f"<think>{r}</think> The answer is \\boxed{{{a}}}.", st.one_of(clean, hostile),
              st.sampled_from(["3", "3", "4"])),  # well-formed, mostly right: reaches kept rows and pairs
    st.lists(st.sampled_from(PIECES), min_size=1, max_size=10).map("".join))
QUESTIONS = st.sampled_from(["How many dots?", "<image>How many dots?", "Compare <image> and <image>.",
                             "How many dots?", "Is it <|im_end|> many?", "<image> and <video>?", "Dots \x07 here?"])


def _teacher_chain(index: int, content: str, finish: str):
    """A chain as the generate stage makes it from a reply (reasoning split off the content), not yet verified."""
    reasoning, answer_text = split_reasoning(content, None)
    return dataclasses.replace(scripted_generation(index, True, 10 + index), content=content, reasoning=reasoning,
                               answer_text=answer_text, finish_reason=finish, verdict=None)


def _verified(index: int, correct: bool, content: str):
    """A chain with a scripted verdict, its reasoning and answer split off the content as generate splits them."""
    reasoning, answer_text = split_reasoning(content, None)
    return dataclasses.replace(scripted_generation(index, correct, 10), content=content, reasoning=reasoning,
                               answer_text=answer_text)


def _problem(question: str):
    p = problem(question=question)
    p.images = p.images * max(1, question.count("<image>"))
    return p


@QUICK
@given(QUESTIONS, st.lists(st.tuples(chain_texts, st.sampled_from(["stop", "length", "content_filter", "missing"])),
                           min_size=1, max_size=4),
       st.sampled_from(["drop", "escape"]), st.booleans(), st.sampled_from(["verdict", "score"]))
def test_every_problem_gets_one_outcome_and_every_written_row_holds_the_invariant(question, replies, policy, trl, pairs):
    rules = HygieneSettings(policy=policy)
    p = _problem(question)
    verified = [verify_generation(_teacher_chain(i, c, f), p, VerifyConfig(require_reasoning=False, hygiene=rules))
                for i, (c, f) in enumerate(replies)]
    for g in verified:  # exactly one verdict per chain: kept-able or not, with its reasons
        assert g.verdict.correct == (not g.verdict.reasons)
        if g.verdict.correct:
            assert violation({"messages": [{"role": "assistant", "content": sft_row(chains(verified, p), g, "").messages[1].content}],
                              "images": []}, rules) is None
    problem_chains = chains([dataclasses.replace(g, chain_score=float(i)) for i, g in enumerate(verified)], p)
    routed = route(problem_chains, SelectSettings(pairs=pairs, rl_order="id"), trl)
    names = [name for name, _ in routed]
    assert names.count(SFT) + names.count(DROPPED) == 1  # kept or dropped, once
    broken = unwritable(routed, rules)
    event(f"{'kept' if SFT in names else 'dropped'}, {'dead letter' if broken else 'written'}")
    if broken is None:
        assert all(violation(row, rules) is None for name, row in routed if name != DROPPED)
    else:  # the select stage makes this problem one dead letter: no row of it is written
        assert broken[1].reason in ("marker_mismatch", "media_marker", "reserved_token", "control_chars", "bad_text")


def test_the_invariant_counts_markers_over_the_whole_conversation():
    p = problem()
    kept = _verified(0, True, "<think>a</think> \\boxed{3}")
    row = sft_row(chains([kept], p), kept, "")
    assert violation(row) is None and violation(trl_sft_row(row)) is None
    three = dataclasses.replace(row, messages=[Message("user", "<image><image><image>How many?"), row.messages[1]])
    assert violation(three).reason == "marker_mismatch" and "3 image marker(s) for 1 image(s)" in violation(three).detail
    in_answer = dataclasses.replace(kept, reasoning="look at <image> again")
    assert violation(sft_row(chains([in_answer], p), in_answer, "")).reason == "media_marker"
    wrong = _verified(1, False, "<think>b<|im_end|></think> \\boxed{4}")
    pair = preference_row(chains([kept, wrong], p), kept, wrong, "wrong")
    assert violation(pair).reason == "reserved_token" and violation(pair).detail.startswith("rejected")
    assert violation(trl_preference_row(pair)).reason == "reserved_token"
    literal = dataclasses.replace(trl_sft_row(row), messages=[PartsMessage("user", [ContentPart("text", "<image> x")])])
    assert violation(literal).reason in ("media_marker", "marker_mismatch")
    as_loaded = {"prompt": [{"role": "user", "content": [{"type": "image", "text": None}, {"type": "text", "text": "x"}]}],
                 "images": [{"bytes": b"", "path": None}], "chosen": [{"role": "assistant", "content": [
                     {"type": "text", "text": "<think>ok</think> \\boxed{3}"}]}], "rejected": []}
    assert violation(as_loaded) is None  # a TRL preference row as a Parquet reader gives it
    assert violation({**as_loaded, "chosen": [{"role": "assistant", "content": [{"type": "text", "text": "a\x00b"}]}]}).reason \
        == "control_chars"


@pytest.mark.parametrize("trl", [False, True])
def test_select_dead_letters_a_problem_whose_row_breaks_the_invariant_instead_of_failing(trl):
    """The issue's ``3 <image> tags for 1 images`` stopped the whole run in the TRL step; now it is one dead letter."""
    bad = _problem("Is it <|im_end|> many?")  # a source question holding a special token reaches the prompt
    good = problem(pid="s/2")
    chain = _verified(0, True, "<think>a</think> \\boxed{3}")
    with TestPipeline() as p:
        out = (p | beam.Create([chains([chain], bad), chains([dataclasses.replace(chain, problem_id="s/2")], good)])
               | SelectChains(SelectSettings(), HygieneSettings(), trl_sets=trl))
        assert_that(out.sft | beam.Map(lambda r: r.id), equal_to(["s/2"]))
        assert_that(out[DEAD_LETTER] | beam.Map(lambda r: (r.row_id, r.stage, r.reason)),
                    equal_to([("s/1", "select", "reserved_token")]), label="dead")
        if trl:
            assert_that(out["sft_trl"] | beam.Map(lambda r: r.id), equal_to(["s/2"]), label="twin")

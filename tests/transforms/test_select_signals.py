"""Selection with the chain signals (select.max_critical_entropy, select.min_answer_logprob, prefer_low_entropy):
chains outside the thresholds are not kept, problems they empty are dropped with a reason and the figures, and the
calmer of two equally fitting chains wins; the signals reach the SFT, preference and RL rows."""
from __future__ import annotations

import dataclasses
import re
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.config import ConfigError, parse_config
from schemas.signals import ChainSignals
from tests.support.factories import chains, generation
from transforms.rows import rl_row
from transforms.select import PREFERENCE, SFT, SelectSettings, best_fit, choose, route, shortest_correct
from transforms.tags import DROPPED


def signed(index: int, correct: bool, tokens: int, critical: float | None = 0.5, answer: float | None = -0.1,
           unknown: str | None = None, mean: float = 1.0):
    signals = ChainSignals(unknown=unknown) if unknown else ChainSignals(
        tokens=tokens, mean_entropy=mean, critical_tokens=0 if critical is None else 2, critical_entropy=critical,
        answer_tokens=0 if answer is None else 1, answer_logprob=answer, low_confidence_share=0.1)
    return dataclasses.replace(generation(index, correct, tokens), signals=signals)


def _dropped(routed):
    return next(row for name, row in routed if name == DROPPED)


def test_a_chain_above_the_critical_entropy_bar_is_not_kept_and_the_next_fitting_one_is():
    gens = [signed(0, True, 60, critical=1.9), signed(1, True, 90, critical=0.4), signed(2, False, 60, critical=0.1)]
    bar = SelectSettings(max_critical_entropy=1.5)
    chosen, why = choose(chains(gens), "length_fit", bar)
    assert chosen.sample_index == 1 and "critical entropy 0.400" in why and "critical entropy <= 1.5" in why
    assert "1 of 3 correct" in why
    assert choose(chains(gens), "length_fit")[0].sample_index == 0  # no bar: the best fit


def test_a_chain_without_critical_tokens_passes_the_entropy_bar_but_not_an_answer_bar_without_a_span():
    assert shortest_correct([signed(0, True, 9, critical=None)], SelectSettings(max_critical_entropy=0.1)).sample_index == 0
    assert shortest_correct([signed(0, True, 9, answer=None)], SelectSettings(min_answer_logprob=-1.0)) is None


@pytest.mark.parametrize("bar,gens,reason", [
    ({"max_critical_entropy": 1.0}, [signed(0, True, 9, critical=1.2), signed(1, True, 9, critical=3.0)],
     "above_max_critical_entropy"),
    ({"min_answer_logprob": -0.5}, [signed(0, True, 9, answer=-0.7), signed(1, False, 9, answer=-0.01)],
     "below_min_answer_logprob"),
    ({"min_answer_logprob": -0.5}, [signed(0, True, 9, unknown="logprobs_bad_mass"), signed(1, True, 9, answer=None)],
     "signals_unknown"),
    ({"max_critical_entropy": 1.0, "min_answer_logprob": -0.5},
     [signed(0, True, 9, critical=2.0), signed(1, True, 9, answer=-3.0), signed(2, True, 9, critical=2.0, answer=-3.0)],
     "above_max_critical_entropy"),
])
def test_a_problem_whose_correct_chains_are_all_kept_out_is_dropped_with_the_reason_and_figures(bar, gens, reason):
    dropped = _dropped(route(chains(gens), SelectSettings(**bar)))
    assert dropped.reason == reason and dropped.stage == "select"
    assert dropped.detail.startswith("correct chains kept out: sample 0 ")
    shown = [g for g in gens if g.verdict.correct and g.signals.unknown is None]
    assert all(f"critical entropy {g.signals.critical_entropy:.3f}" in dropped.detail for g in shown
               if g.signals.critical_entropy is not None)
    assert "logprobs_bad_mass" in dropped.detail or not any(g.signals.unknown for g in gens)


def test_wrong_only_problems_keep_their_old_reason_under_the_bars():
    dropped = _dropped(route(chains([signed(0, False, 9, critical=9.0)]), SelectSettings(max_critical_entropy=1.0)))
    assert dropped.reason == "no_correct_chain" and dropped.detail == "wrong_answer×1"


def test_a_repaired_chain_has_no_signals_and_passes_the_bars():
    repaired = dataclasses.replace(generation(3, True, 40), provenance="repair")
    kept = [signed(0, True, 40, critical=5.0), repaired]
    assert choose(chains(kept), "shortest_correct", SelectSettings(max_critical_entropy=1.0))[0].provenance == "repair"


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(1, 200), st.floats(0, 4), st.floats(-5, 0)), min_size=1,
                max_size=8), st.floats(0, 4), st.floats(-5, 0))
def test_every_kept_chain_is_inside_the_bars_and_every_problem_is_kept_or_dropped_once(draws, max_h, min_lp):
    gens = [signed(i, c, t, critical=h, answer=lp) for i, (c, t, h, lp) in enumerate(draws)]
    bar = SelectSettings(max_critical_entropy=max_h, min_answer_logprob=min_lp)
    routed = Counter(name for name, _ in route(chains(gens), bar))
    chosen, _ = choose(chains(gens), "length_fit", bar)
    inside = [g for g in gens if g.verdict.correct and g.signals.critical_entropy <= max_h
              and g.signals.answer_logprob >= min_lp]
    assert (chosen is None) == (not inside) and (chosen is None or chosen in inside)
    assert routed[SFT] + routed[DROPPED] == 1 and routed[PREFERENCE] <= routed[SFT]


def test_prefer_low_entropy_breaks_a_tie_in_fit_with_the_calmer_chain():
    gens = [signed(0, True, 90, critical=1.4), signed(1, True, 110, critical=0.3), signed(2, True, 130, critical=0.1)]
    assert best_fit(gens, 100).sample_index == 0  # a tie in distance: the shorter
    calm = SelectSettings(prefer_low_entropy=True)
    assert best_fit(gens, 100, calm).sample_index == 1  # a tie in distance: the calmer
    assert best_fit(gens, 125, calm).sample_index == 2  # no tie: the fit decides
    same_critical = [signed(0, True, 50, critical=0.5, mean=2.0), signed(1, True, 50, critical=0.5, mean=0.7)]
    assert shortest_correct(same_critical, calm).sample_index == 1  # then mean entropy
    unknown = [signed(0, True, 50, unknown="logprobs_missing"), signed(1, True, 50, critical=3.0)]
    assert shortest_correct(unknown, calm).sample_index == 1  # unknown sorts last


def test_the_rows_carry_the_signals():
    gens = [signed(0, True, 60, critical=0.2, answer=-0.1), signed(1, False, 40, critical=2.0, answer=-2.0),
            signed(2, True, 100, unknown="logprobs_missing")]
    routed = dict(route(chains(gens), SelectSettings()))
    assert routed[SFT].signals == gens[0].signals
    assert (routed[PREFERENCE].chosen_signals, routed[PREFERENCE].rejected_signals) == (gens[0].signals, gens[1].signals)
    info = rl_row(chains(gens)).extra_info.signals
    assert info.chains == 2 and info.critical_entropy == pytest.approx(1.1) and info.answer_logprob == pytest.approx(-1.05)
    assert rl_row(chains([generation(0, True, 4)])).extra_info.signals is None


def test_the_bars_need_the_teachers_log_probabilities():
    base = {"run": {"name": "x", "output_dir": "/tmp/x"}, "source": {"kind": "jsonl", "path": "p.jsonl", "name": "s"}}
    for key, value in (("max_critical_entropy", 1.0), ("min_answer_logprob", -1.0), ("prefer_low_entropy", True)):
        with pytest.raises(ConfigError, match=re.escape(f"select.{key} needs the chain signals: set teacher.logprobs")):
            parse_config({**base, "select": {key: value}})
        parse_config({**base, "select": {key: value}, "teacher": {"logprobs": {"top": 5}}})
    with pytest.raises(ConfigError, match=re.escape("teacher.logprobs.top")):
        parse_config({**base, "teacher": {"logprobs": {"top": 50}}})
    with pytest.raises(ConfigError, match=re.escape("select.max_critical_entropy")):
        parse_config({**base, "select": {"max_critical_entropy": -1}, "teacher": {"logprobs": {}}})

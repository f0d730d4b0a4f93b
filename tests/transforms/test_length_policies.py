"""Length policies: R1V's DRLC formula, token budget, the pass-rate probe and its escalation."""
from __future__ import annotations

import dataclasses
import math

import pytest

from pipelines.config import ConfigError, parse_config
from schemas.plan import Assessment
from tests.support.factories import PLAN
from transforms.bands import Band
from transforms.length import DRLCSettings, LengthSettings, drlc_penalty, plan_for
from transforms.probe import ProbeSettings, escalation_plan

SOURCE = {"kind": "jsonl", "path": "p.jsonl", "name": "s"}
BANDS = [Band(name="easy", max_difficulty=0.5, max_tokens=100, prompt_style="concise"),
         Band(name="hard", max_difficulty=1.0, max_tokens=400, target_tokens=300, prompt_style="thorough")]


def judged(difficulty: float, sv: float | None, st: float | None = None, si: float | None = None) -> Assessment:
    return Assessment("s/1", difficulty, "judge", vision_score=sv, text_score=st if st is not None else sv,
                      integration_score=si if si is not None else sv)


@pytest.mark.parametrize("alpha", [0.3, 0.5, 1.0])
def test_drlc_edges_all_ones_give_one_all_zeros_give_capped_e_to_alpha(alpha):
    settings = DRLCSettings(alpha=alpha)
    assert drlc_penalty(1, 1, 1, settings) == pytest.approx(1.0)
    assert drlc_penalty(0, 0, 0, settings) == pytest.approx(min(2.0, math.exp(alpha)))


def test_drlc_caps_at_two_and_falls_as_scores_rise():
    assert drlc_penalty(0, 0, 0, DRLCSettings(alpha=3.0)) == 2.0
    values = [drlc_penalty(s, s, s, DRLCSettings(alpha=0.5)) for s in (0.0, 0.25, 0.5, 0.75, 1.0)]
    assert values == sorted(values, reverse=True) and len(set(values)) == 5


def test_drlc_weights_text_and_integration_by_beta_and_gamma():
    heavy_text = DRLCSettings(alpha=1.0, beta=8.0, gamma=0.0)
    # a hard text (S_t = 1) with an easy image weighs toward P = 1 when beta is large
    assert drlc_penalty(0.0, 1.0, 0.0, heavy_text) == pytest.approx(math.exp(1.0 * (1 - 8 / 9)))
    assert drlc_penalty(0.0, 1.0, 0.0, heavy_text) < drlc_penalty(0.0, 1.0, 0.0, DRLCSettings(alpha=1.0))


def test_drlc_plan_uses_judge_scores_and_falls_back_to_the_prior_without_them():
    settings = LengthSettings(policy="r1v_drlc", bands=BANDS, drlc=DRLCSettings(alpha=0.5))
    assert plan_for(judged(0.9, 1.0), settings).repetition_penalty == pytest.approx(1.0)
    assert plan_for(judged(0.1, 0.0), settings).repetition_penalty == pytest.approx(math.exp(0.5))
    unjudged = Assessment("s/1", 0.2, "metadata")
    assert plan_for(unjudged, settings).repetition_penalty == pytest.approx(math.exp(0.5 * 0.8))
    assert plan_for(unjudged, settings).policy == "r1v_drlc"


def test_token_budget_plan_takes_the_band_budget_target_and_style_and_a_constant_penalty():
    settings = LengthSettings(bands=BANDS, repetition_penalty=1.1, samples=5)
    easy, hard = plan_for(judged(0.2, 0.0), settings), plan_for(judged(0.7, 0.0), settings)
    assert (easy.max_tokens, easy.length_budget, easy.prompt_style, easy.band, easy.n) == (100, 50, "concise", "easy", 5)
    assert (hard.max_tokens, hard.length_budget, hard.prompt_style, hard.band) == (400, 300, "thorough", "hard")
    assert easy.repetition_penalty == hard.repetition_penalty == 1.1


def test_pass_rate_policy_probes_with_few_samples_and_escalates_only_low_pass_rates():
    probe = ProbeSettings(samples=2, escalate_below=0.5, extra_samples=6, budget_factor=2.5)
    first = plan_for(judged(0.2, None), LengthSettings(policy="pass_rate", bands=BANDS, probe=probe))
    assert first.n == 2 and first.first_sample == 0
    assert escalation_plan(first, 0.5, probe) is None and escalation_plan(first, 1.0, probe) is None
    more = escalation_plan(first, 0.0, probe)
    assert (more.n, more.first_sample, more.max_tokens, more.length_budget) == (6, 2, 250, 125)
    assert more.policy == "pass_rate_escalated" and more.band == first.band


def test_escalation_numbers_samples_after_any_earlier_round():
    later = dataclasses.replace(PLAN, first_sample=4, n=3)
    assert escalation_plan(later, 0.0, ProbeSettings()).first_sample == 7


@pytest.mark.parametrize("section,key", [
    ({"length": {"policy": "r1v_drlc"}}, "length.policy"),
    ({"assess": {"difficulty_from": "judge"}}, "assess.difficulty_from"),
    ({"assess": {"min_quality": 3}}, "assess.min_quality"),
])
def test_judge_dependent_settings_without_a_judge_name_the_key(section, key):
    with pytest.raises(ConfigError, match=key):
        parse_config({"run": {"name": "x", "output_dir": "o"}, "source": SOURCE, **section})
    parse_config({"run": {"name": "x", "output_dir": "o"}, "source": SOURCE, "judge": {}, **section})


def test_drlc_alpha_must_be_positive():
    with pytest.raises(ConfigError, match=r"length\.drlc\.alpha"):
        parse_config({"run": {"name": "x", "output_dir": "o"}, "source": SOURCE,
                      "judge": {}, "length": {"policy": "r1v_drlc", "drlc": {"alpha": 0}}})

"""Metamorphic tests: for every right (output, gold) pair of the verdict tables, an answer whose
value was changed never verifies as correct, and an equivalent rewrite stays correct.

The bases are the correct cases of ``test_verifiers_table`` and ``test_verifiers_classes`` whose
gold is math (not multiple choice, not a word or yes/no; not a case run under a wider numeric
tolerance): their extracted answer, re-embedded in each answer form the verifier reads (a box, a
``Final Answer:`` line, an ``<answer>`` block, an ``The answer is`` sentence) wherever that form
alone is still judged correct. Each hypothesis example visits every base once, hypothesis
choosing the form, the literal, the term, the digit; the relations live in ``perturbations``.
Small, deadline-free settings keep this in the unit tier.
"""
from __future__ import annotations

import os
import random
import re
from functools import lru_cache

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.transforms.verifiers.perturbations import (
    PERTURBATIONS,
    REWRITES,
    UNIT_PERTURBATIONS,
    fraction_decimal,
    plain_value,
    unit_dropped,
)
from tests.transforms.verifiers.test_verifiers_classes import CLASS_CASES
from tests.transforms.verifiers.test_verifiers_table import CASES, Case, think
from transforms.verifiers import DEFAULT_CONFIG, verify
from transforms.verifiers.normalize import strip_units
from transforms.verifiers.solutions import solutions

#: Each example visits every base, so one per relation in the unit tier (``MMCOT_METAMORPHIC_EXAMPLES``
#: raises it); no deadline: math-verify's first calls are slow.
FAST = settings(max_examples=int(os.environ.get("MMCOT_METAMORPHIC_EXAMPLES", "1")), deadline=None,
                derandomize=True, database=None, phases=[Phase.explicit, Phase.generate],  # no shrinking: the
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])  # failures list every case

FORMS = {
    "box": lambda a: think(f"The result follows. \\boxed{{{a}}}"),
    "final_answer": lambda a: think(f"Final Answer: ${a}$"),
    "answer_tag": lambda a: think(f"<answer>{a}</answer>"),
    "answer_is": lambda a: think(f"Therefore, the answer is ${a}$."),
}
_MATHY_GOLD_RE = re.compile(r"[\d\\^_=+*/()\[\]{}]")


#: Bases a relation applies to at least (most apply to nearly all; these to a class of them).
MIN_TRIED = {"term_dropped": 10, "factor_dropped": 4, "solution_removed": 15, "unit_changed": 8, "unit_added": 2,
             "unit_dropped": 4}


def _verify(case: Case, output: str):
    config = (case.config or DEFAULT_CONFIG).model_copy(update={"math_verify_budget_s": 10.0})
    return verify(output, case.gold, case.answer_type, None, finish_reason="stop", config=config, unit=case.unit)


def _is_base(case: Case) -> bool:
    gold = case.gold.strip()
    return (case.correct and case.choices is None and case.answer_type != "multiple_choice"
            and (case.config is None or case.config.rel_tol <= DEFAULT_CONFIG.rel_tol)
            and bool(_MATHY_GOLD_RE.search(gold)) and not gold.startswith("\\text"))


@lru_cache(maxsize=1)
def bases() -> tuple[tuple[Case, str, tuple[str, ...]], ...]:
    """``(case, answer, forms)``: each base's extracted answer and the forms in which it is still correct."""
    found = []
    for case in CASES + CLASS_CASES:
        if not _is_base(case):
            continue
        answer = _verify(case, case.output).extracted_answer
        if not answer:
            continue
        forms = tuple(name for name, form in FORMS.items() if _verify(case, form(answer)).correct)
        if forms:
            found.append((case, answer, forms))
    return tuple(found)


def _gold_unit(case: Case) -> str:
    return strip_units(case.gold)[1].unit or case.unit


def _gold_value(case: Case):
    return plain_value(strip_units(case.gold)[0])


def _several(case: Case) -> bool:
    gold = solutions(case.gold)
    return len(gold) > 1 and not any(s.names for s in gold)


def _rounds_after_conversion(case: Case, answer: str) -> bool:
    """A gold with decimals and a prediction in another unit: after conversion a change of 1 in
    the prediction's last unit can lie within the gold's rounding (``249 cm`` for ``2.5`` m), which
    the rounding rule accepts by design."""
    gold_unit = _gold_unit(case)
    return "." in strip_units(case.gold)[0] and bool(gold_unit) and strip_units(answer)[1].unit != gold_unit


def test_bases_cover_the_tables():
    assert len(bases()) >= 150
    assert sum(len(forms) for _, _, forms in bases()) >= 4 * 150


def _run(rng: random.Random, make) -> tuple[int, list[str]]:
    """Apply ``make(case, answer, rng)`` to every base in a form hypothesis picks; verdicts of the changed outputs."""
    tried, results = 0, []
    for case, answer, forms in bases():
        changed = make(case, answer, rng)
        if changed is None:
            continue
        form = rng.choice(forms)
        tried += 1
        results.append((case, form, changed, _verify(case, FORMS[form](changed))))
    return tried, results


#: Relations whose changed answer must never be correct, and rewrites whose answer must stay correct.
RELATIONS = [*sorted(PERTURBATIONS), *sorted(UNIT_PERTURBATIONS), "unit_dropped"]
EQUIVALENCES = [*sorted(REWRITES), "fraction_decimal"]


def apply(name: str, case: Case, answer: str, rng: random.Random) -> str | None:
    """``answer`` changed by relation ``name`` for this base, or None when it does not apply."""
    if name in ("literal_plus_one", "literal_minus_one") and _rounds_after_conversion(case, answer):
        return None
    if name in PERTURBATIONS:
        return PERTURBATIONS[name](answer, rng)
    if name in UNIT_PERTURBATIONS:
        return UNIT_PERTURBATIONS[name](answer, rng, _gold_unit(case))
    if name == "unit_dropped":
        return unit_dropped(answer, rng, _gold_unit(case), _gold_value(case))
    if name == "fraction_decimal":
        return fraction_decimal(answer, rng, _gold_value(case))
    return REWRITES[name](answer, rng)


@pytest.mark.parametrize("name", RELATIONS)
@settings(FAST)
@given(rng=st.randoms(use_true_random=False))
def test_a_changed_value_is_never_correct(name, rng):
    tried, results = _run(rng, lambda case, answer, rng: apply(name, case, answer, rng))
    assert tried >= MIN_TRIED.get(name, 40), tried
    accepted = [(c.id, form, changed, v.extracted_answer) for c, form, changed, v in results if v.correct]
    assert not accepted, accepted[:5]
    if name == "solution_removed":  # a subset of several solutions is a partial answer, by name
        partial = [(c.id, changed, v.reasons) for c, _, changed, v in results
                   if _several(c) and v.reasons != ["partial_answer"]]
        assert not partial, partial[:5]


@pytest.mark.parametrize("name", EQUIVALENCES)
@settings(FAST)
@given(rng=st.randoms(use_true_random=False))
def test_an_equivalent_rewrite_stays_correct(name, rng):
    tried, results = _run(rng, lambda case, answer, rng: apply(name, case, answer, rng))
    assert tried >= 5, tried
    rejected = [(c.id, form, changed, v.extracted_answer, v.reasons) for c, form, changed, v in results if not v.correct]
    assert not rejected, rejected[:5]
